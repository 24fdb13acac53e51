"""What `liftshift init` reads in an app directory, and the guess it makes of it. Pure: reading files only.

`Scan` lists the directory once (skipping virtualenvs, node_modules, .git ...) and reads small text files;
`unit_settings` reads an old server's systemd unit (`*.service`: Environment=, ExecStart=), the most
common record of how a non-containerised app ran; `env_reads` finds the environment variables a
program reads and their defaults. A `Guess` is what a kind's detector (init_python, init_kinds) makes
of it: everything `init` writes and prints, as data.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "env", ".tox", ".mypy_cache",
             ".pytest_cache", "target", "build", "dist", ".gradle", ".idea", ".vscode", "vendor"}
MAX_FILES = 20000  # entries listed at most: init run in a huge tree (a home directory) stays quick
MAX_READ = 256 * 1024  # bytes of one file read for detection: enough for any entry point, never a data file
HEALTH_PATHS = ("/healthz", "/health", "/healthcheck", "/health-check", "/livez", "/readyz", "/ready", "/ping",
                "/status")
DATA_DIR_VARS = re.compile(r"(?:(?:DATA|STATE|STORAGE|VAR|UPLOAD|UPLOADS|MEDIA)_(?:DIR|PATH|ROOT)|(?:DB|DATABASE)_DIR)$")
DATA_FILE_VARS = re.compile(r"(?:DB|DATABASE|SQLITE)(?:_FILE|_PATH|_NAME)?$")
SECRET_VARS = re.compile(r"(?i)(?:PASS(?:WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|AUTH)")
DATA_FILES = ("*.db", "*.sqlite", "*.sqlite3")
WRITTEN_MARK = "# Written by `liftshift init`"  # a Dockerfile init wrote: --force may write it again


@dataclass
class Guess:
    """An app as init understands it: what it found, what it guessed, what the user must check, and the
    Dockerfile (None when the app has its own)."""

    kind: str
    summary: str
    found: list[str] = field(default_factory=list)
    port: int = 8080
    publish: Optional[int] = 80
    command: list[str] = field(default_factory=list)
    health_path: str = "/"
    health_command: Optional[list[str]] = None
    env: dict[str, str] = field(default_factory=dict)
    env_notes: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)  # volume name -> path in the container
    base_image: str = ""
    build_image: Optional[str] = None
    dockerfile: Optional[str] = None
    dockerignore: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def guessed(self) -> dict:
        return {"port": self.port, "publish": self.publish, "command": self.command, "health_path": self.health_path,
                "health_command": self.health_command, "base_image": self.base_image,
                "build_image": self.build_image, "env": self.env, "data": self.data}


class Scan:
    """The app directory, listed once."""

    def __init__(self, root: Path):
        self.root = root
        self.files: list[str] = []  # relative POSIX paths, sorted
        self._walk(root, "", 0)
        self.files.sort()

    def _walk(self, directory: Path, prefix: str, depth: int) -> None:
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            return
        for entry in entries:
            if len(self.files) >= MAX_FILES:
                return
            rel = prefix + entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if depth < 4 and entry.name not in SKIP_DIRS and not entry.name.endswith(".egg-info"):
                    self._walk(entry, rel + "/", depth + 1)
            elif entry.is_file():
                self.files.append(rel)

    def has(self, name: str) -> bool:
        return name in self.files

    def top(self, pattern: str) -> list[str]:
        """Top-level files matching a glob."""
        return [f for f in self.files if "/" not in f and Path(f).match(pattern)]

    def matching(self, pattern: str, depth: int = 4) -> list[str]:
        return [f for f in self.files if f.count("/") <= depth and Path(f).match(pattern)]

    def read(self, name: str) -> str:
        try:
            with open(self.root / name, "rb") as handle:
                return handle.read(MAX_READ).decode("utf-8", "replace")
        except OSError:
            return ""

    def data_files(self) -> list[str]:
        return [f for f in self.files if any(Path(f).match(p) for p in DATA_FILES)]


@dataclass
class Unit:
    """The settings of an old server's systemd unit that say how the app ran."""

    file: str
    env: dict[str, str]
    exec_start: list[str]
    working_directory: Optional[str]
    user: Optional[str] = None

    def note(self, guess: Guess) -> None:
        guess.found.append(f"a systemd unit ({self.file}: ExecStart {' '.join(self.exec_start) or '-'})")
        if self.user and self.user != "root":
            guess.checks.append(f"the old server ran the app as user {self.user} ({self.file}); the container runs "
                                "as an unprivileged user of the image (USER in the Dockerfile): files it must read "
                                "or write need that owner")


def unit_settings(scan: Scan) -> Optional[Unit]:
    """The first systemd service unit in the directory (top level or a deploy/ or systemd/ folder), if any."""
    for name in scan.matching("*.service", depth=2):
        text = scan.read(name)
        if "[Service]" not in text:
            continue
        env: dict[str, str] = {}
        exec_start: list[str] = []
        workdir = user = None
        for raw in text.splitlines():
            line = raw.strip()
            key, sep, value = line.partition("=")
            if not sep or line.startswith(("#", ";")):
                continue
            key, value = key.strip(), value.strip()
            try:
                words = shlex.split(value)
            except ValueError:
                continue
            if key == "Environment":
                for word in words:
                    name_, eq, val = word.partition("=")
                    if eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name_):
                        env[name_] = val
            elif key == "ExecStart" and words:
                exec_start = [w.lstrip("-@:+!") if i == 0 else w for i, w in enumerate(words)]
            elif key == "User" and words:
                user = words[0]
            elif key == "WorkingDirectory" and words:
                workdir = words[0].lstrip("-")
        return Unit(name, env, exec_start, workdir, user)
    return None


# os.environ.get("PORT", "8080"), os.getenv('DATA_DIR', './data'), os.environ["X"], process.env.PORT || 3000,
# System.getenv("PORT"), os.Getenv("PORT")
_ENV_READ_RES = (
    re.compile(r"""(?:environ\.get|getenv|environ\.setdefault)\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"""
               r"""(?:\s*,\s*(?:["']([^"'\n]*)["']|(\d+)))?"""),
    re.compile(r"""environ\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\]()()"""),
    re.compile(r"""process\.env\.([A-Za-z_][A-Za-z0-9_]*)(?:\s*(?:\|\||\?\?)\s*(?:["']([^"'\n]*)["']|(\d+)))?"""),
    re.compile(r"""(?:System\.getenv|os\.Getenv|os\.LookupEnv)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"()()"""),
)


def env_reads(text: str) -> dict[str, Optional[str]]:
    """The environment variables a program reads, with the default it gives each (None: none found)."""
    found: dict[str, Optional[str]] = {}
    for pattern in _ENV_READ_RES:
        for match in pattern.finditer(text):
            name, default = match.group(1), match.group(2) or match.group(3) or None
            if found.get(name) is None:
                found[name] = default
    return found


def health_path(texts: list[str]) -> Optional[str]:
    """The first conventional health path named as a string in the sources."""
    for path in HEALTH_PATHS:
        pattern = re.compile(r"""["'`]""" + re.escape(path) + r"""/?["'`]""")
        if any(pattern.search(t) for t in texts):
            return path
    return None


def port_default(reads: dict[str, Optional[str]]) -> Optional[int]:
    value = reads.get("PORT") or reads.get("HTTP_PORT") or reads.get("SERVER_PORT")
    return int(value) if value and value.isdigit() and 0 < int(value) < 65536 else None


def dockerignore_lines(scan: Scan, extra: tuple[str, ...] = ()) -> list[str]:
    """What the image must not carry: VCS, liftshift's own file, local databases (their data goes to a volume)."""
    lines = [".git", "app.yaml", "*.pyc", "__pycache__", ".venv", "venv", "node_modules", *extra]
    lines += [f for f in scan.data_files() if f not in lines]
    return list(dict.fromkeys(lines))


def propose_data(guess: Guess, reads: dict[str, Optional[str]], unit: Optional[Unit], uses_database_file: bool,
                 scan: Scan) -> None:
    """A data volume for a database file (SQLite) or a conventional data directory the app reads from env: on
    the old server it lived on the disk; in a container it must outlive the container (app.yaml `data:`)."""
    unit_env = unit.env if unit else {}
    dir_var = next((n for n in reads if DATA_DIR_VARS.fullmatch(n)), None)
    file_var = next((n for n in reads if DATA_FILE_VARS.fullmatch(n) and n != "DATABASE_URL"), None)
    local = scan.data_files()
    if dir_var:
        path = _absolute(unit_env.get(dir_var)) or "/data"
        guess.env[dir_var] = path
        guess.env_notes[dir_var] = f"the app keeps its data under {dir_var}: a data volume (data.data)"
    elif file_var:
        old = unit_env.get(file_var) or reads.get(file_var) or "app.db"
        path = (str(Path(old).parent) if _absolute(old) and str(Path(old).parent) != "/" else "/data")
        guess.env[file_var] = f"{path}/{Path(old).name}"
        guess.env_notes[file_var] = f"the app's database file: on the data volume mounted at {path}"
    elif uses_database_file or local:
        path = "/data"
        guess.checks.append("the app keeps a database file but reads no DATA_DIR/DB_PATH from the environment: "
                            "make it write under /data (the data volume), or its rows are lost with each container")
    else:
        return
    guess.data["data"] = path
    guess.found.append("a database file (SQLite)" if uses_database_file or local else f"a data directory ({dir_var})")
    where = f" ({', '.join(local)})" if local else ""
    guess.checks.append(f"copy the old server's data{where} into the data volume at {path} before the cutover "
                        "(init does not copy data; the volume starts empty)")


def _absolute(value: Optional[str]) -> Optional[str]:
    return value.rstrip("/") or None if value and value.startswith("/") and ".." not in value else None


def secret_env_notes(guess: Guess, env: dict[str, str], source: str) -> None:
    """Carry an old server's environment over, except values that look secret: those are named, never written."""
    for name, value in env.items():
        if name in guess.env:
            continue
        if SECRET_VARS.search(name):
            guess.checks.append(f"{source} sets {name}, which looks secret: its value is not written; store it "
                                f"(e.g. aws ssm put-parameter --type SecureString) and add it under secrets:")
            continue
        guess.env[name] = value
        guess.env_notes.setdefault(name, f"from {source}")
