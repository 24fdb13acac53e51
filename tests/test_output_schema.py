"""`liftshift schema --output-of COMMAND` against each command's real `-o json` output on moto (server mode),
a real Docker engine and a real registry: the documented shape is the produced shape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import jsonschema
import pytest
from typer.testing import CliRunner

from liftshift.aws.lock import acquire
from liftshift.cli import app
from liftshift.output_schema import COMMANDS, output_schema


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def check(command: str, document: dict) -> None:
    schema = json.loads(run("schema", "--output-of", command).stdout)
    assert schema == output_schema(command)
    jsonschema.Draft202012Validator.check_schema(schema)
    problems = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in jsonschema.Draft202012Validator(schema).iter_errors(document)]
    assert problems == [], command


def test_every_schema_is_valid_json_schema():
    for command in COMMANDS:
        jsonschema.Draft202012Validator.check_schema(output_schema(command))
    unknown = run("schema", "--output-of", "nonsense")
    assert unknown.exit_code == 2 and "nonsense" in unknown.output


def test_each_commands_json_has_its_documented_shape(deploy_env, stack_dir, unique):
    app_yaml = str(stack_dir / "app.yaml")
    try:
        planned = run("plan", app_yaml, "-o", "json")
        assert planned.exit_code == 0, planned.output
        plan = json.loads(planned.stdout)
        assert plan["steps"] and all(step["calls"] for step in plan["steps"] if step["action"] != "wait")
        check("plan", plan)

        deployed = run("deploy", app_yaml, "-o", "json")
        assert deployed.exit_code == 0, deployed.output
        deploy = json.loads(deployed.stdout)
        assert deploy["changed"] and deploy["services"]["web"]["instances"]
        check("deploy", deploy)
        check("plan", json.loads(run("plan", app_yaml, "-o", "json").stdout))  # nothing to do: steps []

        status = json.loads(run("status", app_yaml, "-o", "json").stdout)
        assert status["services"]["web"]["image"].startswith("sha256:")
        check("status", status)

        history = json.loads(run("history", app_yaml, "-o", "json").stdout)
        assert history["services"]["web"][0]["serving"] is True
        check("history", history)

        # another run holds the lock: deploy is exit 4 and says who; unlock clears it and says what it cleared
        acquire(boto3.client("dynamodb", region_name="eu-west-1"), unique, "ci@pipeline", "deploy")
        locked = run("deploy", app_yaml, "-o", "json")
        assert locked.exit_code == 4
        error_document(locked, 4)
        unlocked = json.loads(run("unlock", app_yaml, "-o", "json").stdout)
        assert unlocked["held_by"]["owner"] == "ci@pipeline"
        check("unlock", unlocked)
        check("unlock", json.loads(run("unlock", app_yaml, "-o", "json").stdout))  # nothing held: null

        # a second release, then the rollback to the first, planned
        edited = (stack_dir / "app.yaml").read_text().replace("    port: 8080\n", "    port: 8080\n    env: {V: '2'}\n")
        (stack_dir / "app.yaml").write_text(edited)
        assert run("deploy", app_yaml, "-o", "json").exit_code == 0
        rollback = run("rollback", app_yaml, "--dry-run", "-o", "json")
        assert rollback.exit_code == 0, rollback.output
        planned_back = json.loads(rollback.stdout)
        assert planned_back["dry_run"] is True and planned_back["steps"]
        check("rollback", planned_back)

        # moto's instances answer nothing: verify fails (exit 3), and its document says which check did
        verified = run("verify", app_yaml, "-o", "json")
        assert verified.exit_code == 3
        verify, _ = json.JSONDecoder().raw_decode(verified.stdout)  # the result (an error document may follow)
        assert verify["passed"] is False and verify["checks"]
        check("verify", verify)
    finally:
        gone = run("destroy", app_yaml, "--yes", "-o", "json")
    assert gone.exit_code == 0, gone.output
    destroyed = json.loads(gone.stdout)
    assert destroyed["removed"]
    check("destroy", destroyed)
    check("destroy", json.loads(run("destroy", app_yaml, "--yes", "-o", "json").stdout))  # nothing left


def error_document(result, code: int) -> None:
    """The error document a failed run prints with -o json (cli/base.py), and only it."""
    document = json.loads(result.stdout)
    assert document["exit_code"] == code and document["error"]
    check("error", document)


@pytest.mark.parametrize("args, code", [
    (["plan", "{dir}/missing.yaml", "-o", "json"], 2),  # bad input: the file
    (["deploy", "{dir}/bad.yaml", "-o", "json"], 2),  # bad input: a key, at its line
])
def test_the_error_document(tmp_path, args, code):
    (tmp_path / "bad.yaml").write_text("version: 1\nname: shop\nservices:\n  web: {image: nginx, prot: 80}\n")
    result = run(*[a.format(dir=tmp_path) for a in args])
    assert result.exit_code == code
    error_document(result, code)


DATA = Path(__file__).parent / "data"


def test_import_compose_json_over_its_corpus(tmp_path, monkeypatch):
    """Every compose case import accepts: its -o json has the documented shape."""
    for name, value in {"FROM_ENV": "from-the-shell", "FROM_SHELL": "shell", "API_KEY": "k"}.items():
        monkeypatch.setenv(name, value)
    checked = 0
    for case in sorted(p for p in (DATA / "compose").iterdir() if p.is_dir()):
        where = tmp_path / "compose" / case.name
        shutil.copytree(case, where)
        monkeypatch.chdir(where)
        result = run("import", "compose", "--out", "app.yaml", "-o", "json")
        if result.exit_code != 0:
            continue  # refused: test_import_compose checks why (and the error document is checked below)
        check("import compose", json.loads(result.stdout))
        checked += 1
    assert checked >= 20


def test_init_json_over_its_corpus(tmp_path, monkeypatch):
    """Every app directory init understands (tests/data/init): its -o json has the documented shape."""
    checked = 0
    for case in sorted(p for p in (DATA / "init").iterdir() if p.is_dir()):
        where = tmp_path / "init" / case.name
        shutil.copytree(case, where)
        monkeypatch.chdir(where)
        result = run("init", "-o", "json")
        if result.exit_code != 0:
            continue  # nothing to recognise (test_init checks why)
        check("init", json.loads(result.stdout))
        checked += 1
    assert checked >= 10
