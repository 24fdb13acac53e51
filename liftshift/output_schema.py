"""The JSON Schemas of what commands print with `-o json` (`liftshift schema --output-of COMMAND`).

Written by hand from the pipeline's report builders (pipeline/describe, status, verify, history, destroy) and
tested against real output (tests/test_output_schema.py), so the documented shape is the produced shape. The
keys listed are stable; a document may gain keys (objects are open), never lose or retype one. A step's
`action` and `kind` are the plan vocabulary's own values (model/steps.py), so they cannot drift.
"""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})},
            **extra}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_STR_OR_NULL = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": _STR}


def _step() -> dict[str, Any]:
    from .model.steps import Action, Kind

    return _obj({"action": {"enum": [str(a) for a in Action]}, "kind": {"enum": [str(k) for k in Kind]},
                 "name": _STR, "service": _STR_OR_NULL, "detail": _STR},
                description="One step: what it does (action) to what (kind, name), for which service (null: the "
                            "stack's), and a short detail.")


def _call() -> dict[str, Any]:
    return _obj({"client": _STR, "operation": _STR, "params": {"type": "object"}},
                description="One planned call: a boto3 client and operation (or docker push) with its parameters; "
                            "a value known only at run time, or withheld, is its placeholder text.")


def _instance() -> dict[str, Any]:
    return _obj({"id": _STR, "state": _STR, "subnet": _STR_OR_NULL, "zone": _STR_OR_NULL,
                 "public_ip": _STR_OR_NULL, "private_ip": _STR_OR_NULL, "config": _STR_OR_NULL,
                 "address": _STR_OR_NULL})


def _service_status() -> dict[str, Any]:
    load_balancer = _obj({"name": _STR, "dns": _STR_OR_NULL, "port": {"type": ["integer", "null"]},
                          "protocol": _STR_OR_NULL, "address": _STR_OR_NULL,
                          "release": {"type": ["integer", "null"]}, "config": _STR_OR_NULL})
    return _obj({
        "declared": _BOOL, "internal": _BOOL, "count": _INT,
        "image": {**_STR_OR_NULL, "description": "the image digest the instances run (sha256:...)"},
        "repository": _STR,
        "config": {"anyOf": [_STR, _STRINGS], "description": "the config hash; several while a rollout is under way"},
        "launch_template": _STR_OR_NULL,
        "load_balancer": {"anyOf": [load_balancer, {"type": "null"}]},
        "extra_ports": {"type": "array", "items": _obj({"published": _INT, "container": _INT})},
        "data": {"type": "array", "items": _obj({"name": _STR, "id": _STR, "size_gb": _INT, "zone": _STR,
                                                 "state": _STR, "attached": _STRINGS})},
        "instances": {"type": "array", "items": _instance()},
    })


def _status() -> dict[str, Any]:
    return _obj({"stack": _STR, "region": _STR, "target": {"enum": ["aws", "local"]},
                 "services": {"type": "object", "additionalProperties": _service_status()}},
                description="What the stack runs now, per service.")


def _plan() -> dict[str, Any]:
    return _obj({"stack": _STR, "region": _STR, "changes": {**_INT, "minimum": 0},
                 "warnings": _STRINGS, "notes": _STRINGS,
                 "steps": {"type": "array", "items": {"allOf": [_step(), _obj(
                     {"calls": {"type": "array", "items": _call()}})]}}},
                description="What deploy would do, step by step with its calls (deploy runs exactly these).")


def _deploy() -> dict[str, Any]:
    status = _status()
    promoted = _obj({}, {"digest": {**_STR_OR_NULL, "description": "the digest this deploy put out (sha256:...)"},
                     "reference": {**_STR_OR_NULL, "description": "repository@digest: what `deploy --image "
                                                                  "NAME=<reference>` promotes to another stack"}},
                    description="digest and reference: every service of app.yaml (not one being removed)")
    status["properties"]["services"] = {"type": "object", "additionalProperties": {"allOf": [
        _service_status(), promoted]}}
    return _obj({**status["properties"], "changed": _BOOL, "changes": {"type": "array", "items": _step()},
                 "warnings": _STRINGS, "notes": _STRINGS},
                description="What the deploy changed (changes: the steps run; changed false when none), then the "
                            "stack's status as `status` prints it.")


def _build() -> dict[str, Any]:
    image = _obj({"image_id": {**_STR, "description": "the local image id (sha256:...)"},
                  "tag": {**_STR, "description": "its tag in the stack's repository (img-<image id>)"}},
                 {"repository": _STR, "digest": {**_STR, "description": "--push: the registry's digest"},
                  "reference": {**_STR, "description": "--push: repository@digest, for deploy --image"}})
    return _obj({"stack": _STR, "pushed": _BOOL, "changed": _BOOL, "changes": {"type": "array", "items": _step()},
                 "services": {"type": "object", "additionalProperties": image}},
                description="Each built service's image, and with --push its digest (changes: the repositories "
                            "created and images pushed).")


def _destroy() -> dict[str, Any]:
    return _obj({"stack": _STR, "removed": {"type": "array", "items": _step()}, "kept_data": _STRINGS},
                description="What destroy removed (empty when nothing was left) and the data volumes it kept.")


def _verify() -> dict[str, Any]:
    check = _obj({"service": _STR, "check": _STR, "target": _STR, "ok": _BOOL, "detail": _STR},
                 {"instance": _STR_OR_NULL})
    return _obj({"stack": _STR, "region": _STR, "target": {"enum": ["aws", "local"]}, "passed": _BOOL,
                 "checks": {"type": "array", "items": check}},
                description="Every check and whether all passed (exit 3 when not).")


def _history() -> dict[str, Any]:
    release = _obj({"number": _INT, "at": _STR, "by": _STR_OR_NULL, "commit": _STR_OR_NULL, "config": _STR,
                    "image": _STR_OR_NULL, "launch_template": _STR_OR_NULL, "outcome": _STR,
                    "serving": _BOOL},
                   {"health": {}, "listener": {}, "reason": _STR_OR_NULL, "template_kept": _BOOL})
    return _obj({"stack": _STR, "region": _STR,
                 "services": {"type": "object", "additionalProperties": {"type": "array", "items": release}}},
                description="Each service's releases, newest first.")


def _rollback() -> dict[str, Any]:
    return _obj({"stack": _STR, "dry_run": _BOOL, "steps": {"type": "array", "items": _step()}},
                description="The rollout's steps: run, or with --dry-run only planned.")


def _unlock() -> dict[str, Any]:
    held = _obj({"owner": _STR, "operation": _STR, "acquired_at": {**_STR, "description": "ISO 8601, UTC"},
                 "expires_at": {**_INT, "description": "epoch seconds"}})
    return _obj({"stack": _STR, "held_by": {"anyOf": [held, {"type": "null"}],
                                            "description": "the lock that was cleared; null: there was none"}},
                description="The deploy lock unlock cleared.")


def _finding() -> dict[str, Any]:
    return _obj({"file": _STR, "line": {"type": ["integer", "null"]}, "key": _STR_OR_NULL, "level": _STR,
                 "message": _STR})


def _import_compose() -> dict[str, Any]:
    command = _obj({"service": _STR, "secret": _STR, "parameter": _STR, "command": _STR},
                   description="how to store one secret the compose file had (never its value)")
    return _obj({"stack": _STR, "compose_file": _STR, "out": _STR,
                 "app": {"type": "object", "description": "the app.yaml written, as data (`liftshift schema`)"},
                 "app_yaml": {**_STR, "description": "the app.yaml written, with its decision comments"},
                 "services": {"type": "object", "additionalProperties": _STR,
                              "description": "compose service -> app.yaml service"},
                 "excluded_by_profiles": {"type": "object"},
                 "commands": {"type": "array", "items": command},
                 "warnings": {"type": "array", "items": _finding()}},
                description="The app.yaml written from a compose file, what did not map (warnings at their file, "
                            "line and key) and the commands that store its secrets.")


def _init() -> dict[str, Any]:
    return _obj({"directory": _STR, "stack": _STR, "kind": _STR, "summary": _STR, "found": _STRINGS,
                 "guessed": {"type": "object", "description": "port, publish, command, health, data, base image..."},
                 "check": _STRINGS, "app_yaml": _STR,
                 "files": {"type": "array", "items": _obj({"path": _STR, "text": _STR})}},
                description="What init found in the app directory, what it guessed, what to check by hand, and "
                            "the files it wrote.")


_OK_OR_UNKNOWN = {"type": ["boolean", "null"], "description": "true passed, false failed, null to check by hand"}


def _doctor() -> dict[str, Any]:
    check = _obj({"id": _STR, "status": _STR, "ok": _OK_OR_UNKNOWN, "detail": _STR, "fix": _STR_OR_NULL})
    return _obj({"stack": _STR_OR_NULL, "target": {"enum": ["aws", "local"]},
                 "checks": {"type": "array", "items": check},
                 "failed": {**_INT, "description": "how many checks failed (exit 2 when any did)"},
                 "passed": _BOOL},
                description="Each of doctor's checks of the machine, the account and the stack.")


def _log_event() -> dict[str, Any]:
    return _obj({"time": {**_STR, "description": "ISO 8601, UTC, milliseconds"}, "timestamp": _INT,
                 "service": _STR, "instance": _STR, "message": _STR},
                description="One log line (with --follow, each line of the output is one of these).")


def _logs() -> dict[str, Any]:
    return _obj({"stack": _STR, "target": _STR, "service": _STR_OR_NULL, "instance": _STR_OR_NULL,
                 "grep": _STR_OR_NULL, "since": {**_INT, "description": "epoch milliseconds"},
                 "events": {"type": "array", "items": _log_event()}},
                description="The stack's log lines in time order (with --follow: JSON Lines of events instead).")


def _cutover() -> dict[str, Any]:
    record = {**_STR, "description": "a record set as text: TYPE NAME -> VALUE ttl N[, weight W (SET ID)]"}
    original = {"anyOf": [_obj({"type": _STR, "value": _STR, "ttl": _INT}), {"type": "null"}]}
    moved = _obj({"zone": _STR, "name": _STR, "changed": _BOOL, "steps": {"type": "array", "items": _step()},
                  "records": {"type": "array", "items": record}, "original": original, "notes": _STRINGS})
    listed = _obj({"zone": _STR, "name": _STR, "records": {"type": "array", "items": record}, "original": original,
                   "history": {"type": "array", "items": _obj({"number": _INT, "move": _STR, "at": _STR,
                                                               "by": _STR, "commit": _STR_OR_NULL})}})
    return _obj({"stack": _STR, "region": _STR, "target": _STR, "rehearsal": _BOOL, "move": _STR_OR_NULL,
                 "dry_run": _BOOL, "services": {"type": "object", "additionalProperties": {"anyOf": [moved, listed]}}},
                {"note": _STR},
                description="A move per service (its steps and the records after it), or without a move the "
                            "records now, the original record and the moves made.")


def _runbook() -> dict[str, Any]:
    item = _obj({"stack": _STR, "id": _STR, "check": _STR, "how": _STR, "ok": _OK_OR_UNKNOWN, "detail": _STR,
                 "fix": _STR})
    stack = _obj({"name": _STR, "file": _STR, "region": _STR_OR_NULL, "wave": _STR, "services": {"type": "array"},
                  "plan": {"type": ["object", "null"]}, "cutover": {"type": "array"}, "validation": {"type": "array"},
                  "data_copies": {"type": "array"}, "decommissioning": {"type": "array"}})
    return _obj({"title": _STR, "migration_file": _STR_OR_NULL, "warranty_days": _INT, "checked": _BOOL,
                 "failed_checks": _INT, "waves": {"type": "array", "items": _obj({"name": _STR, "after": _STRINGS,
                                                                                   "stacks": _STRINGS})},
                 "checklist": {"type": "array", "items": item}, "stacks": {"type": "array", "items": stack}},
                description="The runbook's data, as the template gets it (section by section, per stack).")


def _error() -> dict[str, Any]:
    return _obj({"error": {**_STR, "description": "the one message the terminal shows (file, line and key for "
                                                  "bad input); never a secret value"},
                 "exit_code": {"enum": [1, 2, 3, 4],
                               "description": "1 failed, 2 bad input, 3 unhealthy, 4 locked"}},
                {"kind": {**_STR, "description": "the failure's class (SpecError, LockHeld...)"},
                 "file": {**_STR_OR_NULL, "description": "bad input: the file at fault"},
                 "line": {"type": ["integer", "null"]}, "key": _STR_OR_NULL},
                description="What any command prints on stdout with -o json when it fails.")


_BUILDERS = {"build": _build, "plan": _plan, "deploy": _deploy, "status": _status, "destroy": _destroy,
             "verify": _verify, "history": _history, "rollback": _rollback, "unlock": _unlock, "init": _init,
             "import compose": _import_compose, "doctor": _doctor, "logs": _logs, "cutover": _cutover,
             "runbook": _runbook, "error": _error}
COMMANDS = tuple(_BUILDERS)


def output_schema(command: str) -> dict[str, Any]:
    """The schema of `command`'s -o json document ("error": the failure document every command prints)."""
    if command not in _BUILDERS:
        raise KeyError(command)
    return {"$schema": DRAFT, "title": f"liftshift {command} -o json" if command != "error" else
            "liftshift -o json on failure", **_BUILDERS[command]()}
