"""Build once, promote the digest: `build --push`, then `deploy --image SERVICE=REF` in this stack and another,
against moto (server mode), the real Docker engine and the test registry playing ECR."""

from __future__ import annotations

import contextlib
import json
import shutil

import jsonschema
import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from liftshift.output_schema import output_schema
from liftshift.pipeline.destroy import destroy
from liftshift.progress import Progress
from liftshift.spec.image_override import BadImageOverride, parse_image_overrides
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged
from support.registry import registry_digest

UNBUILDABLE = "FROM busybox:1.36\nRUN echo 'promotion must not build' && exit 1\n"


def run(*argv: str):
    result = CliRunner().invoke(app, list(argv))
    return result


def run_json(*argv: str) -> dict:
    """The command's -o json document, checked against its documented schema (`schema --output-of`)."""
    result = run(*argv, "-o", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    document = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(output_schema(argv[0]))
    assert [e.message for e in validator.iter_errors(document)] == [], argv[0]
    return document


@pytest.fixture
def own_image(stack_dir, unique):
    """The stack's image made unique to this test: other tests on the same engine build stacks/hello too, and
    untagging their copy of an identical image would delete ours between build and push."""
    (stack_dir / "site" / "test.txt").write_text(unique)
    return stack_dir


@pytest.fixture
def stacks(deploy_env):
    """App.yaml files whose stacks are destroyed at the end, even when the test fails."""
    made = []
    yield made
    for app_yaml in made:
        with contextlib.suppress(Exception):
            spec, _ = load_spec(app_yaml)
            destroy(spec, aws_target(None, None, Progress()), keep_images=False)


def second_stack(stack_dir, tmp_path, name: str):
    """A copy of the stack under another name ("production") that cannot be built."""
    copy = tmp_path / name
    shutil.copytree(stack_dir, copy)
    text = (copy / "app.yaml").read_text()
    (copy / "app.yaml").write_text("\n".join(f"name: {name}" if line.startswith("name:") else line
                                             for line in text.splitlines()) + "\n")
    (copy / "Dockerfile").write_text(UNBUILDABLE)
    return copy / "app.yaml"


def test_build_push_then_promote_the_digest_to_staging_and_production(deploy_env, own_image, stack_dir, unique, stacks,
                                                                      docker_client, tmp_path):
    registry = deploy_env
    app_yaml = stack_dir / "app.yaml"
    stacks.append(app_yaml)

    built = run_json("build", str(app_yaml), "--push")
    web = built["services"]["web"]
    assert built["pushed"] and built["changed"]
    assert web["digest"].startswith("sha256:") and web["reference"] == f"{registry.host}/{unique}/web@{web['digest']}"
    assert registry_digest(registry.host, f"{unique}/web", web["tag"]) == web["digest"]
    assert docker_client.images.get(web["image_id"]).id == web["image_id"]
    assert not stack_tagged(unique).get("instances")  # built and pushed, nothing provisioned

    again = run_json("build", str(app_yaml), "--push")  # idempotent: the registry has the tag
    assert not again["changed"] and again["services"]["web"]["digest"] == web["digest"]

    (stack_dir / "Dockerfile").write_text(UNBUILDABLE)  # from here on, any build fails
    assert run("plan", str(app_yaml)).exit_code != 0

    plan = run_json("plan", str(app_yaml), "--image", f"web={web['reference']}")
    assert plan["steps"] and all(s["action"] != "push" for s in plan["steps"])  # the registry holds that digest

    staging = run_json("deploy", str(app_yaml), "--image", f"web={web['reference']}")
    served = staging["services"]["web"]
    assert served["digest"] == web["digest"] and served["image"] == web["digest"]
    assert served["reference"] == web["reference"]
    assert [i["state"] for i in served["instances"]] == ["running"]

    # Production: another stack, its own repository, the image pulled from the registry (not from this engine).
    docker_client.images.remove(web["image_id"], force=True)
    prod_name = unique + "prod"
    prod_yaml = second_stack(stack_dir, tmp_path, prod_name)
    stacks.append(prod_yaml)
    plan = run_json("plan", str(prod_yaml), "--image", f"web={served['reference']}")
    pushes = [s for s in plan["steps"] if s["action"] == "push"]
    assert len(pushes) == 1
    assert served["reference"] in pushes[0]["detail"] and "not built" in pushes[0]["detail"]

    production = run_json("deploy", str(prod_yaml), "--image", f"web={served['reference']}")
    promoted = production["services"]["web"]
    assert promoted["digest"] == web["digest"] and promoted["image"] == web["digest"]
    assert promoted["reference"] == f"{registry.host}/{prod_name}/web@{web['digest']}"
    assert registry_digest(registry.host, f"{prod_name}/web", web["tag"]) == web["digest"]
    assert [i["state"] for i in promoted["instances"]] == ["running"]

    # Promoting the same digest again changes nothing.
    repeat = run_json("deploy", str(prod_yaml), "--image", f"web={served['reference']}")
    assert not repeat["changed"] and repeat["services"]["web"]["digest"] == web["digest"]


def test_a_tag_reference_is_promoted_with_the_digest_it_names(deploy_env, own_image, stack_dir, unique, stacks):
    registry = deploy_env
    app_yaml = stack_dir / "app.yaml"
    stacks.append(app_yaml)
    web = run_json("build", str(app_yaml), "--push")["services"]["web"]
    (stack_dir / "Dockerfile").write_text(UNBUILDABLE)
    by_tag = f"{registry.host}/{unique}/web:{web['tag']}"
    report = run_json("deploy", str(app_yaml), "--image", f"web={by_tag}")
    assert report["services"]["web"]["digest"] == web["digest"]


@pytest.mark.parametrize("value,says", [
    ("nosuch=busybox:1.36", "has no service 'nosuch'"),
    ("web", "expected SERVICE=REF"),
    ("web=Not A Ref", "is not an image reference"),
    ("web=busybox", "names neither a tag nor a digest"),
    ("web={registry}/{unique}/missing:v1", "cannot pull it"),
    ("web={registry}/{unique}/web@sha256:" + "0" * 64, "cannot pull it"),
])
def test_bad_image_values_exit_2_naming_them_and_change_nothing(deploy_env, stack_dir, unique, value, says):
    value = value.format(registry=deploy_env.host, unique=unique)
    for command in ("plan", "deploy"):
        result = run(command, str(stack_dir / "app.yaml"), "--image", value)
        assert result.exit_code == 2, (result.output, result.exception)
        assert value in result.stderr and says in result.stderr, result.stderr
    assert not any(stack_tagged(unique).values())


def test_build_without_push_needs_no_aws_and_reports_the_image(docker_client, busybox_image, own_image, stack_dir,
                                                               monkeypatch, docker_cleanup):
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_PROFILE", "LIFTSHIFT_REGISTRY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    built = run_json("build", str(stack_dir / "app.yaml"), "--service", "web")
    web = built["services"]["web"]
    docker_cleanup.append(web["image_id"])
    assert not built["pushed"] and web["tag"] == "img-" + web["image_id"].split(":")[1]
    assert docker_client.images.get(web["image_id"]).attrs["Config"]["Cmd"][0] == "httpd"
    text = run("build", str(stack_dir / "app.yaml"))
    assert text.exit_code == 0 and f"web: image {web['image_id']}" in text.stdout
    missing = run("build", str(stack_dir / "app.yaml"), "--service", "nosuch")
    assert missing.exit_code == 2 and "'nosuch'" in missing.stderr


def test_image_overrides_are_parsed_against_the_services():
    got = parse_image_overrides(["web=reg.example:5000/a/web@sha256:" + "a" * 64, "api=reg/api:v1"], ["web", "api"])
    assert got["web"].digest == "sha256:" + "a" * 64 and got["web"].host == "reg.example:5000"
    assert got["api"].tag == "v1" and got["api"].digest is None
    assert parse_image_overrides(["web=busybox:1.36"], ["web"])["web"].host is None
    with pytest.raises(BadImageOverride, match="more than once"):
        parse_image_overrides(["web=a:1", "web=b:2"], ["web"])
