"""The command line's shape: shared options on every command that should take them, one exit code per kind of
failure (LiftshiftError), deploy --yes still accepted. Fast: no AWS, no Docker (the pipeline is stubbed)."""

import importlib
import json
import pkgutil
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import liftshift
from liftshift.cli.base import app
from liftshift.errors import LiftshiftError

STACK_COMMANDS = ["build", "plan", "deploy", "status", "logs", "render", "destroy", "history", "rollback",
                  "unlock", "verify", "cutover"]
SHARED = {  # option name -> (its flags, default)
    "output": (["--output", "-o"], "text"),
    "profile": (["--profile"], None),
    "region": (["--region"], None),
    "verbose": (["--verbose", "-v"], False),
    "quiet": (["--quiet", "-q"], False),
    "target": (["--target", "-t"], "aws"),
    "env": (["--env", "-e"], None),
}
EXPECTED_EXIT = {  # every failure the CLI maps, by class name (wherever it is defined), and its exit code
    "StepFailed": 1, "ImageError": 1, "BootFailed": 1,
    "AwsSetupError": 2, "ServiceUnavailable": 2, "NetworkError": 2, "StrictRefusal": 2, "UserDataTooLarge": 2,
    "SpecError": 2, "DockerUnavailable": 2, "LocalSetupError": 2, "NoRelease": 2, "OwnershipError": 2,
    "BadSince": 2, "UnknownService": 2,
    "HealthCheckFailed": 3, "RolloutFailed": 3, "VerifyFailed": 3, "DnsProblem": 2,
    "LockHeld": 4, "LockLost": 4,
}


def commands() -> dict[str, Any]:  # click commands (typer vendors click)
    return typer.main.get_command(app).commands


def params(name: str) -> dict[str, Any]:
    return {p.name: p for p in commands()[name].params}


# --------------------------------------------------------------------------- options declared once


def test_the_commands_and_their_order():
    assert list(commands()) == ["init", "validate", *STACK_COMMANDS[:5], "render", "destroy", "history", "rollback",
                                "unlock", "verify", "cutover", "runbook", "doctor", "schema", "local", "import"]
    assert sorted(commands()["local"].commands) == ["endpoint", "stop"]
    assert sorted(commands()["import"].commands) == ["compose"]


@pytest.mark.parametrize("command", STACK_COMMANDS)
def test_every_stack_command_takes_the_shared_options_with_the_same_flags_defaults_and_help(command):
    ps = params(command)
    for name, (flags, default) in SHARED.items():
        assert name in ps, f"{command} has no --{name}"
        assert sorted(ps[name].opts + ps[name].secondary_opts) == sorted(flags)
        assert ps[name].default == default or getattr(ps[name].default, "value", None) == default
        assert ps[name].help == params("deploy")[name].help
    assert ps["target"].envvar == "LIFTSHIFT_TARGET"
    assert ps["env"].envvar == "LIFTSHIFT_ENV"
    assert ps["file"].required and ps["file"].param_type_name == "argument"


def test_lock_wait_strict_and_service_are_the_same_option_wherever_they_appear():
    where = {name: [c for c in STACK_COMMANDS if name in params(c)] for name in ("lock_wait", "strict", "service")}
    assert where == {"lock_wait": ["deploy", "destroy", "rollback", "cutover"], "strict": ["plan", "deploy"],
                     "service": ["build", "logs", "render", "history", "rollback", "cutover"]}
    for name, users in where.items():
        shapes = {(tuple(params(c)[name].opts), params(c)[name].default, params(c)[name].help) for c in users}
        assert len(shapes) == 1, shapes
    assert params("deploy")["lock_wait"].default == 0.0


def test_validate_reads_the_file_only():
    assert list(params("validate")) == ["file", "env"]  # --env: the merged environment is what it checks
    assert params("validate")["env"].help == params("deploy")["env"].help


def test_deploy_yes_is_accepted_but_hidden_and_destroy_yes_is_shown():
    yes = params("deploy")["yes"]
    assert sorted(yes.opts) == ["--yes", "-y"] and yes.default is False
    assert yes.hidden
    assert "--yes" not in CliRunner().invoke(app, ["deploy", "--help"]).output
    assert not params("destroy")["yes"].hidden and "-y" in params("destroy")["yes"].opts


# --------------------------------------------------------------------------- through the real entry point


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    """`status` and `deploy` with app.yaml loading, the target and the pipeline stubbed; returns the calls."""
    from liftshift.pipeline import deploy as pipeline
    from liftshift.pipeline import status as status_module

    calls: dict = {}
    spec = SimpleNamespace(name="shop", region="eu-west-1", services={"web": None})
    for module in ("status", "deploy", "unlock", "render", "releases"):
        m = importlib.import_module(f"liftshift.cli.{module}")
        monkeypatch.setattr(m, "load", lambda file, env=None: (spec, tmp_path))
        monkeypatch.setattr(m, "open_target", lambda spec, opts, quiet=False: calls.setdefault("opts", opts))

    def fake_deploy(spec, base, target, lock_wait, strict, sources=None):
        calls["deploy"] = dict(lock_wait=lock_wait, strict=strict)
        return {"stack": "shop", "region": "eu-west-1", "target": "aws", "changed": False, "changes": [],
                "services": {}}

    monkeypatch.setattr(pipeline, "deploy", fake_deploy)
    calls["raise"] = lambda exc: monkeypatch.setattr(status_module, "status", lambda *a, **k: (_ for _ in ()).throw(exc))
    return calls


def test_deploy_yes_still_works_and_changes_nothing(stubbed):
    for argv in (["deploy", "app.yaml", "--yes"], ["deploy", "app.yaml", "-y"], ["deploy", "app.yaml"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("No changes: stack shop is up to date.")
        assert stubbed["deploy"] == {"lock_wait": 0.0, "strict": False}


def test_the_shared_options_reach_the_command_as_one_object(stubbed):
    result = CliRunner().invoke(app, ["deploy", "app.yaml", "-o", "json", "--region", "us-east-1", "--profile",
                                      "ci", "-v", "-t", "local", "--lock-wait", "5", "--strict"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stack"] == "shop"
    opts = stubbed["opts"]
    assert (opts.output.value, opts.region, opts.profile, opts.verbose, opts.target.value) == (
        "json", "us-east-1", "ci", True, "local")
    assert stubbed["deploy"] == {"lock_wait": 5.0, "strict": True}


def _find(name: str) -> type:
    """The class called `name`, wherever in liftshift it is defined (modules move; names and codes do not)."""
    found = []
    for info in pkgutil.walk_packages(liftshift.__path__, "liftshift."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        cls = vars(module).get(name)
        if isinstance(cls, type) and cls.__module__ == info.name:
            found.append(cls)
    assert len(found) == 1, (name, found)
    return found[0]


def _instance(cls: type) -> BaseException:
    from liftshift.spec.yamlsource import SourceError

    if issubclass(cls, SourceError):
        return cls("app.yaml", 3, ("name",), "boom")
    return cls.__new__(cls, "boom")  # whatever its __init__ takes, the CLI prints str(exc)


@pytest.mark.parametrize("name,code", sorted(EXPECTED_EXIT.items()))
def test_each_expected_failure_exits_with_its_code_through_the_cli(stubbed, name, code):
    cls = _find(name)
    assert issubclass(cls, LiftshiftError) and cls.exit_code == code
    stubbed["raise"](_instance(cls))
    result = CliRunner().invoke(app, ["status", "app.yaml"])
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    if name == "StepFailed":
        assert lines == ["error: deployment failed at boom", "Run the same command again to converge from here."]
    elif name == "SpecError":
        assert lines == ["error: app.yaml:3: name: boom"]
    else:
        assert lines == ["error: boom"]


@pytest.mark.parametrize("exc,code,message", [
    (KeyboardInterrupt(), 1, "error: interrupted; run the same command again to converge"),
    (ValueError("user-data: bad path"), 2, "error: cannot render the user-data: user-data: bad path"),
    (ValueError("something else"), 1, None),  # not expected: a traceback, exit 1
])
def test_failures_that_are_not_liftshift_errors(stubbed, exc, code, message):
    stubbed["raise"](exc)
    result = CliRunner().invoke(app, ["status", "app.yaml"])
    assert result.exit_code == code
    if message:
        assert result.stderr.strip() == message
    else:
        assert result.exception is exc


def test_an_aws_error_outside_a_step_exits_1(stubbed):
    import botocore.exceptions

    stubbed["raise"](botocore.exceptions.ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "X"))
    result = CliRunner().invoke(app, ["status", "app.yaml"])
    assert result.exit_code == 1 and result.stderr.startswith("error: AWS call failed: ")


def test_an_unknown_service_is_bad_input(stubbed):
    for command in ("render", "history"):
        result = CliRunner().invoke(app, [command, "app.yaml", "-s", "db"])
        assert result.exit_code == 2
        assert result.stderr.strip() == "error: app.yaml: no service 'db' (services: web)"


def test_unlock_speaks_json_too(stubbed, monkeypatch):
    from liftshift.aws import lock

    held = lock.Lock(stack="shop", owner="ci@runner pid 7", operation="deploy", acquired_at="2026-01-01T00:00:00Z",
                     expires_at=1767225900, token="secret")
    aws = SimpleNamespace(account_id=lambda: "123", client=lambda name: name)
    cli_unlock = importlib.import_module("liftshift.cli.unlock")
    monkeypatch.setattr(cli_unlock, "open_target", lambda spec, opts, quiet=False: SimpleNamespace(aws=aws))
    for was in (held, None):
        monkeypatch.setattr(lock, "force_unlock", lambda client, stack: was)
        text = CliRunner().invoke(app, ["unlock", "app.yaml"])
        data = CliRunner().invoke(app, ["unlock", "app.yaml", "-o", "json"])
        assert text.exit_code == data.exit_code == 0
        if was:
            assert text.stdout == ("Unlocked shop (was held by ci@runner pid 7, deploy since "
                                   "2026-01-01T00:00:00Z).\n")
            assert json.loads(data.stdout) == {"stack": "shop", "held_by": {
                "owner": "ci@runner pid 7", "operation": "deploy", "acquired_at": "2026-01-01T00:00:00Z",
                "expires_at": 1767225900}}
            assert "secret" not in data.stdout
        else:
            assert text.stdout == "Stack shop was not locked.\n"
            assert json.loads(data.stdout) == {"stack": "shop", "held_by": None}


# --------------------------------------------------------------------------- progress and start-up


@pytest.mark.parametrize("output,verbose,quiet,shown", [
    ("text", False, False, "LineProgress"), ("text", True, False, "LineProgress"), ("json", True, False, "WarningsOnly"),
    ("text", False, True, "WarningsOnly"), ("text", True, True, "LineProgress"), ("json", True, True, "WarningsOnly"),
    ("text", True, "--quiet", "WarningsOnly"),
])
def test_progress_is_silent_with_json_and_for_quiet_commands_unless_verbose(monkeypatch, output, verbose, quiet,
                                                                            shown):
    """Silent but for warnings with -o json, --quiet (even with -v), and for quiet commands unless verbose; plain
    lines off a terminal (tests/test_display.py: the terminal's display)."""
    from liftshift.cli.base import open_target
    from liftshift.cli.options import Output, StackOptions
    from liftshift.targets import aws

    monkeypatch.setattr(aws, "aws_target", lambda region, profile, progress: (region, profile, progress))
    spec = SimpleNamespace(region="eu-west-1")
    opts = StackOptions(output=Output(output), verbose=verbose, quiet=quiet == "--quiet")
    region, profile, progress = open_target(spec, opts, quiet=quiet is True)
    assert (region, profile, type(progress).__name__) == ("eu-west-1", None, shown)
    assert getattr(progress, "verbose", False) == (verbose and shown == "LineProgress")


def test_importing_the_cli_loads_no_aws_docker_or_pydantic():
    code = ("import sys, liftshift.cli; heavy = [m for m in ('boto3', 'botocore', 'docker', 'pydantic', 'yaml', "
            "'jinja2') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "liftshift.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == f"liftshift {liftshift.__version__}\n"


def test_every_liftshift_error_has_an_exit_code_of_1_to_4():
    for info in pkgutil.walk_packages(liftshift.__path__, "liftshift."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    seen, todo = set(), [LiftshiftError]
    while todo:
        cls = todo.pop()
        seen.add(cls)
        todo.extend(cls.__subclasses__())
    assert {c.__name__ for c in seen} >= set(EXPECTED_EXIT)
    assert all(c.exit_code in (1, 2, 3, 4) for c in seen), {c.__name__: c.exit_code for c in seen}


# --------------------------------------------------------------------------- the command table (cli/commands.py)


def test_the_table_is_the_commands_in_order_with_their_own_help():
    """The root --help reads the table, not the commands: it must say what each command's docstring says."""
    from liftshift.cli.commands import COMMANDS

    assert list(commands()) == list(COMMANDS)
    for name, entry in COMMANDS.items():
        command = commands()[name]
        assert entry.help == " ".join(command.help.split("\n\n")[0].split()), name
    text = CliRunner().invoke(app, ["--help"]).output
    assert [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.startswith("  ")
            and not line.startswith("   ")] == list(COMMANDS)


def test_an_unknown_command_is_a_usage_error_that_names_the_nearest():
    result = CliRunner().invoke(app, ["deplo", "app.yaml"])
    assert result.exit_code == 2 and "No such command 'deplo'" in result.output and "'deploy'" in result.output
    result = CliRunner().invoke(app, ["deplo", "app.yaml", "-o", "json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["exit_code"] == 2


# --------------------------------------------------------------------------- --parallel N

PARALLEL_COMMANDS = ["deploy", "destroy", "rollback", "build", "cutover"]


@pytest.fixture
def parallel_seen(monkeypatch, tmp_path):
    """Each --parallel command with app.yaml loading, the AWS target and its pipeline function stubbed; the real
    open_target (cli/base.py) opens the target. Returns {command: the target's parallel when the pipeline ran}."""
    from liftshift.pipeline import build, cutover, deploy, destroy, rollback
    from liftshift.targets import aws
    from liftshift.targets.base import DEFAULT_PARALLEL

    seen: dict = {}
    spec = SimpleNamespace(name="shop", region="eu-west-1", services={"web": None})
    for module in ("deploy", "destroy", "releases", "build", "cutover"):
        monkeypatch.setattr(importlib.import_module(f"liftshift.cli.{module}"), "load",
                            lambda file, env=None: (spec, tmp_path))
    monkeypatch.setattr(aws, "aws_target", lambda region, profile, progress: SimpleNamespace(parallel=DEFAULT_PARALLEL))
    monkeypatch.setattr(aws, "docker_connector", lambda: None)

    def saw(command, result):
        def pipeline(spec, *args, **kwargs):
            target = next(a for a in args if hasattr(a, "parallel"))
            seen[command] = target.parallel
            return result
        return pipeline

    monkeypatch.setattr(deploy, "deploy", saw("deploy", {"stack": "shop"}))
    monkeypatch.setattr(destroy, "destroy_plan", saw("destroy", ([], [])))
    monkeypatch.setattr(rollback, "rollback", saw("rollback", []))
    monkeypatch.setattr(build, "build", saw("build", {"stack": "shop"}))
    monkeypatch.setattr(cutover, "cutover", saw("cutover", {"stack": "shop"}))
    return seen


@pytest.mark.parametrize("command", PARALLEL_COMMANDS)
def test_parallel_reaches_the_target_the_command_opens(parallel_seen, command):
    from liftshift.targets.base import DEFAULT_PARALLEL

    for argv, env, expected in ((["--parallel", "3"], {}, 3), ([], {"LIFTSHIFT_PARALLEL": "2"}, 2),
                                (["--parallel=1"], {"LIFTSHIFT_PARALLEL": "5"}, 1), ([], {}, DEFAULT_PARALLEL)):
        parallel_seen.clear()
        result = CliRunner().invoke(app, [command, "app.yaml", "-o", "json", *argv], env=env)
        assert result.exit_code == 0, result.output
        assert parallel_seen == {command: expected}, (argv, env)


def test_build_without_push_hands_parallel_to_its_local_engine(parallel_seen):
    result = CliRunner().invoke(app, ["build", "app.yaml", "-o", "json", "--parallel", "4"])
    assert result.exit_code == 0, result.output
    assert parallel_seen == {"build": 4}
    result = CliRunner().invoke(app, ["build", "app.yaml", "-o", "json", "--push", "--parallel", "4"])
    assert result.exit_code == 0 and parallel_seen == {"build": 4}


@pytest.mark.parametrize("command", PARALLEL_COMMANDS)
@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_parallel_below_one_or_not_a_number_is_a_usage_error(parallel_seen, command, value):
    result = CliRunner().invoke(app, [command, "app.yaml", "--parallel", value])
    assert result.exit_code == 2 and "--parallel" in result.output
    result = CliRunner().invoke(app, [command, "app.yaml", "-o", "json", "--parallel", value])
    assert result.exit_code == 2 and json.loads(result.stdout)["exit_code"] == 2
    assert CliRunner().invoke(app, [command, "app.yaml"], env={"LIFTSHIFT_PARALLEL": value}).exit_code == 2
    assert parallel_seen == {}  # nothing ran


def test_parallel_is_declared_once_and_only_on_the_commands_that_run_steps():
    from liftshift.cli.options import Parallel
    from liftshift.targets.base import DEFAULT_PARALLEL

    assert sorted(c for c in commands() if "parallel" in params(c)) == sorted(PARALLEL_COMMANDS)
    declared = Parallel.__metadata__[0]
    for command in PARALLEL_COMMANDS:
        option = params(command)["parallel"]
        assert (option.opts, option.default, option.envvar, option.help) == (
            ["--parallel"], DEFAULT_PARALLEL, "LIFTSHIFT_PARALLEL", declared.help)
    assert declared.help == ("How many independent steps, builds, pushes and health gates to run at once (1: one "
                             "after another, in plan order).")
