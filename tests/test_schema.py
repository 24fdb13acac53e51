"""`liftshift schema` (app.yaml's JSON Schema) and shell completion. Pure: no Docker, no AWS.

The schema is generated from the spec models; here it must accept every app.yaml liftshift accepts (the
repository's stacks and test data, what `import compose` writes for its whole corpus, the README's example,
each short form), refuse what validate refuses for a key or a type, and equal the committed copy.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from liftshift.cli import app
from liftshift.cli.completion import service_names
from liftshift.cli.schema import schema_text
from liftshift.spec.errors import SpecError
from liftshift.spec.load import load_spec
from liftshift.spec.schema import app_schema

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schema" / "app.schema.json"


@pytest.fixture(scope="module")
def validator():
    schema = app_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def as_json(data):
    """What an editor sees: YAML's dates are text (JSON has no date)."""
    return json.loads(json.dumps(data, default=lambda v: v.isoformat() if isinstance(v, datetime.date) else str(v)))


def errors(validator, data) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(as_json(data))]


def app_yamls() -> list[Path]:
    """Every app.yaml of the repository: YAML files under stacks/ and tests/data/ with version and services."""
    found = []
    for base in (ROOT / "stacks", ROOT / "tests" / "data"):
        for path in sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")]):
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError:
                continue
            if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("services"), dict):
                found.append(path)
    return found


# --------------------------------------------------------------------------- no drift


def test_the_committed_schema_is_the_generated_one():
    assert COMMITTED.read_text() == schema_text(app_schema()), (
        "schema/app.schema.json is stale: liftshift schema > schema/app.schema.json")


def test_liftshift_schema_prints_it():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert result.stdout == COMMITTED.read_text()
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_model_field_is_in_the_schema():
    """Each field of each spec model appears under its model's definition, and unknown keys are refused."""
    from liftshift.spec.model import AppSpec

    schema = app_schema()
    seen = set()

    def visit(model):
        if model.__name__ in seen:
            return
        seen.add(model.__name__)
        where = schema if model is AppSpec else schema["$defs"][model.__name__]
        assert where["additionalProperties"] is False, model.__name__
        assert set(where["properties"]) == set(model.model_fields), model.__name__
        for field in model.model_fields.values():
            for inner in re.findall(r"\b([A-Z][A-Za-z]+Spec)\b", repr(field.annotation)):
                visit(getattr(__import__("liftshift.spec.model", fromlist=[inner]), inner, None)
                      or _spec_class(inner))

    visit(AppSpec)
    assert seen >= set(schema["$defs"]) - {"AppSpec"}


def _spec_class(name: str):
    from liftshift.spec import runtime, settings

    return getattr(runtime, name, None) or getattr(settings, name)


# --------------------------------------------------------------------------- accepts every valid app.yaml


def test_there_are_app_yamls_to_check():
    assert len(app_yamls()) >= 6


@pytest.mark.parametrize("path", app_yamls(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_app_yaml_of_the_repository_validates(validator, path):
    assert errors(validator, yaml.safe_load(path.read_text())) == []


def _mappings(node, path=()):
    """Every mapping in `node` with its key path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _mappings(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _mappings(value, (*path, i))


def test_an_unknown_key_anywhere_is_refused_by_both(validator, tmp_path):
    """Each mapping of each app.yaml of the repository given one more key: where validate refuses it as an
    unknown field, the schema refuses it too (and where it is a name, such as an env variable, both accept)."""
    refused = 0
    for n, path in enumerate(app_yamls()):
        where = tmp_path / str(n)
        shutil.copytree(path.parent, where)
        data = yaml.safe_load(path.read_text())
        for keys, _ in list(_mappings(data)):
            doc = json.loads(json.dumps(as_json(data)))
            target = doc
            for key in keys:
                target = target[key]
            target["zz_unknown"] = "1"
            (where / path.name).write_text(yaml.safe_dump(doc))
            try:
                load_spec(where / path.name)
                accepted = True
            except SpecError as exc:
                accepted = "unknown field" not in str(exc)
                if accepted:
                    continue  # refused for another reason (a name's grammar): not this test's question
            assert (errors(validator, doc) == []) == accepted, (path, keys)
            refused += not accepted
    assert refused > 50


def test_the_readme_example_validates(validator):
    readme = (ROOT / "README.md").read_text()
    examples = [block for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
                if re.search(r"^version: 1\n", block, re.M) and "\nservices:" in block]
    assert examples, "no app.yaml example in the README"
    for block in examples:
        assert errors(validator, yaml.safe_load(block)) == []


def test_the_readme_shows_the_modeline():
    assert "# yaml-language-server: $schema=" in (ROOT / "README.md").read_text()


COMPOSE = ROOT / "tests" / "data" / "compose"


def test_what_import_compose_writes_validates(validator, tmp_path, monkeypatch):
    """The compose corpus (tests/data/compose): every app.yaml `import compose` writes and validate accepts."""
    for name, value in {"FROM_ENV": "from-the-shell", "FROM_SHELL": "shell", "API_KEY": "k"}.items():
        monkeypatch.setenv(name, value)
    checked = []
    for case in sorted(p.name for p in COMPOSE.iterdir() if p.is_dir()):
        where = tmp_path / case
        shutil.copytree(COMPOSE / case, where)
        monkeypatch.chdir(where)
        if CliRunner().invoke(app, ["import", "compose", "--out", "app.yaml"]).exit_code != 0:
            continue  # a case import refuses (test_import_compose checks why)
        try:
            load_spec(where / "app.yaml")
        except SpecError:
            continue  # written to be edited first (a placeholder image...)
        assert errors(validator, yaml.safe_load((where / "app.yaml").read_text())) == [], case
        checked.append(case)
    assert len(checked) >= 20, checked


BASE = {"version": 1, "name": "shop", "services": {"web": {"image": "nginx:1.27", "port": 80}}}


def with_web(**fields):
    doc = json.loads(json.dumps(BASE))
    doc["services"]["web"].update(fields)
    return doc


VALID = {  # every short and long form, and values YAML reads as other types
    "build string": {"build": "./web", "image": None},
    "image with a null build": {"build": None, "image": "nginx:1.27"},
    "build mapping": {"build": {"context": ".", "args": {"N": 1, "DEBUG": True}}, "image": None},
    "ports short": {"port": None, "ports": ["8080:80", "9090", 9100]},
    "ports long": {"port": None, "ports": [{"container": 80, "publish": 8080}]},
    "port as text": {"port": "8080", "publish": "80"},
    "port as 80.0": {"port": 80.0},
    "depends_on list": {"depends_on": ["web"]},
    "depends_on mapping": {"depends_on": {"web": {"condition": "healthy"}}},
    "depends_on null item": {"depends_on": {"web": None}},
    "secret_files short": {"secret_files": {"key": "ssm:/shop/key"}},
    "secret_files long": {"secret_files": {"key": {"ref": "ssm:/shop/key", "mode": "0440", "uid": "0"}}},
    "volumes short": {"volumes": ["/srv/a:/a", "/srv/b:/b:ro"]},
    "volumes long": {"volumes": [{"host": "/srv/a", "container": "/a", "read_only": "yes"}]},
    "env numbers and bools": {"env": {"WORKERS": 4, "DEBUG": False, "RATIO": 1.5}},
    "command numbers": {"command": ["httpd", "-p", 8080]},
    "health command string": {"health": {"command": "redis-cli ping | grep -q PONG"}},
    "health command list": {"health": {"command": ["pg_isready", "-U", 5432]}},
    "instances in full": {"instances": {"type": "t4g.small", "count": "2", "container_credentials": "true",
                                        "ingress": ["10.0.0.0/8"], "key_name": None}},
    "load balancer": {"load_balancer": {"port": 443, "health": {"path": "/healthz"}}, "rollout": {"keep": 3}},
    "internal and aliases": {"internal": True, "aliases": ["db.internal"]},
    "data": {"data": {"pgdata": {"path": "/var/lib/postgresql/data", "size_gb": "20"}}},
    "dns": {"dns": {"zone": "example.com", "name": "shop.example.com", "old": "203.0.113.10"}},
}


def _doc(fields: dict) -> dict:
    doc = with_web(**fields)
    web = doc["services"]["web"]
    for key in [k for k, v in web.items() if v is None and k in ("image", "port")]:
        del web[key]
    if "depends_on" in fields:
        doc["services"]["db"] = {"image": "postgres:16", "port": 5432}
        web["depends_on"] = json.loads(json.dumps(fields["depends_on"]).replace('"web"', '"db"'))
    return doc


def _load(tmp_path: Path, doc: dict):
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(doc))
    if "build" in doc["services"].get("web", {}):
        (tmp_path / "web").mkdir(exist_ok=True)
        (tmp_path / "web" / "Dockerfile").write_text("FROM busybox:1.36\n")
        (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\n")
    return load_spec(path)


@pytest.mark.parametrize("name", VALID)
def test_each_form_validate_accepts_the_schema_accepts(validator, tmp_path, name):
    doc = _doc(VALID[name])
    _load(tmp_path, doc)  # liftshift accepts it...
    assert errors(validator, doc) == []  # ...and so does the schema


INVALID = {  # what validate refuses, by key or type: the schema refuses it too
    "unknown top-level key": ({**BASE, "regoin": "eu-west-1"}, "regoin"),
    "unknown service key": (with_web(prot=80), "prot"),
    "unknown instances key": (with_web(instances={"typ": "t3.micro"}), "typ"),
    "unknown key in a port": (with_web(port=None, ports=[{"container": 80, "published": 81}]), "published"),
    "version 2": ({**BASE, "version": 2}, "version"),
    "no services": ({**BASE, "services": {}}, "services"),
    "port out of range": (with_web(port=70000), "port"),
    "port as a word": (with_web(port="http"), "port"),
    "port a bool": (with_web(port=True), "port"),
    "build and image": (with_web(build="./web"), "build"),
    "neither build nor image": (with_web(image=None), "image"),
    "port and ports": (with_web(ports=["80"]), "ports"),
    "ports empty": (with_web(port=None, ports=[]), "ports"),
    "publish and ports": (with_web(port=None, publish=80, ports=["80"]), "ports"),
    "mode as a number": (with_web(secret_files={"k": {"ref": "ssm:/k", "mode": 400}}), "mode"),
    "unknown strategy": (with_web(rollout={"strategy": "canary"}), "strategy"),
    "command a string": (with_web(command="httpd -f"), "command"),
    "internal as yes": (with_web(internal="yes"), "internal"),
    "env value a list": (with_web(env={"A": [1]}), "env"),
    "condition unknown": (with_web(depends_on={"web": {"condition": "ready"}}), "condition"),
}


@pytest.mark.parametrize("name", INVALID)
def test_what_validate_refuses_the_schema_refuses(validator, tmp_path, name):
    doc, key = INVALID[name]
    web = doc["services"].get("web", {})
    for field in [k for k, v in web.items() if v is None]:
        del web[field]
    with pytest.raises(SpecError):
        _load(tmp_path, doc)
    assert errors(validator, doc), f"the schema accepts {name}"


# --------------------------------------------------------------------------- shell completion


@pytest.fixture
def stack(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "version: 1\nname: shop\nservices:\n  web: {image: nginx, port: 80}\n  worker: {image: nginx, port: 81}\n"
        "  api: {image: nginx, port: 82}\n")
    return tmp_path / "app.yaml"


def test_the_callback_lists_the_service_names(stack, tmp_path, monkeypatch):
    assert service_names(SimpleNamespace(params={"file": stack}), "") == ["api", "web", "worker"]
    assert service_names(SimpleNamespace(params={"file": str(stack)}), "w") == ["web", "worker"]
    # FILE not converted yet (the option's value is being typed): it is in ctx.args
    assert service_names(SimpleNamespace(params={"file": None}, args=[str(stack)]), "a") == ["api"]
    monkeypatch.chdir(tmp_path)
    assert service_names(SimpleNamespace(params={}), "") == ["api", "web", "worker"]  # ./app.yaml


def test_the_callback_adds_the_environments_services(stack):
    (stack.parent / "app.staging.yaml").write_text("services:\n  debug: {image: busybox, port: 9}\n")
    assert service_names(SimpleNamespace(params={"file": stack, "env": "staging"}), "") == [
        "api", "debug", "web", "worker"]


@pytest.mark.parametrize("content", [None, "services: [web", "- a list\n", "services: 3\n", "version: 1\n"])
def test_the_callback_never_raises(tmp_path, content):
    path = tmp_path / "app.yaml"
    if content is not None:
        path.write_text(content)
    assert service_names(SimpleNamespace(params={"file": path}), "") == []
    assert isinstance(service_names(None, ""), list)  # no context at all: still no exception
    assert service_names(SimpleNamespace(params={"file": tmp_path}), "") == []  # a directory


def complete(shell: str, words: str, cword: int | None = None, **env: str):
    env = {"_LIFTSHIFT_COMPLETE": f"complete_{shell}", "COMP_WORDS": words, "_TYPER_COMPLETE_ARGS": words, **env}
    if cword is not None:
        env["COMP_CWORD"] = str(cword)
    result = CliRunner().invoke(app, [], env=env, prog_name="liftshift")
    assert result.exit_code == 0, result.output
    return result.output


def with_service() -> list[str]:
    import typer.main

    commands = typer.main.get_command(app).commands
    return sorted(name for name, c in commands.items() if any(p.name == "service" for p in c.params))


def test_commands_with_service_are_found():
    assert {"history", "rollback", "render", "cutover"} <= set(with_service())


@pytest.mark.parametrize("command", with_service())
def test_bash_completes_service_names_for_every_command_with_service(stack, command):
    assert complete("bash", f"liftshift {command} {stack} --service w", 4).split() == ["web", "worker"]
    assert complete("bash", f"liftshift {command} {stack} -s ", 4).split() == ["api", "web", "worker"]


def test_zsh_and_fish_complete_service_names(stack):
    zsh = complete("zsh", f"liftshift history {stack} --service w")
    assert '"web"' in zsh and '"worker"' in zsh and "api" not in zsh
    fish = complete("fish", f"liftshift history {stack} --service w", _TYPER_COMPLETE_FISH_ACTION="get-args")
    assert fish.split() == ["web", "worker"]


def test_commands_and_schema_targets_complete(stack):
    assert complete("bash", "liftshift sch", 1).split() == ["schema"]
    assert complete("bash", "liftshift schema --output-of de", 3).split() == ["deploy", "destroy"]


def test_completion_can_be_installed_and_shown():
    result = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="liftshift")
    assert result.exit_code == 0 and "_LIFTSHIFT_COMPLETE=complete_bash" in result.output
    options = {o for p in __import__("typer").main.get_command(app).params for o in p.opts}
    assert {"--install-completion", "--show-completion"} <= options
