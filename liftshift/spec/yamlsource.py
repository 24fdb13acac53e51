"""Read YAML into plain data while remembering the line of every key.

PyYAML's composer already knows where each node starts; we keep that so every
error can name the file, the line and the key path. We build the data from the
node tree ourselves (rather than `yaml.safe_load`) to also reject duplicate
keys and alias bombs, which the stock loader accepts silently.

Plain scalars are resolved with the YAML 1.2 core schema, not PyYAML's 1.1 rules:
only true/false are booleans (`NO`, `yes`, `on` stay strings), integers are
decimal, 0o octal or 0x hex (`22:22` is not sexagesimal, `0022` is not octal:
a leading zero leaves the text a string), and there are no implicit timestamps.
The text the user wrote for a plain scalar that became a bool or a number is
kept in `LocatedData.texts`, so fields that are strings can use it unchanged
(`1.10` stays `1.10`).
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), except that a
# decimal with a leading zero (`0022`, octal in YAML 1.1) is left a string rather than guessed.
NULL_RE = re.compile(r"~|null|Null|NULL|")
BOOL_RE = re.compile(r"true|True|TRUE|false|False|FALSE")
INT_RE = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+")
FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
                      r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")


class CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema resolution of plain scalars."""

    yaml_implicit_resolvers: dict = {}


for _tag, _regexp, _first in [
    (BOOL_TAG, BOOL_RE, "tTfF"),
    (INT_TAG, INT_RE, "-+0123456789"),
    (FLOAT_TAG, FLOAT_RE, "-+0123456789."),
    (NULL_TAG, NULL_RE, ["~", "n", "N", ""]),
    (MERGE_TAG, re.compile(r"<<"), "<"),  # refused with a message below, as before
]:
    CoreLoader.add_implicit_resolver(_tag, re.compile(rf"(?:{_regexp.pattern})\Z"), list(_first))

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
            text = str(part)
            if not text.isprintable():  # a key holding a newline or NUL is shown escaped, on one line
                text = repr(text)
            out += ("." if out else "") + text
    return out


@dataclass
class LocatedData:
    """Plain data from a YAML file and the line where each key path starts."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # The text of each plain scalar that became a bool or a number, as the user wrote it.
    texts: dict[Path_, str] = field(default_factory=dict)
    # Of those, the numbers YAML 1.1 would have read otherwise (`1e3` and `0o17` were strings): where a
    # setting needs a number they are refused rather than guessed, elsewhere they stay the text.
    ambiguous: set = field(default_factory=set)
    # Data merged from several files (an environment's overlay, spec/overlay.py): the file of each key path
    # that came from another file than `file`. Empty for data read from one file.
    files: dict[Path_, str] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the longest known prefix of `path`."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def file_of(self, path: Path_) -> str:
        """The file that set the longest known prefix of `path` (the one whose line `line_of` gives)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.files.get(path, self.file)
            path = path[:-1]
        return self.file

    def error(self, path: Path_, message: str) -> SourceError:
        return SourceError(self.file_of(path), self.line_of(path), path, message)


def load_yaml(path: Path, display_name: str | None = None) -> LocatedData:
    """Load one YAML document from `path`, or raise SourceError."""
    name = display_name or str(path)
    raw = read_limited(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(name, line, (), "is not valid UTF-8 text") from None
    return load_yaml_text(text, name)


def read_limited(path: Path, name: str) -> bytes:
    """The file's bytes, refusing before reading anything that is not a regular file of at most
    MAX_FILE_BYTES (a FIFO would block, /dev/zero never ends). The checks are made on the opened
    file itself (fstat), so a file swapped after a check is judged as what is read."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it means nothing for regular files.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise SourceError(name, None, (), "file not found") from None
    except IsADirectoryError:
        raise SourceError(name, None, (), "is a directory, not a YAML file") from None
    except OSError as exc:
        raise SourceError(name, None, (), f"cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(name, None, (), "is a directory, not a YAML file")
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else
                    "a character device" if stat.S_ISCHR(info.st_mode) else
                    "a block device" if stat.S_ISBLK(info.st_mode) else
                    "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise SourceError(name, None, (), f"is {kind}, not a regular file: app.yaml must be a file")
        if info.st_size > MAX_FILE_BYTES:
            raise SourceError(name, None, (), f"is {info.st_size} bytes; the limit is {MAX_FILE_BYTES}")
        chunks = []
        left = MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise SourceError(name, None, (), f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > MAX_FILE_BYTES:  # grew after fstat
        raise SourceError(name, None, (), f"is more than {MAX_FILE_BYTES} bytes; the limit is {MAX_FILE_BYTES}")
    return raw


def load_yaml_text(text: str, name: str) -> LocatedData:
    try:
        documents = list(yaml.compose_all(text, Loader=CoreLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(name, line, (), f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a raw NUL or other control character in the file itself
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise SourceError(name, line, (), f"invalid YAML: the file holds a control character ({char}), which "
                                          "YAML does not allow") from None
    except yaml.YAMLError as exc:
        raise SourceError(name, None, (), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise SourceError(name, None, (), "invalid YAML: nested too deeply") from None
    if len(documents) != 1 or documents[0] is None:
        raise SourceError(name, 1, (), "must hold exactly one YAML document (a mapping)")
    located = LocatedData(file=name, data=None)
    builder = Builder(located)
    located.data = builder.build(documents[0], ())
    return located


class Builder:
    """YAML nodes to plain data, recording the line of every key (compose_load.py uses it too)."""

    def __init__(self, located: LocatedData):
        self.located = located
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.resolver_1_1 = yaml.resolver.Resolver()

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
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in (STR_TAG, BOOL_TAG, INT_TAG,
                                                                                      FLOAT_TAG):
                    raise SourceError(self.located.file, line, path, "keys must be plain strings")
                if key_node.tag != STR_TAG:  # TRUE: or 8080: as a key is its text, like any other name
                    try:
                        self._scalar(key_node)
                    except (ValueError, OverflowError):
                        raise SourceError(self.located.file, line, path, "keys must be plain strings") from None
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
            value = self._scalar(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as exc:
            problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
            raise SourceError(self.located.file, node.start_mark.line + 1, path, f"invalid value: {problem}") from None
        if isinstance(node, yaml.ScalarNode) and node.style is None and isinstance(value, (bool, int, float)):
            self.located.texts[path] = node.value
            if not isinstance(value, bool) and not self._same_in_yaml_1_1(node.value, value):
                self.located.ambiguous.add(path)
        return value

    def _same_in_yaml_1_1(self, text: str, value: Any) -> bool:
        """Whether PyYAML's YAML 1.1 rules read the plain scalar `text` as the same `value`."""
        tag = self.resolver_1_1.resolve(yaml.ScalarNode, text, (True, False))
        try:
            old = self.constructor.construct_object(yaml.ScalarNode(tag, text))
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return False
        if isinstance(old, bool) or type(old) is not type(value):
            return False
        return old == value or (isinstance(old, float) and math.isnan(old) and math.isnan(value))

    def _scalar(self, node: yaml.Node) -> Any:
        """A scalar by the YAML 1.2 core schema; other tags (!!binary, !!timestamp...) as PyYAML builds them."""
        if not isinstance(node, yaml.ScalarNode):
            return self.constructor.construct_object(node)
        text, tag = node.value, node.tag
        if tag == STR_TAG:
            return text
        if tag == NULL_TAG:
            if not NULL_RE.fullmatch(text):
                raise ValueError(f"{text!r} is not null (~ or null)")
            return None
        if tag == BOOL_TAG:
            if not BOOL_RE.fullmatch(text):
                raise ValueError(f"{text!r} is not a boolean (true or false)")
            return text.lower() == "true"
        if tag == INT_TAG:
            if not INT_RE.fullmatch(text):
                raise ValueError(f"{text!r} is not an integer (decimal without leading zeros, 0o octal or 0x hex)")
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text, 10)
        if tag == FLOAT_TAG:
            if not FLOAT_RE.fullmatch(text) and not INT_RE.fullmatch(text):
                raise ValueError(f"{text!r} is not a number")
            lowered = text.lower()
            if lowered.endswith(".inf"):
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            if text.startswith(("0o", "0x")):
                return float(int(text[2:], 8 if text[1] == "o" else 16))
            return float(text)
        return self.constructor.construct_object(node)
