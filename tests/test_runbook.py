"""`liftshift runbook` without AWS: golden runbooks (tests/data/runbook/*.md, *.json), the Markdown filters, a
template of one's own, and the CLI. The plan is made by the real planners from fixed facts (as test_plan does)
and handed to the pipeline in place of `prepare` (which would read AWS and build images); everything after it
is the command's own code.

Regenerate the golden files after an intended change with LIFTSHIFT_REGOLD=1 and read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from liftshift.cli import app
from liftshift.model import names
from liftshift.model.desired import ImageInfo, Registry, desired_stack
from liftshift.model.launch_template import Ami
from liftshift.model.observed import Observed
from liftshift.model.releases import Origin
from liftshift.plan.images import ImageWant, plan_images
from liftshift.plan.stack import plan_stack
from liftshift.runbook.markdown import code, md

DATA = Path(__file__).resolve().parent / "data" / "runbook"
REGOLD = os.environ.get("LIFTSHIFT_REGOLD") == "1"
REGION = "eu-west-1"
SUBNETS = ("subnet-aaaaaaaa", "subnet-bbbbbbbb")
WHO = Origin(by="ops@host", at="2026-11-30T15:00:00+00:00", commit="abc")


def fixed_prepare(spec, base, target):
    """What pipeline.prepare returns, from the real planners with fixed facts (no AWS, no build)."""
    registry = Registry("127.0.0.1:5000", is_ecr=False)
    images = {s: ImageInfo("sha256:" + "a" * 64, None) for s in spec.services}
    want = desired_stack(spec, account="123456789012", region=REGION, registry=registry, images=images,
                         amis={s: Ami("ami-12345678") for s in spec.services},
                         subnets={s: SUBNETS for s in spec.services}, vpc_ids={s: "vpc-1" for s in spec.services},
                         template_hash="t", zones={SUBNETS[0]: "eu-west-1a", SUBNETS[1]: "eu-west-1b"})
    wants = [ImageWant(s, names.repository(spec.name, s), registry.repository_uri(spec.name, s), images[s])
             for s in spec.services]
    steps = plan_images(spec.name, wants, Observed()) + plan_stack(want, Observed(), origin=WHO).steps
    return SimpleNamespace(spec=spec, want=want, steps=steps, warnings=[], notes=[])


@pytest.fixture
def offline(monkeypatch):
    """The runbook command with the fixed plan and no target; run from tests/data/runbook."""
    import liftshift.cli.runbook as command
    import liftshift.pipeline.prepare as prepare

    monkeypatch.setattr(prepare, "prepare", fixed_prepare)
    monkeypatch.setattr(command, "open_target", lambda spec, opts: None)
    monkeypatch.chdir(DATA)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["runbook", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def golden(name: str, text: str) -> None:
    path = DATA / name
    if REGOLD:
        path.write_text(text)
    assert path.exists(), f"no {path}: run with LIFTSHIFT_REGOLD=1 to write it"
    assert text == path.read_text(), f"{name} differs from the golden file (LIFTSHIFT_REGOLD=1 rewrites it)"


def test_one_stack_golden(offline):
    code_, out, err = run("shop/app.yaml")
    assert code_ == 0, err
    golden("shop.md", out)
    assert "a value" not in out and "never" not in out, "an env value is in the runbook"
    assert "`GREETING`" in out and "`STRIPE_KEY` ← `secretsmanager:shop/stripe:key`" in out
    assert "`liftshift cutover shop/app.yaml --service web --to 10%`" in out
    assert "`liftshift cutover shop/app.yaml --service web --to 50%`" in out
    assert "`liftshift cutover shop/app.yaml --service web --complete`" in out
    assert "`liftshift cutover shop/app.yaml --service web --back`" in out
    assert "`https://<load balancer address>:443/healthz`" in out
    # every planned step is listed, in the plan's order
    steps = fixed_prepare(*_load("shop/app.yaml"), None).steps
    rows = [line for line in out.split("## 4.")[1].split("## 5.")[0].splitlines() if line.startswith("| ") and
            line[2].isdigit()]
    assert len(rows) == len(steps) and all(f"`{s.name}`" in row for s, row in zip(steps, rows))


def test_migration_golden_in_wave_order(offline):
    code_, out, err = run("migration.yaml")
    assert code_ == 0, err
    golden("migration.md", out)
    assert out.index("### Stack `legacy-db` (wave data)") < out.index("### Stack `shop` (wave front)")
    # the stateful service moves in one step after its data is copied; no --to for it
    assert "--service db --to" not in out and "`liftshift cutover legacy-db/app.yaml --service db --complete`" in out
    assert "sudo tar -C /var/lib/liftshift/data/pgdata/volume -xpf -" in out
    assert "21 days" in out and "old-db.example.com" in out.split("## 9.")[1]


def test_json_is_the_same_document(offline):
    code_, out, err = run("migration.yaml", "-o", "json")
    assert code_ == 0, err
    golden("migration.json", out)
    assert "a value" not in out and "never" not in out, "an env value is in the JSON"
    data = json.loads(out)
    assert [w["name"] for w in data["waves"]] == ["data", "front"]
    assert [s["name"] for s in data["stacks"]] == ["legacy-db", "shop"]
    assert data["checked"] is False and data["failed_checks"] == 0
    from liftshift.runbook.render import render_runbook
    _, text, _ = run("migration.yaml")
    assert render_runbook(data) == text


def test_several_app_files_in_the_order_given(offline, tmp_path):
    out_file = tmp_path / "runbook.md"
    code_, out, err = run("shop/app.yaml", "legacy-db/app.yaml", "--out", str(out_file))
    assert code_ == 0, err
    assert out == "" and f"wrote {out_file}" in err
    text = out_file.read_text()
    assert text.index("### Stack `shop`") < text.index("### Stack `legacy-db`")
    code_, _, err = run("shop/app.yaml", "shop/app.yaml")
    assert code_ == 2 and "given twice" in err


def test_own_template_extends_the_default(offline, tmp_path):
    own = tmp_path / "ours.md.j2"
    own.write_text('{% extends "runbook.md.j2" %}\n{% block title %}# Change ACME-{{ stacks | length }}: '
                   '{{ title | md }}\n{% endblock %}\n{% block decommissioning %}\n(kept by the platform team)\n'
                   '{% endblock %}\n')
    code_, out, err = run("migration.yaml", "--template", str(own))
    assert code_ == 0, err
    assert out.startswith("# Change ACME-2: Shop to EC2\n") and "## 6. Cutover" in out
    assert "## 9." not in out and out.rstrip().endswith("(kept by the platform team)")
    same_name = tmp_path / "runbook.md.j2"  # beside liftshift's name: the prefix still reaches liftshift's own
    same_name.write_text('{% extends "liftshift/runbook.md.j2" %}{% block title %}# Ours\n{% endblock %}')
    code_, out, err = run("shop/app.yaml", "--template", str(same_name))
    assert code_ == 0 and out.startswith("# Ours\n") and "## 9." in out, err
    bad = tmp_path / "bad.md.j2"
    bad.write_text("{{ nothing_such }}\n")
    code_, _, err = run("migration.yaml", "--template", str(bad))
    assert code_ == 2 and "nothing_such" in err
    code_, _, err = run("migration.yaml", "--template", str(tmp_path / "missing.j2"))
    assert code_ == 2 and "no such template" in err


def test_markdown_filters():
    assert md("a|b") == "a\\|b" and md("*x* _y_ `z` <b> [l](u)") == "\\*x\\* \\_y\\_ \\`z\\` \\<b\\> \\[l\\](u)"
    assert md("one\ntwo") == "one two" and md("# not a heading") == "\\# not a heading" and md("1. x") == "1\\. x"
    assert md(None) == "" and md(3) == "3" and md("&amp; &") == "\\&amp; &"
    assert code("a|b") == "`a\\|b`" and code("x`y") == "``x`y``" and code("`a") == "`` `a ``" and code("") == ""
    assert code("l1\nl2") == "`l1 l2`"


def test_template_cells_never_break_a_table(offline, tmp_path):
    """Each table row of the golden runbooks has as many cells as its header (no stray | or line break)."""
    for name in ("shop.md", "migration.md"):
        columns = None
        for line in (DATA / name).read_text().splitlines():
            if not line.startswith("|"):
                columns = None
                continue
            cells = len(line.replace("\\|", "").split("|")) - 2
            if columns is None:
                columns = cells
            assert cells == columns, f"{name}: {line}"


def _load(file: str):
    from liftshift.spec.load import load_spec

    return load_spec(DATA / file)


def test_the_runbook_template_changes_no_config_hash(tmp_path):
    """Only the user-data templates are in every config hash: templates/runbook.md.j2 (or any other non-shell
    template) beside them replaces no instance on upgrade."""
    from liftshift.model.desired import templates_hash
    from liftshift.model.templating import templates_dir

    alone = tmp_path / "alone"
    alone.mkdir()
    for script in templates_dir().glob("*.sh.j2"):
        (alone / script.name).write_bytes(script.read_bytes())
    assert (templates_dir() / "runbook.md.j2").is_file()
    assert templates_hash(templates_dir()) == templates_hash(alone)


def test_the_json_golden_has_the_documented_shape():
    """`liftshift schema --output-of runbook` describes what `runbook -o json` prints."""
    import jsonschema

    from liftshift.output_schema import output_schema

    document = json.loads((Path(__file__).parent / "data" / "runbook" / "migration.json").read_text())
    jsonschema.validate(document, output_schema("runbook"))

