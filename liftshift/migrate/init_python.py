"""`liftshift init` for a Python app: its framework, entry point, port, health path and data. Pure.

Recognised by requirements.txt, pyproject.toml, setup.py, manage.py, or a Python file with an entry point:
Django (manage.py and a wsgi.py), FastAPI, Flask, a plain WSGI callable (`application`), a plain ASGI
callable (`async def app(scope, ...)`), or a script that serves itself (`if __name__ == "__main__":`).
A framework app is served by gunicorn (WSGI) or uvicorn (ASGI), installed in the image when the
requirements do not name it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from .init_scan import (WRITTEN_MARK, Guess, Scan, dockerignore_lines, env_reads, health_path, port_default,
                        propose_data, secret_env_notes, unit_settings)

BASE_IMAGE = "python:3.12-slim"
MAIN_RE = re.compile(r"""^if\s+__name__\s*==\s*["']__main__["']\s*:""", re.M)
SERVES_RE = re.compile(r"serve_forever|make_server|HTTPServer|\.run\(|uvicorn\.run|web\.run_app|serve\(")
FLASK_RE = re.compile(r"^(\w+)\s*=\s*(?:flask\.)?Flask\(", re.M)
FASTAPI_RE = re.compile(r"^(\w+)\s*=\s*(?:fastapi\.)?FastAPI\(", re.M)
WSGI_RE = re.compile(r"^(?:application\s*=|def\s+application\s*\(\s*environ)", re.M)
ASGI_RE = re.compile(r"^async\s+def\s+(app|application)\s*\(\s*scope", re.M)
ENTRY_NAMES = ("app.py", "main.py", "server.py", "wsgi.py", "asgi.py", "application.py", "run.py", "web.py")
REQUIREMENT_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.M)


def recognise(scan: Scan) -> bool:
    return any(scan.has(f) for f in ("requirements.txt", "pyproject.toml", "setup.py", "manage.py", "Pipfile")) \
        or bool(scan.top("*.py"))


def requirements(scan: Scan) -> set[str]:
    names: set[str] = set()
    for line in scan.read("requirements.txt").splitlines():
        match = REQUIREMENT_RE.match(line)
        if match and not line.lstrip().startswith(("#", "-")):
            names.add(match.group(1).lower().replace("_", "-"))
    text = scan.read("pyproject.toml")
    if text:
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}
        deps = list(data.get("project", {}).get("dependencies", []))
        deps += list(data.get("tool", {}).get("poetry", {}).get("dependencies", {}))
        for dep in deps:
            match = REQUIREMENT_RE.match(str(dep))
            if match:
                names.add(match.group(1).lower().replace("_", "-"))
    return names - {"python"}


def _module(path: str) -> str:
    return path[:-3].replace("/", ".")


def _sources(scan: Scan) -> dict[str, str]:
    """Top-level Python files and those one package deep, entry-like names first."""
    files = scan.top("*.py") + [f for f in scan.matching("*/*.py", depth=1)]
    files.sort(key=lambda f: (f.count("/"), Path(f).name not in ENTRY_NAMES, f))
    return {f: scan.read(f) for f in files}


def detect(scan: Scan) -> Guess:
    from ..errors import BadInput

    deps = requirements(scan)
    sources = _sources(scan)
    texts = list(sources.values())
    unit = unit_settings(scan)
    found = [f for f in ("requirements.txt", "pyproject.toml", "setup.py", "Pipfile") if scan.has(f)]
    guess = Guess("python", "", found=[f"Python ({', '.join(found) or 'no requirements file'})"],
                  base_image=BASE_IMAGE, port=8000)
    server_dep = None
    django_wsgi = [f for f in scan.matching("*/wsgi.py", depth=1) if scan.has("manage.py")]
    flask = [(f, m.group(1)) for f, t in sources.items() for m in [FLASK_RE.search(t)] if m]
    fastapi = [(f, m.group(1)) for f, t in sources.items() for m in [FASTAPI_RE.search(t)] if m]
    wsgi = [f for f, t in sources.items() if WSGI_RE.search(t)]
    asgi = [(f, m.group(1)) for f, t in sources.items() for m in [ASGI_RE.search(t)] if m]
    mains = [f for f, t in sources.items() if "/" not in f and MAIN_RE.search(t)]

    def served(entry: str) -> Optional[str]:
        return entry if entry in mains and SERVES_RE.search(sources[entry]) else None

    if "django" in deps or django_wsgi:
        if not django_wsgi:
            raise BadInput(f"{scan.root}: requirements name Django but there is no manage.py and <project>/wsgi.py")
        target = f"{_module(django_wsgi[0])}:application"
        guess.summary = f"Django project ({django_wsgi[0]})"
        server_dep, guess.command = "gunicorn", ["gunicorn", "--bind", "0.0.0.0:8000", target]
        guess.checks.append("Django: set ALLOWED_HOSTS for the instance's address or DNS name, DEBUG off; run "
                            "migrations (python manage.py migrate) and collectstatic as your release needs")
    elif fastapi:
        entry, var = fastapi[0]
        guess.summary = f"FastAPI app `{var}` in {entry}"
        server_dep, guess.command = "uvicorn", ["uvicorn", f"{_module(entry)}:{var}", "--host", "0.0.0.0",
                                                "--port", "8000"]
    elif flask and not served(flask[0][0]):
        entry, var = flask[0]
        guess.summary = f"Flask app `{var}` in {entry}"
        server_dep, guess.command = "gunicorn", ["gunicorn", "--bind", "0.0.0.0:8000", f"{_module(entry)}:{var}"]
    elif wsgi and not served(wsgi[0]):
        guess.summary = f"WSGI application in {wsgi[0]}"
        server_dep, guess.command = "gunicorn", ["gunicorn", "--bind", "0.0.0.0:8000",
                                                 f"{_module(wsgi[0])}:application"]
    elif asgi and not served(asgi[0][0]):
        entry, var = asgi[0]
        guess.summary = f"ASGI application `{var}` in {entry}"
        server_dep, guess.command = "uvicorn", ["uvicorn", f"{_module(entry)}:{var}", "--host", "0.0.0.0",
                                                "--port", "8000"]
    elif mains:
        entry = next((m for m in mains if served(m)), mains[0])
        kinds = ("Flask" if any(f == entry for f, _ in flask) else "WSGI" if entry in wsgi else "")
        guess.summary = f"a {kinds + ' ' if kinds else ''}Python program that serves itself ({entry})"
        guess.command = ["python", entry]
        reads = env_reads(sources[entry])
        guess.port = port_default(reads) or _literal_port(sources[entry]) or 8080
        if not served(entry):
            guess.checks.append(f"{entry} has a __main__ block but no server call was recognised: check that it "
                                "listens on 0.0.0.0 and serves HTTP")
    else:
        raise BadInput(f"{scan.root}: found Python files but no entry point: looked for Django (manage.py), FastAPI "
                       "or Flask apps, a WSGI `application`, an ASGI `app`, or a script with "
                       "`if __name__ == \"__main__\":`")
    if server_dep and server_dep not in deps:
        guess.checks.append(f"{server_dep} is not in the requirements: the Dockerfile installs it; pin it in "
                            "requirements.txt")

    reads: dict[str, Optional[str]] = {}
    for text in texts:
        for name, default in env_reads(text).items():
            reads.setdefault(name, default)
    if unit:
        unit.note(guess)
        if unit.env.get("PORT", "").isdigit() and "PORT" in reads:
            guess.port = int(unit.env["PORT"])
    if "PORT" in reads:
        guess.env["PORT"] = str(guess.port)
        guess.env_notes["PORT"] = "the app reads PORT"
    if guess.command and guess.command[0] in ("gunicorn", "uvicorn") and "PORT" not in reads:
        guess.port = 8000
    uses_sqlite = any("sqlite3" in t or "sqlite://" in t for t in texts)
    propose_data(guess, reads, unit, uses_sqlite, scan)
    if unit:
        secret_env_notes(guess, {k: v for k, v in unit.env.items() if k != "PORT"}, unit.file)
    guess.health_path = health_path(texts) or "/"
    if guess.health_path == "/":
        guess.checks.append("no health endpoint (/healthz, /health ...) was found: the health check GETs /; add a "
                            "cheap /healthz and set health.path")
    guess.health_command = ["python", "-c", "import urllib.request; urllib.request.urlopen("
                            f"'http://127.0.0.1:{guess.port}{guess.health_path}', timeout=4)"]
    guess.found.append(guess.summary)
    guess.dockerignore = dockerignore_lines(scan, (".env",))
    guess.dockerfile = dockerfile(guess, scan, server_dep if server_dep and server_dep not in deps else None)
    return guess


def _literal_port(text: str) -> Optional[int]:
    match = re.search(r"(?:make_server|HTTPServer|\.run)\([^)]*?(?:port\s*=\s*)?\b(\d{4,5})\b", text)
    return int(match.group(1)) if match and int(match.group(1)) < 65536 else None


def dockerfile(guess: Guess, scan: Scan, extra_dep: Optional[str]) -> str:
    lines = [f"{WRITTEN_MARK} for {guess.summary}. Check it before the first deploy.",
             f"FROM {guess.base_image}",
             "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1",
             "WORKDIR /app"]
    if scan.has("requirements.txt"):
        lines += ["COPY requirements.txt ./",
                  "RUN pip install --no-cache-dir -r requirements.txt" + (f" {extra_dep}" if extra_dep else "")]
        lines.append("COPY . .")
    elif scan.has("pyproject.toml") or scan.has("setup.py"):
        lines += ["COPY . .", "RUN pip install --no-cache-dir ." + (f" {extra_dep}" if extra_dep else "")]
    else:
        lines.append("COPY . .")
        if extra_dep:
            lines.append(f"RUN pip install --no-cache-dir {extra_dep}")
    for path in guess.data.values():
        lines.append(f"RUN mkdir -p {path} && chown 10001:10001 {path}")
    lines += ["USER 10001", f"EXPOSE {guess.port}", "CMD " + _exec_form(guess.command)]
    return "\n".join(lines) + "\n"


def _exec_form(words: list[str]) -> str:
    import json

    return json.dumps(words)
