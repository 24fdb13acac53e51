"""One compose service to one app.yaml service: image or build, command, env, health, instances; its ports
(compose_ports.py), volumes (compose_storage.py) and secrets (compose_secrets.py) put in. depends_on and
aliases need every service, so compose_peers.py adds them afterwards. Pure: findings and comments go to the
Context."""

from __future__ import annotations

import os
from typing import Any, Optional

from ..spec.grammar import BUILD_ARG_RE, BUILD_TARGET_RE, ENV_NAME_RE, IMAGE_REF_RE
from .compose_load import URL_RE, Service
from .compose_map import Context
from .compose_parts import (PartError, as_argv, as_int, parse_health_test, size_mib, suggest_instance_type,
                            valid_health_path, whole_seconds)
from .compose_ports import map_ports, port_pairs
from .compose_secrets import map_secrets
from .compose_storage import map_volumes

HEALTH_BOUNDS = {"interval": (1, 3600), "timeout": (1, 3600), "retries": (1, 100), "start_period": (0, 3600)}


def map_service(ctx: Context, svc: Service, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    here = ("services", name)
    _source(ctx, svc, here, out)
    published = map_ports(ctx, svc, here, out)
    command = _command(ctx, svc)
    if command:
        out["command"] = command
    env = _env(ctx, svc)
    if env:
        out["env"] = env
    main = port_pairs(out)
    health = _health(ctx, svc, main[0][1] if main else None)
    if health:
        out["health"] = health
    instances = _instances(ctx, svc, here, published)
    internal = instances.pop("_internal", False)
    volumes, data, mounted = map_volumes(ctx, svc, instances.get("count", 1))
    if volumes:
        out["volumes"] = volumes
    if data:
        out["data"] = data
    secret_files = map_secrets(ctx, svc, name, mounted)
    if secret_files:
        out["secret_files"] = secret_files
    if internal:
        out["internal"] = True
    out["instances"] = instances
    _networks(ctx, svc)
    return out


def _source(ctx: Context, svc: Service, here: tuple, out: dict[str, Any]) -> None:
    data = svc.data
    image = data.get("image")
    build = data.get("build")
    if isinstance(build, dict) and isinstance(build.get("context"), str) and URL_RE.match(build["context"]):
        if image:
            ctx.note(svc, ("build", "context"), f"a remote build context ({build['context']}) cannot be built from "
                     f"app.yaml: using the image {image} instead")
            build = None
        else:
            ctx.note(svc, ("build", "context"), f"a remote build context ({build['context']}) cannot be built from "
                     "app.yaml: clone it beside the compose file and point build at the directory", "error")
            return
    if build is not None:
        out["build"] = _build(ctx, svc, build)
        if image:
            ctx.note(svc, ("image",), "ignored with build: compose tags the built image with it; liftshift pushes "
                     "it to the stack's ECR repository", "note")
        return
    if not image:
        ctx.note(svc, (), "has neither image nor build: app.yaml needs one of them", "error")
        return
    match = IMAGE_REF_RE.fullmatch(str(image))
    if not match:
        ctx.note(svc, ("image",), f"{image!r} is not a Docker image reference liftshift can use "
                 "([host[:port]/]path (lower case)[:tag][@digest])", "error")
        return
    out["image"] = str(image)


def _build(ctx: Context, svc: Service, build: dict[str, Any]) -> Any:
    context = os.path.relpath(build["context"], ctx.out_dir)
    spec: dict[str, Any] = {"context": context if context.startswith(".") else "./" + context}
    for key in build:
        if key in ("context", "dockerfile", "args", "target"):
            continue
        harmless = ("cache_from", "cache_to", "tags", "labels", "pull", "no_cache")
        level = "error" if key == "dockerfile_inline" else "note" if key in harmless else "warning"
        message = ("app.yaml builds from a Dockerfile: write this one to a file and name it with dockerfile"
                   if key == "dockerfile_inline" else "ignored: app.yaml's build takes context, dockerfile, args "
                   "and target")
        ctx.note(svc, ("build", key), message, level)
    if build.get("dockerfile"):
        dockerfile = str(build["dockerfile"])
        if os.path.isabs(dockerfile):
            dockerfile = os.path.relpath(dockerfile, build["context"])
        if dockerfile != "Dockerfile":
            spec["dockerfile"] = dockerfile
    args = {}
    for arg, value in (build.get("args") or {}).items():
        if not BUILD_ARG_RE.fullmatch(arg):
            ctx.note(svc, ("build", "args", arg), f"{arg!r} is not a build argument name liftshift accepts: dropped")
            continue
        if value is None:
            value = os.environ.get(arg)
            if value is None:
                ctx.note(svc, ("build", "args", arg), f"{arg} has no value and is not set in the environment: dropped "
                         "(the Dockerfile's default applies)")
                continue
            ctx.note(svc, ("build", "args", arg), f"{arg} has no value in compose: the environment's value at "
                     "import time is written into app.yaml")
        args[arg] = str(value)
    if args:
        spec["args"] = args
    if build.get("target"):
        if BUILD_TARGET_RE.fullmatch(str(build["target"])):
            spec["target"] = str(build["target"])
        else:
            ctx.note(svc, ("build", "target"), f"{build['target']!r} is not a Dockerfile stage name", "error")
    return spec["context"] if list(spec) == ["context"] else spec


def _command(ctx: Context, svc: Service) -> Optional[list[str]]:
    try:
        command = as_argv(svc.data.get("command"))
        entrypoint = as_argv(svc.data.get("entrypoint"))
    except PartError as exc:
        ctx.note(svc, ("command",), f"{exc}: dropped")
        return None
    if entrypoint:
        ctx.note(svc, ("entrypoint",), "app.yaml has no entrypoint: it is merged into command "
                 f"({' '.join(entrypoint + command)}), which is right only if the image has no ENTRYPOINT; "
                 "otherwise set ENTRYPOINT in a Dockerfile and keep command")
        return entrypoint + command
    return command or None


def _env(ctx: Context, svc: Service) -> dict[str, str]:
    env: dict[str, str] = {}
    values: dict[str, tuple[Optional[str], tuple]] = {n: (v, ("env_file",)) for n, (v, _, _) in svc.env_file.items()}
    for name, value in (svc.data.get("environment") or {}).items():
        values[name] = (value, ("environment", name))
    for name, (value, where) in values.items():
        if not ENV_NAME_RE.fullmatch(name):
            ctx.note(svc, where, f"{name!r} is not an environment variable name liftshift accepts (letters, digits, "
                     "'_'): dropped")
            continue
        if value is None:
            value = os.environ.get(name)
            if value is None:
                ctx.note(svc, where, f"{name} has no value and is not set in the environment: dropped")
                continue
            ctx.note(svc, where, f"{name} has no value in compose: the environment's value at import time is "
                     "written into app.yaml (env values are not secret: use secrets for passwords)")
        if isinstance(value, (dict, list)):
            ctx.note(svc, where, f"{name}: a value must be text: dropped")
            continue
        env[name] = str(value)
    return env


def _health(ctx: Context, svc: Service, port: Optional[int]) -> Optional[dict[str, Any]]:
    check = svc.data.get("healthcheck")
    if not isinstance(check, dict):
        return None
    if str(check.get("disable", "")).lower() == "true":
        ctx.note(svc, ("healthcheck",), "disabled: no health check imported", "note")
        return None
    if "test" not in check:
        ctx.note(svc, ("healthcheck",), "has no test (the image's HEALTHCHECK applies in compose): liftshift checks "
                 "the port with a TCP connect")
        return None
    try:
        test = parse_health_test(check["test"])
    except PartError as exc:
        ctx.note(svc, ("healthcheck", "test"), f"{exc}: not imported")
        return None
    if test.kind == "none":
        ctx.note(svc, ("healthcheck", "test"), "NONE: no health check imported", "note")
        return None
    if test.kind == "other":
        if not (test.argv or test.text.strip()):
            ctx.note(svc, ("healthcheck", "test"), "an empty command: not imported")
            return None
        # health.command: the same command, run in the container by Docker (exec form, or shell form under sh -c)
        health: dict[str, Any] = {"command": test.argv if test.argv else test.text}
    elif not valid_health_path(test.path):
        ctx.note(svc, ("healthcheck", "test"), f"the path {test.path!r} cannot be an app.yaml health path: not "
                 "imported")
        return None
    else:
        health = {"path": test.path}
        if test.scheme == "https":
            ctx.note(svc, ("healthcheck", "test"), "an HTTPS check: liftshift checks the path over plain HTTP")
        checked = test.port or (443 if test.scheme == "https" else 80)
        if port is not None and checked != port:
            ctx.note(svc, ("healthcheck", "test"), f"checks port {checked}, but liftshift checks the service's port "
                     f"{port}: the path is imported for port {port}")
    for key, (low, high) in HEALTH_BOUNDS.items():
        if check.get(key) is None:
            continue
        try:
            value = as_int(check[key]) if key == "retries" else whole_seconds(check[key])
        except PartError as exc:
            ctx.note(svc, ("healthcheck", key), f"{exc}: the default is used")
            continue
        clamped = min(max(value, low), high)
        if clamped != value:
            ctx.note(svc, ("healthcheck", key), f"{value} is outside app.yaml's {low}-{high}: {clamped} is used")
        health[key] = clamped
    for key in check:
        if key not in HEALTH_BOUNDS and key not in ("test", "disable"):
            ctx.note(svc, ("healthcheck", key), "not imported: app.yaml's health has no such setting", "note")
    return health


def _instances(ctx: Context, svc: Service, here: tuple, published: bool) -> dict[str, Any]:
    instances: dict[str, Any] = {}
    deploy = svc.data.get("deploy") if isinstance(svc.data.get("deploy"), dict) else {}
    for key in deploy:
        if key not in ("replicas", "resources"):
            ctx.note(svc, ("deploy", key), "not imported: app.yaml sets instances.count and instances.type only"
                     + ("; systemd restarts the container anyway" if key == "restart_policy" else ""),
                     "note" if key in ("restart_policy", "labels", "update_config", "rollback_config") else "warning")
    resources = deploy.get("resources") if isinstance(deploy.get("resources"), dict) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    for key in resources:
        if key != "limits":
            ctx.note(svc, ("deploy", "resources", key), "not imported: only limits suggest an instance type", "note")
    cpus, memory, where = limits.get("cpus", svc.data.get("cpus")), limits.get("memory", svc.data.get("mem_limit")), (
        ("deploy", "resources", "limits") if limits else ("mem_limit",) if "mem_limit" in svc.data else ("cpus",))
    try:
        if isinstance(cpus, (dict, list)) or isinstance(memory, (dict, list)):
            raise PartError("cpus and memory are numbers")
        kind, why = suggest_instance_type(float(cpus) if cpus is not None else None,
                                          size_mib(memory) if memory is not None else None)
    except (ValueError, PartError) as exc:
        ctx.note(svc, where, f"{exc}: no instance type suggested from it")
        cpus = memory = None
        kind, why = suggest_instance_type(None, None)
    instances["type"] = kind
    if cpus is None and memory is None:
        ctx.comment(here + ("instances", "type"), f"decide: {why}; compose sets no resource limits")
    else:
        ctx.comment(here + ("instances", "type"), f"decide: {why}, the smallest that holds compose's limits "
                    f"(cpus {cpus or '-'}, memory {memory or '-'}) and the system's 0.5 GiB")
    count = deploy.get("replicas", svc.data.get("scale"))
    if count is not None:
        where = ("deploy", "replicas") if "replicas" in deploy else ("scale",)
        try:
            value = as_int(count)
        except PartError as exc:
            ctx.note(svc, where, f"{exc}: one instance is used")
        else:
            if value > 100:
                ctx.note(svc, where, f"{value} replicas: app.yaml allows at most 100 instances; 100 is used")
            instances["count"] = min(value, 100)
            if instances["count"] > 1:
                ctx.comment(here + ("instances", "count"), "decide: several instances without a load_balancer are "
                            "separate addresses; add load_balancer: {} for one address and blue-green rollouts")
    if not published:
        _internal(ctx, svc, here, instances)
    return instances


def _internal(ctx: Context, svc: Service, here: tuple, instances: dict[str, Any]) -> None:
    """A service compose publishes nowhere is reachable only from the stack's other services (`internal`)."""
    instances["_internal"] = True  # moved to the service by the caller
    if not svc.data.get("ports") and not svc.data.get("expose"):
        return  # said with the port written for it
    ctx.note(svc, ("ports",) if "ports" in svc.data else (), "publishes no port in compose: imported as "
             "internal: true (reachable only from the stack's other services)", "note")


def _networks(ctx: Context, svc: Service) -> None:
    mode = svc.data.get("network_mode")
    if mode is not None:
        advice = {"host": "the container gets its own network namespace with the port published on the instance: "
                          "make sure the app listens on the imported port",
                  "none": "the container gets Docker's default bridge network",
                  "bridge": ""}.get(str(mode), "services run on separate instances and cannot share a network "
                                               "namespace; reach the peer by its service name")
        if advice:
            ctx.note(svc, ("network_mode",), f"network_mode {mode} is not imported: {advice}")
    networks = svc.data.get("networks")
    custom = [n for n in (networks if isinstance(networks, (list, dict)) else []) if n != "default"]
    if custom:
        ctx.note(svc, ("networks",), f"networks {', '.join(map(str, custom))} are not imported: the stack's services "
                 "share the VPC; who may connect is set by the security groups (internal: true admits only the "
                 "stack's services); peers still reach each other by service name and network aliases")
