"""What a start of the CLI imports: checked by the modules loaded, which no fast or slow machine can fool (the
times are benchmarks/startup.py's). Each case runs the CLI in a fresh interpreter as the `liftshift` entry
point does, then lists sys.modules.

What each start may load, and why:
- `--help`, `--version`: none of the heavy libraries and no command's module (cli/commands.py's table
  gives the root help).
- `<command> --help` and completing a command's name: no pydantic either (typer 0.29 coerces values through
  pydantic adapters; the root's options, processed on every run, are spared that: cli/commands.py).
- Completing --service: no AWS, Docker, Jinja2 or rich; YAML loads to read the service names
  (cli/completion.py), and pydantic because typer coerces the FILE argument through it.
- `validate`: no AWS, Docker or rich. It needs pydantic and YAML (spec/), and Jinja2: it renders each
  service's user-data as deploy would, to refuse what EC2's 16 KB limit or the renderer would refuse later
  (spec/limits.py, `_check_user_data`), from model/registry, launch_template and user_data alone: not the
  desired stack (model/desired) nor, for a stack without secrets, the instance role's policy (model/policies).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from liftshift.cli.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
HELLO = str(ROOT / "stacks" / "hello" / "app.yaml")
HEAVY = ("boto3", "botocore", "docker", "jinja2", "rich", "pydantic", "pydantic_core", "yaml", "ruamel")
SHARES_OPTIONS = {"plan": ("deploy",)}  # command module -> the command modules it takes an option from (--image)
NEVER_BEFORE_WORK = ("boto3", "botocore", "docker", "jinja2", "rich")  # none of them parses or checks

# The entry point's own code (pyproject.toml: liftshift = "liftshift.cli:main"), then what it loaded.
START = """
import json, sys
sys.argv = ["liftshift", *json.loads(sys.argv[1])]
from liftshift.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
with open({report!r}, "w") as out:
    json.dump({{"code": code, "modules": sorted(sys.modules)}}, out)
"""


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """Run `liftshift ARGS` in a fresh interpreter: its exit code, the top-level packages and liftshift modules
    it loaded, and its stdout and stderr together (click writes the help of a bare `liftshift` to stderr)."""
    import os

    report = tmp_path / "modules.json"
    run = subprocess.run([sys.executable, "-c", START.format(report=str(report)), json.dumps(args)], cwd=ROOT,
                         env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120)
    found = json.loads(report.read_text())
    modules = {m.split(".")[0] for m in found["modules"]} | {m for m in found["modules"] if m.startswith("liftshift")}
    return found["code"], modules, run.stdout + run.stderr


def heavy(modules: set[str], among: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in among if m in modules)


def command_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith("liftshift.cli.") and m.rsplit(".", 1)[1] in
                  {e.module for e in COMMANDS.values()})


def test_help_loads_nothing_heavy_and_no_command(tmp_path):
    code, modules, out = start(tmp_path, "--help")
    assert code == 0
    assert heavy(modules) == []
    assert command_modules(modules) == []
    listed = re.findall(r"^  (\S+)", out.split("Commands:")[1], re.MULTILINE)  # a name starts each entry
    assert listed == list(COMMANDS)  # every command, in the table's order


def test_version_loads_nothing_heavy(tmp_path):
    code, modules, out = start(tmp_path, "--version")
    assert code == 0 and out.startswith("liftshift ")
    assert heavy(modules) == [] and command_modules(modules) == []


def test_no_arguments_shows_the_help_and_loads_nothing_heavy(tmp_path):
    code, modules, out = start(tmp_path)
    assert code in (0, 2) and "Commands:" in out
    assert heavy(modules) == []


@pytest.mark.parametrize("command", [*COMMANDS, "local stop", "import compose"])
def test_a_commands_help_loads_only_its_own_module_and_nothing_heavy(tmp_path, command):
    code, modules, out = start(tmp_path, *command.split(), "--help")
    assert code == 0 and "Usage:" in out
    assert heavy(modules) == []
    own = COMMANDS[command.split()[0]].module
    assert command_modules(modules) == sorted(f"liftshift.cli.{m}" for m in {own, *SHARES_OPTIONS.get(own, ())})


def test_validate_loads_no_aws_docker_or_rich(tmp_path):
    code, modules, _ = start(tmp_path, "validate", HELLO)
    assert code == 0
    assert heavy(modules, ("boto3", "botocore", "docker", "rich")) == []
    assert {"pydantic", "yaml", "jinja2"} <= modules  # what it needs (see the module's docstring)
    assert command_modules(modules) == ["liftshift.cli.validate"]
    assert {"liftshift.model.desired", "liftshift.model.policies", "liftshift.model.refs"}.isdisjoint(modules)


def test_a_failing_validate_loads_no_aws_docker_or_rich_either(tmp_path):
    bad = tmp_path / "app.yaml"
    bad.write_text("version: 1\nname: shop\nservices: {web: {image: busybox, port: 22}}\n")
    code, modules, _ = start(tmp_path, "validate", str(bad))
    assert code == 2
    assert heavy(modules, ("boto3", "botocore", "docker", "rich")) == []


def test_completing_a_command_name_loads_no_command(tmp_path):
    env = {"_LIFTSHIFT_COMPLETE": "complete_bash", "COMP_WORDS": "liftshift ro", "COMP_CWORD": "1"}
    code, modules, out = start(tmp_path, env=env)
    assert code == 0 and out.split() == ["rollback"]
    assert heavy(modules) == [] and command_modules(modules) == []


def test_completing_a_root_option_or_showing_the_script_loads_nothing_heavy(tmp_path):
    env = {"_LIFTSHIFT_COMPLETE": "complete_bash", "COMP_WORDS": "liftshift --ver", "COMP_CWORD": "1"}
    code, modules, out = start(tmp_path, env=env)
    assert code == 0 and out.split() == ["--version"]
    assert heavy(modules) == []
    code, modules, out = start(tmp_path, "--show-completion", "bash")
    assert code == 0 and "_LIFTSHIFT_COMPLETE=complete_bash" in out


def test_completing_a_service_loads_no_aws_docker_jinja_or_rich(tmp_path):
    env = {"_LIFTSHIFT_COMPLETE": "complete_bash", "COMP_WORDS": f"liftshift history {HELLO} -s ", "COMP_CWORD": "4"}
    code, modules, out = start(tmp_path, env=env)
    assert code == 0 and out.split() == ["web"]
    assert heavy(modules, NEVER_BEFORE_WORK) == []
