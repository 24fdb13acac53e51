"""stacks/compose-app (issue 12): a three-tier compose app is imported and deployed with --target local,
its code unedited. The web tier reaches api and api reaches db by their compose names; db and api (expose
only) are not reachable from outside the stack; the database password arrives as a secret file; a note
written before a redeploy that replaces db's container is still there after it; destroy keeps the data
unless --delete-data.
"""

from __future__ import annotations

import shutil
import socket
import urllib.request
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from support.local import run_local, stack_containers

STACK_DIR = Path(__file__).resolve().parent.parent / "stacks" / "compose-app"
WEB = "http://127.0.0.1:8093"


def get(path: str) -> str:
    with urllib.request.urlopen(WEB + path, timeout=20) as answer:
        return answer.read().decode()


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def app_container(docker_client, stack: str, service: str):
    (found,) = [c for c in stack_containers(docker_client, stack)
                if c.labels.get("liftshift.service") == service and "liftshift.host" not in c.labels]
    return found


@pytest.fixture
def imported(tmp_path, unique):
    """The example copied to a scratch directory and imported there under a unique stack name."""
    work = tmp_path / "compose-app"
    shutil.copytree(STACK_DIR, work, ignore=shutil.ignore_patterns("app.yaml"))
    result = CliRunner().invoke(app, ["import", "compose", str(work), "--name", unique], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return work / "app.yaml"


def store_secret(stack: str, value: str) -> None:
    endpoint = CliRunner().invoke(app, ["local", "endpoint"], catch_exceptions=False).stdout.strip()
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="liftshift-local",
                       aws_secret_access_key="liftshift-local")
    ssm.put_parameter(Name=f"/{stack}/db_password", Value=value, Type="SecureString", Overwrite=True)


def test_the_compose_app_runs_unchanged_in_the_local_rehearsal(local, imported, unique, docker_client, destroyed):
    destroyed.append((imported, unique))
    password = (STACK_DIR / "db_password.txt").read_text().strip()
    store_secret(unique, password)
    try:
        first = run_local("deploy", str(imported))
        assert first.exit_code == 0, first.output

        # web -> api -> db, each by its compose name; the password file gets the note through
        assert get("/cgi-bin/note?set=kept-across-deploys") == "web asked http://api:8091: kept-across-deploys\n"
        assert get("/cgi-bin/note") == "web asked http://api:8091: kept-across-deploys\n"
        assert refused(5439) and refused(8091)  # internal: only the stack's containers reach db and api

        db = app_container(docker_client, unique, "db")
        secret = db.exec_run(["sh", "-c", "cat /run/secrets/db_password; echo; stat -c %a /run/secrets/db_password"])
        assert secret.output.decode().split() == [password, "444"]  # compose's default mode, as imported
        assert password not in first.output

        # a change to db replaces its instance (and so its container); the data volume comes along
        text = imported.read_text()
        imported.write_text(text.replace("  db:\n    build: ./db\n", "  db:\n    build: ./db\n    env:\n"
                                                                     "      NOTES_VERSION: '2'\n", 1))
        second = run_local("deploy", str(imported))
        assert second.exit_code == 0, second.output
        assert app_container(docker_client, unique, "db").id != db.id
        assert get("/cgi-bin/note") == "web asked http://api:8091: kept-across-deploys\n"

        kept = run_local("destroy", str(imported), "--yes")
        assert kept.exit_code == 0, kept.output
        assert "--delete-data" in kept.output
        assert [v for v in docker_client.volumes.list() if unique in v.name]
    finally:
        run_local("destroy", str(imported), "--yes", "--delete-data")
    assert not [v for v in docker_client.volumes.list() if unique in v.name]


def test_the_committed_app_yaml_is_what_the_import_writes():
    """stacks/compose-app/app.yaml is there to be read; it must stay what `import compose` makes of compose.yaml."""
    result = CliRunner().invoke(app, ["import", "compose", str(STACK_DIR), "--out", "-"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == (STACK_DIR / "app.yaml").read_text()
