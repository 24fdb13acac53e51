"""Compose's variables: `${VAR}` interpolation and dotenv files (`.env`, `env_file`).

Interpolation follows the Compose Specification's rules (12-interpolation.md): `$VAR` and `${VAR}`;
`${VAR:-default}` (unset or empty), `${VAR-default}` (unset); `${VAR:?err}` and `${VAR?err}` refuse;
`${VAR:+alt}` and `${VAR+alt}` (as compose itself accepts); defaults nest (`${A:-${B:-x}}`); `$$` is a
literal `$`; a `$` not followed by a name or `{` stays as it is. An unset variable without a default is
the empty string, with a warning. Pure: the variables are handed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A `${VAR:?err}` whose variable is missing, or text that is not a valid `${...}`."""


@dataclass
class Interpolator:
    """Substitutes variables from `variables`; remembers the names that were unset (for warnings)."""

    variables: Mapping[str, str]
    unset: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> str:
        out, i = self._expand(text, 0, closing=False)
        return out

    def _expand(self, text: str, i: int, closing: bool) -> tuple[str, int]:
        """Expand `text` from `i`; with `closing`, stop at the `}` that closes the enclosing `${`."""
        out: list[str] = []
        while i < len(text):
            char = text[i]
            if closing and char == "}":
                return "".join(out), i
            if char != "$":
                out.append(char)
                i += 1
                continue
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                value, i = self._braced(text, i + 2)
                out.append(value)
            else:
                match = NAME_RE.match(text, i + 1)
                if match:
                    out.append(self._lookup(match.group(0)) or "")
                    i = match.end()
                else:
                    out.append("$")
                    i += 1
        if closing:
            raise InterpolationError(f"invalid interpolation format in {text!r}: a '${{' is never closed")
        return "".join(out), i

    def _braced(self, text: str, i: int) -> tuple[str, int]:
        match = NAME_RE.match(text, i)
        if not match:
            raise InterpolationError(f"invalid interpolation format in {text!r}: '${{' must be followed by a "
                                     "variable name")
        name, i = match.group(0), match.end()
        if i < len(text) and text[i] == "}":
            return self._lookup(name) or "", i + 1
        op = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if op is None:
            raise InterpolationError(f"invalid interpolation format in {text!r} at ${{{name}: expected '}}', "
                                     "':-', '-', ':?', '?', ':+' or '+'")
        # The word after the operator is expanded only if used (a default naming an unset variable warns
        # only when it is taken), so parse it with a throwaway interpolator first to find its end.
        probe = Interpolator(self.variables)
        _, end = probe._expand(text, i + len(op), closing=True)
        word_text = text[i + len(op):end]
        value = self.variables.get(name)
        empty = value is None or (op.startswith(":") and value == "")
        if op in (":-", "-"):
            result = self(word_text) if empty else value
        elif op in (":+", "+"):
            result = self(word_text) if not empty else ""
        else:
            if empty:
                message = self(word_text) or f"variable {name} is {'unset' if value is None else 'empty'}"
                raise InterpolationError(f"required variable {name} is missing a value: {message}")
            result = value
        return result or "", end + 1

    def _lookup(self, name: str) -> Optional[str]:
        value = self.variables.get(name)
        if value is None and name not in self.unset:
            self.unset.append(name)
        return value


# --- dotenv files ------------------------------------------------------------------------------

_LINE_RE = re.compile(r"\s*(?:export\s+)?([^\s=#][^=]*?)\s*(?:=(.*))?\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$$"}


@dataclass
class DotenvEntry:
    name: str
    value: Optional[str]  # None: a bare NAME line (the value comes from the environment)
    line: int


def parse_dotenv(text: str, interpolate: Optional[Callable[[str, Mapping[str, str]], str]] = None,
                 raw: bool = False) -> list[DotenvEntry]:
    """`KEY=VALUE` lines: blank lines and `#` comments skipped, `export ` allowed, values unquoted (a ` #`
    starts a comment), 'single-quoted' (literal) or "double-quoted" (escapes, may span lines).
    `interpolate(text, known)` expands unquoted and double-quoted values, seeing the entries before.
    Raises ValueError naming the line for a line that is not an assignment."""
    entries: list[DotenvEntry] = []
    known: dict[str, str] = {}
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        start = n
        line = lines[n]
        n += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE_RE.match(line)
        if not match or not NAME_RE.fullmatch(match.group(1)) and "." not in match.group(1):
            raise ValueError(f"line {start + 1}: not a KEY=VALUE line: {line[:80]!r}")
        name, value = match.group(1), match.group(2)
        if value is None:
            entries.append(DotenvEntry(name, None, start + 1))
            continue
        value = value.strip()
        if raw:
            pass
        elif value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:]
            while quote not in _unescaped(body, quote) and n < len(lines):
                body += "\n" + lines[n]
                n += 1
            end = _closing(body, quote)
            if end is None:
                raise ValueError(f"line {start + 1}: the {quote} quote is never closed")
            value = body[:end]
            if quote == '"':
                value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value)
                value = interpolate(value, known) if interpolate else value
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            value = interpolate(value, known) if interpolate else value
        known[name] = value
        entries.append(DotenvEntry(name, value, start + 1))
    return entries


def _unescaped(body: str, quote: str) -> str:
    return body if quote == "'" else re.sub(r"\\.", "", body)


def _closing(body: str, quote: str) -> Optional[int]:
    i = 0
    while i < len(body):
        if quote == '"' and body[i] == "\\":
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return None
