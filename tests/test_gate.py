"""The AWS health gate (apply.gate.AwsGate) deciding on crafted AWS answers.

moto reports every target healthy at once, so against it the gate's other branches never run. Here a stub
`Aws` hands the gate stub clients answering what Elastic Load Balancing, Auto Scaling, CloudWatch Logs and SSM
answer in the cases the gate exists for, and a fake clock stands in for the waits: the gate's decisions are
the unit under test.

The target health reasons are Elastic Load Balancing's documented `TargetHealth.Reason` codes
(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html): `initial` with
Elb.RegistrationInProgress / Elb.InitialHealthChecking; `unhealthy` with Target.ResponseCodeMismatch ("Health
checks failed with these codes: [404]"), Target.Timeout, Target.FailedHealthChecks; `draining` with
Target.DeregistrationInProgress. The Auto Scaling activities are shaped as DescribeScalingActivities returns
them when an instance is replaced after failing its ELB health check
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html).
"""
from __future__ import annotations

import base64
import http.server
import inspect
import threading
import time

import botocore.exceptions
import pytest

from liftshift.apply import gate as gate_module
from liftshift.apply import stopping
from liftshift.apply.gate import AwsGate, RolloutFailed
from liftshift.model import names
from liftshift.targets.base import Gate

TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web-2/0123456789abcdef"
ASG = "shop-web-000002"
LB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-web/0123456789abcdef"


class Clock:
    """time.monotonic and time.sleep for the gate module: sleeping advances the clock at once."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Notes:
    def __init__(self):
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def target(ident: str, state: str, reason: str | None = None, description: str | None = None) -> dict:
    health = {"State": state}
    if reason:
        health["Reason"] = reason
    if description:
        health["Description"] = description
    return {"Target": {"Id": ident, "Port": 8080}, "HealthCheckPort": "8080", "TargetHealth": health}


INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
TIMEOUT = ("unhealthy", "Target.Timeout", "Request timed out")
REFUSED = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
NOT_FOUND = ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]")
BAD_GATEWAY = ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [502]")


class Elbv2:
    """describe_target_health answers the given rounds in turn (the last one for ever after)."""

    def __init__(self, *rounds: list[dict]):
        self.rounds = list(rounds)
        self.calls: list[str] = []
        self.waited: list[dict] = []

    def describe_target_health(self, TargetGroupArn):
        self.calls.append(TargetGroupArn)
        answer = self.rounds[min(len(self.calls), len(self.rounds)) - 1]
        return {"TargetHealthDescriptions": answer}

    def get_waiter(self, name):
        elbv2 = self

        class Waiter:
            def wait(self, **kwargs):
                elbv2.waited.append({"waiter": name, **kwargs})

        return Waiter()


class AutoScaling:
    def __init__(self, activities: list[dict] | None = None):
        self.activities = activities or []
        self.calls: list[dict] = []

    def describe_scaling_activities(self, **kwargs):
        self.calls.append(kwargs)
        return {"Activities": self.activities}


class Logs:
    """get_log_events answers the events of the streams it has; others do not exist (never logged)."""

    def __init__(self, streams: dict[str, list[str]] | None = None):
        self.streams = streams or {}
        self.calls: list[dict] = []

    def get_log_events(self, **kwargs):
        self.calls.append(kwargs)
        if kwargs["logStreamName"] not in self.streams:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "The specified log stream does not exist."}},
                "GetLogEvents")
        return {"events": [{"timestamp": 1, "message": m + "\n"} for m in self.streams[kwargs["logStreamName"]]]}


class StubAws:
    def __init__(self, **clients):
        self.clients = clients

    def client(self, name):
        return self.clients[name]


def replaced(instance: str) -> dict:
    """An activity of Auto Scaling replacing an instance that failed its ELB health check."""
    return {"ActivityId": f"a-{instance}", "AutoScalingGroupName": ASG, "StatusCode": "Successful",
            "Description": f"Terminating EC2 instance: {instance}",
            "Cause": f"At 2024-05-01T10:00:00Z an instance was taken out of service in response to an ELB system "
                     f"health check failure."}


def launched(instance: str) -> dict:
    return {"ActivityId": f"l-{instance}", "AutoScalingGroupName": ASG, "StatusCode": "Successful",
            "Description": f"Launching a new EC2 instance: {instance}",
            "Cause": "At 2024-05-01T10:00:00Z an instance was started in response to a difference between desired "
                     "and actual capacity, increasing the capacity from 1 to 2."}


def failed_launch() -> dict:
    return {"ActivityId": "f", "AutoScalingGroupName": ASG, "StatusCode": "Failed",
            "Description": "Launching a new EC2 instance.  Status Reason: The image id '[ami-0123]' does not exist.",
            "StatusMessage": "The image id '[ami-0123]' does not exist. Launching EC2 instance failed.",
            "Cause": "At 2024-05-01T10:00:00Z an instance was started in response to a difference between desired "
                     "and actual capacity, increasing the capacity from 0 to 2."}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(gate_module, "time", fake)
    monkeypatch.setattr(stopping, "time", fake)  # the gate's polls sleep through stopping.pause
    return fake


def make(elbv2=None, autoscaling=None, logs=None, **options) -> tuple[AwsGate, Notes, StubAws]:
    aws = StubAws(elbv2=elbv2 or Elbv2([]), autoscaling=autoscaling or AutoScaling(), logs=logs or Logs())
    notes = Notes()
    return AwsGate(aws, notes, "shop", poll=5.0, **options), notes, aws


def healthy(gate: AwsGate, count: int = 2, timeout: int = 300) -> dict:
    return gate.healthy("web", 2, TG, ASG, count, timeout)


# --------------------------------------------------------------------------- healthy


def test_targets_all_healthy_pass_at_once(clock):
    elbv2 = Elbv2([target("i-1", "healthy"), target("i-2", "healthy")])
    gate, notes, aws = make(elbv2)
    assert healthy(gate) == {}
    assert notes.notes == ["web #2: 2/2 target(s) healthy"] and clock.now == 0
    assert aws.clients["autoscaling"].calls == []  # nothing else is read when the release is healthy


def test_targets_in_their_initial_checks_are_waited_for(clock):
    elbv2 = Elbv2([target("i-1", "initial", "Elb.RegistrationInProgress", "Target registration is in progress")],
                  [target("i-1", *INITIAL), target("i-2", *INITIAL)],
                  [target("i-1", "healthy"), target("i-2", *INITIAL)],
                  [target("i-1", "healthy"), target("i-2", "healthy")])
    autoscaling = AutoScaling([launched("i-1"), launched("i-2")])  # launches are not replacements
    gate, notes, _ = make(elbv2, autoscaling)
    assert healthy(gate) == {}
    assert len(elbv2.calls) == 4 and clock.slept == [5.0, 5.0, 5.0]
    assert autoscaling.calls == [{"AutoScalingGroupName": ASG, "MaxRecords": 50}] * 3
    assert "web #2: 0/2 healthy after 0 s; i-1: initial (Elb.RegistrationInProgress: " in notes.notes[0]
    assert "web #2: 1/2 healthy after 10 s; i-1: healthy" == notes.notes[2]
    assert notes.notes[-1] == "web #2: 2/2 target(s) healthy"


def test_a_release_of_no_instances_passes():
    gate, notes, _ = make(Elbv2([]))
    assert healthy(gate, count=0) == {}


# --------------------------------------------------------------------------- never healthy: the timeout


@pytest.mark.parametrize("state", [TIMEOUT, REFUSED, BAD_GATEWAY], ids=["timeout", "refused", "5xx"])
def test_a_target_never_healthy_fails_after_the_timeout_with_the_reason_and_log_tail(clock, state):
    # 5xx, refused connections and timed-out checks may be a slow start: waited for until rollout.timeout
    elbv2 = Elbv2([target("i-1", "healthy"), target("i-2", *state)])
    logs = Logs({"web/i-2": ["starting", "Traceback (most recent call last):", "KeyError: 'DATABASE_URL'"]})
    gate, notes, _ = make(elbv2, logs=logs)
    with pytest.raises(RolloutFailed) as failed:
        healthy(gate, timeout=120)
    message = str(failed.value)
    assert 120 < clock.now <= 125  # not before the timeout, and no longer than one poll after it
    assert message.startswith("web #2: 1/2 target(s) healthy after 120 s (rollout.timeout)\n")
    assert f"i-2: unhealthy ({state[1]}: {state[2]})" in message and "i-1: healthy" in message
    assert "--- last log lines of web on i-2 ---\nstarting\nTraceback (most recent call last):\n" \
           "KeyError: 'DATABASE_URL'" in message
    assert "on i-1 ---" not in message  # its stream does not exist: nothing to show, no failure
    assert [c["logStreamName"] for c in logs.calls] == ["web/i-1", "web/i-2"]
    assert logs.calls[0] == {"logGroupName": names.log_group("shop"), "logStreamName": "web/i-1", "limit": 20,
                             "startFromHead": False}


def test_no_target_registered_at_all_fails_after_the_timeout(clock):
    gate, _, _ = make(Elbv2([]))
    with pytest.raises(RolloutFailed, match=r"^web #2: 0/2 target\(s\) healthy after 60 s \(rollout.timeout\)\n$"):
        healthy(gate, timeout=60)


def test_the_log_tail_is_read_for_at_most_three_instances(clock):
    ids = [f"i-{n}" for n in range(5)]
    logs = Logs({f"web/{i}": [f"log of {i}"] for i in ids})
    gate, _, _ = make(Elbv2([target(i, *TIMEOUT) for i in ids]), logs=logs)
    with pytest.raises(RolloutFailed) as failed:
        healthy(gate, count=5, timeout=10)
    assert len(logs.calls) == 3 and "log of i-2" in str(failed.value) and "log of i-3" not in str(failed.value)


# --------------------------------------------------------------------------- crash loop: fails early


def test_instances_replaced_again_and_again_fail_early_naming_the_release(clock):
    # two declared instances, four replaced for failing their ELB health check: a crash loop
    activities = [replaced(f"i-{n}") for n in range(4)] + [launched(f"i-{n}") for n in range(6)]
    logs = Logs({"web/i-9": ["panic: listen tcp :8080: bind: address already in use"]})
    gate, _, _ = make(Elbv2([target("i-8", *INITIAL), target("i-9", *REFUSED)]), AutoScaling(activities), logs)
    with pytest.raises(RolloutFailed) as failed:
        healthy(gate)
    message = str(failed.value)
    assert clock.now == 0  # at the first look, long before rollout.timeout
    assert message.startswith("web #2 failed: 4 instance(s) replaced for failing health checks\n")
    assert "i-9: unhealthy (Target.FailedHealthChecks: Health checks failed)" in message
    assert "--- last log lines of web on i-9 ---\npanic: listen tcp :8080" in message


def test_fewer_replacements_than_the_crash_loop_bound_are_waited_for(clock):
    activities = [replaced(f"i-{n}") for n in range(gate_module.CRASH_LOOP_REPLACEMENTS * 2 - 1)]
    elbv2 = Elbv2([target("i-1", *REFUSED), target("i-2", *REFUSED)],
                  [target("i-1", "healthy"), target("i-2", "healthy")])
    gate, _, _ = make(elbv2, AutoScaling(activities))
    assert healthy(gate) == {} and clock.now == 5.0


def test_launches_that_keep_failing_fail_early_with_auto_scaling_s_message(clock):
    gate, _, _ = make(Elbv2([]), AutoScaling([failed_launch()] * 3))
    with pytest.raises(RolloutFailed) as failed:
        healthy(gate)
    assert clock.now == 0
    assert str(failed.value).startswith("web #2 failed: 3 failed launches, last: The image id '[ami-0123]' does "
                                        "not exist. Launching EC2 instance failed.")
    # two failed launches may be a capacity hiccup: waited for
    gate, _, _ = make(Elbv2([], [target("i-1", "healthy"), target("i-2", "healthy")]),
                      AutoScaling([failed_launch()] * 2))
    assert healthy(gate) == {}


# --------------------------------------------------------------------------- misconfiguration: fails early


def test_every_target_answering_its_health_check_with_a_4xx_is_a_misconfiguration(clock):
    # a wrong health path (or a login page): ELB reports Target.ResponseCodeMismatch with the codes it got
    logs = Logs({"web/i-1": ['GET /healthz HTTP/1.1" 404']})
    gate, _, _ = make(Elbv2([target("i-1", *NOT_FOUND), target("i-2", *NOT_FOUND)]), logs=logs)
    with pytest.raises(RolloutFailed) as failed:
        healthy(gate)
    message = str(failed.value)
    assert clock.now == 0
    assert message.startswith("web #2 failed: every target answers its health check with Health checks failed "
                              "with these codes: [404]\n")
    assert "i-2: unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])" in message
    assert '--- last log lines of web on i-1 ---\nGET /healthz HTTP/1.1" 404' in message


@pytest.mark.parametrize("answers", [
    [NOT_FOUND, INITIAL],  # one target still in its initial checks
    [NOT_FOUND],  # fewer targets than declared: more are coming
    [BAD_GATEWAY, BAD_GATEWAY],  # 5xx: possibly a slow start
], ids=["one-initial", "fewer-than-count", "5xx"])
def test_a_4xx_not_from_every_declared_target_is_waited_for(clock, answers):
    elbv2 = Elbv2([target(f"i-{n}", *a) for n, a in enumerate(answers)],
                  [target("i-0", "healthy"), target("i-1", "healthy")])
    gate, _, _ = make(elbv2)
    assert healthy(gate) == {} and clock.now == 5.0


def test_misconfigured_reads_the_status_out_of_elb_s_description():
    def entry(state, reason, description):
        return {"state": state, "reason": reason, "description": description}

    assert gate_module.misconfigured([entry(*NOT_FOUND)] * 2, 2)
    assert gate_module.misconfigured([entry("unhealthy", "Target.ResponseCodeMismatch",
                                            "Health checks failed with these codes: [401]")], 1)
    assert gate_module.misconfigured([entry(*BAD_GATEWAY)] * 2, 2) is None
    assert gate_module.misconfigured([entry(*TIMEOUT)] * 2, 2) is None
    assert gate_module.misconfigured([], 0) is None


# --------------------------------------------------------------------------- drain and switch


class DrainElbv2:
    """A target group whose deregistration delay is `delay` and whose old target never stops draining."""

    def __init__(self, delay: str):
        self.delay = delay
        self.health_calls = 0

    def describe_target_group_attributes(self, TargetGroupArn):
        return {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": self.delay}]}

    def describe_target_health(self, TargetGroupArn):
        self.health_calls += 1
        return {"TargetHealthDescriptions": [target("i-old", "draining", "Target.DeregistrationInProgress",
                                                    "Target deregistration is in progress")]}


@pytest.mark.parametrize("delay, bound", [("300", 315.0), ("7200", 3615.0)])
def test_the_drain_waits_within_the_deregistration_delay_and_the_margin(clock, delay, bound):
    elbv2 = DrainElbv2(delay)  # AWS's maximum delay is 3600 s: a larger answer is capped
    gate, notes, _ = make(elbv2)
    assert gate.drain("web", [TG], 30) == {}
    assert clock.now == bound and max(clock.slept) <= 5.0
    assert "1 old target(s) not deregistered after" in notes.notes[-1] and "anyway" in notes.notes[-1]
    assert f"(deregistration delay {min(int(delay), 3600)} s + 15 s; 1 draining)" in notes.notes[-1]


def test_the_switch_is_waited_for_on_aws_and_not_on_an_emulator(clock):
    gate, _, _ = make()
    assert gate.switched("web", TG, ["arn:old"]) == {} and clock.slept == [gate_module.LISTENER_PROPAGATION_SECONDS]
    clock.slept.clear()
    gate, _, _ = make(lb_endpoint="127.0.0.1:9")
    assert gate.switched("web", TG, ["arn:old"]) == {} and clock.slept == []


# --------------------------------------------------------------------------- the probe through the load balancer


class Answering:
    """A local HTTP server answering `statuses` in turn (the last one for ever after); keeps what it was sent."""

    def __init__(self, *statuses: int):
        self.statuses = list(statuses)
        self.requests: list[tuple[str, dict]] = []
        answering = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                answering.requests.append((self.path, dict(self.headers)))
                status = answering.statuses[min(len(answering.requests), len(answering.statuses)) - 1]
                body = f"answer {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answering():
    made: list[Answering] = []
    yield lambda *statuses: made.append(Answering(*statuses)) or made[-1]
    for server in made:
        server.close()


def test_the_probe_goes_through_the_load_balancer_with_the_release_header(answering):
    server = answering(503, 200)  # the load balancer settling, then the release answers
    elbv2 = Elbv2([])
    gate, notes, _ = make(elbv2)
    assert gate.probe("web", 2, LB, "127.0.0.1", server.port, "HTTP", "/healthz", 30, "s3cret") == {}
    assert elbv2.waited == [{"waiter": "load_balancer_available", "LoadBalancerArns": [LB],
                             "WaiterConfig": {"Delay": 10, "MaxAttempts": 30}}]
    assert len(server.requests) == 3
    path, headers = server.requests[0]
    assert path == "/healthz" and headers[names.RELEASE_HEADER] == "s3cret"
    assert headers["User-Agent"] == "liftshift-probe"
    assert notes.notes == ["web #2: /healthz answers through the load balancer (HTTP 200)"]


def test_the_probe_of_an_emulator_goes_to_its_stand_in_without_waiting_for_the_load_balancer(answering):
    server = answering(200)
    elbv2 = Elbv2([])
    gate, _, _ = make(elbv2, lb_endpoint=f"127.0.0.1:{server.port}")
    assert gate.probe("web", 2, LB, "shop-web.elb.example", 80, "HTTP", "/", 30, "s3cret") == {}
    assert elbv2.waited == [] and len(server.requests) == 2


def test_the_app_s_own_error_fails_the_probe_after_three_answers(answering):
    server = answering(500)
    gate, _, _ = make(lb_endpoint=f"127.0.0.1:{server.port}")
    started = time.monotonic()
    with pytest.raises(RolloutFailed, match=r"web #2: / did not answer with success through the load balancer "
                                            r"\(last: HTTP 500: 'answer 500'\)"):
        gate.probe("web", 2, LB, "", 80, "HTTP", "/", 30, "s3cret")
    assert len(server.requests) == 3 and time.monotonic() - started < 10


def test_a_probe_nobody_answers_fails_at_the_timeout():
    from support.registry import free_port

    gate, _, _ = make(lb_endpoint=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(RolloutFailed, match=r"\(last: ConnectionRefusedError: "):
        gate.probe("web", 2, LB, "", 80, "HTTP", "/", 2, "s3cret")
    assert 2 <= time.monotonic() - started < 4


# --------------------------------------------------------------------------- in place, through SSM Run Command


class Ec2:
    def describe_launch_template_versions(self, LaunchTemplateName, Versions):
        assert Versions == ["1"]
        data = base64.b64encode(f"#!/bin/bash\necho {LaunchTemplateName}\n".encode()).decode()
        return {"LaunchTemplateVersions": [{"LaunchTemplateData": {"UserData": data}}]}


class Ssm:
    """send_command, then get_command_invocation answering `outcomes[template]` after an unregistered
    invocation and one in progress."""

    def __init__(self, outcomes: dict[str, tuple[str, str]]):
        self.outcomes = outcomes
        self.sent: list[dict] = []
        self.polls: dict[str, int] = {}

    def send_command(self, **kwargs):
        self.sent.append(kwargs)
        return {"Command": {"CommandId": f"c-{len(self.sent)}"}}

    def get_command_invocation(self, CommandId, InstanceId):
        n = self.polls[CommandId] = self.polls.get(CommandId, 0) + 1
        if n == 1:
            raise botocore.exceptions.ClientError({"Error": {"Code": "InvocationDoesNotExist", "Message": ""}},
                                                  "GetCommandInvocation")
        if n == 2:
            return {"Status": "InProgress"}
        template = self.sent[int(CommandId[2:]) - 1]["Comment"].split()[-1]
        status, stderr = self.outcomes[template]
        return {"Status": status, "StandardErrorContent": stderr, "StandardOutputContent": ""}


def in_place(clock, outcomes):
    ssm = Ssm(outcomes)
    aws = StubAws(ssm=ssm, ec2=Ec2())
    notes = Notes()
    gate = AwsGate(aws, notes, "shop", poll=5.0)
    return gate, ssm, notes


def test_an_in_place_update_runs_the_release_through_ssm(clock):
    gate, ssm, notes = in_place(clock, {"shop-web-2": ("Success", "")})
    assert gate.update_in_place("web", "i-1", 2, "shop-web-2", "shop-web-1", 8080, "/healthz", 60) == {}
    (sent,) = ssm.sent
    assert sent["InstanceIds"] == ["i-1"] and sent["DocumentName"] == "AWS-RunShellScript"
    assert sent["Parameters"]["executionTimeout"] == ["660"]
    script = sent["Parameters"]["commands"][0]
    assert script == gate_module.in_place_script(b"#!/bin/bash\necho shop-web-2\n", 8080, "/healthz", 60)
    assert notes.notes == ["web #2 on i-1: updated in place, healthy"]


def test_a_failed_in_place_update_puts_the_previous_release_back(clock):
    gate, ssm, notes = in_place(clock, {"shop-web-2": ("Failed", "no healthy answer on port 8080 within 60 s"),
                                        "shop-web-1": ("Success", "")})
    with pytest.raises(RolloutFailed) as failed:
        gate.update_in_place("web", "i-1", 2, "shop-web-2", "shop-web-1", 8080, "/healthz", 60)
    assert str(failed.value) == "web #2 on i-1 failed in place: Failed: no healthy answer on port 8080 within 60 s"
    assert [s["Comment"] for s in ssm.sent] == ["liftshift shop-web-2", "liftshift shop-web-1"]
    assert "echo shop-web-1" in base64.b64decode(
        ssm.sent[1]["Parameters"]["commands"][0].split("printf '%s' '")[1].split("'")[0]).decode()
    # both failing: said so
    gate, ssm, _ = in_place(clock, {"shop-web-2": ("Failed", "boom"), "shop-web-1": ("TimedOut", "")})
    with pytest.raises(RolloutFailed, match="putting the previous release back failed too: TimedOut"):
        gate.update_in_place("web", "i-1", 2, "shop-web-2", "shop-web-1", 8080, None, 60)


# --------------------------------------------------------------------------- one interface


@pytest.mark.parametrize("implementation", ["aws", "local"])
def test_both_gates_answer_the_questions_targets_base_gate_declares(implementation):
    from liftshift.targets.local.gate import LocalGate

    cls = AwsGate if implementation == "aws" else LocalGate
    declared = [n for n, f in vars(Gate).items() if inspect.isfunction(f) and not n.startswith("_")]
    assert declared == ["healthy", "probe", "update_in_place", "switched", "drain"]
    for name in declared:
        assert inspect.signature(getattr(cls, name)) == inspect.signature(getattr(Gate, name)), (cls, name)
