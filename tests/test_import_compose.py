"""`liftshift import compose` over a corpus of compose files (tests/data/compose/<case>/).

For each case: the exit code; the warnings, each at its compose file, line and key; and that the app.yaml
written validates (spec/load.py), or, for exit 2, that the message names the file, line and key and
nothing is written. Never a traceback. Pure: no Docker, no AWS; every case runs in a copy under tmp_path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from liftshift.migrate import compose_parts as parts
from liftshift.migrate.appyaml_write import quoted, scalar
from liftshift.migrate.compose_env import InterpolationError, Interpolator, parse_dotenv
from liftshift.spec.load import load_spec
from liftshift.spec.yamlsource import load_yaml_text

CORPUS = Path(__file__).parent / "data" / "compose"
ENV = {"FROM_ENV": "from-the-shell", "FROM_SHELL": "shell", "API_KEY": "k"}
UNSET = ("NEVER_SET", "SECRET_KEY", "NGINX_TAG", "STACK_NAME", "REGISTRY", "PUBLISH", "FROM_DOTENV", "EMPTY_VAR",
         "NOPE", "ALSO_NOPE", "MISSING_ARG", "COMPOSE_PROFILES")


@pytest.fixture
def case(tmp_path, monkeypatch):
    """Copy a corpus case into tmp_path and work there, with a known environment."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    def copy(name: str) -> Path:
        where = tmp_path / name
        shutil.copytree(CORPUS / name, where)
        monkeypatch.chdir(where)
        return where

    return copy


def run(*args: str):
    result = CliRunner().invoke(app, ["import", "compose", *args])
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception  # never a traceback
    assert "Traceback" not in result.output
    return result


# (case, extra args) -> the findings expected at (file, line, key) with a word of their message
OK_CASES = {
    "build-args": [("compose.yaml", 12, "services.api.build.cache_from", "ignored"),
                   ("compose.yaml", 10, "services.api.build.args[2]", "FROM_ENV has no value"),
                   ("compose.yaml", 11, "services.api.build.args[3]", "MISSING_ARG has no value"),
                   ("compose.yaml", 13, "services.api.image", "ignored with build"),
                   ("compose.yaml", 18, "services.worker", "placeholder")],
    "profiles": [("compose.yaml", 8, "services.debug.profiles", "left out"),
                 ("compose.yaml", 12, "services.admin.profiles", "left out")],
    "interpolation": [("compose.yaml", 15, "services.web.environment.UNSET", "NEVER_SET is not set")],
    "env-file": [("compose.yaml", 5, "services.app.env_file", "spring.profiles.active"),
                 ("compose.yaml", 11, "services.app.environment.FROM_SHELL", "at import time")],
    "extends": [("common/services.yml", 8, "services.queue-worker.volumes[0]", "bind mount of ./cache")],
    "ports-short": [("compose.yaml", 10, "services.local-only.ports[0]", "127.0.0.1 only"),
                    ("compose.yaml", 14, "services.random.ports[0]", "random"),
                    ("compose.yaml", 18, "services.range.ports[0]", "range"),
                    ("compose.yaml", 22, "services.dns.ports[0]", "UDP")],
    "volumes-short": [("compose.yaml", 6, "services.db.volumes[1]", "bind mount of ./initdb"),
                      ("compose.yaml", 8, "services.db.volumes[3]", "anonymous volume"),
                      ("compose.yaml", 9, "services.db.volumes[4]", "../shared/certs"),
                      ("compose.yaml", 10, "services.db.volumes[5]", "a second volume onto")],
    "volumes-long": [("compose.yaml", 9, "services.app.volumes[1]", "bind mount of ./config.yml"),
                     ("compose.yaml", 13, "services.app.volumes[2]", "tmpfs"),
                     ("compose.yaml", 15, "services.app.volumes[3]", "external")],
    "secrets": [("compose.yaml", 2, "services.db", "wrote port 5432")],
    "depends-on": [("compose.yaml", 13, "services.api.depends_on.db.restart", "not needed")],
    "health-http": [("compose.yaml", 10, "services.api.healthcheck.start_period", "3600 is used"),
                    ("compose.yaml", 11, "services.api.healthcheck.start_interval", "not imported"),
                    ("compose.yaml", 21, "services.other-port.healthcheck.test", "checks port 9000")],
    "health-other": [("compose.yaml", 18, "services.disabled.healthcheck", "disabled"),
                     ("compose.yaml", 14, "services.none.healthcheck.test", "NONE"),
                     ("compose.yaml", 24, "services.bad.healthcheck.test", "CMD, CMD-SHELL or NONE")],
    "replicas": [("compose.yaml", 15, "services.web.deploy.placement", "not imported"),
                 ("compose.yaml", 25, "services.huge.deploy.replicas", "at most 100"),
                 ("compose.yaml", 27, "services.huge.deploy.resources.limits", "'lots'")],
    "unsupported": [("compose.yaml", 37, "networks", "custom networks"), ("compose.yaml", 41, "configs", "COPY"),
                    ("compose.yaml", 44, "include", "not imported"), ("compose.yaml", 46, "version", "obsolete"),
                    ("compose.yaml", 5, "services.app.cap_add", "capabilities"),
                    ("compose.yaml", 7, "services.app.ulimits", "ulimit"),
                    ("compose.yaml", 9, "services.app.sysctls", "sysctls"),
                    ("compose.yaml", 12, "services.app.network_mode", "network_mode host"),
                    ("compose.yaml", 13, "services.app.pid", "PID"), ("compose.yaml", 14, "services.app.ipc", "IPC"),
                    ("compose.yaml", 21, "services.app.stop_signal", "SIGTERM"),
                    ("compose.yaml", 22, "services.app.stop_grace_period", "10 s"),
                    ("compose.yaml", 23, "services.app.restart", "systemd restarts"),
                    ("compose.yaml", 29, "services.app.frobnicate", "unknown compose key"),
                    ("compose.yaml", 31, "services.app.networks", "front, back"),
                    ("compose.yaml", 34, "services.db.networks", "aliases")],
    "service-names": [("compose.yaml", 2, "services.My_Web.Frontend", "renamed 'my-web-frontend'"),
                      ("compose.yaml", 5, "services.api_v2", "renamed 'api-v2'")],
    "command-entrypoint": [("compose.yaml", 9, "services.entry.entrypoint", "merged into command"),
                           ("compose.yaml", 14, "services.only-entry.entrypoint", "no ENTRYPOINT")],
    "anchors": [("compose.yaml", 3, "services.blue.restart", "systemd"),
                ("compose.yaml", 3, "services.green.restart", "systemd")],
    "stack-name": [("compose.yaml", 1, "name", "using 'my-shop'")],
    "peers": [("compose.yaml", 16, "services.api.environment.CALLBACK", "api -> web -> api")],
    "django-celery": [("docker-compose.yml", 37, "services.beat.profiles", "scheduler"),
                      ("docker-compose.yml", 17, "services.worker.restart", "systemd")],
    "traefik": [("compose.yaml", 12, "services.traefik.networks", "proxy")],
    "monitoring": [("compose.yml", 1, "name", "'monitoring-stack'"),
                   ("compose.yml", 13, "services.prometheus.user", "USER"),
                   ("compose.yml", 38, "services.node-exporter.network_mode", "host")],
    "tags": [],  # !reset drops the merged restart (no note), !override replaces the merged ports
    "wordpress": [("docker-compose.yml", 1, "version", "obsolete"),
                  ("docker-compose.yml", 8, "services.db.restart", "systemd")],
}


@pytest.mark.parametrize("name", sorted(OK_CASES))
def test_each_case_imports_with_its_warnings_and_validates(case, name):
    where = case(name)
    result = run("-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    found = {(w["file"], w["line"], w["key"]): w for w in data["warnings"]}
    for file, line, key, words in OK_CASES[name]:
        assert (file, line, key) in found, (file, line, key, sorted(found))
        matching = [w for w in data["warnings"] if (w["file"], w["line"], w["key"]) == (file, line, key)]
        assert any(words in w["message"] for w in matching), matching
    for warning in data["warnings"]:
        assert warning["file"] and warning["line"] and warning["level"] in ("note", "warning"), warning
    written = where / "app.yaml"
    assert written.read_text() == data["app_yaml"]
    spec, _ = load_spec(written)
    assert spec.name == data["stack"] and sorted(spec.services) == sorted(data["services"].values())


REFUSED_CASES = {  # case -> (args, what stderr names)
    "interpolation-required": ([], ["compose.yaml:6: services.web.environment.SECRET_KEY:",
                                    "set SECRET_KEY before importing"]),
    "interpolation-bad": ([], ["compose.yaml:4: services.web.command[1]:", "invalid interpolation format"]),
    "env-file-missing": ([], ["compose.yaml:4: services.app.env_file:", "./missing.env not found"]),
    "extends-cycle": ([], ["compose.yaml:4: services.a.extends:", "a -> b -> a"]),
    "ports-long": ([], ["compose.yaml:15: services.ssh.ports[0]:", "SSH daemon"]),
    "privileged": ([], ["compose.yaml:4: services.agent.privileged:", "--allow-unsupported"]),
    "devices": ([], ["compose.yaml:5: services.zigbee.devices:", "--allow-unsupported"]),
    "bad-yaml": ([], ["compose.yaml:6: invalid YAML"]),
    "duplicate-key": ([], ["compose.yaml:5: services.web: duplicate key (first defined on line 2)"]),
    "not-a-mapping": ([], ["compose.yaml:1: must hold exactly one YAML document"]),
    "service-name-refused": ([], ["compose.yaml:2: services.___:", "rename the service",
                                  "compose.yaml:7: services.web_app:", "already called"]),
    "no-image": ([], ["compose.yaml:2: services.web: has neither image nor build",
                      "compose.yaml:5: services.bad-image.image:"]),
    "secrets-undeclared": ([], ["compose.yaml:5: services.app.secrets[1]:", "not declared"]),
    "all-profiled": ([], ["compose.yaml:1: services:", "--profile"]),
}


@pytest.mark.parametrize("name", sorted(REFUSED_CASES))
def test_what_cannot_be_imported_exits_2_naming_file_line_and_key(case, name):
    where = case(name)
    args, words = REFUSED_CASES[name]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr, result.stderr
    assert not (where / "app.yaml").exists()


def test_privileged_and_devices_import_with_allow_unsupported(case):
    for name in ("privileged", "devices"):
        where = case(name)
        result = run("--allow-unsupported", "-o", "json")
        assert result.exit_code == 0, result.output
        warnings = json.loads(result.stdout)["warnings"]
        assert any("--allow-unsupported" in w["message"] and w["level"] == "warning" for w in warnings)
        text = (where / "app.yaml").read_text()
        assert "privileged:" not in text and "devices:" not in text
        load_spec(where / "app.yaml")


def test_profiles_enable_services(case):
    where = case("profiles")
    assert run("--profile", "debug").exit_code == 0
    spec, _ = load_spec(where / "app.yaml")
    assert list(spec.services) == ["app", "debug", "admin"]
    assert run("--profile", "tools", "--force").exit_code == 0
    assert list(load_spec(where / "app.yaml")[0].services) == ["app", "admin"]
    assert run("--profile", "*", "--force").exit_code == 0
    assert list(load_spec(where / "app.yaml")[0].services) == ["app", "debug", "admin"]
    case_all = case("all-profiled")
    assert run("--profile", "tools").exit_code == 0 and (case_all / "app.yaml").exists()


def test_the_mapped_values(case):
    """What each compose form becomes, read back through the app.yaml loader."""
    where = case("build-args")
    assert run().exit_code == 0
    api = load_spec(where / "app.yaml")[0].services["api"]
    assert (api.build.context, api.build.dockerfile, api.build.target) == ("./api", "Dockerfile.prod", "runtime")
    assert api.build.args == {"NODE_ENV": "production", "VERSION": "1.10", "FROM_ENV": "from-the-shell"}
    assert (api.port, api.publish, api.image) == (3000, None, None)
    worker = load_spec(where / "app.yaml")[0].services["worker"]
    assert worker.build.args == {"QUEUE": "default", "RETRIES": "3"} and worker.internal

    where = case("interpolation")
    assert run().exit_code == 0
    spec = load_spec(where / "app.yaml")[0]
    web = spec.services["web"]
    assert spec.name == "interp" and web.image == "docker.io/library/nginx:1.27" and web.published_port == 8081
    assert web.env == {"PLAIN": "from dotenv", "BRACED": "from dotenv", "EMPTY_DEFAULT": "fallback",
                       "UNSET_DEFAULT": "", "NESTED": "deep", "DOLLARS": "price: $5 and ${NOT_INTERPOLATED}",
                       "ALT": "set", "UNSET": "", "LONE": "a $ sign"}

    where = case("env-file")
    assert run().exit_code == 0
    env = load_spec(where / "app.yaml")[0].services["app"].env
    assert env == {"LEVEL": "override", "WORKERS": "4", "GREETING": "hello # not a comment",
                   "LITERAL": "no ${interpolation} here", "DERIVED": "4-workers", "FROM_SHELL": "shell"}

    where = case("extends")
    assert run().exit_code == 0
    services = load_spec(where / "app.yaml")[0].services
    assert services["web"].env == {"NODE_ENV": "production", "SHARED": "web"}
    assert services["web"].command == ["node", "web.js"] and services["web"].health.path == "/health"
    assert services["worker"].build.context == "./common/worker"
    assert services["worker"].env == {"QUEUE": "high", "CONCURRENCY": "2"}

    where = case("health-http")
    assert run().exit_code == 0
    services = load_spec(where / "app.yaml")[0].services
    health = services["api"].health
    assert (health.path, health.interval, health.timeout, health.retries, health.start_period) == (
        "/healthz", 90, 3, 5, 3600)
    assert services["web"].health.path == "/ready?full=1" and services["other-port"].health.path == "/status"

    where = case("replicas")
    assert run().exit_code == 0
    services = load_spec(where / "app.yaml")[0].services
    assert (services["web"].instances.count, services["web"].instances.type) == (3, "t3.xlarge")
    assert (services["worker"].instances.count, services["huge"].instances.count) == (2, 100)
    text = (where / "app.yaml").read_text()
    assert "type: t3.xlarge  # decide: 4 vCPU, 16 GiB" in text and "# region:  # decide:" in text

    where = case("tags")
    assert run("-o", "json").exit_code == 0
    web = load_spec(where / "app.yaml")[0].services["web"]
    assert (web.port, web.publish) == (80, 9090) and "restart" not in (where / "app.yaml").read_text()

    where = case("peers")
    assert run().exit_code == 0
    services = load_spec(where / "app.yaml")[0].services
    assert services["api"].env["DATABASE_URL"] == "postgres://app:secret@db:5432/app?sslmode=disable"  # as written
    assert services["api"].env["CALLBACK"] == "http://web:3000/hook"  # no dependency: it would be a cycle
    assert (list(services["web"].depends_on), list(services["api"].depends_on)) == (["api"], ["db", "redis"])
    assert services["web"].env["ROLE"] == "api"  # a word, not a host


def test_secrets_never_carry_their_value_and_say_how_to_store_it(case):
    where = case("secrets")
    result = run("-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "not-a-real-password" not in result.stdout
    assert "not-a-real-password" not in (where / "app.yaml").read_text()
    db = load_spec(where / "app.yaml")[0].services["db"]
    assert {n: (f.ref, f.path, f.mode) for n, f in db.secret_files.items()} == {
        "db_password": ("ssm:/secrets/db_password", None, 0o444), "token": ("ssm:/secrets/api_token", None, 0o400),
        "from_env": ("ssm:/secrets/from_env", None, 0o444)}
    assert db.env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password" and not db.secrets  # the file, unchanged
    assert [c["command"] for c in data["commands"]] == [
        "aws ssm put-parameter --name /secrets/db_password --type SecureString "
        "--value file://secrets/db_password.txt",
        "aws ssm put-parameter --name /secrets/api_token --type SecureString --value '<its value>'",
        'aws ssm put-parameter --name /secrets/from_env --type SecureString --value "$API_KEY"']
    assert "# decide: store it first: aws ssm put-parameter --name /secrets/db_password" in data["app_yaml"]


def test_out_force_and_stdout(case):
    where = case("anchors")
    result = run("--out", "-")
    assert result.exit_code == 0 and result.stdout.startswith("# app.yaml imported from compose.yaml")
    assert not (where / "app.yaml").exists()
    assert "systemd" in result.stderr  # findings go to stderr, the app.yaml alone to stdout
    first = run()
    assert first.exit_code == 0 and first.stdout.startswith(f"Wrote {where / 'app.yaml'}: stack anchors, 2 services")
    again = run()
    assert again.exit_code == 2 and "exists: give --force" in again.stderr
    assert run("--force").exit_code == 0
    (where / "deploy").mkdir()
    other = run("--out", "deploy/app.yaml", "--name", "blue-green")
    assert other.exit_code == 0, other.output
    assert load_spec(where / "deploy" / "app.yaml")[0].name == "blue-green"
    bad = run("--out", "-", "--name", "Not_A_Name")
    assert bad.exit_code == 2 and "--name 'Not_A_Name'" in bad.stderr


def test_build_context_relative_to_the_output(case):
    where = case("build-args")
    (where / "ops").mkdir()
    outside = run("--out", "ops/app.yaml")  # without a git work tree, app.yaml's directory is the repository
    assert outside.exit_code == 2 and "does not validate, so nothing was written" in outside.stderr
    assert "build context '../api' leads outside" in outside.stderr and not (where / "ops" / "app.yaml").exists()
    (where / ".git").mkdir()
    assert run("--out", "ops/app.yaml").exit_code == 0
    spec = load_spec(where / "ops" / "app.yaml")[0]
    assert spec.services["api"].build.context == "../api" and spec.services["web"].build == spec.services[
        "web"].build.__class__(context="..")


def test_default_file_names_in_the_specifications_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run().exit_code == 2 and "no compose file in" in CliRunner().invoke(app, ["import", "compose"]).stderr
    for name, image in (("docker-compose.yaml", "a:1"), ("docker-compose.yml", "b:1"), ("compose.yml", "c:1"),
                        ("compose.yaml", "d:1")):
        (tmp_path / name).write_text(f"services:\n  web:\n    image: {image}\n    ports: ['80:80']\n")
        result = run("--out", "-", "-o", "json")
        assert result.exit_code == 0 and json.loads(result.stdout)["app"]["services"]["web"]["image"] == image
        assert json.loads(result.stdout)["compose_file"] == name


def test_json_output_is_one_document(case):
    case("depends-on")
    data = json.loads(run("-o", "json", "--out", "-").stdout)
    assert set(data) == {"compose_file", "stack", "out", "services", "excluded_by_profiles", "app", "app_yaml",
                         "warnings", "commands"}
    assert data["out"] == "-" and data["app"]["services"]["db"]["internal"] is True
    assert data["app"]["services"]["db"]["port"] == 5432 and "region" not in data["app"]


# --------------------------------------------------------------------------- the parts, directly

@pytest.mark.parametrize("text,env,expected", [
    ("${A}", {"A": "1"}, "1"), ("$A-$B", {"A": "1", "B": "2"}, "1-2"), ("${A:-x}", {"A": ""}, "x"),
    ("${A-x}", {"A": ""}, ""), ("${A-x}", {}, "x"), ("${A:-${B:-deep}}", {}, "deep"), ("$$A", {"A": "1"}, "$A"),
    ("${A:+alt}", {"A": "1"}, "alt"), ("${A+alt}", {}, ""), ("a $ b $1", {}, "a $ b $1"), ("${A}", {}, ""),
])
def test_interpolation(text, env, expected):
    assert Interpolator(env)(text) == expected


@pytest.mark.parametrize("text", ["${A:?need A}", "${A?need A}", "${", "${A", "${A B}", "${-x}"])
def test_interpolation_refusals(text):
    with pytest.raises(InterpolationError):
        Interpolator({"A": ""} if "?" in text and ":" in text else {})(text)


def test_dotenv():
    entries = parse_dotenv('A=1\n# c\nexport B="two\\nlines"\nC=\'lit $A\'\nD=x # note\nE\nF="multi\nline"\n')
    assert [(e.name, e.value) for e in entries] == [("A", "1"), ("B", "two\nlines"), ("C", "lit $A"), ("D", "x"),
                                                    ("E", None), ("F", "multi\nline")]
    with pytest.raises(ValueError, match="line 1"):
        parse_dotenv("not an assignment\n")


@pytest.mark.parametrize("item,target,published,host_ip", [
    ("80", 80, None, ""), ("8080:80", 80, 8080, ""), ("127.0.0.1:8080:80", 80, 8080, "127.0.0.1"),
    ("[::1]:8080:80/udp", 80, 8080, "::1"), ({"target": 80, "published": "8080"}, 80, 8080, ""),
    ("8000-8010:8000-8010", 8000, 8000, ""),
])
def test_ports(item, target, published, host_ip):
    port = parts.parse_port(item)
    assert (port.target, port.published, port.host_ip) == (target, published, host_ip)


def test_durations_sizes_and_instance_types():
    assert parts.whole_seconds("1m30s") == 90 and parts.whole_seconds("500ms") == 1 and parts.whole_seconds(5) == 5
    assert parts.size_mib("512m") == 512 and parts.size_mib("1.5GB") == 1536 and parts.size_mib("1g") == 1024
    assert parts.suggest_instance_type(None, None)[0] == "t3.micro"
    assert parts.suggest_instance_type(0.5, 1024)[0] == "t3.small"
    assert parts.suggest_instance_type(3, 1024)[0] == "t3.xlarge"
    with pytest.raises(parts.PartError):
        parts.duration_seconds("soon")


def test_health_tests_that_are_not_http_become_health_commands(case):
    """compose's CMD form becomes health.command's exec form, CMD-SHELL and plain strings its shell form; no warning."""
    where = case("health-other")
    result = run("-o", "json")
    assert result.exit_code == 0, result.output
    services = load_spec(where / "app.yaml")[0].services
    assert services["db"].health.command == ["mysqladmin", "ping", "-h", "localhost"]
    assert services["cache"].health.command == "redis-cli ping"
    assert services["none"].health is None and services["disabled"].health is None
    keys = {w["key"] for w in json.loads(result.stdout)["warnings"]}
    assert "services.db.healthcheck.test" not in keys and "services.cache.healthcheck.test" not in keys


@pytest.mark.parametrize("test,kind,path,port", [
    (["CMD", "curl", "-f", "http://localhost:8080/healthz"], "http", "/healthz", 8080),
    (["CMD-SHELL", "wget -qO- http://127.0.0.1/ || exit 1"], "http", "/", None),
    ("curl -fsS http://localhost:3000/api/health?x=1", "http", "/api/health?x=1", 3000),
    (["CMD", "pg_isready"], "other", "/", None), (["NONE"], "none", "/", None),
])
def test_health_tests(test, kind, path, port):
    parsed = parts.parse_health_test(test)
    assert (parsed.kind, parsed.path, parsed.port) == (kind, path, port)


@pytest.mark.parametrize("value", ["plain", "true", "no", "null", "1.10", "0x1F", "a: b", "#x", "- x", "é",
                                   "tab\there", "new\nline", "quote\"s", "back\\slash", "\u2028", "\U0001F600",
                                   "${service.a.url}", "", "~", "*", "&a", "!tag", "%", "@x", "`x", "12:30"])
def test_scalars_read_back_as_written(value):
    assert load_yaml_text(f"v: {scalar(value)}\n", "t").data == {"v": value}
    assert load_yaml_text(f"v: {quoted(value)}\n", "t").data == {"v": value}


def test_the_command_is_registered_lazily():
    import subprocess
    import sys

    code = ("import sys, liftshift.cli; heavy = [m for m in ('yaml', 'pydantic') if m in sys.modules]; print(heavy)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
    result = CliRunner().invoke(app, ["import", "compose", "--help"])
    assert result.exit_code == 0 and "compose profile" in result.output


WEIRD = [None, "", "x", 0, 22, -1, 3.5, True, [], {}, ["a"], {"a": None}, "${", "a:b:c:d", "/", "../..", "80-70:1",
         {"target": "x"}, [{"x": 1}], "é\u2028", "NONE", ["CMD"], "1e3", 70000]


def test_damaged_compose_files_validate_or_exit_2_never_a_traceback(tmp_path, monkeypatch):
    """Every corpus file with values replaced by values of other types and shapes (seeded, repeatable)."""
    import copy
    import random

    import yaml

    def paths(data, path=()):
        yield path
        items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
        for key, value in items:
            yield from paths(value, path + (key,))

    rng = random.Random(12)
    unreadable = ("bad-yaml", "duplicate-key", "not-a-mapping", "tags")  # for yaml.safe_load
    cases = [c for c in sorted(CORPUS.iterdir()) if c.name not in unreadable]
    for n in range(150):
        source = rng.choice(cases)
        work = tmp_path / str(n)
        shutil.copytree(source, work)
        compose = next(p for p in sorted(work.iterdir()) if "compose" in p.name and p.suffix in (".yaml", ".yml"))
        data = yaml.safe_load(compose.read_text())
        for _ in range(rng.randint(1, 3)):
            path = rng.choice([p for p in paths(data) if p])
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(rng.choice(WEIRD))
        compose.write_text(yaml.safe_dump(data))
        monkeypatch.chdir(work)
        result = run("--allow-unsupported")
        assert result.exit_code in (0, 2), (source.name, n, result.output, compose.read_text())
        if result.exit_code == 0:
            load_spec(work / "app.yaml")
        else:
            assert result.stderr.startswith("error: ") and not (work / "app.yaml").exists()


def test_files_that_are_not_there_or_not_files(case, tmp_path):
    import os

    where = case("anchors")
    for args, words in ((["--out", "nodir/app.yaml"], "cannot write app.yaml in"),
                        (["nofile.yaml"], "nofile.yaml: file not found"),
                        ([str(tmp_path / "nothing-here")], "file not found")):
        result = run(*args)
        assert result.exit_code == 2 and words in result.stderr, result.output
    os.mkfifo(tmp_path / "fifo.yaml")
    result = run(str(tmp_path / "fifo.yaml"))
    assert result.exit_code == 2 and "is a FIFO (named pipe)" in result.stderr
    result = run(str(where), "--out", "-")  # a directory: its compose file
    assert result.exit_code == 0 and "name: anchors" in result.stdout
