"""Read YAML into plain data while remembering the line of every key.

PyYAML's composer already knows where each node starts; we keep that so every
error can name the file, the line and the key path. We build the data from the
node tree ourselves (rather than `yaml.safe_load`) to also reject duplicate
keys and alias bombs, which the stock loader accepts silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64
STR_TAG = "tag:yaml.org,2002:str"

Path_ = tuple[Any, ...]


class SourceError(Exception):
    """A problem located in a source file: file, line, key path and message."""

    def __init__(self, file: str, line: int | None, path: Path_, message: str):
        self.file = file
        self.line = line
        self.path = tuple(path)
        self.message = message
        super().__init__(str(self))

    @property
    def dotted(self) -> str:
        return dotted(self.path)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.dotted}:" if self.path else ""
        return f"{where}:{key} {self.message}"


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class LocatedData:
    """Plain data from a YAML file and the line where each key path starts."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the longest known prefix of `path`."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def error(self, path: Path_, message: str) -> SourceError:
        return SourceError(self.file, self.line_of(path), path, message)


def load_yaml(path: Path, display_name: str | None = None) -> LocatedData:
    """Load one YAML document from `path`, or raise SourceError."""
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(name, None, (), "file not found") from None
    except IsADirectoryError:
        raise SourceError(name, None, (), "is a directory, not a YAML file") from None
    except OSError as exc:
        raise SourceError(name, None, (), f"cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(name, None, (), f"is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(name, line, (), "is not valid UTF-8 text") from None
    return load_yaml_text(text, name)


def load_yaml_text(text: str, name: str) -> LocatedData:
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(name, line, (), f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SourceError(name, None, (), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise SourceError(name, None, (), "invalid YAML: nested too deeply") from None
    if len(documents) != 1 or documents[0] is None:
        raise SourceError(name, 1, (), "must hold exactly one YAML document (a mapping)")
    located = LocatedData(file=name, data=None)
    builder = _Builder(located)
    located.data = builder.build(documents[0], ())
    return located


class _Builder:
    def __init__(self, located: LocatedData):
        self.located = located
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.located.error(path, f"has more than {MAX_NODES} values (YAML aliases expanding?)")
        if len(path) > MAX_DEPTH:
            raise self.located.error(path, f"is nested more than {MAX_DEPTH} levels deep")
        self.located.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise SourceError(self.located.file, line, path, "YAML merge keys (<<) are not supported")
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != STR_TAG:
                    raise SourceError(self.located.file, line, path, "keys must be plain strings")
                key = key_node.value
                if key in result:
                    first = self.located.lines.get(path + (key,))
                    raise SourceError(
                        self.located.file, key_node.start_mark.line + 1, path + (key,),
                        f"duplicate key (first defined on line {first})",
                    )
                self.located.lines[path + (key,)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as exc:
            raise SourceError(self.located.file, node.start_mark.line + 1, path, f"invalid value: {exc}") from None
