"""Loading app.yaml: read it, check it, and report the first problem at its file, line and key.

Unknown keys are found first by walking the data beside the models, so the message can say "did you
mean" and point at the key's own line; then control characters, then the models (pydantic), then what
needs the whole file: build contexts, references between services, AWS limits, resource names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import SpecError
from .grammar import PEER_FIELDS, PEER_REF_RE, char_problem, peers_of
from .limits import check_limits
from .model import AppSpec
from .overlay import check_env_name, environment_stack_name, load_environment
from .yamlsource import LocatedData, SourceError, load_yaml


def load_spec(path: Path | str, env: str | None = None) -> tuple[AppSpec, Path]:
    """Load and check app.yaml, with environment `env`'s overlay merged in (spec/overlay.py); returns the
    spec and the file's directory.

    Raises SpecError naming the file, line and key path for any problem,
    including build contexts and Dockerfiles that do not exist.
    """
    path = Path(path)
    if env is not None:
        check_env_name(env)  # before reading anything: a bad --env is the problem, not the file
    try:
        located = load_yaml(path, str(path))
    except SourceError as exc:
        raise SpecError(exc.file, exc.line, exc.path, exc.message) from None
    if not isinstance(located.data, dict):
        raise SpecError(located.file, 1, (), "must be a mapping with version, name and services")
    if env is not None:
        located = load_environment(path, str(path), located, env)
    _check_unknown_keys(located, located.data, AppSpec, ())
    _check_text(located, located.data, ())
    if env is not None:
        environment_stack_name(located, env)
    _check_health_checks(located)
    _keep_written_text(located)
    try:
        spec = AppSpec.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(located, exc) from None
    spec._source = located
    _check_internal(located, spec)
    base = path.resolve().parent
    _check_build_contexts(located, spec, base)
    _check_references(located, spec)
    check_limits(spec)
    _check_resource_names(located, spec)
    return spec, base


def _free_text(path: tuple) -> bool:
    """Env values, build args and command arguments: the only places control characters but NUL may appear."""
    return (len(path) == 4 and path[0] == "services" and path[2] in ("env", "command")) or (
        len(path) == 5 and path[0] == "services" and path[2:4] == ("build", "args"))


def _health_command_item(path: tuple) -> bool:
    """An argument of a health command's exec form (services.NAME.health.command[i]): text as written."""
    return len(path) == 5 and path[0] == "services" and path[2:4] == ("health", "command")


def _check_health_checks(located: LocatedData) -> None:
    """health.path and health.command are two kinds of check: one or the other. `path` has a default, so
    the file itself says whether it was given."""
    services = located.data.get("services")
    if not isinstance(services, dict):
        return
    for name, service in services.items():
        health = service.get("health") if isinstance(service, dict) else None
        if isinstance(health, dict) and "path" in health and "command" in health:
            raise SpecError.at(located, ("services", name, "health", "command"),
                               "health.command and health.path are exclusive: the container's health is either an "
                               "HTTP GET of path or this command; remove one (behind a load_balancer the target "
                               "group keeps checking load_balancer.health.path either way)")


def _check_text(located: LocatedData, data: Any, path: tuple) -> None:
    """No control characters (NUL, newlines, escapes...) in any key or string value, before anything else
    looks at them: a trailing newline in a name or region must not pass as part of it."""
    if isinstance(data, dict):
        for key, value in data.items():
            problem = char_problem(key) if isinstance(key, str) else None
            if problem:
                raise SpecError(located.file_of(path + (key,)), located.line_of(path + (key,)), path, f"the key {key!r} {problem}")
            _check_text(located, value, path + (key,))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            _check_text(located, item, path + (i,))
    elif isinstance(data, str):
        problem = char_problem(data, free=_free_text(path))
        if problem:
            raise SpecError.at(located, path, f"{problem} (got {data[:200]!r})")


def _keep_written_text(located: LocatedData) -> None:
    """Env values, build args and command arguments (the service's and its health command's) are strings:
    where YAML saw a bool or a number (`true`, `1.10`, `0x1F`), use the text as written rather than Python's
    rendering of the value.
    Elsewhere a number YAML 1.1 read as a string (`1e3`, `0o17`) stays that string: a setting that
    needs a number then refuses it rather than guess which YAML the author meant."""
    for path, text in located.texts.items():
        if not _free_text(path) and not _health_command_item(path) and path not in located.ambiguous:
            continue
        parent = located.data
        try:
            for part in path[:-1]:
                parent = parent[part]
            if isinstance(parent, (dict, list)):
                parent[path[-1]] = text
        except (KeyError, IndexError, TypeError):
            continue


def _first_error(located: LocatedData, exc: ValidationError) -> SpecError:
    errors = sorted(exc.errors(), key=lambda e: located.line_of(_clean_loc(e["loc"])) or 0)
    err = errors[0]
    loc = _clean_loc(err["loc"])
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if err["type"] == "missing":
        message = "is required"
    elif err["type"] == "literal_error" and loc == ("version",):
        message = "must be 1 (the only app.yaml version this liftshift reads)"
    elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], (dict, list)):
        message = f"{message} (got {err['input']!r})"[:300]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return SpecError.at(located, loc, message + more)


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic adds the name of a model-level validator's model to some locations
    return tuple(part for part in loc if part not in ("function-after[_source()]",))


def _check_unknown_keys(located: LocatedData, data: Any, model: type[BaseModel], path: tuple) -> None:
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            import difflib  # only for a mistake: a start without one need not load it

            hint = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(fields)})"
            raise SpecError.at(located, path + (key,), "unknown field" + suggestion)
        inner = _model_of(fields[key].annotation)
        if inner is None:
            continue
        kind, sub = inner
        if kind == "model":
            _check_unknown_keys(located, value, sub, path + (key,))
        elif kind == "dict" and isinstance(value, dict):
            for name, item in value.items():
                _check_unknown_keys(located, item, sub, path + (key, name))
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                _check_unknown_keys(located, item, sub, path + (key, i))


def _model_of(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is Union:
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    if origin is dict:
        sub = _unwrap(get_args(annotation)[1])
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            return ("dict", sub)
    if origin is list:
        sub = _unwrap(get_args(annotation)[0])
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            return ("list", sub)
    return None


def repository_root(base: Path) -> Path:
    """The git work tree holding app.yaml, else app.yaml's own directory."""
    for candidate in (base, *base.parents):
        if (candidate / ".git").exists():
            return candidate
    return base


def _check_build_contexts(located: LocatedData, spec: AppSpec, base: Path) -> None:
    """Build contexts are directories inside the repository; their Dockerfiles exist."""
    root = repository_root(base)
    for name, service in spec.services.items():
        if service.build is None:
            continue
        where = ("services", name, "build")
        context = (base / service.build.context).resolve()
        if not context.is_relative_to(root):
            raise SpecError.at(located, where, f"build context {service.build.context!r} leads outside {root}")
        if not context.is_dir():
            raise SpecError.at(located, where,
                               f"build context {service.build.context!r} is not a directory ({context})")
        dockerfile = (context / service.build.dockerfile).resolve()
        if not dockerfile.is_relative_to(context) and not dockerfile.is_relative_to(root):
            raise SpecError.at(located, where, f"dockerfile {service.build.dockerfile!r} leads outside {root}")
        if not dockerfile.is_file():
            raise SpecError.at(located, where, f"no Dockerfile: {dockerfile} does not exist")


def _check_internal(located: LocatedData, spec: AppSpec) -> None:
    """An internal service admits only the stack's other services: no load balancer (it is for traffic from
    outside the stack) and no instances.ingress (the CIDRs it would open); ssh_ingress stays allowed."""
    for name, service in spec.services.items():
        if not service.internal:
            continue
        where = ("services", name)
        if service.load_balancer is not None:
            raise SpecError.at(located, where + ("internal",),
                               "internal: true cannot go with a load_balancer (a load balancer is for traffic from "
                               "outside the stack; an internal service is reached only by the stack's other "
                               "services): remove load_balancer, or internal")
        if "ingress" in service.instances.model_fields_set:
            raise SpecError.at(located, where + ("instances", "ingress"),
                               "an internal service admits only the stack's other services, not CIDRs: remove "
                               "instances.ingress (or internal: true); instances.ssh_ingress stays allowed")


def _check_references(located: LocatedData, spec: AppSpec) -> None:
    """Every ${service.NAME.FIELD} names another service of the stack and a known field; no cycles."""
    for name, service in spec.services.items():
        for key, value in service.env.items():
            where = ("services", name, "env", key)
            for match in PEER_REF_RE.finditer(value):
                peer, field = match.group(1), match.group(2)
                if field not in PEER_FIELDS:
                    raise SpecError.at(located, where, f"{match.group(0)}: use .url, .host or .port")
                if peer not in spec.services:
                    raise SpecError.at(located, where,
                                       f"{match.group(0)} names no service of this stack ({', '.join(spec.services)})")
                if peer == name:
                    raise SpecError.at(located, where, f"{match.group(0)}: a service cannot call itself this way")
    for name, service in spec.services.items():
        for peer in service.depends_on:
            where = ("services", name, "depends_on", peer)
            if peer not in spec.services:
                raise SpecError.at(located, where, f"{peer!r} is no service of this stack ({', '.join(spec.services)})")
            if peer == name:
                raise SpecError.at(located, where, "a service cannot depend on itself")
            if spec.services[peer].instances.count == 0 and service.instances.count > 0:
                raise SpecError.at(located, where, f"{peer} has instances.count 0: nothing would answer for it")
    _check_aliases(located, spec)
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = trail[trail.index(name):] + [name]
            first = spec.services[cycle[0]]
            where = ("services", cycle[0], "depends_on" if cycle[1] in first.depends_on else "env")
            raise SpecError.at(located, where, "services call or depend on each other in a cycle: "
                               + " -> ".join(cycle) + " (each is started once the next answers)")
        state[name] = "active"
        for peer in peers_of(spec.services[name]):
            visit(peer, trail + [name])
        state[name] = "done"

    for name in spec.services:
        visit(name, [])


def _check_aliases(located: LocatedData, spec: AppSpec) -> None:
    """Each name resolves to one service: an alias is no other service's name or alias."""
    owner: dict[str, str] = {name: name for name in spec.services}
    for name, service in spec.services.items():
        for i, alias in enumerate(service.aliases):
            if alias in owner:
                what = "its own name" if owner[alias] == name else f"a name of service {owner[alias]}"
                raise SpecError.at(located, ("services", name, "aliases", i), f"{alias!r} is {what} already")
            owner[alias] = name
        if service.ports[1:] and service.load_balancer is not None:
            raise SpecError.at(located, ("services", name, "ports"),
                               "a load balancer forwards one port: a service behind one has one port "
                               "(port/publish, or one entry in ports)")


def _check_resource_names(located: LocatedData, spec: AppSpec) -> None:
    """No two services of the stack may make resources of one name (names.shared_name)."""
    from ..model.names import shared_name

    found = shared_name(spec.name, {n: s.load_balancer is not None for n, s in spec.services.items()})
    if found is not None:
        kind, name, first, second = found
        where = ("services", second)
        raise SpecError.at(located, where,
                           f"would make the {kind} {name!r}, which service {first!r} makes too: rename one of them")


def _unwrap(annotation: Any) -> Any:
    """The type inside Annotated[...] (a field with a validator of its short form, e.g. ports' items)."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
