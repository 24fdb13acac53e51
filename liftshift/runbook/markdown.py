"""Escaping for Markdown, the runbook template's filters (the user-data's `sh` filter quotes for a shell; a
runbook needs its own rules).

`md` makes any text one line of literal inline Markdown, safe in a table cell: characters that would start
emphasis, links, code, HTML or a table column are backslash-escaped (CommonMark: "Any ASCII punctuation
character may be backslash-escaped"), line breaks become spaces. `code` makes a code span that holds the
text exactly: a fence longer than any run of backticks inside (CommonMark "Code spans"), and `|` written
`\\|`, which GitHub Flavored Markdown requires inside table cells even in code spans (GFM spec, "Tables").
"""

from __future__ import annotations

import re
from typing import Any

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~]|&(?=#?[A-Za-z0-9]+;))")
_LINE_START = re.compile(r"^(\s*)([-=+#]|\d+(?=[.)]))")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return " ".join(text.replace("\x00", "").split()) if ("\n" in text or "\r" in text or "\t" in text) else text


def md(value: Any) -> str:
    """Literal text for inline Markdown and table cells. Only what could start markup is escaped (emphasis,
    code, links, HTML, strikethrough, a column; a list, heading or entity where it would make one), so the
    Markdown stays readable as plain text too."""
    text = _SPECIAL.sub(r"\\\1", _text(value))
    return _LINE_START.sub(_line_start, text)


def _line_start(match: re.Match) -> str:
    space, what = match.group(1), match.group(2)
    if what[0].isdigit():  # "1." starts a list: escape its dot or parenthesis
        return space + what + "\\"
    return space + "\\" + what


def code(value: Any, table: bool = True) -> str:
    """An inline code span showing `value` exactly; table-safe unless `table` is false (outside a table a code
    span shows a backslash literally, so `| code(false)` there)."""
    text = _text(value).replace("|", "\\|") if table else _text(value)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def mark(ok: Any) -> str:
    """A check's result: ✓ passed, ✗ failed, ☐ to check by hand (not run, or AWS would not say)."""
    return "✓" if ok is True else "✗" if ok is False else "☐"
