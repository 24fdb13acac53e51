"""Environments (--env NAME / LIFTSHIFT_ENV): the overlay app.NAME.yaml deep-merged over app.yaml, errors at the
line of the file that set the value, and the environment in the stack's identity (NAME-ENV), so two
environments of one app.yaml share nothing on AWS (moto) and destroying one leaves the other."""

from __future__ import annotations

import textwrap
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from liftshift.model import names
from liftshift.model.releases import item_key
from liftshift.spec.errors import SpecError
from liftshift.spec.load import load_spec
from liftshift.spec.overlay import merge, overlay_path
from liftshift.spec.yamlsource import load_yaml_text

BASE = """\
version: 1
name: shop
region: eu-west-1
services:
  web:
    image: nginx:1.25
    port: 80
    env:
      MODE: base
      KEEP: yes
    aliases: [www, front]
    instances:
      count: 1
      type: t3.micro
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def validate(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, ["validate", *args], env=env or {}, catch_exceptions=False)


# --------------------------------------------------------------------------- merge rules (pure)


def test_maps_merge_key_by_key_lists_and_scalars_replace():
    base = load_yaml_text(BASE, "app.yaml")
    overlay = load_yaml_text(textwrap.dedent("""\
        region: eu-central-1
        services:
          web:
            env: {MODE: prod}
            aliases: [shop]
            instances: {count: 3}
          worker:
            image: busybox
        """), "app.prod.yaml")
    merged = merge(base, overlay).data
    assert merged["region"] == "eu-central-1"
    web = merged["services"]["web"]
    assert web["env"] == {"MODE": "prod", "KEEP": "yes"}  # a map: key by key
    assert web["aliases"] == ["shop"]  # a list: replaced, not appended
    assert web["instances"] == {"count": 3, "type": "t3.micro"}
    assert web["image"] == "nginx:1.25" and merged["name"] == "shop"
    assert merged["services"]["worker"] == {"image": "busybox"}


def test_a_map_replaced_by_a_scalar_and_a_scalar_by_a_map():
    base = load_yaml_text("a: {b: 1, c: [1, 2]}\nd: 5\n", "app.yaml")
    merged = merge(base, load_yaml_text("a: null\nd: {e: 1}\n", "app.x.yaml"))
    assert merged.data == {"a": None, "d": {"e": 1}}
    assert ("a", "b") not in merged.lines and ("a", "c", 1) not in merged.lines  # nothing left of the old value
    assert merged.file_of(("d", "e")) == "app.x.yaml" and merged.line_of(("d", "e")) == 2


def test_each_key_path_keeps_the_file_and_line_that_set_it():
    base = load_yaml_text(BASE, "app.yaml")
    overlay = load_yaml_text("services:\n  web:\n    aliases: [a, b]\n    instances:\n      count: 3\n", "app.p.yaml")
    merged = merge(base, overlay)
    where = {path: (merged.file_of(path), merged.line_of(path)) for path in [
        ("region",), ("services", "web"), ("services", "web", "instances", "count"),
        ("services", "web", "instances", "type"), ("services", "web", "aliases", 1), ("services", "web", "env", "MODE")]}
    assert where == {
        ("region",): ("app.yaml", 3),
        ("services", "web"): ("app.yaml", 5),
        ("services", "web", "instances", "count"): ("app.p.yaml", 5),
        ("services", "web", "instances", "type"): ("app.yaml", 14),
        ("services", "web", "aliases", 1): ("app.p.yaml", 3),
        ("services", "web", "env", "MODE"): ("app.yaml", 9),
    }


def test_the_overlay_sits_beside_the_file_and_keeps_its_suffix():
    assert overlay_path(Path("x/foo.yaml"), "prod") == Path("x/foo.prod.yaml")
    assert overlay_path(Path("app.yml"), "staging") == Path("app.staging.yml")


# --------------------------------------------------------------------------- validate --env


def test_the_merged_spec_takes_the_environments_values(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    write(tmp_path, "app.prod.yaml", """\
        region: eu-central-1
        services:
          web:
            instances: {count: 3, type: m5.large}
            secrets: {DB_PASSWORD: "ssm:/shop/prod/db"}
        """)
    spec, _ = load_spec(app_yaml, "prod")
    web = spec.services["web"]
    assert (spec.name, spec.region, web.instances.count, web.instances.type) == (
        "shop-prod", "eu-central-1", 3, "m5.large")
    assert web.env["MODE"] == "base" and "DB_PASSWORD" in web.secrets
    plain, _ = load_spec(app_yaml)
    assert (plain.name, plain.region, plain.services["web"].instances.count) == ("shop", "eu-west-1", 1)


def test_errors_name_the_line_of_the_file_that_set_the_value(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE.replace("type: t3.micro", "type: many"))
    write(tmp_path, "app.prod.yaml", "services:\n  web:\n    instances:\n      typo: 1\n")
    result = validate(str(app_yaml), "--env", "prod")
    assert result.exit_code == 2
    assert f"{tmp_path}/app.prod.yaml:4: services.web.instances.typo: unknown field (did you mean 'type'?)" \
        in result.output

    write(tmp_path, "app.yaml", BASE)
    write(tmp_path, "app.prod.yaml", "services:\n  web:\n    instances:\n      count: lots\n")
    with pytest.raises(SpecError) as error:
        load_spec(app_yaml, "prod")
    assert (error.value.file, error.value.line, error.value.path) == (
        str(tmp_path / "app.prod.yaml"), 4, ("services", "web", "instances", "count"))

    write(tmp_path, "app.yaml", BASE.replace("type: t3.micro", "type: many"))
    write(tmp_path, "app.prod.yaml", "services:\n  web:\n    instances:\n      count: 2\n")
    with pytest.raises(SpecError) as error:
        load_spec(app_yaml, "prod")
    assert (error.value.file, error.value.line, error.value.path) == (
        str(app_yaml), 14, ("services", "web", "instances", "type"))

    write(tmp_path, "app.prod.yaml", "services:\n  web:\n    instances:\n      type: t3.small\n")
    assert load_spec(app_yaml, "prod")[0].services["web"].instances.type == "t3.small"  # the overlay fixes it


def test_an_overlay_value_of_the_wrong_kind_is_refused_at_the_overlays_line(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    write(tmp_path, "app.staging.yaml", "region: mars-1\n")
    with pytest.raises(SpecError) as error:
        load_spec(app_yaml, "staging")
    assert (Path(error.value.file).name, error.value.line, error.value.path) == ("app.staging.yaml", 1, ("region",))


def test_liftshift_env_selects_the_environment(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    write(tmp_path, "app.staging.yaml", "services:\n  web:\n    port: none\n")
    assert validate(str(app_yaml)).exit_code == 0
    assert validate(str(app_yaml), env={"LIFTSHIFT_ENV": ""}).exit_code == 0  # empty is unset (click's rule)
    result = validate(str(app_yaml), env={"LIFTSHIFT_ENV": "staging"})
    assert result.exit_code == 2 and "app.staging.yaml:3: services.web.port" in result.output
    assert validate(str(app_yaml), "--env", "prod", env={"LIFTSHIFT_ENV": "staging"}).exit_code == 2  # no overlay


def test_a_missing_overlay_is_exit_2_naming_it(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    result = validate(str(app_yaml), "--env", "prod")
    assert result.exit_code == 2
    assert f"{tmp_path}/app.prod.yaml: file not found: environment 'prod'" in result.output


@pytest.mark.parametrize("env", ["Prod", "prod_1", "-prod", "a" * 33, ""])
def test_an_environment_name_has_the_stack_name_grammar(tmp_path, env):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    with pytest.raises(Exception) as error:
        load_spec(app_yaml, env)
    assert getattr(error.value, "exit_code", None) == 2 and "environment name" in str(error.value)


def test_the_stack_name_and_environment_together_keep_the_32_character_limit(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE.replace("name: shop", "name: " + "s" * 25))
    write(tmp_path, "app.production.yaml", "region: eu-west-2\n")
    result = validate(str(app_yaml), "--env", "production")
    assert result.exit_code == 2
    assert f"app.yaml:2: name: the stack name '{'s' * 25}' and the environment 'production' make the stack" \
        in result.output and "36 characters; the limit is 32" in result.output


@pytest.mark.parametrize("key", ["name", "version"])
def test_an_overlay_cannot_change_the_stack_name_or_version(tmp_path, key):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    write(tmp_path, "app.prod.yaml", f"region: eu-west-2\n{key}: other\n")
    result = validate(str(app_yaml), "--env", "prod")
    assert result.exit_code == 2 and f"app.prod.yaml:2: {key}: an environment cannot change" in result.output


def test_an_overlay_that_is_not_a_mapping_is_refused(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    write(tmp_path, "app.prod.yaml", "- region\n")
    result = validate(str(app_yaml), "--env", "prod")
    assert result.exit_code == 2 and "app.prod.yaml:1: must be a mapping" in result.output


# --------------------------------------------------------------------------- identity (pure)


def test_every_name_the_stack_makes_differs_between_environments(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    for env in ("staging", "prod"):
        write(tmp_path, f"app.{env}.yaml", "services:\n  web:\n    load_balancer: {port: 80}\n")
    specs = {env: load_spec(app_yaml, env)[0] for env in ("staging", "prod")}
    made = {env: names.stack_resource_names(spec.name, {n: s.load_balancer is not None
                                                          for n, s in spec.services.items()})
            for env, spec in specs.items()}
    for kind in made["prod"]:
        assert not {n for n, _ in made["prod"][kind]} & {n for n, _ in made["staging"][kind]}, kind
    for fn in (names.log_group, names.iam_path, names.elb_stack_prefix, lambda s: item_key(s)["stack"]["S"],
               lambda s: names.tags(s)[names.TAG_STACK], lambda s: names.repository(s, "web")):
        assert fn(specs["prod"].name) != fn(specs["staging"].name)
    assert specs["prod"].name == "shop-prod" and specs["staging"].name == "shop-staging"


# --------------------------------------------------------------------------- side by side on moto


@pytest.fixture
def two_environments(stack_dir, unique):
    """stacks/hello with a staging overlay (one instance) and a prod overlay (two, a bigger type)."""
    app_yaml = stack_dir / "app.yaml"
    write(stack_dir, "app.staging.yaml", "services:\n  web:\n    env: {STAGE: staging}\n")
    write(stack_dir, "app.prod.yaml", "services:\n  web:\n    env: {STAGE: prod}\n"
                                      "    instances: {count: 2, type: t3.small}\n")
    return app_yaml


def test_two_environments_deploy_side_by_side_share_nothing_and_destroy_one_leaves_the_other(
        deploy_env, two_environments, unique):
    from liftshift.pipeline.deploy import deploy
    from liftshift.pipeline.destroy import destroy
    from liftshift.pipeline.history import history
    from liftshift.progress import Progress
    from liftshift.targets.aws import aws_target
    from support.faults import stack_tagged

    specs = {env: load_spec(two_environments, env) for env in ("staging", "prod")}
    stacks = {env: spec.name for env, (spec, _) in specs.items()}
    assert stacks == {"staging": f"{unique}-staging", "prod": f"{unique}-prod"}
    try:
        reports = {env: deploy(spec, base, aws_target(None, None, Progress()))
                   for env, (spec, base) in specs.items()}
        assert [len(reports[env]["services"]["web"]["instances"]) for env in ("staging", "prod")] == [1, 2]
        owned = {env: stack_tagged(stack) for env, stack in stacks.items()}
        for kind in ("instances", "templates", "groups", "roles", "repositories", "log_groups"):
            assert owned["staging"].get(kind) and owned["prod"].get(kind), kind
            assert not set(owned["staging"][kind]) & set(owned["prod"][kind]), kind
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        types = {i["InstanceType"] for r in ec2.describe_instances(InstanceIds=owned["prod"]["instances"])[
            "Reservations"] for i in r["Instances"]}
        assert types == {"t3.small"}
        # a release history (and a lock item) each: DynamoDB items keyed by the environment's stack
        table = boto3.client("dynamodb", region_name="eu-west-1")
        keys = {item["stack"]["S"] for item in table.scan(TableName=names.TABLE)["Items"]}
        assert {f"releases/{stacks['staging']}", f"releases/{stacks['prod']}"} <= keys
        for env, (spec, _) in specs.items():
            assert [r["number"] for r in history(spec, aws_target(None, None, Progress()))["services"]["web"]] == [1]

        staging, _ = specs["staging"]
        destroy(staging, aws_target(None, None, Progress()), keep_images=False)
        assert stack_tagged(stacks["staging"]) == {}
        assert stack_tagged(stacks["prod"]) == owned["prod"]
        assert f"releases/{stacks['staging']}" not in {
            item["stack"]["S"] for item in table.scan(TableName=names.TABLE)["Items"]}
    finally:
        for spec, _ in specs.values():
            destroy(spec, aws_target(None, None, Progress()), keep_images=False)
    assert stack_tagged(stacks["prod"]) == {}


def test_runbook_reads_the_environment_too(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE)
    result = CliRunner().invoke(app, ["runbook", str(app_yaml), "--env", "prod"], catch_exceptions=False)
    assert result.exit_code == 2 and "app.prod.yaml: file not found: environment 'prod'" in result.output


def test_the_readmes_example_overlay_validates(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("    # app.prod.yaml\n", 1)[1].split("\n\n", 1)[0]
    app_yaml = write(tmp_path, "app.yaml", BASE)
    (tmp_path / "app.prod.yaml").write_text(textwrap.dedent(block) + "\n")
    spec, _ = load_spec(app_yaml, "prod")
    web = spec.services["web"]
    assert (spec.name, spec.region, web.instances.count, web.load_balancer.certificate_arn[:11]) == (
        "shop-prod", "eu-central-1", 3, "arn:aws:acm")


def test_an_overlays_env_values_keep_the_text_as_written(tmp_path):
    app_yaml = write(tmp_path, "app.yaml", BASE.replace("MODE: base", "MODE: 1.10"))
    write(tmp_path, "app.prod.yaml", "services:\n  web:\n    env: {VERSION: 1.20, DEBUG: true, MODE: 0x1F}\n")
    env = load_spec(app_yaml, "prod")[0].services["web"].env
    assert (env["VERSION"], env["DEBUG"], env["MODE"], env["KEEP"]) == ("1.20", "true", "0x1F", "yes")
    assert load_spec(app_yaml)[0].services["web"].env["MODE"] == "1.10"
