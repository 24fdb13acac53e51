"""migration.yaml: waves in dependency order, cycles refused, and every mistake one error naming file, line and
key (exit 2, nothing planned). Pure: no AWS, no Docker."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from liftshift.cli import app
from liftshift.errors import EXIT_BAD_INPUT
from liftshift.runbook.migration import MigrationError, Wave, is_migration, load_migration, ordered

APP = "version: 1\nname: {name}\nservices:\n  web: {{image: nginx, port: 80}}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.yaml").write_text(APP.format(name=name))
    return tmp_path


def write(tree: Path, text: str) -> Path:
    path = tree / "migration.yaml"
    path.write_text(text)
    return path


def test_waves_go_in_dependency_order_and_file_order_among_equals(tree):
    path = write(tree, """version: 1
name: m
waves:
  - {name: web, after: [api, db], stacks: [a/app.yaml]}
  - {name: api, after: [db], stacks: [b/app.yaml, c/app.yaml]}
  - {name: tools, stacks: [d/app.yaml]}
  - {name: db, stacks: []}
""".replace("stacks: []}", "stacks: [x.yaml]}"))
    (tree / "x.yaml").write_text(APP.format(name="x"))
    migration = load_migration(path)
    assert [w.name for w in migration.waves] == ["tools", "db", "api", "web"]
    assert [p.parent.name for p in migration.waves[2].stacks] == ["b", "c"]
    assert migration.warranty_days == 14 and migration.name == "m" and is_migration(path)
    assert not is_migration(tree / "a" / "app.yaml")


def test_a_cycle_is_refused_at_its_first_wave(tree):
    path = write(tree, """version: 1
name: m
waves:
  - name: one
    stacks: [a/app.yaml]
  - name: two
    after: [three]
    stacks: [b/app.yaml]
  - name: three
    after: [two]
    stacks: [c/app.yaml]
""")
    with pytest.raises(MigrationError) as caught:
        load_migration(path)
    assert caught.value.line == 7 and "cycle: two -> three -> two" in str(caught.value)
    assert str(path) in caught.value.explain()


def test_ordered_alone_refuses_a_cycle():
    waves = [Wave("a", ("b",), ()), Wave("b", ("a",), ())]
    with pytest.raises(Exception, match="cycle: a -> b -> a"):
        ordered(waves)


@pytest.mark.parametrize("text, line, words", [
    ("version: 1\nname: m\nwaves:\n  - {name: a, stacks: [a/app.yaml], afterr: []}\n", 4, "unknown field"),
    ("version: 2\nname: m\nwaves:\n  - {name: a, stacks: [a/app.yaml]}\n", 1, "version"),
    ("version: 1\nname: m\nwaves:\n  - name: a\n    stacks: [a/app.yaml, nope/app.yaml]\n", 5, "is not a file"),
    ("version: 1\nname: m\nwaves:\n  - {name: a, stacks: [a/app.yaml]}\n  - {name: a, stacks: [b/app.yaml]}\n",
     5, "named twice"),
    ("version: 1\nname: m\nwaves:\n  - {name: a, stacks: [a/app.yaml]}\n  - {name: b, stacks: [a/app.yaml]}\n",
     5, "listed twice"),
    ("version: 1\nname: m\nwaves:\n  - name: a\n    after: [bb]\n    stacks: [a/app.yaml]\n"
     "  - {name: b, stacks: [b/app.yaml]}\n", 5, "names no wave 'bb'"),
    ("version: 1\nname: m\nwaves:\n  - {name: a, after: [a], stacks: [a/app.yaml]}\n", 4, "after itself"),
    ("version: 1\nname: m\nwaves: []\n", 3, "at least 1"),
    ("version: 1\nname: m\nwarranty_days: -1\nwaves:\n  - {name: a, stacks: [a/app.yaml]}\n", 3, "warranty_days"),
    ("version: 1\nwaves:\n  - {name: a, stacks: [a/app.yaml]}\n", 1, "name: is required"),
    ("version: 1\nname: m\nwaves:\n  - {name: Bad Name, stacks: [a/app.yaml]}\n", 4, "wave name"),
])
def test_mistakes_are_located(tree, text, line, words):
    path = write(tree, text)
    with pytest.raises(MigrationError) as caught:
        load_migration(path)
    assert caught.value.line == line, caught.value.explain()
    assert words in caught.value.explain(), caught.value.explain()
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_the_command_exits_2_naming_the_line_before_planning(tree, monkeypatch):
    import liftshift.pipeline.prepare as prepare

    def refuse(*_args):
        raise AssertionError("planned despite bad input")

    monkeypatch.setattr(prepare, "prepare", refuse)
    path = write(tree, "version: 1\nname: m\nwaves:\n  - {name: a, after: [a], stacks: [a/app.yaml]}\n")
    result = CliRunner().invoke(app, ["runbook", str(path)])
    assert result.exit_code == 2 and f"{path}:4" in result.output and "after itself" in result.output
    (tree / "b" / "app.yaml").write_text(APP.format(name="a"))  # two files, one stack name
    path = write(tree, "version: 1\nname: m\nwaves:\n  - {name: a, stacks: [a/app.yaml, b/app.yaml]}\n")
    monkeypatch.setattr(prepare, "prepare", lambda spec, base, target: None)
    import liftshift.pipeline.describe as describe

    monkeypatch.setattr(describe, "plan_json", lambda prepared: {"steps": []})
    monkeypatch.setattr("liftshift.cli.runbook.open_target", lambda spec, opts: None)
    result = CliRunner().invoke(app, ["runbook", str(path)])
    assert result.exit_code == 2 and "stack 'a' is also" in result.output
