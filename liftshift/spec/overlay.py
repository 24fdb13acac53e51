"""Environments: `--env NAME` (or LIFTSHIFT_ENV) deep-merges the overlay `app.NAME.yaml` over app.yaml.

Maps merge key by key; lists and scalars (null too) replace what app.yaml has. The merged data keeps, for
every key path, the line and the file that set it, so an error in the merged spec names the overlay's line
when the overlay set the value and app.yaml's line otherwise.

The environment is part of the stack's identity: its stack is `NAME-ENV` (environment_stack_name), so
every resource name, tag, lock item, release record, repository and log group differs between
environments, and staging and production share nothing.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SpecError
from .grammar import NAME_MAX, check_name
from .yamlsource import LocatedData, SourceError, load_yaml
from ..errors import BadInput

# What an overlay may not set: the stack's name is the app's (the environment's stack is NAME-ENV), and one
# app.yaml has one version.
FIXED = ("name", "version")


def overlay_path(path: Path, env: str) -> Path:
    """The overlay of environment `env` beside `path`: x/foo.yaml -> x/foo.ENV.yaml."""
    return path.with_name(f"{path.stem}.{env}{path.suffix}")


def check_env_name(env: str) -> str:
    """`env` if it is an environment name (the grammar of stack names), else BadInput (exit 2)."""
    try:
        return check_name(env, "an environment name (--env / LIFTSHIFT_ENV)")
    except ValueError as exc:
        raise BadInput(f"{str(exc)} (got {env!r})") from None


def load_environment(path: Path, display: str, base: LocatedData, env: str) -> LocatedData:
    """app.yaml's data with environment `env`'s overlay merged in; the overlay must exist (exit 2 naming it)."""
    check_env_name(env)
    other = overlay_path(path, env)
    shown = str(overlay_path(Path(display), env))
    if not other.exists() and not other.is_symlink():
        raise SpecError(shown, None, (), f"file not found: environment {env!r} needs this overlay beside {display}")
    try:
        overlay = load_yaml(other, shown)
    except SourceError as exc:
        raise SpecError(exc.file, exc.line, exc.path, exc.message) from None
    if not isinstance(overlay.data, dict):
        raise SpecError(shown, 1, (), "must be a mapping of the app.yaml keys this environment changes")
    for key in FIXED:
        if key in overlay.data:
            raise SpecError.at(overlay, (key,), f"an environment cannot change the stack's {key}: set it in "
                                                f"{display} (the environment's stack is {base.data.get('name')}-{env})")
    return merge(base, overlay)


def merge(base: LocatedData, overlay: LocatedData) -> LocatedData:
    """`overlay` deep-merged over `base` (which is changed and returned), with each path's file and line."""
    if not isinstance(base.data, dict):
        return base
    _merge_into(base, base.data, overlay, overlay.data, ())
    return base


def _merge_into(base: LocatedData, into: dict, overlay: LocatedData, data: dict, path: tuple) -> None:
    for key, value in data.items():
        here = path + (key,)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge_into(base, into[key], overlay, value, here)
            continue
        _forget(base, here)
        into[key] = value
        for table in ("lines", "texts"):
            own = getattr(base, table)
            own.update({p: v for p, v in getattr(overlay, table).items() if p[:len(here)] == here})
        base.ambiguous |= {p for p in overlay.ambiguous if p[:len(here)] == here}
        base.files.update({p: overlay.file for p in overlay.lines if p[:len(here)] == here})


def _forget(base: LocatedData, path: tuple) -> None:
    """Drop what `base` knew about `path` and below: the overlay replaces that value."""
    n = len(path)
    for table in (base.lines, base.texts, base.files):
        for p in [p for p in table if p[:n] == path]:
            del table[p]
    base.ambiguous -= {p for p in base.ambiguous if p[:n] == path}


def environment_stack_name(located: LocatedData, env: str) -> None:
    """Make the merged data's stack name `NAME-ENV`, refusing one longer than stack names may be.

    A name that is not a stack name is left for the model to refuse at its line."""
    name = located.data.get("name")
    if not isinstance(name, str):
        return
    try:
        check_name(name, "the stack name")
    except ValueError:
        return
    stack = f"{name}-{env}"
    if len(stack) > NAME_MAX:
        raise SpecError.at(located, ("name",),
                           f"the stack name {name!r} and the environment {env!r} make the stack {stack!r}, "
                           f"{len(stack)} characters; the limit is {NAME_MAX}: shorten the name or the environment")
    located.data["name"] = stack
