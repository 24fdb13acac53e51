"""Secrets delivered as files (app.yaml `secret_files`), as the user-data needs them. Pure data, no I/O.

Like an env secret, a secret file is fetched by reference each time the container starts (on EC2 with the
instance role) and its value is never rendered: the user-data writes it on tmpfs (umask 077, then the declared
mode and owner) and binds it read-only into the container (templates/user-data.sh.j2, "secret files").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..spec.grammar import char_problem, parse_secret

if TYPE_CHECKING:
    from ..spec.model import ServiceSpec

# A file name in the instance's directory of secret files: spec/model.py's grammar of secret_files' names.
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
ID_MAX = 2**31 - 1


@dataclass(frozen=True)
class SecretFile:
    """One secret file: where its value is read (kind, id, key as in user_data.Secret) and how it is delivered."""

    name: str
    kind: str  # "ssm" | "secretsmanager"
    id: str  # parameter name or secret name
    key: str | None  # JSON key inside a Secrets Manager secret
    path: str  # absolute path inside the container
    mode: int = 0o400
    uid: int | None = None
    gid: int | None = None

    @property
    def mode_text(self) -> str:
        """The mode as chmod takes it, e.g. 0400."""
        return f"0{self.mode:03o}"

    @property
    def owner(self) -> str:
        """The owner as chown takes it: UID, UID:GID, :GID, or "" (root's, as written)."""
        if self.uid is None and self.gid is None:
            return ""
        return ("" if self.uid is None else str(self.uid)) + ("" if self.gid is None else f":{self.gid}")


def secret_files_of(service: ServiceSpec) -> tuple[SecretFile, ...]:
    """A service's secret files, by name."""
    out = []
    for name, spec in sorted(service.secret_files.items()):
        kind, ident, key = parse_secret(spec.ref)
        out.append(SecretFile(name, kind, ident, key, service.secret_file_path(name), spec.mode, spec.uid, spec.gid))
    return tuple(out)


def check_secret_files(files: tuple[SecretFile, ...]) -> None:
    """What the template relies on (a name is a file name, a path one field of docker's -v spec); the spec
    checks the same at app.yaml's lines, this guards the renderer. Raises ValueError naming the file."""

    def fail(name: object, message: str) -> None:
        raise ValueError(f"user-data: secret file {name!r}: {message}")

    names: set[str] = set()
    paths: set[str] = set()
    for f in files:
        if not isinstance(f.name, str) or not FILE_NAME_RE.fullmatch(f.name):
            fail(f.name, "the name must be letters, digits, '_', '.' and '-', starting with a letter or digit")
        if f.name in names:
            fail(f.name, "is listed twice")
        names.add(f.name)
        if f.kind not in ("ssm", "secretsmanager"):
            fail(f.name, f"unknown kind {f.kind!r}")
        for label, text in (("id", f.id), ("key", f.key or "")):
            if not isinstance(text, str) or "\x00" in text:
                fail(f.name, f"its {label} must be text without NUL characters")
        if not isinstance(f.path, str) or not f.path.startswith("/") or ":" in f.path or char_problem(f.path):
            fail(f.name, f"the path {f.path!r} must be absolute, printable and without ':'")
        if f.path in paths:
            fail(f.name, f"another secret file is mounted at {f.path}")
        paths.add(f.path)
        if isinstance(f.mode, bool) or not isinstance(f.mode, int) or not 0 <= f.mode <= 0o777:
            fail(f.name, f"the mode {f.mode!r} must be a file mode between 0000 and 0777")
        for label, value in (("uid", f.uid), ("gid", f.gid)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= ID_MAX):
                fail(f.name, f"the {label} {value!r} must be a number from 0 to {ID_MAX}")
