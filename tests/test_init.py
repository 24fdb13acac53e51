"""`liftshift init` over a corpus of app directories (tests/data/init/<kind>/), each run in a copy under tmp_path.

For each kind: the files written, that app.yaml validates (spec/load.py), that the Dockerfile is what the kind
needs, and the guesses (port, start command, health). Also: --force, the refusal to overwrite (nothing written),
-o json, --base-image, and a directory with nothing to recognise. Pure: no Docker, no AWS.
(tests/test_init_legacy.py builds and runs stacks/legacy for real.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from liftshift.spec.load import load_spec

CORPUS = Path(__file__).parent / "data" / "init"
LEGACY = Path(__file__).resolve().parent.parent / "stacks" / "legacy"


@pytest.fixture
def copy(tmp_path):
    def make(name: str) -> Path:
        where = tmp_path / name
        shutil.copytree(LEGACY if name == "legacy" else CORPUS / name, where)
        return where
    return make


def init(*args: str):
    return CliRunner().invoke(app, ["init", *map(str, args)], catch_exceptions=False)


def init_json(where: Path, *args: str) -> dict:
    result = init(where, "-o", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def service(where: Path):
    spec, _ = load_spec(where / "app.yaml")
    (name,) = spec.services
    return spec, spec.services[name]


def dockerfile_lines(where: Path) -> list[str]:
    return [line for line in (where / "Dockerfile").read_text().splitlines() if line and not line.startswith("#")]


def test_legacy_python_app_with_systemd_unit_and_sqlite(copy):
    where = copy("legacy")
    result = init(where)
    assert result.exit_code == 0, result.output
    assert "Guessed: port 8080, start command: python app.py, health path /healthz" in result.stdout
    assert "copy the old server's data" in result.stdout
    spec, web = service(where)
    assert spec.name == "legacy"
    assert web.port == 8080 and web.build.context == "."
    assert dict(web.env)["PORT"] == "8080"
    # the old server's DATA_DIR (legacy.service) becomes a data volume at the same path
    assert dict(web.env)["DATA_DIR"] == "/var/lib/legacy"
    assert {name: d.path for name, d in web.data.items()} == {"data": "/var/lib/legacy"}
    assert web.health.command[:2] == ["python", "-c"] and "http://127.0.0.1:8080/healthz" in web.health.command[2]
    lines = dockerfile_lines(where)
    assert lines[0] == "FROM python:3.12-slim"
    assert "RUN mkdir -p /var/lib/legacy && chown 10001:10001 /var/lib/legacy" in lines
    assert lines[-3:] == ["USER 10001", "EXPOSE 8080", 'CMD ["python", "app.py"]']
    assert "pip install" not in (where / "Dockerfile").read_text()  # standard library only
    assert "app.yaml" in (where / ".dockerignore").read_text().split()


@pytest.mark.parametrize("kind, port, command, health, base", [
    ("flask", 8000, ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"], "/health", "python:3.12-slim"),
    ("django", 8000, ["gunicorn", "--bind", "0.0.0.0:8000", "shop.wsgi:application"], "/", "python:3.12-slim"),
    ("fastapi", 8000, ["uvicorn", "api.main:api", "--host", "0.0.0.0", "--port", "8000"], "/healthz",
     "python:3.12-slim"),
    ("wsgi", 8000, ["gunicorn", "--bind", "0.0.0.0:8000", "wsgi:application"], "/", "python:3.12-slim"),
    ("asgi", 8000, ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"], "/", "python:3.12-slim"),
    ("httpserver", 9000, ["python", "server.py"], "/ping", "python:3.12-slim"),
    ("node", 3000, ["node", "server.js"], "/healthz", "node:22-slim"),
    ("maven", 9090, ["java", "-jar", "/app/app.jar"], "/actuator/health", "eclipse-temurin:21-jre"),
    ("gradle", 8080, ["java", "-jar", "/app/app.jar"], "/", "eclipse-temurin:21-jre"),
    ("jar", 8080, ["java", "-jar", "/app/app.jar"], "/", "eclipse-temurin:21-jre"),
    ("go", 8080, ["/app/server"], "/healthz", "alpine:3.20"),
    ("static", 80, [], "/", "nginx:1.27-alpine"),
])
def test_each_kind_gets_a_valid_app_yaml_and_a_dockerfile(copy, kind, port, command, health, base):
    where = copy(kind)
    result = init_json(where)
    guessed = result["guessed"]
    assert (guessed["port"], guessed["command"], guessed["health_path"], guessed["base_image"]) == \
        (port, command, health, base)
    assert [Path(f["path"]).name for f in result["files"]] == ["app.yaml", "Dockerfile", ".dockerignore"]
    for written in result["files"]:
        assert Path(written["path"]).read_text() == written["text"]
    _, web = service(where)
    assert web.port == port
    if guessed["health_command"]:
        assert list(web.health.command) == guessed["health_command"]
        assert f"127.0.0.1:{port}{health}" in " ".join(web.health.command)
    else:
        assert web.health.path == health and web.health.command is None
    lines = dockerfile_lines(where)
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms[-1] == f"FROM {base}"
    assert f"EXPOSE {port}" in lines
    if command:
        assert lines[-1] == "CMD " + json.dumps(command)
        assert lines[-3] in ("USER 10001", "USER node")  # never root
    assert (where / "Dockerfile").read_text().startswith("# Written by `liftshift init`")


@pytest.mark.parametrize("kind, build_image, build_line", [
    ("maven", "maven:3.9-eclipse-temurin-21", "RUN mvn -q -DskipTests package"),
    ("gradle", "gradle:8.10-jdk21", "RUN gradle --no-daemon -q jar -x test"),
    ("go", "golang:1.23", "RUN CGO_ENABLED=0 go build"),
])
def test_compiled_kinds_build_in_a_stage_and_run_on_a_slim_image(copy, kind, build_image, build_line):
    where = copy(kind)
    result = init_json(where)
    assert result["guessed"]["build_image"] == build_image
    text = (where / "Dockerfile").read_text()
    build, _, run = text.partition("\n\nFROM ")
    assert f"FROM {build_image} AS build" in build and build_line in build
    assert "COPY --from=build " in run


def test_framework_servers_missing_from_requirements_are_installed_and_flagged(copy):
    where = copy("django")
    result = init_json(where)
    assert "RUN pip install --no-cache-dir -r requirements.txt gunicorn" in dockerfile_lines(where)
    assert any("gunicorn is not in the requirements" in c for c in result["check"])
    assert any("ALLOWED_HOSTS" in c for c in result["check"])
    # Django's sqlite file: a data volume is proposed, and the user told to point the app at it
    assert result["guessed"]["data"] == {"data": "/data"}
    flask = init_json(copy("flask"))
    assert not any("gunicorn" in c for c in flask["check"])  # flask's requirements name it


def test_a_database_file_path_from_env_becomes_a_volume_at_its_directory(copy):
    where = copy("wsgi")
    result = init_json(where)
    assert result["guessed"]["env"]["DB_PATH"] == "/srv/wsgi/app.db"
    assert result["guessed"]["data"] == {"data": "/srv/wsgi"}
    _, web = service(where)
    assert web.data["data"].path == "/srv/wsgi"


def test_an_existing_dockerfile_gets_an_app_yaml_only(copy):
    where = copy("dockerfile")
    before = (where / "Dockerfile").read_text()
    result = init_json(where, "--base-image", "python:3.12-slim")
    assert [Path(f["path"]).name for f in result["files"]] == ["app.yaml"]
    assert (where / "Dockerfile").read_text() == before
    assert result["kind"] == "dockerfile" and result["guessed"]["port"] == 7000
    assert any("--base-image python:3.12-slim is not used" in c for c in result["check"])
    _, web = service(where)
    assert web.port == 7000 and web.health.path == "/"


def test_a_compose_file_is_handed_to_import_compose(copy):
    where = copy("compose")
    result = init_json(where)
    assert result["kind"] == "compose"
    assert result["import"]["services"] == {"web": "web"}
    assert not (where / ".dockerignore").exists()
    _, web = service(where)
    assert web.port == 80 and web.publish == 8080


def test_base_image_replaces_the_image_the_app_runs_on_not_the_build_stage(copy):
    where = copy("legacy")
    result = init_json(where, "--base-image", "liftshift-test/python:3.11")
    assert result["guessed"]["base_image"] == "liftshift-test/python:3.11"
    assert dockerfile_lines(where)[0] == "FROM liftshift-test/python:3.11"
    go = copy("go")
    init_json(go, "--base-image", "debian:12-slim")
    froms = [line for line in dockerfile_lines(go) if line.startswith("FROM")]
    assert froms == ["FROM golang:1.23 AS build", "FROM debian:12-slim"]


def test_it_never_overwrites_without_force(copy):
    where = copy("flask")
    (where / "app.yaml").write_text("mine\n")
    result = init(where)
    assert result.exit_code == 2
    assert "app.yaml exists" in result.output and "--force" in result.output
    assert (where / "app.yaml").read_text() == "mine\n"
    assert not (where / "Dockerfile").exists() and not (where / ".dockerignore").exists()  # nothing written


def test_a_second_run_refuses_and_force_writes_the_same_again(copy):
    where = copy("legacy")
    assert init(where).exit_code == 0
    first = {f: (where / f).read_text() for f in ("app.yaml", "Dockerfile", ".dockerignore")}
    again = init(where)
    assert again.exit_code == 2 and "app.yaml and Dockerfile exist" in again.output
    # init's own Dockerfile is not taken for the app's: --force detects the Python app again
    forced = init(where, "--force")
    assert forced.exit_code == 0, forced.output
    assert {f: (where / f).read_text() for f in first} == first


def test_name_sets_the_stack_and_a_bad_one_is_refused(copy):
    where = copy("static")
    bad = init(where, "--name", "Not A Name")
    assert bad.exit_code == 2 and "--name" in bad.output
    assert not (where / "app.yaml").exists()
    assert init_json(where, "--name", "site-1")["stack"] == "site-1"
    assert load_spec(where / "app.yaml")[0].name == "site-1"


@pytest.mark.parametrize("kind, message", [
    ("nothing", "no app that init recognises (looked for a compose file"),
    ("pynoentry", "found Python files but no entry point"),
])
def test_an_unrecognisable_directory_exits_2_and_writes_nothing(copy, kind, message):
    where = copy(kind)
    before = sorted(p.name for p in where.iterdir())
    result = init(where)
    assert result.exit_code == 2
    assert message in result.output and str(where) in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in where.iterdir()) == before


def test_a_missing_directory_exits_2(tmp_path):
    result = init(tmp_path / "nope")
    assert result.exit_code == 2 and f"{tmp_path / 'nope'}: no such directory" in result.output


def test_secret_looking_environment_of_the_old_server_is_named_never_written(copy):
    where = copy("legacy")
    unit = where / "legacy.service"
    unit.write_text(unit.read_text().replace("Environment=PORT=8080",
                                             "Environment=PORT=8080\nEnvironment=API_TOKEN=s3cr3t-value LOG_LEVEL=info"))
    result = init(where, "-o", "json")
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value" not in result.output
    assert "s3cr3t-value" not in (where / "app.yaml").read_text()
    data = json.loads(result.stdout)
    assert data["guessed"]["env"]["LOG_LEVEL"] == "info"
    assert any("API_TOKEN" in c and "not written" in c for c in data["check"])


def test_json_is_the_text_as_data(copy, tmp_path):
    where = copy("node")
    data = init_json(where)
    assert set(data) >= {"directory", "kind", "stack", "found", "guessed", "check", "files", "app_yaml"}
    assert data["kind"] == "node" and data["app_yaml"] == (where / "app.yaml").read_text()
    other = tmp_path / "text" / "node"
    shutil.copytree(CORPUS / "node", other)
    text = init(other).stdout
    assert f"Guessed: port {data['guessed']['port']}, start command: node server.js, health path /healthz" in text
    assert all(check in text for check in data["check"])


def test_a_kind_without_an_entry_point_gives_way_to_the_next_that_fits(copy):
    where = copy("node")
    (where / "tools.py").write_text("def helper():\n    return 1\n")  # a helper script, no entry point
    result = init_json(where)
    assert result["kind"] == "node"
    assert any("also found Python files" in c for c in result["check"])
