"""The cutover planner (plan/cutover.py), pure: weights, TTLs, --complete, --back, idempotency, refusals."""

from __future__ import annotations

import json

import pytest

from liftshift.model.cutover import (CutoverState, Original, RecordSet, from_item, item_key, stack_id)
from liftshift.model.releases import Origin
from liftshift.model.steps import Kind
from liftshift.plan.cutover import CutoverInput, DnsProblem, Move, StackTarget, Zone, plan_cutover
from liftshift.cli.cutover import parse_percent
from liftshift.errors import BadInput

NAME = "shop.example.com."
OLD = "203.0.113.10"
LB = StackTarget(lb_dns="shop-web-123.eu-west-1.elb.amazonaws.com", lb_zone="Z32O12XQLNTSW2")
IPS = StackTarget(ips=("198.51.100.7", "198.51.100.8"))
WHO = Origin(by="ops@host", at="2026-11-30T15:00:00+00:00", commit="abc")


def given(current=(), target=LB, state=None, old=OLD, ttl=60, rehearsal=False, zone=None) -> CutoverInput:
    return CutoverInput(stack="shop", service="web", name="shop.example.com", old=old, ttl=ttl,
                        zone=zone or Zone(id="Z0123456789ABC", name="example.com."), current=tuple(current),
                        target=target, state=state or CutoverState({}, []), origin=WHO, rehearsal=rehearsal)


PLAIN = RecordSet.make(NAME, "A", ttl=3600, values=(OLD,))


def changes(step) -> list[tuple[str, dict]]:
    return [(c["Action"], c["ResourceRecordSet"]) for c in step.calls[0].params["ChangeBatch"]["Changes"]]


def apply(current: list[RecordSet], plan) -> list[RecordSet]:
    """What Route 53 has after the plan's changes (as the emulator would apply them)."""
    now = set(current)
    for step in plan.steps:
        if step.kind != Kind.DNS_RECORD:
            continue
        for action, data in changes(step):
            record = RecordSet.from_api(data)
            if action == "DELETE":
                now.remove(record)
                continue
            assert action == "UPSERT"
            same = {r for r in now if (r.name, r.type, r.set_id) == (record.name, record.type, record.set_id)}
            now = (now - same) | {record}
    return sorted(now, key=lambda r: (r.set_id or "", r.type))


def stored(plan, state: CutoverState) -> CutoverState:
    """The cutover state after the plan's DynamoDB writes."""
    item = {"stack": item_key("shop")["stack"]}
    for k, o in state.originals.items():
        item[f"{k}/original"] = {"S": json.dumps({"type": o.type, "value": o.value, "ttl": o.ttl})}
    for e in state.entries:
        item[e.key] = {"S": e.to_json()}
    for step in plan.steps:
        if step.kind == Kind.CUTOVER_RECORD:
            params = step.calls[0].params
            key = params["ExpressionAttributeNames"]["#k"]
            if key.endswith("/original") and key in item:
                continue  # attribute_not_exists
            item[key] = params["ExpressionAttributeValues"][":v"]
    return from_item(item)


def test_the_first_move_records_the_original_lowers_the_ttl_then_weighs():
    plan = plan_cutover(given([PLAIN]), Move("to", 10))
    kinds = [(s.kind, s.action) for s in plan.steps]
    assert kinds == [("cutover record", "create"), ("dns record", "update"), ("dns record", "update"),
                     ("cutover record", "create")]
    assert plan.original == Original("A", OLD, 3600)
    lowered = changes(plan.steps[1])
    assert [a for a, _ in lowered] == ["UPSERT"] and lowered[0][1]["TTL"] == 60
    assert [a for a, _ in changes(plan.steps[2])] == ["DELETE", "UPSERT", "UPSERT"]
    moved = dict((r["SetIdentifier"], r) for a, r in changes(plan.steps[2]) if a == "UPSERT")
    assert moved["old"]["Weight"] == 90 and moved["old"]["TTL"] == 60
    assert moved[stack_id("shop")]["Weight"] == 10
    assert moved[stack_id("shop")]["AliasTarget"] == {"HostedZoneId": "Z32O12XQLNTSW2", "EvaluateTargetHealth": True,
                                                      "DNSName": "shop-web-123.eu-west-1.elb.amazonaws.com."}
    assert "TTL" not in moved[stack_id("shop")]
    # the change is waited for
    assert plan.steps[2].calls[1].operation == "wait:resource_record_sets_changed"


@pytest.mark.parametrize("target", [LB, IPS], ids=["load balancer", "instance IPs"])
def test_weights_10_50_100_complete_and_back_at_each_point_are_idempotent(target):
    for stop in (None, 10, 50, 100, "complete"):
        current, state = [PLAIN], CutoverState({}, [])
        for percent in (10, 50, 100):
            if stop is not None and stop != "complete" and percent > stop:
                break
            plan = plan_cutover(given(current, target, state), Move("to", percent))
            current, state = apply(current, plan), stored(plan, state)
            weights = {r.set_id: r.weight for r in current}
            assert weights == {"old": 100 - percent, stack_id("shop"): percent}
            assert {r.ttl for r in current if r.alias is None} == {60}
            again = plan_cutover(given(current, target, state), Move("to", percent))
            assert again.steps == []  # the same move twice changes nothing
        if stop == "complete":
            plan = plan_cutover(given(current, target, state), Move("complete"))
            current, state = apply(current, plan), stored(plan, state)
            assert len(current) == 1 and current[0].set_id is None
            if target is IPS:
                assert current[0].values == IPS.ips and current[0].ttl == 3600  # the original TTL restored
            else:
                assert current[0].alias is not None and current[0].alias.evaluate is False
            assert plan_cutover(given(current, target, state), Move("complete")).steps == []
        if stop is not None:
            plan = plan_cutover(given(current, target, state), Move("back"))
            current, state = apply(current, plan), stored(plan, state)
            assert current == [PLAIN]  # as it was: the original TTL, no weights, the stack's record gone
            assert plan_cutover(given(current, target, state), Move("back")).steps == []
        numbers = [e.number for e in state.of("web")]
        assert numbers == list(range(1, len(numbers) + 1))
        assert all(e.by == "ops@host" for e in state.entries)


def test_back_before_any_move_changes_nothing():
    plan = plan_cutover(given([PLAIN]), Move("back"))
    assert plan.steps == []


def test_an_interrupted_first_move_keeps_the_original_ttl():
    plan = plan_cutover(given([PLAIN]), Move("to", 10))
    state = stored(plan, CutoverState({}, []))
    lowered = [RecordSet.make(NAME, "A", ttl=60, values=(OLD,))]  # stopped after the TTL step
    again = plan_cutover(given(lowered, state=state), Move("to", 10))
    assert again.original.ttl == 3600 and [s.kind for s in again.steps] == ["dns record", "cutover record"]
    back = plan_cutover(given(lowered, state=state), Move("back"))
    assert apply(lowered, back) == [PLAIN]


def test_an_old_host_name_is_a_cname_weighted_against_a_cname_to_the_load_balancer():
    old = RecordSet.make(NAME, "CNAME", ttl=300, values=("old.example.net",))
    plan = plan_cutover(given([old], old="old.example.net"), Move("to", 50))
    after = apply([old], plan)
    assert {(r.type, r.set_id, r.values) for r in after} == {
        ("CNAME", "old", ("old.example.net.",)),
        ("CNAME", stack_id("shop"), ("shop-web-123.eu-west-1.elb.amazonaws.com.",))}
    with pytest.raises(DnsProblem, match="host name"):
        plan_cutover(given([old], target=IPS, old="old.example.net"), Move("to", 50))


def test_refusals_name_the_field():
    with pytest.raises(DnsProblem) as missing:
        plan_cutover(given([]), Move("to", 10))
    assert missing.value.field == "name" and "no A record" in str(missing.value)
    elsewhere = RecordSet.make(NAME, "A", ttl=300, values=("192.0.2.99",))
    with pytest.raises(DnsProblem) as wrong:
        plan_cutover(given([elsewhere]), Move("to", 10))
    assert wrong.value.field == "old" and "192.0.2.99" in str(wrong.value)
    foreign = RecordSet.make(NAME, "A", ttl=60, values=("192.0.2.1",), set_id="blue", weight=1)
    with pytest.raises(DnsProblem, match="did not make"):
        plan_cutover(given([PLAIN, foreign]), Move("to", 10))
    with pytest.raises(DnsProblem, match="IPv6"):
        plan_cutover(given([], old="2001:db8::1"), Move("to", 10))
    with pytest.raises(DnsProblem, match="no running instance"):
        plan_cutover(given([PLAIN], target=StackTarget()), Move("to", 10))


def test_the_rehearsal_makes_the_zone_and_the_old_record_in_the_emulator():
    zone = Zone(id="", name="example.com.", create=True, comment="liftshift rehearsal of example.com")
    plan = plan_cutover(given([], target=IPS, rehearsal=True, zone=zone), Move("to", 10))
    assert [s.kind for s in plan.steps][:2] == ["hosted zone", "dns record"]
    assert plan.original == Original("A", OLD, 300)
    assert all(c.params.get("HostedZoneId") is not None for s in plan.steps for c in s.calls
               if c.operation == "change_resource_record_sets")
    assert any("assumed" in n for n in plan.notes)


@pytest.mark.parametrize("text,value", [("10%", 10), ("50", 50), (" 100% ", 100)])
def test_percent(text, value):
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["0%", "101%", "ten", "-5", "10%%"])
def test_bad_percent(text):
    with pytest.raises(BadInput):
        parse_percent(text)
