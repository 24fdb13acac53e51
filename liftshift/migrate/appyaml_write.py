"""Writing the imported app.yaml as text, with a comment beside each value that needs a decision.

A small emitter of our own rather than a YAML library: PyYAML's dumper drops comments, and keeping them
would need a round-trip library (ruamel.yaml) that liftshift does not depend on. app.yaml's shape is
fixed and small (mappings, lists, scalars), so the emitter only has to quote scalars safely: anything
that is not plainly a word is written double-quoted with YAML's escapes, and numbers only where app.yaml
wants a number. `tests/test_import_compose.py` reads every output back with spec/load.py.
"""

from __future__ import annotations

import re
from typing import Any

from .compose_map import Imported

INDENT = "  "
# A plain scalar that YAML 1.2 and 1.1 both read as this same string (no bool, null, number, or indicator).
PLAIN_RE = re.compile(r"[A-Za-z/_.](?:[A-Za-z0-9_./@+:-]*[A-Za-z0-9_./@+-])?")
NOT_PLAIN_RE = re.compile(r"(?i:y|yes|n|no|on|off|true|false|null|~|\.inf|\.nan)|.*[.]{2}.*|[0-9._+-]+")
FLOW_LISTS = ("command",)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if PLAIN_RE.fullmatch(text) and not NOT_PLAIN_RE.fullmatch(text):
        return text
    return quoted(text)


def quoted(text: str) -> str:
    """A YAML double-quoted scalar: every character that is not printable is escaped."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and char not in "\u2028\u2029\x85\ufeff":
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def key_text(key: str) -> str:
    return key if PLAIN_RE.fullmatch(key) and not NOT_PLAIN_RE.fullmatch(key) else quoted(key)


def comment_text(text: str) -> str:
    return "  # " + "".join(c if c.isprintable() else " " for c in text)


def render(imported: Imported) -> str:
    lines = [f"# {comment_text(line)[4:]}" for line in imported.header]
    _mapping(imported.app, (), 0, imported.comments, lines)
    return "\n".join(lines) + "\n"


def _mapping(data: dict[str, Any], path: tuple, depth: int, comments: dict[tuple, str], lines: list[str]) -> None:
    pad = INDENT * depth
    for key, value in data.items():
        here = path + (key,)
        note = comment_text(comments[here]) if here in comments else ""
        if value is None:  # a setting to decide on, written commented out
            lines.append(f"{pad}# {key}:{note}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key_text(key)}:{note}")
            _mapping(value, here, depth + 1, comments, lines)
        elif isinstance(value, list) and key in FLOW_LISTS:
            lines.append(f"{pad}{key_text(key)}: [{', '.join(quoted(str(v)) for v in value)}]{note}")
        elif isinstance(value, list):
            lines.append(f"{pad}{key_text(key)}:{note}")
            lines.extend(f"{pad}{INDENT}- {scalar(item)}" + (comment_text(comments[here + (i,)])
                                                             if here + (i,) in comments else "")
                         for i, item in enumerate(value))
        else:
            lines.append(f"{pad}{key_text(key)}: {scalar(value)}{note}")
