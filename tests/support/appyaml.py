"""Writing app.yaml files and asserting how they are refused, for the spec tests.

Shared by tests/test_spec.py (load_spec raises SpecError at a line and key) and
tests/test_validate_hardening.py (`liftshift validate` exits 2 with one located line on stderr).
"""
from __future__ import annotations

from pathlib import Path

import pytest

HEAD = "version: 1\nname: shop\nservices:\n  web:\n"  # service body starts on line 5


def top(*lines: str) -> str:
    """A file of these lines."""
    return "".join(f"{line}\n" for line in lines)


def svc(*body: str) -> str:
    """Stack shop with one service, web, whose body lines start on line 5."""
    return HEAD + "".join(f"    {line}\n" for line in body)


def app_repo(tmp_path: Path) -> Path:
    """A git work tree (marked by .git) with build contexts web/ (a Dockerfile) and empty/ (none), a
    directory outside it (with a Dockerfile) and a symlink, link, leading there."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "web").mkdir()
    (root / "web" / "Dockerfile").write_text("FROM busybox\n")
    (root / "empty").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM busybox\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    return root


def write(repo: Path, content: str | bytes) -> Path:
    """`content` as repo/app.yaml (bytes as they are, text as UTF-8 that may hold lone surrogates)."""
    path = repo / "app.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def assert_spec_error(path: Path, line: int | None, dotted: str, words: str) -> None:
    """load_spec(path) raises SpecError at `line` and key `dotted`, its message holding `words`, and
    `str(exc)` starts with "<file>:<line>:" (just "<file>:" for a whole-file problem)."""
    from liftshift.spec.errors import SpecError
    from liftshift.spec.load import load_spec

    with pytest.raises(SpecError) as info:
        load_spec(path)
    exc = info.value
    assert (exc.line, exc.dotted) == (line, dotted), str(exc)
    assert words in exc.message, str(exc)
    assert str(exc).startswith(f"{path}:{line}:" if line else f"{path}:"), str(exc)
    assert exc.file == str(path)


def validate(path: Path):
    """`liftshift validate path` through typer's CliRunner: the real command line."""
    from typer.testing import CliRunner

    from liftshift.cli.base import app

    return CliRunner().invoke(app, ["validate", str(path)])


def assert_refused(path: Path, words: str) -> None:
    """`liftshift validate` exits 2 without a traceback, `words` on stderr."""
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and words in result.stderr, result.stderr


def assert_validate_refuses(path: Path, line: int | None, dotted: str, words: str) -> None:
    """`liftshift validate` exits 2 (a SystemExit, never a traceback), prints nothing on stdout and one line
    on stderr: `error: <file>:<line>: <key>: ...` holding `words`."""
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}:{line}: {dotted + ': ' if dotted else ''}"), result.stderr
    assert words in lines[0], result.stderr
