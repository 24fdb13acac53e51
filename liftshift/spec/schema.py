"""The JSON Schema of app.yaml (`liftshift schema`), generated from the spec models so it cannot drift from them.

pydantic's `model_json_schema` describes what the models hold after their validators ran, not everything
app.yaml may say, so the generated schema is widened where a `mode="before"` validator accepts more: the short
forms (`build: ./dir`, `ports: ["8080:80", 80]`, `depends_on: [db]`, `secret_files: {NAME: REF}`, `volumes:
["./a:/b:ro"]`), integers written as quoted decimals (spec/grammar.whole_number), env values and command
arguments YAML reads as numbers or booleans (kept as written by spec/load.py), and lax booleans (`"yes"`).
It is for editors (yaml-language-server) and pipelines: it accepts every app.yaml `liftshift validate`
accepts and refuses unknown keys; the checks that need the whole file (references between services, AWS
limits, build contexts on disk) stay with `validate`.
"""

from __future__ import annotations

import copy
from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"

_DECIMAL = {"type": "string", "pattern": r"^[-+]?(0|[1-9][0-9]*)$"}  # grammar.DECIMAL_RE, quoted
# What pydantic's lax bool accepts besides true/false (YAML 1.1 already reads yes/no/on/off unquoted).
_LAX_BOOL = {"enum": [0, 1, "0", "1", "true", "false", "True", "False", "TRUE", "FALSE", "yes", "no", "Yes",
                      "No", "YES", "NO", "on", "off", "On", "Off", "ON", "OFF", "t", "f", "y", "n"]}
_SCALAR_TEXT = {"type": ["string", "number", "boolean"]}  # a value spec/load.py keeps as the text written
_STRICT_BOOLS = {("ServiceSpec", "internal")}  # Field(strict=True): true or false only


def app_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of app.yaml."""
    from .model import AppSpec

    schema = AppSpec.model_json_schema(mode="validation")
    schema = _walk(schema)
    defs = schema["$defs"]
    for model, props in defs.items():
        for name, prop in props.get("properties", {}).items():
            if prop.get("type") == "boolean" and (model, name) not in _STRICT_BOOLS:
                props["properties"][name] = {"anyOf": [{"type": "boolean"}, _LAX_BOOL], **_meta(prop)}
    _service(defs["ServiceSpec"]["properties"], defs["ServiceSpec"])
    build = defs["BuildSpec"]["properties"]
    build["args"]["additionalProperties"] = _SCALAR_TEXT
    health = defs["HealthSpec"]["properties"]
    health["command"]["anyOf"][0]["items"] = _SCALAR_TEXT
    health["command"]["anyOf"][0]["minItems"] = 1
    mode = defs["SecretFileSpec"]["properties"]["mode"]
    defs["SecretFileSpec"]["properties"]["mode"] = {
        "type": "string", "pattern": "^0?[0-7]{3}$", "default": "0400", "title": mode.get("title", "Mode"),
        "description": 'The file mode in octal, quoted (e.g. "0400"): a bare number would be read as decimal.'}
    schema["properties"]["version"] = {"const": 1, "description": "The app.yaml format version: 1."}
    return {"$schema": DRAFT, "title": "liftshift app.yaml",
            "description": "A liftshift stack: its name, region and services (liftshift validate checks the rest).",
            **{k: v for k, v in schema.items() if k != "title"}}


def _service(props: dict[str, Any], service: dict[str, Any]) -> None:
    """A service's short forms, and its either-or keys (port or ports; build or image)."""
    props["build"]["anyOf"].insert(0, {"type": "string", "minLength": 1,
                                       "description": "The build context (a directory with a Dockerfile)."})
    props["ports"]["minItems"] = 1  # leave ports out rather than empty: port then says the main port
    props["ports"]["items"] = {"anyOf": [
        props["ports"]["items"],
        {"type": "integer", "minimum": 1, "maximum": 65535},
        {"type": "string", "pattern": r"^[0-9]+(:[0-9]+)?$", "description": "PUBLISH:CONTAINER or CONTAINER"}]}
    props["volumes"]["items"] = {"anyOf": [
        props["volumes"]["items"],
        {"type": "string", "pattern": r"^[^:]+:[^:]+(:(ro|rw))?$", "description": "HOST_PATH:CONTAINER_PATH[:ro]"}]}
    props["depends_on"] = {
        "anyOf": [{"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                  {"type": "object", "additionalProperties": {
                      "anyOf": [props["depends_on"]["additionalProperties"], {"type": "null"}]}}],
        **_meta(props["depends_on"])}
    props["secret_files"]["additionalProperties"] = {"anyOf": [
        {"type": "string", "description": "A secret reference: ssm:NAME or secretsmanager:NAME[:KEY]"},
        props["secret_files"]["additionalProperties"]]}
    props["env"]["additionalProperties"] = _SCALAR_TEXT
    props["command"]["anyOf"][0]["items"] = _SCALAR_TEXT
    props["command"]["anyOf"][0]["minItems"] = 1
    service["required"] = [r for r in service.get("required", []) if r != "port"]
    service["allOf"] = [
        {"anyOf": [{"required": ["port"]}, {"required": ["ports"]}]},
        {"not": {"required": ["port", "ports"]}},
        {"not": {"required": ["publish", "ports"]}},
        {"oneOf": [_given("build"), _given("image")]},  # exactly one (a null one is not given)
    ]
    if not service["required"]:
        del service["required"]


def _given(key: str) -> dict[str, Any]:
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def _walk(node: Any) -> Any:
    """pydantic's slips fixed everywhere (ge/le for minimum/maximum), and every integer may be a quoted decimal."""
    if isinstance(node, list):
        return [_walk(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {{"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}.get(k, k):
           _walk(v) for k, v in node.items()}
    if out.get("type") == "integer":
        number = {k: v for k, v in out.items() if k in ("type", "minimum", "maximum", "const")}
        return {"anyOf": [number, copy.deepcopy(_DECIMAL)], **{k: v for k, v in out.items() if k not in number}}
    return out


def _meta(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: prop[k] for k in ("title", "description", "default") if k in prop}
