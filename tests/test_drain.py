"""The old release really drains (issue 10, section 3): after the listener switch its Auto Scaling group is
detached from its target group (AWS deregisters the instances: no new request, those in flight finish), the
gate waits until every old target is deregistered and no longer `draining` (bounded by the deregistration
delay plus a margin), and only then are the group and the target group deleted.

Pure: the planner against hand-made observed states (as tests/test_plan.py), the gates against stub clients
with short polls and bounds. The real runs are tests/test_rollout.py (moto) and tests/test_local_rollout.py.
"""
from __future__ import annotations

import time

import botocore.exceptions
import pytest

from liftshift.model import names

from liftshift import plan
from liftshift.apply.gate import AwsGate
from liftshift.model.observed import (Observed, ObservedAutoScalingGroup, ObservedGroup, ObservedLoadBalancer,
                                      ObservedTargetGroup)
from liftshift.plan.fleet import DRAIN_SECONDS
from liftshift.model.releases import Release
from test_plan import LB, converged, want_web

OLD = "0ld0ld0ld0ld"


def live_old_release(want, *, attached: bool = True, group: bool = True, target_group: bool = True) -> Observed:
    """AWS after release #1 (config OLD) went live: its group (attached to its target group unless
    `attached` is false, as a run stopped after the detach leaves it) and its target group, the listener
    forwarding to it. `want` (a new config) is release #2."""
    svc = want.services["web"]
    seen = converged(want, running=0)
    seen.lb_groups["web"] = ObservedGroup("sg-lb", "lb", "web", "vpc-1", set(), [])
    seen.load_balancers["web"] = ObservedLoadBalancer(
        "arn:lb", names.load_balancer("shop", "web"), "web", "dns", "arn:listener", 80, "HTTP",
        default_target_group="arn:tg-old", drops_invalid_headers=True)
    if target_group:
        seen.target_groups = [ObservedTargetGroup("arn:tg-old", "ls-old", "web", OLD, 80, ())]
    if group:
        seen.auto_scaling_groups = [ObservedAutoScalingGroup(
            f"liftshift.shop.web.{OLD}", "web", OLD, 3, 3, 3, ("arn:tg-old",) if attached else (),
            ("i-1", "i-2", "i-3"))]
    seen.releases = [Release(service="web", number=1, config=OLD, image=None, launch_template=f"liftshift.shop.web.{OLD}",
                             at="", by="ci", commit=None, outcome="live")]
    assert svc.launch_template.config_hash != OLD
    return seen


def _finish(steps):
    switch = next(i for i, s in enumerate(steps) if (s.action, s.kind) == ("update", "listener"))
    return [(s.action, s.kind, s.calls[0].client, s.calls[0].operation) for s in steps[switch:]
            if s.kind not in ("release", "listener rule", "releases")]


def test_after_the_switch_the_old_release_is_deregistered_drained_then_deleted():
    want = want_web(load_balancer=LB)
    steps = plan.plan_stack(want, live_old_release(want)).steps
    assert _finish(steps) == [
        ("update", "listener", "elbv2", "modify_listener"),
        ("wait", "switch", "gate", "switched"),
        ("update", "auto scaling group", "autoscaling", "detach_load_balancer_target_groups"),
        ("wait", "drain", "gate", "drain"),
        ("delete", "auto scaling group", "autoscaling", "delete_auto_scaling_group"),
        ("delete", "target group", "elbv2", "delete_target_group"),
    ]
    by_kind = {(s.action, s.kind): s for s in steps}
    detach = by_kind[("update", "auto scaling group")]
    assert detach.name == f"liftshift.shop.web.{OLD}" and "ls-old" in detach.detail
    assert detach.calls[0].params == {"AutoScalingGroupName": f"liftshift.shop.web.{OLD}",
                                      "TargetGroupARNs": ["arn:tg-old"]}
    drain = by_kind[("wait", "drain")]
    assert drain.name == "web #1"
    assert drain.calls[0].params == {"service": "web", "target_groups": ["arn:tg-old"], "seconds": DRAIN_SECONDS}
    switched = by_kind[("wait", "switch")].calls[0].params
    assert switched["target_groups"] == ["arn:tg-old"] and switched["serving"] != "arn:tg-old"


def test_a_run_stopped_mid_drain_is_finished_by_the_next():
    """Killed after the detach (or during the drain wait): the listener serves #2, #1's group lists no target
    group. The next run does not detach again but still waits for the drain before deleting."""
    want = want_web(load_balancer=LB)
    seen = live_old_release(want, attached=False)
    config = want.services["web"].launch_template.config_hash
    seen.target_groups.append(ObservedTargetGroup("arn:tg-new", "ls-new", "web", config, 80, ()))
    seen.auto_scaling_groups.append(ObservedAutoScalingGroup(
        want.services["web"].fleet.auto_scaling_group, "web", config, 3, 3, 3, ("arn:tg-new",), ()))
    seen.load_balancers["web"].default_target_group = "arn:tg-new"
    seen.releases = [seen.releases[0].with_outcome("retired"),
                     Release(service="web", number=2, config=config, image=None,
                             launch_template=want.services["web"].launch_template.name, at="", by="ci", commit=None,
                             outcome="live")]
    infra = plan.plan_stack(want, seen)
    assert infra.rollouts == []
    assert fleet_steps(infra.steps) == [
        ("wait", "switch"), ("wait", "drain"), ("delete", "auto scaling group"), ("delete", "target group")]
    (drain,) = [s for s in infra.steps if s.kind == "drain"]
    assert drain.calls[0].params["target_groups"] == ["arn:tg-old"]

    # stopped after the group went: only the target group is left, still waited for
    seen.auto_scaling_groups = seen.auto_scaling_groups[1:]
    assert fleet_steps(plan.plan_stack(want, seen).steps) == [
        ("wait", "switch"), ("wait", "drain"), ("delete", "target group")]
    # and once everything is gone there is nothing left to drain or remove
    seen.target_groups = seen.target_groups[1:]
    assert fleet_steps(plan.plan_stack(want, seen).steps) == []


def fleet_steps(steps) -> list[tuple[str, str]]:
    """The steps about the load balancer's releases (the hand-made security groups here are not converged)."""
    return [(s.action, s.kind) for s in steps if s.kind in ("switch", "drain", "auto scaling group", "target group",
                                                             "listener")]


def test_a_first_release_has_nothing_to_drain():
    want = want_web(load_balancer=LB)
    steps = plan.plan_stack(want, Observed()).steps
    assert [(s.action, s.kind) for s in steps][-1] == ("wait", "switch")
    assert not [s for s in steps if s.kind == "drain" or s.calls[0].operation == "detach_load_balancer_target_groups"]


# --------------------------------------------------------------------------- the gates


class Notes:
    def __init__(self):
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


class StubElbv2:
    """describe_target_health answers one target in `before` (e.g. healthy: Auto Scaling has not deregistered
    it yet) for the first `waiting` calls per group, then `draining` for `polls` calls, then `after` (None:
    the target is gone from the group, as on moto)."""

    def __init__(self, polls: int, after: str | None = None, delay: str | None = "30", missing: tuple = (),
                 before: str = "healthy", waiting: int = 0):
        self.polls, self.after, self.delay, self.missing = polls, after, delay, missing
        self.before, self.waiting = before, waiting
        self.health_calls: dict[str, int] = {}

    def describe_target_group_attributes(self, TargetGroupArn):
        attributes = [{"Key": "stickiness.enabled", "Value": "false"}]
        if self.delay is not None:
            attributes.append({"Key": "deregistration_delay.timeout_seconds", "Value": self.delay})
        return {"Attributes": attributes}

    def describe_target_health(self, TargetGroupArn):
        if TargetGroupArn in self.missing:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "TargetGroupNotFound", "Message": "gone"}}, "DescribeTargetHealth")
        n = self.health_calls[TargetGroupArn] = self.health_calls.get(TargetGroupArn, 0) + 1
        state = self.before if n <= self.waiting else "draining" if n <= self.waiting + self.polls else self.after
        return {"TargetHealthDescriptions": [] if state is None else [
            {"Target": {"Id": "i-old1", "Port": 80}, "TargetHealth": {"State": state}}]}


class StubAws:
    def __init__(self, elbv2):
        self.elbv2 = elbv2

    def client(self, name):
        assert name == "elbv2"
        return self.elbv2


def gate(elbv2, *, margin: float = 0.3) -> tuple[AwsGate, Notes]:
    notes = Notes()
    return AwsGate(StubAws(elbv2), notes, "shop", poll=0.02, drain_margin=margin), notes


@pytest.mark.parametrize("after", [None, "unused"])
def test_the_drain_gate_waits_while_targets_drain_and_no_longer(after):
    elbv2 = StubElbv2(polls=4, after=after, delay="0")  # a 0 s delay: the bound is the margin, 0.3 s
    drain, notes = gate(elbv2)
    started = time.monotonic()
    assert drain.drain("web", ["arn:tg-old"], DRAIN_SECONDS) == {}
    assert time.monotonic() - started < 0.3
    assert elbv2.health_calls == {"arn:tg-old": 5}  # 4 draining answers, then done at once
    assert [n for n in notes.notes if "1 draining (" in n] and not [n for n in notes.notes if "anyway" in n]


def test_the_drain_gate_waits_for_auto_scaling_to_begin_the_deregistration():
    # after the detach, Auto Scaling deregisters the instances a moment later: still healthy is not drained
    elbv2 = StubElbv2(polls=2, waiting=3, delay="0")
    drain, notes = gate(elbv2)
    assert drain.drain("web", ["arn:tg-old"], DRAIN_SECONDS) == {}
    assert elbv2.health_calls == {"arn:tg-old": 6}
    assert [n for n in notes.notes if "1 healthy (" in n] and [n for n in notes.notes if "1 draining (" in n]


def test_the_drain_gate_gives_up_after_the_bound_and_lets_the_removal_go_ahead():
    elbv2 = StubElbv2(polls=10**6, delay="0")
    drain, notes = gate(elbv2, margin=0.25)
    started = time.monotonic()
    assert drain.drain("web", ["arn:tg-old"], DRAIN_SECONDS) == {}
    waited = time.monotonic() - started
    assert 0.25 <= waited < 0.6, waited
    (gave_up,) = [n for n in notes.notes if "anyway" in n]
    assert "1 old target(s) not deregistered" in gave_up and "deregistration delay 0 s" in gave_up
    assert "1 draining" in gave_up


def test_the_bound_is_the_target_group_s_own_delay_else_the_planned_one():
    # the group says 1 s: drained on the 1st poll after ~1 s would be waited for; here it never drains
    elbv2 = StubElbv2(polls=10**6, delay="1")
    drain, notes = gate(elbv2, margin=0.1)
    started = time.monotonic()
    drain.drain("web", ["arn:tg-old"], 0)
    assert 1.1 <= time.monotonic() - started < 1.6
    # no attribute readable: the planned delay (here 0 s) and the margin
    elbv2 = StubElbv2(polls=10**6, delay=None)
    drain, notes = gate(elbv2, margin=0.1)
    started = time.monotonic()
    drain.drain("web", ["arn:tg-old"], 0)
    assert time.monotonic() - started < 0.5


def test_a_target_group_already_gone_has_nothing_to_drain():
    elbv2 = StubElbv2(polls=10**6, missing=("arn:tg-gone",))
    drain, _ = gate(elbv2)
    started = time.monotonic()
    assert drain.drain("web", ["arn:tg-gone"], DRAIN_SECONDS) == {}
    assert drain.drain("web", [], DRAIN_SECONDS) == {}
    assert time.monotonic() - started < 0.2


# --------------------------------------------------------------------------- the local rehearsal's gate


class StubHosts:
    def __init__(self, state_path):
        self.state_path = state_path

    def load_balancer_state(self, stack, service):
        return self.state_path


def write_stand_in_state(path, in_flight: int) -> None:
    """The load-balancer stand-in's state file: the old group's target draining with `in_flight` requests."""
    import json

    path.write_text(json.dumps({"listeners": {"80": {"default": "arn:tg-new", "rules": []}}, "target_groups": {
        "arn:tg-old": {"targets": {"i-old1": {"state": "draining", "in_flight": in_flight}}}}}))


def local_gate(tmp_path):
    from types import SimpleNamespace

    from liftshift.targets.local.gate import LocalGate

    notes = Notes()
    state = tmp_path / "lb.json"
    return LocalGate(StubHosts(state), StubAws(StubElbv2(polls=0)), SimpleNamespace(name="shop"), notes), state, notes


def test_the_local_gate_waits_for_the_stand_in_s_requests_in_flight(tmp_path, monkeypatch):
    import threading

    from liftshift.targets.local import gate as module

    monkeypatch.setattr(module, "POLL_SECONDS", 0.05)
    gate_, state, notes = local_gate(tmp_path)
    write_stand_in_state(state, in_flight=1)
    assert gate_.switched("web", "arn:tg-new", ["arn:tg-old"]) == {}
    finished = threading.Timer(0.4, write_stand_in_state, (state, 0))
    finished.start()
    started = time.monotonic()
    assert gate_.drain("web", ["arn:tg-old"], DRAIN_SECONDS) == {}
    assert 0.35 <= time.monotonic() - started < 2 and notes.notes == []
    finished.join()


def test_the_local_gate_gives_up_after_the_bound_like_the_aws_one(tmp_path, monkeypatch):
    from liftshift.targets.local import gate as module

    monkeypatch.setattr(module, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(module, "DRAIN_MARGIN_SECONDS", 0.3)
    gate_, state, notes = local_gate(tmp_path)
    write_stand_in_state(state, in_flight=1)  # a request that never ends
    started = time.monotonic()
    assert gate_.drain("web", ["arn:tg-old"], 0) == {}
    assert 0.3 <= time.monotonic() - started < 1
    (gave_up,) = notes.notes
    assert "1 old target(s) not drained" in gave_up and "anyway" in gave_up


def test_the_stand_in_sends_a_deregistered_target_no_new_request_and_lets_its_requests_finish(tmp_path):
    """As an ALB: a target deregistered from a group still routed to gets no new request, is shown `draining`
    while a request is in flight on it (what the local gate waits for), and is forgotten once it is done."""
    from liftshift.targets.local import lbproxy as lbproxy
    from liftshift.targets.local.lbproxy_control import Proxy

    proxy = Proxy("http://127.0.0.1:1", "us-east-1", "arn:lb", tmp_path / "lb.json")
    proxy.addresses = {"i-a": "127.0.0.1:1", "i-b": "127.0.0.1:2"}
    proxy.apply({}, {}, {"arn:tg": {"i-a", "i-b"}})  # no listener: nothing is opened
    a, b = proxy.targets[("arn:tg", "i-a")], proxy.targets[("arn:tg", "i-b")]
    a.state = b.state = "healthy"
    proxy.busy(a, +1)  # a request in flight on i-a
    proxy.apply({}, {}, {"arn:tg": {"i-b"}})  # i-a deregistered
    assert [t.id for t in proxy.candidates("arn:tg")] == ["i-b"]
    proxy.write_state()
    shown = lbproxy.read_state(tmp_path / "lb.json")["target_groups"]["arn:tg"]["targets"]
    assert shown["i-a"]["state"] == "draining" and shown["i-a"]["in_flight"] == 1
    proxy.busy(a, -1)  # its request finished
    proxy.apply({}, {}, {"arn:tg": {"i-b"}})
    proxy.write_state()
    assert list(lbproxy.read_state(tmp_path / "lb.json")["target_groups"]["arn:tg"]["targets"]) == ["i-b"]
