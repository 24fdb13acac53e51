"""Fault injection for liftshift's boto3 clients, and convergence checks against moto.

The injector hooks botocore's own event system on every client that
`liftshift.aws.session.Aws.client` hands out, so liftshift's code runs unchanged:

* `fail_mutating_at=k`: the k-th mutating call (an operation not starting with
  Describe/List/Get/BatchGet/Lookup, as `liftshift.aws.session.is_mutating` says) fails once
  with a ClientError. `when="before"` fails it before it is sent (nothing
  changed in AWS); `when="after"` lets it reach AWS and then loses the answer
  (the change happened, the caller sees an error), like a dropped connection;
  `when="sent"` does that at the HTTP level (the request is sent, the answer
  replaced by an HTTP 500), so botocore's retry handler sends it again.
* `fail_operation="ecr:put_lifecycle_policy"`: the same, for the first call of
  that one operation (snake_case, as liftshift's Call data names it).
* `throttle=1/3`: that fraction (seeded random) of all HTTP attempts is answered
  by a `before-send` handler with a protocol-correct ThrottlingException at HTTP
  400 (`throttle_kind="throttling"`) or an HTTP 503 (`"503"`), so botocore's
  retry handler really sees and retries them. `throttled` counts the answers.

Install with `injector.install()` (a context manager patching `Aws.client`), or
`injector.patch(monkeypatch)` in a test.

`StepCallLog` names the step of each mutating call of a reference deploy, and
`one_point_per_kind` picks the first fault point of each kind from it (the tests'
sample; benchmarks/faults.py tries every point). `shared_botocore_loader` parses
botocore's service models once for all the sessions liftshift makes.
"""
from __future__ import annotations

import contextlib
import random
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.exceptions
from botocore.awsrequest import AWSResponse

from liftshift.model import names
from liftshift.aws.session import Aws, CallLog, is_mutating
from liftshift.progress import Progress, current_step

READ_ONLY_HINT = "Describe/List/Get/BatchGet/Lookup"


def snake(operation: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", operation).lower()


class _Raw:
    """Just enough of urllib3's response for AWSResponse.content."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, *_args, **_kwargs):
        yield self._body


def _error_body(protocol: str, code: str, message: str) -> tuple[dict[str, str], bytes]:
    if protocol in ("json", "rest-json"):
        return ({"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault-injected",
                 "x-amzn-ErrorType": code},
                ('{"__type": "%s", "message": "%s"}' % (code, message)).encode())
    if protocol == "ec2":
        return ({"Content-Type": "text/xml"},
                (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                 "<RequestID>fault-injected</RequestID></Response>").encode())
    # query (IAM, STS) and rest-xml
    return ({"Content-Type": "text/xml"},
            (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
             "<RequestId>fault-injected</RequestId></ErrorResponse>").encode())


class FaultInjector:
    def __init__(self, *, fail_mutating_at: int | None = None, fail_operation: str | None = None,
                 when: str = "before", throttle: float = 0.0, throttle_kind: str = "throttling", seed: int = 0,
                 error_code: str = "InternalFailure", fail_point: tuple | None = None,
                 progress: "StepProgress | None" = None):
        """fail_point: a kind of fault point (StepCallLog.mutating_points): the first call of that kind fails, whatever
        its position; with steps side by side the k-th call differs from run to run, its kind does not.
        `progress`, the StepProgress given to the target, names the step of a call made on the main thread."""
        assert when in ("before", "after", "sent") and throttle_kind in ("throttling", "503", "mixed")
        self.fail_mutating_at = fail_mutating_at
        self.fail_point = fail_point
        self.progress = progress
        self._kinds_seen: dict[tuple, int] = {}
        self.fail_operation = fail_operation
        self.when = when
        self.throttle = throttle
        self.throttle_kind = throttle_kind
        self.random = random.Random(seed)
        self.error_code = error_code
        self.mutating_seen = 0  # mutating API calls (not attempts) seen so far
        self.calls: list[str] = []  # "service:Operation" of every API call, in order
        self.attempts = 0  # HTTP attempts (retries included)
        self.throttled = 0  # attempts answered with an injected throttle / 503
        self.injected: list[str] = []  # the calls that were failed, "service:Operation"
        self.backoff = 0.0  # seconds of retry backoff botocore asked for (see install)
        self._operation_done = False
        # Calls come from several threads at once (the executor's workers): the count and the choice are made under
        # a lock, and a call to fail after sending is remembered by the thread that makes it (its before-send
        # follows its before-call on the same thread).
        self._lock = threading.Lock()
        self._thread = threading.local()

    # --- attaching -------------------------------------------------------------------

    def attach(self, client: Any) -> Any:
        attached = client.__dict__.setdefault("_fault_injectors", [])
        if any(i is self for i in attached):
            return client
        attached.append(self)
        service = client.meta.service_model.service_name
        protocol = client.meta.service_model.protocol
        events = client.meta.events
        events.register("before-call", lambda **kw: self._before_call(service, **kw))
        events.register("after-call", lambda **kw: self._after_call(service, **kw))
        events.register("before-send", lambda **kw: self._before_send(protocol, **kw))
        return client

    def wrap(self, original):
        injector = self

        def client(aws_self, name, *args, **kwargs):
            return injector.attach(original(aws_self, name, *args, **kwargs))

        client.__wrapped__ = original
        return client

    def patch(self, monkeypatch) -> "FaultInjector":
        monkeypatch.setattr(Aws, "client", self.wrap(Aws.client))
        return self

    @contextlib.contextmanager
    def install(self, backoff_scale: float = 1.0) -> Iterator["FaultInjector"]:
        """Patch Aws.client for the block. botocore's retry sleeps are recorded in `backoff`
        (seconds botocore asked for) and, with backoff_scale < 1, shortened by that factor:
        the retry decisions, attempt counts and quotas stay botocore's own."""
        import botocore.endpoint

        original = Aws.__dict__["client"]
        original_time = botocore.endpoint.time
        injector = self

        class _Time:
            def __getattr__(self, name):
                return getattr(original_time, name)

            @staticmethod
            def sleep(seconds):
                injector.backoff += seconds
                original_time.sleep(seconds * backoff_scale)

        Aws.client = self.wrap(original)
        botocore.endpoint.time = _Time()
        try:
            yield self
        finally:
            Aws.client = original
            botocore.endpoint.time = original_time

    # --- handlers --------------------------------------------------------------------

    def _chosen(self, service: str, operation: str) -> bool:
        if self.fail_point is not None:
            step = step_of_this_call(self.progress)
            action, kind, owner = (step.action, step.kind, step.service) if step is not None else ("", "", None)
            key = (action, kind, f"{service}:{operation}", owner)
            nth = self._kinds_seen.get(key, 0)
            self._kinds_seen[key] = nth + 1
            if not self._operation_done and (action, kind, f"{service}:{operation}", nth) == self.fail_point:
                self._operation_done = True
                return True
            return False
        if self.fail_operation is not None and not self._operation_done:
            if self.fail_operation in (f"{service}:{operation}", f"{service}:{snake(operation)}"):
                self._operation_done = True
                return True
        return self.fail_mutating_at is not None and self.mutating_seen == self.fail_mutating_at

    def _fault(self, service: str, operation: str, what: str) -> botocore.exceptions.ClientError:
        self.injected.append(f"{service}:{operation}")
        return botocore.exceptions.ClientError(
            {"Error": {"Code": self.error_code, "Message": f"injected fault ({what})"},
             "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)

    def _before_call(self, service: str, model, context=None, **_kw):
        operation = model.name
        with self._lock:
            self.calls.append(f"{service}:{operation}")
            if not is_mutating(operation):
                return None
            self.mutating_seen += 1
            seen = self.mutating_seen
            chosen = self._chosen(service, operation)
        if chosen:
            if self.when == "before":
                raise self._fault(service, operation, f"mutating call {seen}, not sent")
            if self.when == "sent":
                self._thread.pending = f"{service}:{operation}"
            elif context is not None:
                context["fault_after"] = seen
        return None

    def _after_call(self, service: str, model, http_response=None, context=None, **_kw):
        if context and "fault_after" in context:
            n = context.pop("fault_after")
            if http_response is not None and http_response.status_code < 300:
                raise self._fault(service, model.name, f"mutating call {n}, applied in AWS, answer lost")
            if self.fail_operation is not None and self.fail_mutating_at is None:
                self._operation_done = False  # it failed by itself: lose the next successful one's answer

    def _before_send(self, protocol: str, request=None, **_kw):
        self.attempts += 1
        pending = getattr(self._thread, "pending", None)
        if pending:
            # The request really reaches AWS; the caller gets an HTTP 500 instead of its answer, and
            # botocore's retry handler (unless AWS_MAX_ATTEMPTS=1) sends it again.
            from botocore.httpsession import URLLib3Session

            self._thread.pending = None
            URLLib3Session().send(request)
            self.injected.append(pending)
            headers, body = _error_body(protocol, "InternalFailure", "injected: applied, answer lost")
            return AWSResponse(request.url, 500, headers, _Raw(body))
        with self._lock:  # one seeded sequence of draws, whichever thread asks
            if not self.throttle or self.random.random() >= self.throttle:
                return None
            self.throttled += 1
            kind = self.throttle_kind
            if kind == "mixed":
                kind = "throttling" if self.random.random() < 0.5 else "503"
        if kind == "503":
            headers, body = _error_body(protocol, "ServiceUnavailable", "injected 503")
            status = 503
        else:
            code = {"ec2": "RequestLimitExceeded", "query": "Throttling"}.get(protocol, "ThrottlingException")
            headers, body = _error_body(protocol, code, "Rate exceeded (injected)")
            status = 400
        return AWSResponse(request.url if request is not None else "", status, headers, _Raw(body))


# --- fault points: which call of which step ------------------------------------------------


class StepProgress(Progress):
    """A silent Progress that knows the step the executor is running (None between steps). With steps side by
    side, a call belongs to the step its own thread works on (progress.current_step); `step` is the last started."""

    def __init__(self) -> None:
        self.step = None

    def step_started(self, step) -> None:
        self.step = step

    def step_done(self, step) -> None:
        self.step = None


def step_of_this_call(progress: StepProgress | None):
    """The step a call belongs to: on a worker thread the step that thread works on (progress.current_step); on
    the main thread, which runs steps only one at a time (--parallel 1), the one `progress` saw start."""
    if threading.current_thread() is not threading.main_thread():
        return current_step()
    return progress.step if progress is not None else None


@dataclass
class StepCallLog(CallLog):
    """A CallLog that also names, for each call, the step it was made in: pass the same
    StepProgress to the target. Calls outside any step (the lock, observing) get None."""

    progress: StepProgress = field(default_factory=StepProgress)
    steps: list = field(default_factory=list)  # parallel to calls: (action, kind, service) or None

    def record(self, service: str, operation: str) -> None:
        super().record(service, operation)
        step = step_of_this_call(self.progress)
        self.steps.append(None if step is None else (step.action, step.kind, step.service))

    def mutating_points(self) -> list[tuple[str, tuple]]:
        """Each mutating call, in order, as (operation, kind of fault point). The kind is the step's
        action and kind, the operation, and how many times that same step kind made that same call
        for the same service before: what differs between two points of the same kind is only which
        service they belong to (web's CreateRole and worker's), or nothing (the lock's calls)."""
        points: list[tuple[str, tuple]] = []
        seen: dict[tuple, int] = {}
        for (service, operation), step in zip(self.calls, self.steps):
            if not is_mutating(operation):
                continue
            action, kind, owner = step if step is not None else ("", "", None)
            key = (action, kind, f"{service}:{operation}", owner)
            nth = seen.get(key, 0)
            seen[key] = nth + 1
            points.append((f"{service}:{operation}", (action, kind, f"{service}:{operation}", nth)))
        return points


def one_point_per_kind(points: list[tuple[str, tuple]]) -> list[int]:
    """The 1-based positions k of the first fault point of each kind (see StepCallLog.mutating_points)."""
    chosen: dict[tuple, int] = {}
    for k, (_, kind) in enumerate(points, start=1):
        chosen.setdefault(kind, k)
    return sorted(chosen.values())


@contextlib.contextmanager
def shared_botocore_loader() -> Iterator[None]:
    """One botocore data loader for every boto3 Session made in the block.

    liftshift makes a new boto3 Session per run (per `aws_target`), and each new session parses
    botocore's JSON service models and endpoint rules again for every client: about 40 ms a
    client, half the time of a deploy against moto. Clients of one session already share
    their loader's parsed models; this shares them across sessions too. Nothing else is shared:
    each session still makes its own clients, credentials, retry handlers and connections.
    """
    import botocore.session

    original = botocore.session.create_loader
    loaders: dict[Any, Any] = {}

    def create_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = create_loader
    try:
        yield
    finally:
        botocore.session.create_loader = original


# --- moto and stack helpers ---------------------------------------------------------------


def reset_moto(endpoint: str) -> None:
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


DOCKERFILES = {
    "web": 'FROM busybox:1.36\nCMD ["httpd", "-f", "-p", "8080"]\n',
    "worker": 'FROM busybox:1.36\nENV ROLE=worker\nCMD ["httpd", "-f", "-p", "9000"]\n',
}
SERVICES = {"web": 2, "worker": 1}  # service -> instance count


def write_stack(root: Path, stack: str, env_value: str = "1") -> Path:
    """A two-service stack (two small busybox images) under root; returns its app.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    for service, dockerfile in DOCKERFILES.items():
        (root / service).mkdir(exist_ok=True)
        (root / service / "Dockerfile").write_text(dockerfile)
    app = root / "app.yaml"
    app.write_text(
        "version: 1\n"
        f"name: {stack}\n"
        "services:\n"
        "  web:\n"
        "    build: web\n"
        "    port: 8080\n"
        "    publish: 8080\n"
        f"    env: {{ROUND: '{env_value}'}}\n"
        f"    instances: {{count: {SERVICES['web']}}}\n"
        "  worker:\n"
        "    build: worker\n"
        "    port: 9000\n"
        f"    instances: {{count: {SERVICES['worker']}}}\n"
    )
    return app


def _client(name: str):
    # No injector here: these are the test's own eyes on moto, from the environment.
    return boto3.client(name, region_name="eu-west-1")


def _roles(iam, stack: str) -> list[dict]:
    out = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if names.tag_dict(iam.list_role_tags(RoleName=role["RoleName"])["Tags"]).get(names.TAG_STACK) == stack:
                out.append(role)
    return out


def stack_tagged(stack: str) -> dict[str, list]:
    """Everything in moto carrying the stack's tag (what destroy must leave empty); shared by the tests."""
    ec2, iam, ecr, logs = _client("ec2"), _client("iam"), _client("ecr"), _client("logs")
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]
    live = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    found = {
        "instances": [i["InstanceId"] for r in ec2.describe_instances(Filters=flt + live)["Reservations"]
                      for i in r["Instances"]],
        "templates": [t["LaunchTemplateName"] for t in ec2.describe_launch_templates(
            Filters=flt, MaxResults=200)["LaunchTemplates"]],
        "groups": [g["GroupName"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]],
        "roles": [r["RoleName"] for r in _roles(iam, stack)],
        "profiles": [p["InstanceProfileName"] for page in iam.get_paginator("list_instance_profiles").paginate(
            PathPrefix=f"/liftshift/{stack}/") for p in page["InstanceProfiles"]
            if p["Path"] == names.iam_path(stack)],  # moto ignores PathPrefix here
        "repositories": [r["repositoryName"] for page in ecr.get_paginator("describe_repositories").paginate()
                         for r in page["repositories"]
                         if names.tag_dict(ecr.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"]).get(
                             names.TAG_STACK) == stack],
        "log_groups": [g["logGroupName"] for page in logs.get_paginator("describe_log_groups").paginate()
                       for g in page["logGroups"]
                       if logs.list_tags_log_group(logGroupName=g["logGroupName"]).get("tags", {}).get(
                           names.TAG_STACK) == stack],
    }
    return {k: v for k, v in found.items() if v}


@dataclass
class Convergence:
    problems: list[str]  # every way the stack differs from its desired state
    extra: int  # resources beyond the desired ones (duplicates, leftovers)

    def __bool__(self) -> bool:
        return not self.problems


def check_converged(stack: str, services: dict[str, int] = SERVICES, *, deep: bool = True) -> Convergence:
    """Compare what moto holds for `stack` with exactly the desired state.

    Per service: `count` running instances all on one config whose launch template's release is the
    one live release (other templates are earlier releases, each recorded, at most 5), one security group, one role with its inline policy and the SSM managed
    policy in one instance profile, one repository; one log group for the stack. With
    `deep`, also the settings made by a second call after a create (lifecycle policy, log
    retention, ingress), which an interrupted create can leave unset.
    """
    ec2, iam, ecr, logs = _client("ec2"), _client("iam"), _client("ecr"), _client("logs")
    problems: list[str] = []
    extra = 0
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]
    instances = [i for r in ec2.describe_instances(Filters=flt + [{"Name": "instance-state-name", "Values": [
        "pending", "running", "stopping", "stopped"]}])["Reservations"] for i in r["Instances"]]
    templates = ec2.describe_launch_templates(Filters=flt, MaxResults=200)["LaunchTemplates"]
    groups = ec2.describe_security_groups(Filters=flt)["SecurityGroups"]
    roles = _roles(iam, stack)
    profiles = [p for page in iam.get_paginator("list_instance_profiles").paginate(PathPrefix=f"/liftshift/{stack}/")
                for p in page["InstanceProfiles"]]
    repos = [r for r in ecr.describe_repositories()["repositories"] if r["repositoryName"].startswith(f"{stack}/")]
    from liftshift.aws.release_store import read_releases

    releases = read_releases(_client("dynamodb"), stack)

    def tagged(items, service, key="Tags"):
        return [x for x in items if names.tag_dict(x.get(key)).get(names.TAG_SERVICE) == service]

    for service, count in services.items():
        mine = tagged(instances, service)
        running = [i for i in mine if i["State"]["Name"] == "running"]
        if len(mine) != count or len(running) != count:
            problems.append(f"{service}: {len(running)} running of {len(mine)} live instances, want {count}")
            extra += max(0, len(mine) - count)
        # One template serves (the running config's); the others are earlier releases kept for rollback,
        # each with its record, and no more than the releases kept.
        lts = tagged(templates, service)
        configs = {names.tag_dict(i["Tags"]).get(names.TAG_CONFIG) for i in mine}
        serving = [t for t in lts if names.tag_dict(t["Tags"]).get(names.TAG_CONFIG) in configs]
        records = {r.launch_template: r for r in releases if r.service == service}
        if len(configs) != 1 or len(serving) != 1:
            problems.append(f"{service}: instances on configs {sorted(map(str, configs))}, serving templates "
                            f"{[t['LaunchTemplateName'] for t in serving]}: want one config and its template")
            extra += max(0, len(serving) - 1)
        else:
            record = records.get(serving[0]["LaunchTemplateName"])
            if record is None or record.outcome != "live":
                problems.append(f"{service}: the serving template's release is {record and record.outcome}, want live")
            lt_data = ec2.describe_launch_template_versions(LaunchTemplateId=serving[0]["LaunchTemplateId"])[
                "LaunchTemplateVersions"][0]["LaunchTemplateData"]
            if not lt_data.get("UserData"):
                problems.append(f"{service}: launch template has no user-data")
        unrecorded = [t["LaunchTemplateName"] for t in lts if t["LaunchTemplateName"] not in records]
        if unrecorded or len(lts) > 5:
            problems.append(f"{service}: launch templates {unrecorded} without a release record, or more than "
                            f"the 5 kept: {[t['LaunchTemplateName'] for t in lts]}")
            extra += len(unrecorded)
        if len([r for r in records.values() if r.outcome == "live"]) > 1:
            problems.append(f"{service}: more than one live release: {sorted(records)}")
        sgs = tagged(groups, service)
        if len(sgs) != 1:
            problems.append(f"{service}: {len(sgs)} security groups, want 1")
            extra += max(0, len(sgs) - 1)
        elif deep and service == "web":
            rules = [(p.get("FromPort"), [r["CidrIp"] for r in p.get("IpRanges", [])]) for p in sgs[0]["IpPermissions"]]
            if rules != [(8080, ["0.0.0.0/0"])]:
                problems.append(f"{service}: security group ingress {rules}, want 8080 from 0.0.0.0/0")
        role_name = names.role(stack, service)
        my_roles = [r for r in roles if r["RoleName"] == role_name]
        if len(my_roles) != 1:
            problems.append(f"{service}: {len(my_roles)} roles named {role_name}")
        else:
            try:
                iam.get_role_policy(RoleName=role_name, PolicyName=names.role_policy_name())
            except iam.exceptions.NoSuchEntityException:
                problems.append(f"{service}: role {role_name} has no inline policy")
            attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]]
            if attached:  # AmazonSSMManagedInstanceCore only for in-place rollouts, which these stacks do not use
                problems.append(f"{service}: role {role_name} has managed policies {attached}")
        my_profiles = [p for p in profiles if p["InstanceProfileName"] == role_name]
        if len(my_profiles) != 1 or [r["RoleName"] for r in my_profiles[0].get("Roles", [])] != [role_name]:
            problems.append(f"{service}: instance profile(s) {my_profiles!r:.300}, want one holding {role_name}")
        my_repos = [r for r in repos if r["repositoryName"] == names.repository(stack, service)]
        if len(my_repos) != 1:
            problems.append(f"{service}: {len(my_repos)} repositories")
        elif deep:
            try:
                ecr.get_lifecycle_policy(repositoryName=my_repos[0]["repositoryName"])
            except ecr.exceptions.LifecyclePolicyNotFoundException:
                problems.append(f"{service}: repository {my_repos[0]['repositoryName']} has no lifecycle policy")
    extra += len([r for r in roles if r["RoleName"] not in {names.role(stack, s) for s in services}])
    extra += len([p for p in profiles if p["InstanceProfileName"] not in {names.role(stack, s) for s in services}])
    unknown = [i["InstanceId"] for i in instances if names.tag_dict(i.get("Tags")).get(names.TAG_SERVICE) not in services]
    if unknown:
        problems.append(f"instances of no declared service: {unknown}")
        extra += len(unknown)
    groups_ = [g for g in logs.describe_log_groups(logGroupNamePrefix=names.log_group(stack))["logGroups"]
               if g["logGroupName"] == names.log_group(stack)]
    if len(groups_) != 1:
        problems.append(f"{len(groups_)} log groups named {names.log_group(stack)}")
    elif deep and groups_[0].get("retentionInDays") != 30:
        problems.append(f"log group {names.log_group(stack)} retention {groups_[0].get('retentionInDays')}, want 30")
    return Convergence(problems, extra)


def deploy_unlocking(spec, base, make_target):
    """Deploy; if the stack is locked, clear the lock as `liftshift unlock` does and deploy again.

    Returns (report, the LockHeld that had to be cleared or None).
    """
    from liftshift.aws.lock import LockHeld, force_unlock
    from liftshift.pipeline.deploy import deploy

    try:
        return deploy(spec, base, make_target()), None
    except LockHeld as exc:
        force_unlock(make_target().aws.client("dynamodb"), spec.name)
        return deploy(spec, base, make_target()), exc


def leaked(stack: str) -> int:
    """How many resources tagged with the stack remain (after destroy: should be 0)."""
    return sum(len(v) for v in stack_tagged(stack).values())


def remove_local_images(docker_client, registry_host: str, stacks: list[str]) -> None:
    prefixes = tuple(f"{registry_host}/{s}/" for s in stacks)
    for image in docker_client.images.list():
        tags = [t for t in image.tags if t.startswith(prefixes)]
        for tag in tags:
            try:
                docker_client.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
