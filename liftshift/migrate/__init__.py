"""Migrating apps to liftshift: `liftshift import compose` and `liftshift init`.

    compose_env       interpolation (${VAR:-default} ...) and dotenv files, pure
    compose_load      the compose file read with the line of every key; .env, extends, env_file, profiles
    compose_extends   short forms normalised, `extends` merged by the Compose Specification's rules
    compose_map       compose project -> app.yaml data, comments and findings (what maps, warns, is refused)
    compose_fields    one service: image/build, command, env, health, instances
    compose_ports     ports and expose: port/publish, or ports
    compose_storage   volumes: bind mounts and data volumes
    compose_secrets   secrets as secret files (never a secret's value: the command that stores it)
    compose_peers     depends_on, links, aliases, and the dependencies env and command imply
    compose_parts     the small grammars: ports, durations, sizes, health tests, names
    appyaml_write     the app.yaml text, with comments on what needs a decision

`import_compose` runs them and checks the result with spec/load.py: what it writes always validates.

    init_app          `liftshift init`: detect the kind of an app directory -> plan its files (data) -> check -> write
    init_scan         the directory listed once, an old server's systemd unit, env reads, data volumes; the Guess
    init_python       Python: Django, FastAPI, Flask, WSGI/ASGI callables, scripts that serve themselves
    init_kinds        an own Dockerfile, Node, Java (jar, Maven, Gradle), Go, a static site

`init_app` hands a directory with a compose file to `import_compose`; what it writes validates too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import BadInput
from .files import write


class ImportRefused(BadInput):
    """The compose file holds what cannot be imported (or is refused without --allow-unsupported): exit 2."""


def import_compose(file: Optional[Path], out: Optional[str], name: Optional[str], profiles: list[str],
                   force: bool, allow_unsupported: bool, environ: Mapping[str, str]) -> dict[str, Any]:
    """Read the compose file, map it, check the app.yaml, write it (unless `out` is '-'); the result as data."""
    from .appyaml_write import render
    from .compose_load import Finding, find_compose_file, load_project
    from .compose_map import map_project, stack_name

    compose = file if file is not None else Path.cwd()
    if compose.is_dir():
        compose = find_compose_file(compose)
    if not profiles and environ.get("COMPOSE_PROFILES"):
        profiles = [p.strip() for p in environ["COMPOSE_PROFILES"].split(",") if p.strip()]
    out_path = None if out == "-" else Path(out) if out else compose.parent / "app.yaml"
    if out_path is not None and (out_path.exists() or out_path.is_symlink()) and not force:
        raise BadInput(f"{out_path} exists: give --force to overwrite it, or --out another path (--out - prints it)")
    project = load_project(compose, environ, profiles)
    out_dir = (out_path.parent if out_path is not None else compose.parent).resolve()
    stack, renamed = stack_name(project, name)
    imported = map_project(project, stack, out_dir)
    if renamed:
        imported.findings.insert(0, Finding("note", project.located.file, project.located.line_of(("name",))
                                            if project.name else None, "name" if project.name else "", renamed))
    problems = imported.problems(allow_unsupported)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise ImportRefused(f"cannot import {project.located.file} ({len(problems)} problem"
                            f"{'s' if len(problems) > 1 else ''}; nothing written):\n{lines}")
    for finding in imported.findings:
        if finding.level == "refused":  # allowed by --allow-unsupported: not carried over
            finding.level = "warning"
            finding.message += " (--allow-unsupported: imported without it)"
    text = render(imported)
    check_text(text, out_dir, project.located.file)
    if out_path is not None:
        write(out_path, text, force)
    return {"compose_file": project.located.file, "stack": stack, "out": str(out_path) if out_path else "-",
            "services": imported.services, "excluded_by_profiles": project.excluded,
            "app": {k: v for k, v in imported.app.items() if v is not None}, "app_yaml": text,
            "warnings": [f.as_dict() for f in imported.findings], "commands": imported.commands}


def check_text(text: str, directory: Path, compose_name: str) -> None:
    """The app.yaml must pass `liftshift validate` where it will live (build contexts are relative to it)."""
    from ..spec.errors import SpecError
    from ..spec.load import load_spec

    try:
        fd, temp = tempfile.mkstemp(prefix=".liftshift-import-", suffix=".yaml", dir=directory)
    except OSError as exc:
        raise BadInput(f"cannot write app.yaml in {directory}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_spec(temp)
    except SpecError as exc:
        raise ImportRefused(f"the app.yaml imported from {compose_name} does not validate, so nothing was written: "
                            f"line {exc.line}: {exc.dotted}: {exc.message}") from None
    finally:
        os.unlink(temp)
