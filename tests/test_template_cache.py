"""Compiled templates kept between runs (model/templating.py, `_CompiledTemplates`): what a run renders is what it
would render without them, whatever the cache directory holds or allows."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from liftshift.model import templating
from liftshift.model.templating import make_environment, template_cache_dir, templates_dir

ROOT = Path(__file__).resolve().parent.parent


def render(template_dir: Path, cache_dir: Path | None, **variables) -> str:
    """t.sh.j2 rendered by a fresh environment, as a new run of liftshift makes."""
    return make_environment(template_dir, cache_dir).get_template("t.sh.j2").render(**variables)


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.cache")) if cache_dir.is_dir() else []


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    found = tmp_path / "templates"
    found.mkdir()
    (found / "t.sh.j2").write_text("# a comment the loader leaves out\necho {{ name | sh }}\n")
    return found


def test_a_second_run_uses_the_compiled_template(template_dir, tmp_path):
    cache = tmp_path / "cache" / "liftshift" / "jinja"
    assert render(template_dir, cache, name="a b") == "echo 'a b'\n"
    [entry] = entries(cache)
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0  # made for this user alone
    compiled = entry.read_bytes()
    used = []
    env = make_environment(template_dir, cache)
    original = env.compile
    env.compile = lambda *a, **k: used.append(a) or original(*a, **k)
    assert env.get_template("t.sh.j2").render(name="c") == "echo c\n"
    assert used == [] and entry.read_bytes() == compiled  # loaded, not compiled again


def test_a_changed_template_is_compiled_again_never_the_stale_code(template_dir, tmp_path):
    cache = tmp_path / "cache"
    assert render(template_dir, cache, name="x") == "echo x\n"
    (template_dir / "t.sh.j2").write_text("printf '%s\\n' {{ name | sh }}\n")
    assert render(template_dir, cache, name="x") == "printf '%s\\n' x\n"
    assert render(template_dir, cache, name="y") == "printf '%s\\n' y\n"


def test_the_same_template_in_another_directory_has_its_own_entry(template_dir, tmp_path):
    cache = tmp_path / "cache"
    other = tmp_path / "other"
    other.mkdir()
    (other / "t.sh.j2").write_text("exec {{ name | sh }}\n")
    assert render(template_dir, cache, name="x") == "echo x\n"
    assert render(other, cache, name="x") == "exec x\n"
    assert render(template_dir, cache, name="x") == "echo x\n"
    assert len(entries(cache)) == 2


def test_a_damaged_entry_is_compiled_again_and_replaced(template_dir, tmp_path):
    cache = tmp_path / "cache"
    render(template_dir, cache, name="x")
    [entry] = entries(cache)
    for damage in (b"", entry.read_bytes()[:40], b"j2 not a cache entry at all"):
        entry.write_bytes(damage)
        assert render(template_dir, cache, name="x") == "echo x\n"
        assert entry.read_bytes() != damage


def test_a_cache_directory_that_cannot_be_made_still_renders(template_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert render(template_dir, blocker / "liftshift" / "jinja", name="x") == "echo x\n"
    assert render(template_dir, blocker, name="x") == "echo x\n"  # the path is a file
    assert blocker.read_text() == "not a directory"


def test_an_unwritable_cache_directory_still_renders(template_dir, tmp_path):
    cache = tmp_path / "read-only"
    cache.mkdir(mode=0o500)
    if os.access(cache, os.W_OK):  # root writes anyway: a read-only file system is what stops it
        pytest.skip("this user may write to a read-only directory")
    assert render(template_dir, cache, name="x") == "echo x\n"
    assert entries(cache) == []


def test_a_read_only_file_system_still_renders(template_dir, tmp_path, monkeypatch):
    import jinja2.bccache

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(jinja2.bccache.tempfile, "NamedTemporaryFile", read_only)
    cache = tmp_path / "cache"
    assert render(template_dir, cache, name="x") == "echo x\n"
    assert render(template_dir, cache, name="y") == "echo y\n"
    assert entries(cache) == []


def validate(cache_home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liftshift.cli", "validate", str(ROOT / "stacks/hello/app.yaml")],
                          cwd=ROOT, env={**os.environ, "XDG_CACHE_HOME": str(cache_home)}, capture_output=True,
                          text=True, timeout=120)


def test_validate_keeps_the_compiled_user_data_template_and_the_next_run_loads_it(tmp_path):
    assert validate(tmp_path).returncode == 0
    [entry] = entries(tmp_path / "liftshift" / "jinja")
    before = entry.stat()
    assert validate(tmp_path).returncode == 0
    assert entries(tmp_path / "liftshift" / "jinja") == [entry]
    after = entry.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read, not written again


def test_an_unwritable_cache_directory_in_a_fresh_run_of_validate(tmp_path):
    """The whole command, with XDG_CACHE_HOME where nothing can be made (a file), exits 0 and writes nothing."""
    blocker = tmp_path / "cache-home"
    blocker.write_text("")
    run = validate(blocker)
    assert run.returncode == 0, run.stderr
    assert blocker.read_text() == ""


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_directory_others_may_write_to_is_neither_read_nor_written(template_dir, tmp_path, mode):
    """An entry is code that runs: one someone else could have put there is never loaded."""
    cache = tmp_path / "shared"
    render(template_dir, cache, name="x")
    [entry] = entries(cache)
    planted = entry.read_bytes().replace(b"echo ", b"eval ")  # same checksum and length, other code
    assert planted != entry.read_bytes()
    entry.write_bytes(planted)
    os.chmod(cache, mode)
    assert render(template_dir, cache, name="x") == "echo x\n"
    assert entry.read_bytes() == planted  # not rewritten there either


def test_a_symbolic_link_as_the_directory_is_not_used(template_dir, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert render(template_dir, link, name="x") == "echo x\n"
    assert entries(real) == []


def test_the_user_data_renders_the_same_compiled_loaded_or_uncached(monkeypatch, tmp_path):
    from test_render import full_ctx, hostile_ctx

    from liftshift.model.user_data import render_user_data

    cache = tmp_path / "cache"
    contexts = [full_ctx(tmp_path), hostile_ctx(tmp_path), hostile_ctx(tmp_path, registry_is_ecr=True)]
    renders = {}
    for run, cache_dir in (("compiles", cache), ("loads", cache), ("uncached", None)):
        env = make_environment(templates_dir(), cache_dir)
        monkeypatch.setattr(templating, "_environment", lambda env=env: env)  # a new run's environment
        renders[run] = [render_user_data(c) for c in contexts]
    assert len(entries(cache)) == 1
    assert renders["compiles"] == renders["loads"] == renders["uncached"]


def test_the_cache_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert template_cache_dir() == tmp_path / "liftshift" / "jinja"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the XDG spec: relative paths are ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert template_cache_dir() == tmp_path / "home" / ".cache" / "liftshift" / "jinja"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert template_cache_dir() == tmp_path / "home" / ".cache" / "liftshift" / "jinja"
