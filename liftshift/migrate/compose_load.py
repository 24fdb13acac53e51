"""Reading a compose file into plain data that remembers where each key was written.

YAML is read by spec/yamlsource.py (YAML 1.2 core schema, duplicate keys refused, the line of every key),
with two additions compose files need: merge keys (`<<: *defaults`, the Compose Specification's
"fragments") and the `!reset` / `!override` tags. Then, per the Compose Specification: interpolation of
every value (compose_env.py) with `.env` beside the file and the environment (which wins); `extends`
(same file or `file:`), merged by the spec's rules (13-merge.md); `env_file` read; the list forms of
`environment`, `labels`, `build.args` and `depends_on` turned into mappings, `volumes` into their long
form with bind sources made absolute (relative paths are relative to the file that wrote them);
`profiles`. What this does with the result is compose_map.py's business.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from ..errors import BadInput
from ..spec import yamlsource
from ..spec.yamlsource import CoreLoader, LocatedData, SourceError, dotted
from .compose_env import InterpolationError, Interpolator, parse_dotenv

# The Compose Specification's order (03-compose-file.md; compose-go's DefaultFileNames).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
MERGE_TAG = "tag:yaml.org,2002:merge"
RESET = object()


class ComposeError(SourceError, BadInput):
    """A compose file that cannot be read or imported: exit 2, located at its file, line and key."""


@dataclass
class Finding:
    """Something the import did not map as written: a note (ignored, harmless), a warning, or refused."""

    level: str  # "note" | "warning" | "refused"
    file: str
    line: Optional[int]
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "file": self.file, "line": self.line, "key": self.key, "message": self.message}


@dataclass
class Service:
    name: str
    data: dict[str, Any]
    sources: list[tuple[LocatedData, tuple]]  # (file, path of the service in it): the service's own file first
    env_file: dict[str, tuple[Optional[str], str, int]] = field(default_factory=dict)  # name: (value, file, line)

    def where(self, *sub: Any) -> tuple[str, Optional[int], tuple]:
        """The file, line and key path where key `sub` of this service was written (else its nearest written
        parent): in an extended service's file the path names that service."""
        full = tuple(sub)
        sub = full
        while True:
            for located, prefix in self.sources:
                written = _as_written(located, prefix, sub)
                if prefix + written in located.lines:
                    return located.file, located.lines[prefix + written], prefix + written + full[len(sub):]
            if not sub:
                located, prefix = self.sources[0]
                return located.file, located.line_of(prefix), prefix + full
            sub = sub[:-1]

    def finding(self, level: str, sub: tuple, message: str) -> Finding:
        file, line, path = self.where(*sub)
        return Finding(level, file, line, dotted(path), message)


def _as_written(located: LocatedData, prefix: tuple, sub: tuple) -> tuple:
    """`sub` with list-form names as their indexes: ("environment", "A") is ("environment", 0) in `- A=1`."""
    node: Any = located.data
    for part in prefix:
        node = node.get(part) if isinstance(node, dict) else None
    out = []
    for part in sub:
        if isinstance(node, list) and isinstance(part, str):
            index = next((i for i, item in enumerate(node) if isinstance(item, str)
                          and item.partition("=")[0] == part), None)
            if index is None:
                return tuple(out) + tuple(sub[len(out):])
            part = index
        out.append(part)
        node = node.get(part) if isinstance(node, dict) else node[part] if isinstance(node, list) else None
    return tuple(out)


@dataclass
class Project:
    file: Path
    located: LocatedData
    name: Optional[str]
    services: dict[str, Service]
    excluded: dict[str, list[str]]  # services left out by profiles: their profiles
    top: dict[str, Any]  # the other top-level keys (volumes, secrets, networks, configs, ...), interpolated
    findings: list[Finding] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.file.parent

    def finding(self, level: str, path: tuple, message: str) -> Finding:
        return Finding(level, self.located.file, self.located.line_of(path), dotted(path), message)


def find_compose_file(directory: Path) -> Path:
    for name in DEFAULT_FILES:
        if (directory / name).is_file():
            return directory / name
    raise BadInput(f"no compose file in {directory} (looked for {', '.join(DEFAULT_FILES)}); name one")


def read_yaml(path: Path, name: str) -> LocatedData:
    """One YAML document with the line of every key; merge keys expanded, `!reset` keys dropped."""
    try:  # the same limits as app.yaml: a regular file (a FIFO is refused unread) of at most 1 MiB
        raw = yamlsource.read_limited(path, name)
    except SourceError as exc:
        raise ComposeError(exc.file, exc.line, exc.path, exc.message.replace("app.yaml must be a file",
                                                                             "a compose file must be a file")) from None
    try:
        text = raw.decode("utf-8")
        documents = list(yaml.compose_all(text, Loader=CoreLoader))
    except UnicodeDecodeError as exc:
        raise ComposeError(name, raw[: exc.start].count(b"\n") + 1, (), "is not valid UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ComposeError(name, mark.line + 1 if mark else None, (),
                           f"invalid YAML: {exc.problem or exc.context or 'invalid YAML'}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ComposeError(name, None, (), f"invalid YAML: {exc}") from None
    if len(documents) != 1 or not isinstance(documents[0], yaml.MappingNode):
        raise ComposeError(name, 1, (), "must hold exactly one YAML document, a mapping with `services`")
    _flatten(documents[0], set(), name)
    located = LocatedData(file=name, data=None)
    try:
        located.data = yamlsource.Builder(located).build(documents[0], ())
    except SourceError as exc:
        raise ComposeError(exc.file, exc.line, exc.path, exc.message) from None
    _written_text(located)
    return located


def _flatten(node: yaml.Node, seen: set, name: str) -> None:
    """Expand merge keys in place (explicit keys win, then the merged mappings in order) and apply the
    `!override` (a plain value here: there is one file) and `!reset` (the key is dropped) tags."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if node.tag in ("!override", "!reset"):
        if isinstance(node, yaml.MappingNode):
            node.tag = "tag:yaml.org,2002:map"
        elif isinstance(node, yaml.SequenceNode):
            node.tag = "tag:yaml.org,2002:seq"
        else:
            node.tag = STR_TAG if node.style else CoreLoader("").resolve(yaml.ScalarNode, node.value, (True, False))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _flatten(item, seen, name)
    if not isinstance(node, yaml.MappingNode):
        return
    own, merged, reset = [], [], set()
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise ComposeError(name, key.start_mark.line + 1, (), "a merge key (<<) must name a mapping")
                _flatten(source, seen, name)
                merged.extend(source.value)
        elif value.tag == "!reset":
            reset.add(key.value)
        else:
            _flatten(value, seen, name)
            own.append((key, value))
    names = {k.value for k, _ in own} | reset
    for key, value in merged:
        if key.value not in names:
            names.add(key.value)
            own.append((key, value))
    node.value = own


STR_TAG = yamlsource.STR_TAG


def _written_text(located: LocatedData) -> None:
    """Compose values reach the container as text: `VERSION: 1.10` is `1.10`, `DEBUG: true` is `true`.
    Every bool and number becomes the text written; the mapping reads numbers from text (as compose
    does after interpolation, `replicas: ${N}`)."""
    for path, text in located.texts.items():
        parent = located.data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = text


def interpolate(located: LocatedData, variables: Mapping[str, str], findings: list[Finding]) -> None:
    """Interpolate every string value in place; `${VAR:?err}` and bad syntax are ComposeErrors."""
    interpolator = Interpolator(variables)
    warned: set = set()

    def walk(value: Any, path: tuple) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            try:
                before = len(interpolator.unset)
                out = interpolator(value)
            except InterpolationError as exc:
                raise ComposeError(located.file, located.line_of(path), path, str(exc)) from None
            for name in interpolator.unset[before:]:
                if name not in warned:
                    warned.add(name)
                    findings.append(Finding("warning", located.file, located.line_of(path), dotted(path),
                                            f"variable {name} is not set (not in the environment or .env): "
                                            "it is the empty string, as in compose"))
            return out
        return value

    located.data = walk(located.data, ())


def variables_for(directory: Path, environ: Mapping[str, str], display: str) -> dict[str, str]:
    """The environment over the `.env` file beside the compose file (the environment wins)."""
    dotenv = directory / ".env"
    found: dict[str, str] = {}
    if dotenv.is_file():
        found = _read_env_file(dotenv, display, environ)
    return {**found, **environ}


def _read_env_file(path: Path, display: str, environ: Mapping[str, str], raw: bool = False) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(display, None, (), f"cannot read {path}: {exc}") from None
    try:
        entries = parse_dotenv(text, lambda value, known: Interpolator({**known, **environ})(value), raw=raw)
    except (ValueError, InterpolationError) as exc:
        raise ComposeError(str(path), None, (), str(exc)) from None
    return {e.name: (e.value if e.value is not None else environ.get(e.name, "")) for e in entries}


def load_project(path: Path, environ: Mapping[str, str], profiles: list[str]) -> Project:
    """Read `path` (and the files it extends) into a Project with the services `profiles` enable."""
    path = path if path.is_absolute() else Path.cwd() / path
    display = str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
    findings: list[Finding] = []
    variables = variables_for(path.parent, environ, display)
    files: dict[Path, LocatedData] = {}

    def load(file: Path, name: str) -> LocatedData:
        if file not in files:
            located = read_yaml(file, name)
            interpolate(located, variables, findings)
            files[file] = located
        return files[file]

    located = load(path.resolve(), display)
    data = located.data
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise ComposeError(display, located.line_of(("services",)), ("services",),
                           "must be a mapping of services (the compose file defines none)")
    from .compose_extends import resolve_service

    active = set(profiles)
    resolved: dict[str, Service] = {}
    excluded: dict[str, list[str]] = {}
    for name, definition in services.items():
        if not isinstance(definition, dict):
            raise ComposeError(display, located.line_of(("services", name)), ("services", name),
                               "a service must be a mapping")
        own = definition.get("profiles") or []
        if not isinstance(own, list):
            raise ComposeError(display, located.line_of(("services", name, "profiles")),
                               ("services", name, "profiles"), "must be a list of profile names")
        if own and "*" not in active and not active & {str(p) for p in own}:
            excluded[name] = [str(p) for p in own]
            continue
        resolved[name] = resolve_service(path.resolve(), located, name, load, environ, [])
    for key in ("volumes", "secrets", "networks", "configs"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ComposeError(display, located.line_of((key,)), (key,), "must be a mapping of names")
    top_name = data.get("name")
    top = {k: v for k, v in data.items() if k not in ("services", "name")}
    return Project(path, located, str(top_name) if top_name is not None else None, resolved, excluded, top,
                   findings)


def env_file_values(file: Path, located: LocatedData, prefix: tuple, value: Any,
                    environ: Mapping[str, str]) -> dict[str, tuple[Optional[str], str, int]]:
    """The variables of a service's `env_file` (a path, or a list of paths or {path, required, format})."""
    items = value if isinstance(value, list) else [value]
    out: dict[str, tuple[Optional[str], str, int]] = {}
    for i, item in enumerate(items):
        where = prefix + (("env_file", i) if isinstance(value, list) else ("env_file",))
        required, raw = True, False
        if isinstance(item, dict):
            required = str(item.get("required", "true")).lower() != "false"
            raw = item.get("format") == "raw"
            item = item.get("path")
        if not isinstance(item, str) or not item:
            raise ComposeError(located.file, located.line_of(where), where, "must be a path (or {path, required})")
        env_path = Path(os.path.expanduser(item))
        env_path = env_path if env_path.is_absolute() else file.parent / env_path
        if not env_path.is_file():
            if not required:
                continue
            raise ComposeError(located.file, located.line_of(where), where,
                               f"env file {item} not found ({env_path}); add it or mark it required: false")
        shown = os.path.relpath(env_path)
        text = env_path.read_text(encoding="utf-8", errors="replace")
        try:
            entries = parse_dotenv(text, lambda v, known: Interpolator({**known, **environ})(v), raw=raw)
        except (ValueError, InterpolationError) as exc:
            raise ComposeError(shown, None, (), str(exc)) from None
        for entry in entries:
            out[entry.name] = (entry.value if entry.value is not None else environ.get(entry.name), shown, entry.line)
    return out


URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/)")
