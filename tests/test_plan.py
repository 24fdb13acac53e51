"""The planner: desired resources vs hand-made observed states -> ordered steps. Pure, no AWS."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from liftshift.model import names, desired as resources

from liftshift import plan
from liftshift.model.observed import Observed, ObservedGroup, ObservedInstance, ObservedProfile, ObservedTemplate
from liftshift.plan.images import ImageWant
from liftshift.model.refs import Ref, Refs
from liftshift.model.steps import Call, PushImage, Step, Wait
from liftshift.model.desired import ImageInfo, Registry
from liftshift.model.launch_template import USER_DATA_LIMIT, Ami, UserDataTooLarge
from liftshift.model.policies import SSM_READS
from liftshift.spec.model import AppSpec

ACCOUNT = "123456789012"
REGION = "eu-west-1"
SUBNETS = ("subnet-aaaaaaaa", "subnet-bbbbbbbb")
IMAGE_ID = "sha256:" + "a" * 64
DIGEST = "sha256:" + "b" * 64
REGISTRY = Registry("127.0.0.1:5000", is_ecr=False)


def service_dict(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"image": "nginx", "port": 8080, "publish": 80,
                           "instances": {"count": 3, "ingress": ["10.0.0.0/8", "2001:db8::/32"]}}
    instances = over.pop("instances", {})
    out.update(over)
    out["instances"] = {**out["instances"], **instances}
    return out


def make_spec(services: dict[str, dict[str, Any]] | None = None) -> AppSpec:
    return AppSpec.model_validate({"version": 1, "name": "shop", "services": services or {"web": service_dict()}})


def desired(spec: AppSpec, *, image_id: str = IMAGE_ID, digest: str | None = DIGEST,
            subnets: tuple[str, ...] = SUBNETS) -> resources.StackWant:
    svcs = list(spec.services)
    return resources.desired_stack(
        spec, account=ACCOUNT, region=REGION, registry=REGISTRY,
        images={s: ImageInfo(image_id, digest) for s in svcs},
        amis={s: Ami("ami-12345678") for s in svcs},
        subnets={s: subnets for s in svcs},
        vpc_ids={s: "vpc-1" for s in svcs},
        template_hash="t",
    )


def want_web(**over: Any) -> resources.StackWant:
    return desired(make_spec({"web": service_dict(**over)}))


def instance(i: int, service: str = "web", config: str = "", state: str = "running",
             subnet: str = SUBNETS[0]) -> ObservedInstance:
    return ObservedInstance(id=f"i-{service}{i:04d}", service=service, config_hash=config, state=state,
                            subnet=subnet, zone="eu-west-1a", public_ip=None, private_ip=None,
                            launch_template=None)


def converged(want: resources.StackWant, *, running: int | None = None) -> Observed:
    """What AWS holds right after a successful deploy of `want`."""
    seen = Observed(log_group=want.log_group, log_retention=plan.LOG_RETENTION_DAYS)
    for n, svc in enumerate(want.services.values()):
        role = svc.role
        seen.roles[role.name] = role.arn
        seen.role_descriptions[role.name] = role.description
        seen.profiles[role.name] = ObservedProfile(role.name, role.arn.replace(":role/", ":instance-profile/"),
                                                   [role.name])
        seen.groups[svc.name] = ObservedGroup(f"sg-{n:08x}", svc.security_group.name, svc.name, "vpc-1",
                                              set(svc.security_group.ingress), [])
        seen.templates.append(ObservedTemplate(f"lt-{n:08x}", svc.launch_template.name, svc.name,
                                               svc.launch_template.config_hash, svc.image.digest))
        count = svc.count if running is None else running
        seen.instances += [instance(i, svc.name, svc.launch_template.config_hash,
                                    subnet=svc.subnets[i % len(svc.subnets)]) for i in range(count)]
        seen.repositories[svc.repository] = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{svc.repository}"
    return seen


def calls(steps: list[Step], operation: str) -> list[Call]:
    return [c for s in steps for c in s.calls if c.operation == operation]


def index(steps: list[Step], action: str, kind: str) -> int:
    return next(i for i, s in enumerate(steps) if s.action == action and s.kind == kind)


def kinds(steps: list[Step]) -> list[tuple[str, str]]:
    return [(s.action, s.kind) for s in steps]


# --------------------------------------------------------------------------- from nothing


def test_empty_observed_creates_everything():
    want = want_web()
    web = want.services["web"]
    steps = plan.plan_infrastructure(want, Observed())
    assert kinds(steps) == [
        ("create", "log group"), ("create", "iam role"), ("create", "security group"), ("create", "release"),
        ("create", "launch template"), ("launch", "instances"), ("launch", "instances"),
        ("wait", "instances running"), ("update", "release"),
    ]
    (log,) = calls(steps, "create_log_group")
    assert log.params["logGroupName"] == "/liftshift/shop"
    assert calls(steps, "put_retention_policy")[0].params["retentionInDays"] == plan.LOG_RETENTION_DAYS

    role_ops = [c.operation for c in steps[1].calls]
    assert role_ops == ["create_role", "put_role_policy", "create_instance_profile", "add_role_to_instance_profile"]
    assert calls(steps, "create_role")[0].params["Path"] == "/liftshift/shop/"

    (sg,) = calls(steps, "create_security_group")
    assert sg.params["VpcId"] == "vpc-1" and sg.save == {Ref("sg:web"): "GroupId"}
    (auth,) = calls(steps, "authorize_security_group_ingress")
    assert auth.params["GroupId"] == Ref("sg:web")
    assert auth.params["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]},
    ]  # the publish port only; no SSH without ssh_ingress

    (lt,) = calls(steps, "create_launch_template")
    data = lt.params["LaunchTemplateData"]
    assert lt.params["LaunchTemplateName"] == web.launch_template.name
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    (disk,) = data["BlockDeviceMappings"]
    assert disk["Ebs"]["VolumeType"] == "gp3" and disk["Ebs"]["Encrypted"] is True
    assert disk["Ebs"]["VolumeSize"] == 8
    assert data["ImageId"] == "ami-12345678" and data["InstanceType"] == "t3.micro"
    assert data["SecurityGroupIds"] == [Ref("sg:web")]
    assert data["IamInstanceProfile"] == {"Name": web.role.name}
    script = base64.b64decode(data["UserData"]).decode()
    assert script.startswith("#!")
    assert "@sha256:" + "b" * 64 in script
    assert names.tag_dict(lt.params["TagSpecifications"][0]["Tags"])[names.TAG_IMAGE] == DIGEST

    runs = calls(steps, "run_instances")
    assert [(c.params["SubnetId"], c.params["MinCount"], c.params["MaxCount"]) for c in runs] == [
        ("subnet-aaaaaaaa", 2, 2, ), ("subnet-bbbbbbbb", 1, 1)]
    for run in runs:
        assert run.params["LaunchTemplate"]["LaunchTemplateName"] == web.launch_template.name
        assert run.params["MetadataOptions"]["HttpTokens"] == "required"
    assert len({c.params["ClientToken"] for c in runs}) == 2
    (wait,) = calls(steps, "wait:instance_running")
    assert isinstance(wait, Wait) and (wait.client, wait.waiter) == ("ec2", "instance_running")
    assert wait.params["InstanceIds"] == Refs(tuple(ref for c in runs for ref in c.save))
    assert repr(wait.params["InstanceIds"]) == "<new:web:subnet-aaaaaaaa + new:web:subnet-bbbbbbbb>"


def test_ssh_ingress_opens_22_only_from_its_cidrs():
    want = want_web(instances={"ssh_ingress": ["203.0.113.0/24"]})
    assert want.services["web"].security_group.ingress == frozenset(
        {(80, "10.0.0.0/8"), (80, "2001:db8::/32"), (22, "203.0.113.0/24")})
    perms = calls(plan.plan_infrastructure(want, Observed()), "authorize_security_group_ingress")[0].params
    assert {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]} \
        in perms["IpPermissions"]
    assert len(perms["IpPermissions"]) == 3


def test_plan_is_deterministic():
    want = want_web()
    assert plan.plan_infrastructure(want, Observed()) == plan.plan_infrastructure(want_web(), Observed())


def test_unpushed_image_gets_a_placeholder_user_data():
    want = desired(make_spec(), digest=None)
    assert want.services["web"].launch_template.user_data is None
    (lt,) = calls(plan.plan_infrastructure(want, Observed()), "create_launch_template")
    assert lt.params["LaunchTemplateData"]["UserData"] == plan.PENDING_USER_DATA


# --------------------------------------------------------------------------- converged and drift


def test_converged_stack_has_no_steps():
    want = want_web(instances={"ssh_ingress": ["203.0.113.0/24"]})
    assert plan.plan_infrastructure(want, converged(want)) == []


def test_converged_two_services_has_no_steps():
    spec = make_spec({"web": service_dict(), "api": service_dict(port=9000, publish=None,
                                                                  instances={"count": 1})})
    want = desired(spec)
    assert plan.plan_infrastructure(want, converged(want)) == []


def test_old_config_is_replaced_after_the_new_instances_run():
    want = want_web()
    web = want.services["web"]
    seen = converged(want)
    seen.templates = [ObservedTemplate("lt-old", "liftshift.shop.web.0ld0ld0ld0ld", "web", "0ld0ld0ld0ld", DIGEST)]
    seen.instances = [instance(i, config="0ld0ld0ld0ld", subnet=SUBNETS[i % 2]) for i in range(3)]
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [
        ("create", "release"), ("create", "launch template"), ("launch", "instances"), ("launch", "instances"),
        ("wait", "instances running"), ("update", "release"), ("terminate", "instances"),
        ("delete", "launch template"),
    ]
    assert steps[1].calls[0].params["LaunchTemplateData"]["SecurityGroupIds"] == ["sg-00000000"]
    assert sum(c.params["MinCount"] for c in calls(steps, "run_instances")) == 3
    assert index(steps, "wait", "instances running") < index(steps, "terminate", "instances")
    (term,) = calls(steps, "terminate_instances")
    assert sorted(term.params["InstanceIds"]) == ["i-web0000", "i-web0001", "i-web0002"]
    (delete,) = calls(steps, "delete_launch_template")
    assert delete.params == {"LaunchTemplateId": "lt-old"}
    assert web.launch_template.name not in [s.name for s in steps if s.action == "delete"]


def test_surplus_instances_are_terminated_and_nothing_else():
    want = want_web()
    seen = converged(want, running=5)
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [("terminate", "instances")]
    assert calls(steps, "terminate_instances")[0].params["InstanceIds"] == ["i-web0003", "i-web0004"]


def test_surplus_prefers_terminating_pending_instances():
    want = want_web()
    seen = converged(want, running=3)
    chash = want.services["web"].launch_template.config_hash
    seen.instances.insert(0, instance(9999, config=chash, state="pending"))
    seen.instances.append(instance(5, config=chash))
    steps = plan.plan_infrastructure(want, seen)
    # running ones are kept first (by id); the pending one is surplus even though it sorts first in AWS
    assert calls(steps, "terminate_instances")[0].params["InstanceIds"] == ["i-web0005", "i-web9999"]


def test_missing_instances_go_to_the_emptier_subnet():
    want = want_web()
    seen = converged(want, running=1)  # one kept, in subnet-aaaaaaaa
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [("launch", "instances"), ("launch", "instances"), ("wait", "instances running")]
    assert sorted((c.params["SubnetId"], c.params["MinCount"]) for c in calls(steps, "run_instances")) == [
        ("subnet-aaaaaaaa", 1), ("subnet-bbbbbbbb", 1)]


def test_extra_ingress_rule_is_revoked():
    want = want_web()
    seen = converged(want)
    seen.groups["web"].ingress.add((443, "0.0.0.0/0"))
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [("update", "security group")]
    (revoke,) = steps[0].calls
    assert revoke.operation == "revoke_security_group_ingress"
    assert revoke.params == {"GroupId": "sg-00000000", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}


def test_missing_ingress_rule_is_authorized():
    want = want_web()
    seen = converged(want)
    seen.groups["web"].ingress.discard((80, "10.0.0.0/8"))
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [("update", "security group")]
    (auth,) = steps[0].calls
    assert auth.operation == "authorize_security_group_ingress"
    assert auth.params == {"GroupId": "sg-00000000", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}


def test_foreign_rules_are_revoked():
    want = want_web()
    seen = converged(want)
    other = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    seen.groups["web"].other_rules.append(other)
    (step,) = plan.plan_infrastructure(want, seen)
    assert step.calls[0].operation == "revoke_security_group_ingress"
    assert step.calls[0].params["IpPermissions"] == [other]


def test_role_without_profile_is_completed_and_then_converges():
    want = want_web()
    role = want.services["web"].role
    seen = converged(want)
    del seen.profiles[role.name]
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [("update", "iam role")]
    assert [c.operation for c in steps[0].calls] == [
        "put_role_policy", "create_instance_profile", "add_role_to_instance_profile"]
    assert steps[0].calls[0].params["PolicyDocument"] == role.policy
    # once the steps ran, AWS holds the profile with the role: nothing left to do
    seen.profiles[role.name] = ObservedProfile(role.name, "arn:x", [role.name])
    assert plan.plan_infrastructure(want, seen) == []


def test_empty_profile_gets_the_role():
    want = want_web()
    role = want.services["web"].role
    seen = converged(want)
    seen.profiles[role.name].roles.clear()
    steps = plan.plan_infrastructure(want, seen)
    assert [c.operation for c in steps[0].calls] == ["put_role_policy", "add_role_to_instance_profile"]


def test_service_removed_from_spec_is_swept_alone():
    spec_both = make_spec({"web": service_dict(), "old": service_dict(instances={"count": 2})})
    seen = converged(desired(spec_both))
    want = want_web()
    steps = plan.plan_infrastructure(want, seen)
    assert {s.service for s in steps} == {"old"}
    assert kinds(steps) == [("terminate", "instances"), ("delete", "launch template"),
                            ("delete", "security group"), ("delete", "iam role")]
    assert calls(steps, "terminate_instances")[0].params["InstanceIds"] == ["i-old0000", "i-old0001"]
    assert calls(steps, "delete_security_group")[0].params == {"GroupId": "sg-00000001"}
    assert calls(steps, "delete_role")[0].params == {"RoleName": "liftshift.shop.old"}
    assert calls(steps, "delete_instance_profile")[0].params == {"InstanceProfileName": "liftshift.shop.old"}
    assert not calls(steps, "delete_repository")  # images are kept unless asked
    gone = plan.plan_infrastructure(want, seen, keep_images=False)
    assert calls(gone, "delete_repository")[0].params["repositoryName"] == "shop/old"


# --------------------------------------------------------------------------- destroy


def test_destroy_removes_everything_observed():
    spec = make_spec({"web": service_dict(), "api": service_dict(instances={"count": 1})})
    seen = converged(desired(spec))
    steps = plan.plan_destroy("shop", seen, keep_images=False)
    assert sorted(i for c in calls(steps, "terminate_instances") for i in c.params["InstanceIds"]) == \
        sorted(i.id for i in seen.instances)
    assert sorted(i for c in calls(steps, "wait:instance_terminated") for i in c.params["InstanceIds"]) == \
        sorted(i.id for i in seen.instances)
    assert sorted(c.params["LaunchTemplateId"] for c in calls(steps, "delete_launch_template")) == \
        sorted(t.id for t in seen.templates)
    assert sorted(c.params["GroupId"] for c in calls(steps, "delete_security_group")) == \
        sorted(g.id for g in seen.groups.values())
    assert sorted(c.params["RoleName"] for c in calls(steps, "delete_role")) == sorted(seen.roles)
    assert sorted(c.params["InstanceProfileName"] for c in calls(steps, "delete_instance_profile")) == \
        sorted(seen.profiles)
    assert sorted(c.params["repositoryName"] for c in calls(steps, "delete_repository")) == \
        sorted(seen.repositories)
    assert [c.params["logGroupName"] for c in calls(steps, "delete_log_group")] == ["/liftshift/shop"]
    # instances are terminated and waited for before any security group is deleted
    ops = [c.operation for s in steps for c in s.calls]
    first_sg = min(i for i, op in enumerate(ops) if op == "delete_security_group")
    # every instance of the stack is gone (one batched terminate and wait) before any group is deleted
    last_wait = max(i for i, op in enumerate(ops) if op == "wait:instance_terminated")
    assert ops.index("terminate_instances") < last_wait < first_sg
    for role_step in [s for s in steps if s.kind == "iam role"]:
        role_ops = [c.operation for c in role_step.calls]
        assert role_ops.index("remove_role_from_instance_profile") < role_ops.index("delete_instance_profile")
        assert role_ops.index("delete_role_policy") < role_ops.index("delete_role")
        assert role_ops.index("detach_role_policy") < role_ops.index("delete_role")


def test_destroy_keep_images_deletes_no_repository():
    seen = converged(desired(make_spec()))
    steps = plan.plan_destroy("shop", seen, keep_images=True)
    assert not [c for s in steps for c in s.calls if c.client == "ecr"]
    assert calls(steps, "delete_log_group")


def test_destroy_sweeps_a_lone_role_and_repository():
    seen = Observed(roles={"liftshift.shop.x": "arn:aws:iam::1:role/liftshift/shop/liftshift.shop.x"},
                    repositories={"shop/y": "arn:aws:ecr:eu-west-1:1:repository/shop/y"})
    steps = plan.plan_destroy("shop", seen, keep_images=False)
    assert calls(steps, "delete_role")[0].params == {"RoleName": "liftshift.shop.x"}
    assert calls(steps, "delete_repository")[0].params["repositoryName"] == "shop/y"


def test_destroy_of_nothing_is_nothing():
    assert plan.plan_destroy("shop", Observed(), keep_images=False) == []


# --------------------------------------------------------------------------- config hash


def chash(**over: Any) -> str:
    return want_web(**over).services["web"].launch_template.config_hash


@pytest.mark.parametrize("over", [
    {"instances": {"count": 7}},
    {"instances": {"count": 0}},
    {"instances": {"subnets": ["subnet-cccccccc"]}},
    {"instances": {"ingress": ["192.168.0.0/16"]}},
    {"instances": {"ssh_ingress": ["203.0.113.0/24"]}},
], ids=["count", "count-0", "subnets", "ingress", "ssh_ingress"])
def test_in_place_changes_keep_the_config_hash(over):
    assert chash(**over) == chash()


def test_subnet_argument_does_not_change_the_hash():
    a = desired(make_spec(), subnets=SUBNETS).services["web"].launch_template
    b = desired(make_spec(), subnets=("subnet-cccccccc",)).services["web"].launch_template
    assert a.config_hash == b.config_hash and a.name == b.name


@pytest.mark.parametrize("over", [
    {"instances": {"type": "t3.small"}},
    {"instances": {"disk_gb": 20}},
    {"instances": {"ami": "ami-0123456789abcdef0"}},
    {"env": {"A": "1"}},
    {"command": ["nginx", "-g", "daemon off;"]},
    {"publish": 81},
    {"port": 8081},
    {"health": {"path": "/healthz"}},
], ids=["type", "disk", "ami-setting", "env", "command", "publish", "port", "health"])
def test_replacing_changes_change_the_config_hash(over):
    assert chash(**over) != chash()


def test_image_id_changes_the_config_hash():
    a = desired(make_spec()).services["web"].launch_template
    b = desired(make_spec(), image_id="sha256:" + "c" * 64).services["web"].launch_template
    assert a.config_hash != b.config_hash and a.name != b.name


def test_env_value_changes_the_config_hash():
    assert chash(env={"A": "1"}) != chash(env={"A": "2"})


# --------------------------------------------------------------------------- images


def image_want(digest: str | None) -> ImageWant:
    return ImageWant("web", "shop/web", "127.0.0.1:5000/shop/web", ImageInfo(IMAGE_ID, digest))


def test_plan_images_creates_a_locked_down_repository_and_pushes():
    steps = plan.plan_images("shop", [image_want(None)], Observed())
    assert kinds(steps) == [("create", "ecr repository"), ("push", "image")]
    (create,) = calls(steps, "create_repository")
    assert create.params["repositoryName"] == "shop/web"
    assert create.params["imageTagMutability"] == "IMMUTABLE"
    assert create.params["imageScanningConfiguration"] == {"scanOnPush": True}
    assert create.params["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert names.tag_dict(create.params["tags"]) == {names.TAG_STACK: "shop", names.TAG_SERVICE: "web"}
    policy = json.loads(calls(steps, "put_lifecycle_policy")[0].params["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == plan.LIFECYCLE_KEEP
    (push,) = calls(steps, "push")
    assert isinstance(push, PushImage) and push.client == "docker"
    assert push.params == {"service": "web", "image_id": IMAGE_ID, "repository": "127.0.0.1:5000/shop/web",
                           "tag": "img-" + "a" * 64}
    assert push.save == {Ref("digest:web"): "@"}


def test_plan_images_push_only_when_repository_exists():
    seen = Observed(repositories={"shop/web": "arn"})
    assert kinds(plan.plan_images("shop", [image_want(None)], seen)) == [("push", "image")]


def test_plan_images_nothing_when_pushed():
    seen = Observed(repositories={"shop/web": "arn"})
    assert plan.plan_images("shop", [image_want(DIGEST)], seen) == []


# --------------------------------------------------------------------------- role policy and limits


def _statements(want: resources.StackWant, service: str) -> dict[str, dict[str, Any]]:
    policy = json.loads(want.services[service].role.policy)
    assert policy["Version"] == "2012-10-17"
    by_sid = {s.pop("Sid"): s for s in policy["Statement"]}
    assert len(by_sid) == len(policy["Statement"])
    return by_sid


BASE_STATEMENTS = {
    "EcrLogin": {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    "ReadNoOtherParameters": {"Effect": "Deny", "Action": SSM_READS, "Resource": "*"},
    "ReadNoOtherSecrets": {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
}


def _pull_and_logs(service: str) -> dict[str, dict[str, Any]]:
    return {
        "PullOwnImages": {"Effect": "Allow",
                          "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                          "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/shop/{service}"},
        "WriteOwnLogStreams": {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                               "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/liftshift/shop"
                                           f":log-stream:{service}/*"},
    }


def test_role_policy_of_a_plain_service_is_pull_and_own_log_streams_only():
    want = desired(make_spec({"web": service_dict(), "api": service_dict()}))
    assert _statements(want, "web") == {**BASE_STATEMENTS, **_pull_and_logs("web")}
    assert _statements(want, "api") == {**BASE_STATEMENTS, **_pull_and_logs("api")}
    assert want.services["web"].role.managed == ()  # no SSM agent permissions: nothing runs commands there


def test_role_policy_with_secrets_allows_exactly_them_and_denies_every_other():
    want = want_web(secrets={"DB": "ssm:/shop/db", "KEY": "ssm:plain-name",
                             "API": "secretsmanager:shop/api:token", "OTHER": "secretsmanager:shop/other"})
    parameters = [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain-name",
                  f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/db"]
    secrets = [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shop/api-??????",
               f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shop/other-??????"]
    assert _statements(want, "web") == {
        **_pull_and_logs("web"),
        "EcrLogin": BASE_STATEMENTS["EcrLogin"],
        "ReadOwnParameters": {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameters},
        "ReadNoOtherParameters": {"Effect": "Deny", "Action": SSM_READS, "NotResource": parameters},
        "ReadOwnSecrets": {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secrets},
        "ReadNoOtherSecrets": {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "NotResource": secrets},
    }


def test_role_policy_of_a_service_that_calls_another_may_find_instances():
    spec = make_spec({"api": service_dict(), "web": service_dict(env={"API": "${service.api.url}"})})
    want = desired(spec)
    assert _statements(want, "web") == {
        **BASE_STATEMENTS, **_pull_and_logs("web"),
        "FindPeers": {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}}
    assert _statements(want, "api") == {**BASE_STATEMENTS, **_pull_and_logs("api")}


def test_only_in_place_services_get_ssm_run_command_and_still_read_only_their_secrets():
    want = want_web(rollout={"strategy": "in-place"}, secrets={"DB": "ssm:/shop/db"})
    role = want.services["web"].role
    assert role.managed == ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",)
    # the managed policy allows ssm:GetParameter(s) on "*": the explicit Deny keeps the service to its own
    deny = _statements(want, "web")["ReadNoOtherParameters"]
    assert deny == {"Effect": "Deny", "Action": SSM_READS,
                    "NotResource": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/db"]}
    fleet = want_web(load_balancer={})
    assert fleet.services["web"].role.managed == ()
    assert _statements(fleet, "web") == {**BASE_STATEMENTS, **_pull_and_logs("web")}


@pytest.mark.parametrize("region, part", [("us-iso-east-1", "aws-iso"), ("us-isob-east-1", "aws-iso-b"),
                                          ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_a_role_names_the_partition_of_its_region_in_every_arn(region, part):
    """The partition is the ARN's second field: aws-iso and aws-iso-b hold the isolated regions (their
    roles' ARNs said arn:aws: before, which no resource there matches)."""
    spec = make_spec({"web": service_dict(rollout={"strategy": "in-place"},
                                          secrets={"DB": "ssm:/shop/db", "API": "secretsmanager:shop/api"})})
    want = resources.desired_stack(spec, account=ACCOUNT, region=region, registry=REGISTRY,
                                   images={"web": ImageInfo(IMAGE_ID, DIGEST)}, amis={"web": Ami("ami-12345678")},
                                   subnets={"web": SUBNETS}, vpc_ids={"web": "vpc-1"}, template_hash="t")
    role = want.services["web"].role
    arns = re.findall(r'arn:[^"]*', role.policy)
    assert len(arns) == 6  # the parameter and the secret (allowed, then excepted from a Deny), repository, logs
    assert all(arn.startswith(f"arn:{part}:") for arn in arns), arns
    assert f"arn:{part}:ssm:{region}:{ACCOUNT}:parameter/shop/db" in arns
    assert role.arn.startswith(f"arn:{part}:iam::{ACCOUNT}:role/")
    assert role.managed == (f"arn:{part}:iam::aws:policy/AmazonSSMManagedInstanceCore",)


def test_instances_keep_the_role_from_their_containers_unless_opted_in():
    data = want_web().services["web"].launch_template.data
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                       "HttpPutResponseHopLimit": 1}
    opted = want_web(instances={"container_credentials": True})
    assert opted.services["web"].launch_template.data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert opted.services["web"].launch_template.config_hash != want_web().services["web"].launch_template.config_hash


def test_a_role_with_other_permissions_is_updated_and_loses_what_liftshift_no_longer_wants():
    want = want_web()
    role = want.services["web"].role
    seen = converged(want)
    seen.role_descriptions[role.name] = "liftshift instances of shop/web"  # made by an older liftshift
    (step,) = plan.plan_infrastructure(want, seen)
    assert (step.action, step.kind) == ("update", "iam role")
    assert [(c.operation, c.params.get("PolicyArn")) for c in step.calls] == [
        ("put_role_policy", None),
        ("detach_role_policy", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
        ("add_role_to_instance_profile", None),
        ("update_role", None)]
    assert step.calls[0].params["PolicyDocument"] == role.policy
    assert step.calls[-1].params == {"RoleName": role.name, "Description": role.description}
    # a changed secret changes the description, so the role is updated again
    assert want_web(secrets={"DB": "ssm:/x"}).services["web"].role.description != role.description
    seen.role_descriptions[role.name] = role.description
    assert plan.plan_infrastructure(want, seen) == []


def test_user_data_over_16k_is_refused():
    with pytest.raises(UserDataTooLarge, match="16384"):
        want_web(env={"BIG": "x" * 17000})


def test_user_data_just_under_the_limit_is_fine():
    want = want_web(env={"BIG": "x" * 1000})
    assert len(want.services["web"].launch_template.user_data.encode()) <= USER_DATA_LIMIT


def test_count_zero_terminates_all_and_drops_the_template():
    before = want_web()
    seen = converged(before)
    want = want_web(instances={"count": 0})
    steps = plan.plan_infrastructure(want, seen)
    assert kinds(steps) == [("terminate", "instances"), ("delete", "launch template")]
    assert sorted(calls(steps, "terminate_instances")[0].params["InstanceIds"]) == \
        ["i-web0000", "i-web0001", "i-web0002"]


def test_a_service_is_replaced_when_a_service_it_calls_changes():
    def hashes(api_env: dict[str, str]) -> dict[str, str]:
        spec = AppSpec.model_validate({"version": 1, "name": "shop", "services": {
            "web": {"image": "x", "port": 80, "env": {"API": "${service.api.url}"}},
            "api": {"image": "x", "port": 81, "env": api_env},
        }})
        want = resources.desired_stack(
            spec, account="123456789012", region="eu-west-1", registry=Registry("127.0.0.1:5000", is_ecr=False),
            images={n: ImageInfo("sha256:" + "a" * 64, "sha256:" + "b" * 64) for n in ("web", "api")},
            amis={n: Ami("ami-12345678") for n in ("web", "api")},
            subnets={n: ("subnet-aaaaaaaa",) for n in ("web", "api")}, vpc_ids={n: "vpc-1" for n in ("web", "api")},
            template_hash="t")
        user_data = want.services["web"].launch_template.user_data
        assert "peer_names=( api)" in user_data and "API=http://\"${peer_hosts[0]}\":81" in user_data
        assert "ec2:DescribeInstances" in want.services["web"].role.policy
        assert "ec2:DescribeInstances" not in want.services["api"].role.policy
        assert list(want.services) == ["web", "api"]  # app.yaml's order is kept for display
        return {n: s.launch_template.config_hash for n, s in want.services.items()}

    first, second = hashes({}), hashes({"X": "1"})
    assert first["api"] != second["api"] and first["web"] != second["web"]


def test_log_retention_and_lifecycle_policy_are_put_again_when_missing():
    want = want_web()
    seen = converged(want)
    seen.log_retention = None  # e.g. a create interrupted before its retention was set
    steps = plan.plan_infrastructure(want, seen)
    assert [(s.action, s.kind) for s in steps] == [("update", "log group")]
    assert steps[0].calls[0].params == {"logGroupName": want.log_group, "retentionInDays": plan.LOG_RETENTION_DAYS}

    service = want.services["web"]
    image = ImageWant("web", service.repository, service.repository_uri, ImageInfo("sha256:" + "c" * 64))
    push = plan.plan_images("shop", [image], Observed(repositories={service.repository: "arn"}))
    assert [c.operation for s in push for c in s.calls] == ["put_lifecycle_policy", "push"]
    # A repository the same plan makes gets its policy once, in the step that makes it.
    fresh = plan.plan_images("shop", [image], Observed())
    assert [[c.operation for c in s.calls] for s in fresh] == [["create_repository", "put_lifecycle_policy"], ["push"]]


# --------------------------------------------------------------------------- behind a load balancer

LB = {"port": 80, "health": {"path": "/healthz", "interval": 10, "healthy": 2, "unhealthy": 3, "timeout": 5}}


def test_a_fleet_from_nothing_goes_out_behind_a_health_gate_before_any_traffic():
    want = want_web(load_balancer=LB)
    infra = plan.plan_stack(want, Observed())
    steps = infra.steps
    assert kinds(steps)[2:] == [
        ("create", "security group"), ("create", "security group"), ("create", "load balancer"),
        ("create", "listener"), ("create", "release"), ("create", "launch template"), ("create", "target group"),
        ("create", "auto scaling group"), ("create", "listener rule"), ("wait", "release healthy"),
        ("wait", "probe"), ("update", "listener"), ("update", "release"), ("delete", "listener rule"),
        ("wait", "switch"),
    ]
    (listener,) = calls(steps, "create_listener")
    assert listener.params["DefaultActions"][0]["Type"] == "fixed-response"  # nothing served before the gate
    (group,) = calls(steps, "create_auto_scaling_group")
    assert group.params["MinSize"] == group.params["MaxSize"] == group.params["DesiredCapacity"] == 3
    assert group.params["HealthCheckType"] == "ELB" and group.params["LaunchTemplate"]["Version"] == "1"
    (rule,) = calls(steps, "create_rule")
    # the probe route matches the release's own unguessable value, not its number
    probe = infra.rollouts[0].record.probe
    assert re.fullmatch(r"[0-9a-f]{48}", probe)
    header = rule.params["Conditions"][0]["HttpHeaderConfig"]
    assert header["HttpHeaderName"] == names.RELEASE_HEADER and [v.value for v in header["Values"]] == [probe]
    (gate,) = [c for c in calls(steps, "probe") if c.client == "gate"]
    assert gate.params["header"].value == probe
    pending = calls(steps, "update_item")[0].params["ExpressionAttributeValues"][":v"]["S"]
    assert json.loads(pending.value)["probe"] == probe and json.loads(pending.value)["outcome"] == "pending"
    # the load balancer drops invalid header fields from its creation
    (attributes,) = calls(steps, "modify_load_balancer_attributes")
    assert attributes.params["Attributes"] == [{"Key": "routing.http.drop_invalid_header_fields.enabled",
                                                "Value": "true"}]
    # instances open their port to the load balancer's group only; the load balancer to the declared CIDRs
    lb_group, instance_group = calls(steps, "authorize_security_group_ingress")
    assert {r["IpRanges"][0]["CidrIp"] for r in lb_group.params["IpPermissions"] if "IpRanges" in r} == {"10.0.0.0/8"}
    assert instance_group.params["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": Ref("sg:web:lb")}]}]
    assert calls(steps, "run_instances") == []  # Auto Scaling launches them
    assert [c.service for c in infra.rollouts] == ["web"] and infra.rollouts[0].record.number == 1


def test_rollout_settings_are_not_part_of_the_release():
    assert want_web(load_balancer=LB).services["web"].launch_template.config_hash == want_web(
        load_balancer=LB, rollout={"timeout": 60, "keep": 3}).services["web"].launch_template.config_hash
    assert want_web(load_balancer=LB).services["web"].launch_template.config_hash != want_web(
        load_balancer={**LB, "health": {**LB["health"], "path": "/other"}}).services["web"].launch_template.config_hash


def test_a_failed_gate_is_abandoned_without_touching_the_listener():
    from liftshift.plan.fleet import plan_abandon

    want = want_web(load_balancer=LB)
    (candidate,) = plan.plan_stack(want, Observed()).rollouts
    steps = plan_abandon("shop", candidate, Observed(), "web #1: 0/3 healthy", created_rule=True)
    assert kinds(steps) == [("delete", "listener rule"), ("delete", "auto scaling group"),
                            ("delete", "target group"), ("update", "release")]
    assert calls(steps, "modify_listener") == []
    record = json.loads(calls(steps, "update_item")[0].params["ExpressionAttributeValues"][":v"]["S"])
    assert record["outcome"] == "failed" and record["reason"] == "web #1: 0/3 healthy"


def test_a_plain_http_load_balancer_open_to_the_internet_is_warned_about():
    from liftshift.spec.checks import warnings

    open_web = make_spec({"web": service_dict(load_balancer=LB, instances={"ingress": ["0.0.0.0/0"]})})
    assert [w for w in warnings(open_web, {}) if "plain HTTP (port 80)" in w]
    cert = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"
    https = make_spec({"web": service_dict(load_balancer={**LB, "certificate_arn": cert},
                                           instances={"ingress": ["0.0.0.0/0"]})})
    assert warnings(https, {}) == [] and https.services["web"].load_balancer.listener_port == 80
    assert make_spec({"web": service_dict(load_balancer={"certificate_arn": cert})}).services[
        "web"].load_balancer.listener_port == 443


def test_in_place_updates_instances_on_the_same_host_settings_and_replaces_the_others():
    import dataclasses

    want = want_web(rollout={"strategy": "in-place"})
    host = want.services["web"].in_place.host_hash
    seen = converged(want)
    seen.templates = [ObservedTemplate("lt-old", "liftshift.shop.web.0ld0ld0ld0ld", "web", "0ld0ld0ld0ld", DIGEST)]
    seen.instances = [dataclasses.replace(instance(i, config="0ld0ld0ld0ld", subnet=SUBNETS[i % 2]), host_hash=host)
                      for i in range(3)]
    infra = plan.plan_stack(want, seen)
    assert kinds(infra.steps) == [("create", "release"), ("create", "launch template")] + [
        ("update", "instance in place")] * 3 + [("update", "release"), ("delete", "launch template")]
    update = infra.steps[2].calls
    assert update[0].params["previous"] == "liftshift.shop.web.0ld0ld0ld0ld"
    assert update[1].params["Tags"] == [{"Key": names.TAG_CONFIG, "Value": want.services["web"].launch_template.config_hash}]
    assert [r.updates for r in infra.rollouts] == [tuple((f"i-web{i:04d}", "0ld0ld0ld0ld") for i in range(3))]

    # another instance type cannot go out in place: new instances, then the old are terminated
    seen.instances = [dataclasses.replace(i, host_hash="other") for i in seen.instances]
    replaced = plan.plan_stack(want, seen)
    assert replaced.rollouts == [] and ("terminate", "instances") in kinds(replaced.steps)
    assert ("update", "instance in place") not in kinds(replaced.steps)


def test_a_rollback_without_load_balancer_launches_the_recorded_template_with_its_tags():
    from liftshift.model.releases import Release

    record = Release(service="web", number=1, config="c0nf1g", image=DIGEST, launch_template="liftshift.shop.web.c0nf1g",
                     at="", by="ci", commit=None, outcome="retired", host="h0st")
    seen = Observed(instances=[instance(0, config="newer")])
    steps = plan.plan_instance_rollback("shop", "web", record, 2, SUBNETS, seen)
    assert kinds(steps) == [("update", "release"), ("launch", "instances"), ("launch", "instances"),
                            ("wait", "instances running"), ("update", "release"), ("terminate", "instances")]
    (run, _) = calls(steps, "run_instances")
    assert run.params["LaunchTemplate"] == {"LaunchTemplateName": "liftshift.shop.web.c0nf1g", "Version": "1"}
    tags = names.tag_dict(run.params["TagSpecifications"][0]["Tags"])
    assert tags[names.TAG_CONFIG] == "c0nf1g" and tags[names.TAG_HOST] == "h0st"  # in-place keeps working after


def test_release_records_written_by_a_newer_liftshift_are_still_read():
    from liftshift.aws.release_store import read_releases
    from liftshift.model.releases import Release

    record = Release(service="web", number=3, config="c", image=None, launch_template="lt", at="", by="ci",
                     commit=None, outcome="live")
    newer = json.loads(record.to_json()) | {"field_of_the_future": 1}

    class Table:
        def get_item(self, **_):
            return {"Item": {"stack": {"S": "releases/shop"}, "web/000003": {"S": json.dumps(newer)},
                             "web/000004": {"S": "not json"}}}

    assert read_releases(Table(), "shop") == [record]


def test_every_release_of_a_stack_passes_its_gate_before_any_listener_switches():
    want = desired(make_spec({"web": service_dict(load_balancer=LB), "api": service_dict(load_balancer=LB)}))
    infra = plan.plan_stack(want, Observed())
    gates = [i for i, s in enumerate(infra.steps) if s.kind in ("release healthy", "probe")]
    switches = [i for i, s in enumerate(infra.steps) if s.kind == "listener" and s.action == "update"]
    assert len(gates) == 4 and len(switches) == 2 and max(gates) < min(switches)
    assert sorted(c.service for c in infra.rollouts) == ["api", "web"]  # both undone if either gate fails


def test_a_pending_release_s_probe_value_is_never_shown():
    from liftshift.report import steps_text as _steps_text
    from liftshift.pipeline.describe import call_json as _call_json, describe_step

    want = want_web(load_balancer=LB)
    infra = plan.plan_stack(want, Observed())
    probe = infra.rollouts[0].record.probe
    shown = json.dumps([{**describe_step(s), "calls": [_call_json(c) for c in s.calls]} for s in infra.steps])
    text = _steps_text([describe_step(s) for s in infra.steps]) + repr(infra.steps) + str(infra.rollouts)
    assert probe not in shown and probe not in text
    assert f"{names.RELEASE_HEADER}: #1 (value withheld)" in text and '\\"probe\\":\\"(withheld)\\"' in shown
    assert plan.plan_stack(want, Observed()).rollouts[0].record.probe != probe  # a new value per plan


def _interrupted_fleet(want, probe: str | None, rules: list):
    """What AWS holds after a run stopped at the gate of release #1: its record pending (with `probe`), its
    target group, group and the load balancer's rules."""
    from liftshift.model.observed import ObservedAutoScalingGroup, ObservedLoadBalancer, ObservedTargetGroup
    from liftshift.model.releases import Release

    svc = want.services["web"]
    config = svc.launch_template.config_hash
    seen = converged(want, running=0)
    seen.lb_groups["web"] = ObservedGroup("sg-lb", "lb", "web", "vpc-1", set(), [])
    seen.load_balancers["web"] = ObservedLoadBalancer("arn:lb", names.load_balancer("shop", "web"), "web", "dns", "arn:listener", 80,
                                                      "HTTP", rules=rules, drops_invalid_headers=True)
    seen.target_groups = [ObservedTargetGroup("arn:tg1", svc.fleet.target_group.name, "web", config, 80, ())]
    seen.auto_scaling_groups = [ObservedAutoScalingGroup(svc.fleet.auto_scaling_group, "web", config, 3, 3, 3,
                                                         ("arn:tg1",), ())]
    seen.releases = [Release(service="web", number=1, config=config, image=DIGEST, launch_template=svc.launch_template.name,
                             at="", by="ci", commit=None, outcome="pending", probe=probe)]
    return seen


def test_an_interrupted_rollout_resumes_with_its_recorded_probe_value_and_drops_guessable_routes():
    from liftshift.model.observed import ObservedRule

    want = want_web(load_balancer=LB)
    secret = "0123456789abcdef" * 3
    ours = ObservedRule("arn:rule-ours", "1", (secret,), "arn:tg1")
    guessable = ObservedRule("arn:rule-old", "2", ("1",), "arn:tg1")  # an older liftshift's route to #1
    infra = plan.plan_stack(want, _interrupted_fleet(want, secret, [guessable, ours]))
    assert infra.rollouts[0].record.probe == secret
    assert not [s for s in infra.steps if s.action == "create" and s.kind in ("listener rule", "release")]
    deletes = [(i, s) for i, s in enumerate(infra.steps) if s.kind == "listener rule"]
    gate = next(i for i, s in enumerate(infra.steps) if s.kind == "release healthy")
    # the guessable route goes before the gate, ours after the switch; both named by release, not by value
    assert [(s.calls[0].params["RuleArn"], i < gate) for i, s in deletes] == [("arn:rule-old", True),
                                                                              ("arn:rule-ours", False)]
    assert {s.name for _, s in deletes} == {f"{names.RELEASE_HEADER}: #1 (value withheld)"}
    (probe,) = [c for c in calls(infra.steps, "probe") if c.client == "gate"]
    assert probe.params["header"].value == secret

    # a pending record written by an older liftshift has no value: a new one is made and recorded
    older = plan.plan_stack(want, _interrupted_fleet(want, None, [guessable]))
    fresh = older.rollouts[0].record.probe
    assert fresh and fresh != "1"
    (record,) = [s for s in older.steps if s.kind == "release" and s.action == "create"]
    assert json.loads(record.calls[0].params["ExpressionAttributeValues"][":v"]["S"].value)["probe"] == fresh
    (rule,) = calls(older.steps, "create_rule")
    assert [v.value for v in rule.params["Conditions"][0]["HttpHeaderConfig"]["Values"]] == [fresh]


def test_an_existing_load_balancer_is_made_to_drop_invalid_header_fields():
    from liftshift.model.observed import ObservedRule

    want = want_web(load_balancer=LB)
    seen = _interrupted_fleet(want, "f" * 48, [ObservedRule("arn:r", "1", ("f" * 48,), "arn:tg1")])
    assert calls(plan.plan_stack(want, seen).steps, "modify_load_balancer_attributes") == []
    seen.load_balancers["web"].drops_invalid_headers = False
    (step,) = [s for s in plan.plan_stack(want, seen).steps if s.kind == "load balancer"]
    assert step.action == "update" and step.calls[0].params == {
        "LoadBalancerArn": "arn:lb",
        "Attributes": [{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]}


def test_release_records_written_by_an_older_liftshift_still_load_and_values_end_with_pending():
    from liftshift.aws.release_store import read_releases
    from liftshift.model.releases import Release

    older = {"service": "web", "number": 2, "config": "c", "image": None, "launch_template": "lt", "at": "",
             "by": "ci", "commit": None, "outcome": "pending", "reason": None, "fleet": None, "host": None}

    class Table:
        def get_item(self, **_):
            return {"Item": {"stack": {"S": "releases/shop"}, "web/000002": {"S": json.dumps(older)}}}

    (record,) = read_releases(Table(), "shop")
    assert record.number == 2 and record.probe is None
    pending = Release(**{**older, "probe": "a" * 48})
    assert pending.with_outcome("pending").probe == "a" * 48
    assert pending.with_outcome("live").probe is None and pending.with_outcome("failed", "x").probe is None
    assert "a" * 48 not in repr(pending) and "a" * 48 not in pending.withheld_json()


def test_plan_warns_when_containers_may_use_the_instance_role():
    from liftshift.spec.checks import warnings

    assert not [w for w in warnings(make_spec(), {}) if "container_credentials" in w]
    spec = make_spec({"web": service_dict(instances={"container_credentials": True})})
    (found,) = [w for w in warnings(spec, {}) if "container_credentials" in w]
    assert found.startswith("services.web.instances.container_credentials")


# --------------------------------------------------------------------------- internal services (issue 12)

def internal_stack(**db: Any) -> AppSpec:
    """db (internal, first in app.yaml), then web and worker, which may reach it."""
    return make_spec({"db": {"image": "postgres", "port": 5432, "publish": 6432, "internal": True, **db},
                      "web": service_dict(), "worker": service_dict(instances={"count": 1})})


def converged_ids(want: resources.StackWant) -> Observed:
    """converged(), with each other service's group named by its id as AWS answers (not the desired marker)."""
    seen = converged(want)
    for group in seen.groups.values():
        group.ingress = {(port, seen.groups[s.service].id if isinstance(s, resources.ServiceGroup) else s)
                         for port, s in group.ingress}
    return seen


def peer_rules(call: Call) -> list[dict[str, Any]]:
    return [p for p in call.params["IpPermissions"] if "UserIdGroupPairs" in p]


def test_an_internal_service_admits_every_other_services_group_on_its_port_and_no_cidr():
    want = desired(internal_stack())
    db = want.services["db"].security_group
    assert db.ingress == frozenset({(6432, resources.ServiceGroup("web")), (6432, resources.ServiceGroup("worker"))})
    assert "from the stack's other services" in db.description
    steps = plan.plan_infrastructure(want, Observed())
    db_steps = [s for s in steps if s.kind == "security group" and s.service == "db"]
    created, admitted = db_steps
    # db's group is made with nothing open (no CIDR at all, no SSH without ssh_ingress) ...
    assert [c.operation for c in created.calls] == ["create_security_group"] and created.detail == "opens nothing"
    # ... and once every group exists (db comes first in app.yaml), it admits the others' groups by ref
    last_create = max(i for i, s in enumerate(steps) for c in s.calls if c.operation == "create_security_group")
    assert steps.index(admitted) > last_create
    assert steps.index(admitted) < index(steps, "create", "launch template")
    (auth,) = admitted.calls
    assert auth.operation == "authorize_security_group_ingress" and auth.params["GroupId"] == Ref("sg:db")
    assert auth.params["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 6432, "ToPort": 6432, "UserIdGroupPairs": [{"GroupId": Ref("sg:web")}]},
        {"IpProtocol": "tcp", "FromPort": 6432, "ToPort": 6432, "UserIdGroupPairs": [{"GroupId": Ref("sg:worker")}]},
    ]
    assert admitted.detail == "open 6432 from service web, 6432 from service worker"
    # no rule anywhere opens db to a CIDR
    for call in calls(steps, "authorize_security_group_ingress"):
        if call.params["GroupId"] == Ref("sg:db"):
            assert all("IpRanges" not in p and "Ipv6Ranges" not in p for p in call.params["IpPermissions"])


def test_ssh_ingress_stays_with_an_internal_service():
    want = desired(internal_stack(instances={"ssh_ingress": ["203.0.113.0/24"]}))
    steps = plan.plan_infrastructure(want, Observed())
    created = next(s for s in steps if s.kind == "security group" and s.service == "db")
    assert created.calls[1].params["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}]


def test_existing_peer_groups_are_named_by_id_in_the_groups_own_step():
    want = desired(internal_stack())
    seen = converged_ids(want)
    del seen.groups["db"]  # only db's group is new
    steps = [s for s in plan.plan_infrastructure(want, seen) if s.kind == "security group"]
    assert len(steps) == 1  # no later step: its sources exist
    (auth,) = calls(steps, "authorize_security_group_ingress")
    assert auth.params["GroupId"] == Ref("sg:db")
    assert [p["UserIdGroupPairs"] for p in auth.params["IpPermissions"]] == [
        [{"GroupId": seen.groups["web"].id}], [{"GroupId": seen.groups["worker"].id}]]


def test_an_internal_stack_converged_has_no_steps():
    want = desired(internal_stack())
    assert plan.plan_infrastructure(want, converged_ids(want)) == []


def test_internal_changes_in_place_without_a_new_release():
    assert desired(internal_stack()).services["db"].launch_template.config_hash == \
        desired(internal_stack(internal=False)).services["db"].launch_template.config_hash


def test_turning_internal_on_and_off_converges_the_rules():
    on, off = desired(internal_stack()), desired(internal_stack(internal=False))
    seen = converged_ids(off)
    web, worker = seen.groups["web"].id, seen.groups["worker"].id
    (step,) = plan.plan_infrastructure(on, seen)
    assert (step.action, step.kind, step.service) == ("update", "security group", "db")
    add, revoke = step.calls
    assert [p["UserIdGroupPairs"] for p in add.params["IpPermissions"]] == [[{"GroupId": web}], [{"GroupId": worker}]]
    assert revoke.params["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 6432, "ToPort": 6432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert step.detail == "open 6432 from service web, 6432 from service worker; close 6432 from 0.0.0.0/0"

    seen = converged_ids(on)
    (step,) = plan.plan_infrastructure(off, seen)
    add, revoke = step.calls
    assert add.params["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 6432, "ToPort": 6432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert [p["UserIdGroupPairs"] for p in revoke.params["IpPermissions"]] == [[{"GroupId": web}],
                                                                              [{"GroupId": worker}]]


def test_a_stack_without_internal_services_plans_as_before():
    """`internal: false` written out is the default: same hash, same steps, and no rule names a group."""
    spec = make_spec({"web": service_dict(), "api": service_dict(instances={"count": 1})})
    same = make_spec({"web": service_dict(internal=False), "api": service_dict(instances={"count": 1})})
    assert plan.plan_infrastructure(desired(spec), Observed()) == plan.plan_infrastructure(desired(same), Observed())
    steps = plan.plan_infrastructure(desired(spec), Observed())
    assert kinds(steps)[:5] == [("create", "log group"), ("create", "iam role"), ("create", "security group"),
                                ("create", "iam role"), ("create", "security group")]
    assert not [p for c in calls(steps, "authorize_security_group_ingress") for p in peer_rules(c)]
    assert plan.plan_infrastructure(desired(spec), converged(desired(spec))) == []


def test_destroy_revokes_the_rules_naming_a_group_before_deleting_it():
    """EC2 refuses to delete a group another group's rule names (DependencyViolation): whichever goes first."""
    seen = converged_ids(desired(internal_stack()))
    db, web, worker = (seen.groups[s].id for s in ("db", "web", "worker"))
    steps = plan.plan_destroy("shop", seen, keep_images=False)
    by_group = {s.calls[-1].params["GroupId"]: s for s in steps if s.kind == "security group"}
    assert [c.operation for c in by_group[db].calls] == ["delete_security_group"]  # nothing names db
    for group in (web, worker):
        revoke, delete = by_group[group].calls
        assert (revoke.operation, revoke.params["GroupId"], delete.operation) == (
            "revoke_security_group_ingress", db, "delete_security_group")
        assert revoke.params["IpPermissions"] == [
            {"IpProtocol": "tcp", "FromPort": 6432, "ToPort": 6432, "UserIdGroupPairs": [{"GroupId": group}]}]
        assert "InvalidGroup.NotFound" in revoke.ignore  # db's group may be deleted already


def test_two_internal_services_admit_each_other():
    spec = make_spec({"db": {"image": "postgres", "port": 5432, "internal": True},
                      "cache": {"image": "redis", "port": 6379, "internal": True}})
    steps = plan.plan_infrastructure(desired(spec), Observed())
    creates = [i for i, s in enumerate(steps) for c in s.calls if c.operation == "create_security_group"]
    admissions = [s for s in steps if s.kind == "security group" and s.action == "update"]
    assert [(s.service, peer_rules(s.calls[0])[0]["UserIdGroupPairs"]) for s in admissions] == [
        ("db", [{"GroupId": Ref("sg:cache")}]), ("cache", [{"GroupId": Ref("sg:db")}])]
    assert all(steps.index(s) > max(creates) for s in admissions)
    seen = converged_ids(desired(spec))
    destroy = plan.plan_destroy("shop", seen, keep_images=False)
    assert [c.operation for s in destroy if s.kind == "security group" for c in s.calls] == [
        "revoke_security_group_ingress", "delete_security_group"] * 2


def test_a_peer_removed_from_app_yaml_is_revoked_by_the_kept_group_then_deleted():
    seen = converged_ids(desired(internal_stack()))
    want = desired(make_spec({"db": {"image": "postgres", "port": 5432, "publish": 6432, "internal": True},
                              "web": service_dict()}))
    steps = plan.plan_infrastructure(want, seen)
    update = next(s for s in steps if s.kind == "security group" and s.action == "update")
    delete = next(s for s in steps if s.kind == "security group" and s.action == "delete")
    assert update.service == "db" and steps.index(update) < steps.index(delete)
    assert update.calls[0].params["IpPermissions"][0]["UserIdGroupPairs"] == [{"GroupId": seen.groups["worker"].id}]
    assert [c.operation for c in delete.calls] == ["delete_security_group"]  # db's own step revoked it already


def test_an_internal_service_and_its_peers_must_share_a_vpc():
    spec = internal_stack()
    with pytest.raises(resources.InternalAcrossVpcs) as info:
        resources.desired_stack(
            spec, account=ACCOUNT, region=REGION, registry=REGISTRY,
            images={s: ImageInfo(IMAGE_ID, DIGEST) for s in spec.services},
            amis={s: Ami("ami-12345678") for s in spec.services}, subnets={s: SUBNETS for s in spec.services},
            vpc_ids={"db": "vpc-1", "web": "vpc-1", "worker": "vpc-2"}, template_hash="t")
    assert info.value.exit_code == 2 and "services.db.internal" in str(info.value) and "worker" in str(info.value)


# --------------------------------------------------------------------------- more ports, secret files (issue 12)

def ports_service(**over: Any) -> dict[str, Any]:
    out = service_dict(**over)
    del out["port"], out["publish"]
    return {"ports": ["80:8080", "8443:443", 9000], **out}


def test_every_published_port_is_admitted_from_the_declared_cidrs():
    want = desired(make_spec({"web": ports_service()}))
    group = want.services["web"].security_group
    assert group.ingress == frozenset((port, cidr) for port in (80, 8443, 9000)
                                      for cidr in ("10.0.0.0/8", "2001:db8::/32"))
    assert "ports 80, 8443, 9000 from the declared CIDRs" in group.description
    (auth,) = calls(plan.plan_infrastructure(want, Observed()), "authorize_security_group_ingress")
    assert {(p["FromPort"], p["ToPort"]) for p in auth.params["IpPermissions"]} == {(80, 80), (8443, 8443),
                                                                                   (9000, 9000)}
    assert len(auth.params["IpPermissions"]) == 6
    assert plan.plan_infrastructure(want, converged(want)) == []


def test_an_internal_service_admits_the_other_services_on_every_port():
    spec = make_spec({"db": {"image": "postgres", "ports": ["6432:5432", "9187"], "internal": True},
                      "web": service_dict()})
    group = desired(spec).services["db"].security_group
    assert group.ingress == frozenset({(6432, resources.ServiceGroup("web")), (9187, resources.ServiceGroup("web"))})
    assert "ports 6432, 9187 from the stack's other services" in group.description


def test_one_port_keeps_the_description_and_rules_it_had():
    assert desired(make_spec()).services["web"].security_group.description.endswith(
        ": port 80 from the declared CIDRs")


def test_a_new_extra_port_is_opened_in_place():
    before = desired(make_spec({"web": ports_service(ports=["80:8080"])}))
    after = desired(make_spec({"web": ports_service()}))
    steps = [s for s in plan.plan_infrastructure(after, converged(before)) if s.kind == "security group"]
    (step,) = steps
    assert step.action == "update" and "8443 from 10.0.0.0/8" in step.detail and "close" not in step.detail


def test_role_policy_allows_the_secret_files_refs_too():
    want = want_web(secrets={"DB": "ssm:/shop/db"},
                    secret_files={"tls.key": "secretsmanager:shop/tls:key",
                                  "token": {"ref": "ssm:/shop/token", "path": "/etc/token", "mode": "0440"}})
    statements = _statements(want, "web")
    parameters = [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/db",
                  f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/token"]
    secrets = [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shop/tls-??????"]
    assert statements["ReadOwnParameters"]["Resource"] == parameters
    assert statements["ReadNoOtherParameters"]["NotResource"] == parameters
    assert statements["ReadOwnSecrets"]["Resource"] == secrets
    assert statements["ReadNoOtherSecrets"]["NotResource"] == secrets


def test_secret_files_and_ports_are_rendered_by_reference_and_number():
    want = want_web(secret_files={"token": {"ref": "ssm:/shop/token", "path": "/etc/token", "mode": "0440",
                                            "uid": 1000}})
    text = want.services["web"].launch_template.user_data
    assert "secret_file_ids=( /shop/token)" in text and "secret_file_modes=( 0440)" in text
    assert "secret_file_owners=( 1000)" in text and '-v "$secret_file_dir/"token:/etc/token:ro' in text
    text = desired(make_spec({"web": ports_service()})).services["web"].launch_template.user_data
    assert "extra_ports=( 8443:443 9000:9000)" in text
