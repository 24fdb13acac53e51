"""A DNS cutover's steps: what Route 53 has for the name -> the records a move wants, as planned calls (pure).

The moves (`liftshift cutover --to N% | --complete | --back`):

- `--to N%`: two weighted record sets of the name and the old record's type, `old` (weight 100-N, the old
  server's address, TTL `dns.ttl`) and `liftshift-<stack>` (weight N: an alias A record to the service's load
  balancer, or A records of its instances' public IP addresses with TTL `dns.ttl`). The first move lowers the
  plain old record's TTL to `dns.ttl` in a step of its own, before the weights are made.
- `--complete`: only the stack's record, as a plain (simple routing) record, with the original TTL.
- `--back`: only the old record as it was before the first move (its original TTL); the stack's goes.

Route 53 allows weighted records of one name only when they share a type, and no plain record beside them
("Weighted routing" and "Values specific for weighted records", Route 53 developer guide:
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html), so an old server
given by host name (a CNAME) is weighted against a CNAME to the load balancer, and one given by an IPv6
address cannot be weighted against the stack's IPv4 records (refused). A move's deletions and creations
are one ChangeBatch, which Route 53 applies all or nothing ("ChangeResourceRecordSets": "the request is
processed as a single transaction"), then waited for (GetChange: INSYNC). A move that finds the records it
wants plans nothing, so repeating a move changes nothing. Each move that changes something adds an entry
to the stack's cutover history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BadInput
from ..model import names
from ..model.cutover import (ASSUMED_TTL, Alias, CutoverEntry, CutoverState, OLD_ID, Original, RecordSet, fqdn,
                             item_key, old_type, original_key, stack_id)
from ..model.refs import Ref
from ..model.releases import Origin
from ..model.steps import Action, Call, Kind, RunToken, Step, Wait

NEW_ZONE_ERRORS = ("NoSuchHostedZone",)  # a zone the rehearsal just made in the emulator, not yet readable


class DnsProblem(BadInput):
    """services.X.dns cannot be cut over as asked: exit 2, naming the field (the pipeline adds file and line)."""

    def __init__(self, service: str, field_name: str | None, message: str):
        self.service, self.field = service, field_name
        super().__init__(message)


@dataclass(frozen=True)
class Move:
    kind: str  # "to" | "complete" | "back"
    percent: int | None = None

    def __str__(self) -> str:
        return f"to {self.percent}%" if self.kind == "to" else self.kind


@dataclass(frozen=True)
class Zone:
    id: str | Ref  # the hosted zone's id; a Ref when the rehearsal makes it in this run
    name: str  # fqdn
    create: bool = False  # the local rehearsal makes it in the emulator (nothing on the internet changes)
    comment: str = ""  # how the rehearsal finds a zone it made again (rehearsal_comment of dns.zone)


@dataclass(frozen=True)
class StackTarget:
    """Where the stack serves the name: a load balancer (its DNS name and canonical zone), else instance IPs."""

    lb_dns: str | None = None
    lb_zone: str | None = None
    ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class CutoverInput:
    stack: str
    service: str
    name: str  # dns.name
    old: str  # dns.old
    ttl: int  # dns.ttl
    zone: Zone
    current: tuple[RecordSet, ...]  # what the zone has for the name (every type)
    target: StackTarget
    state: CutoverState
    origin: Origin
    rehearsal: bool = False  # local: an absent old record is made in the emulator first (TTL assumed)


@dataclass
class CutoverPlan:
    steps: list[Step]
    records: list[RecordSet]  # what the name has after the move
    original: Original
    notes: list[str] = field(default_factory=list)


def zone_ref(service: str) -> Ref:
    return Ref(f"zone:{service}")


def change_ref(service: str, what: str) -> Ref:
    return Ref(f"change:{service}:{what}")


def plan_cutover(given: CutoverInput, move: Move) -> CutoverPlan:
    kind = old_type(given.old)
    name = fqdn(given.name)
    _refuse_unsupported(given, kind, name)
    relevant = [r for r in given.current if r.name == name and r.type in ("A", "AAAA", "CNAME")]
    mine_ids = (None, OLD_ID, stack_id(given.stack))
    foreign = [r for r in relevant if r.set_id not in mine_ids]
    if foreign:
        raise DnsProblem(given.service, "name", f"{name} has record sets liftshift did not make ("
                         + "; ".join(r.describe() for r in foreign) + "): cutover moves only the old server's "
                         f"record and the stack's ({OLD_ID!r}, {stack_id(given.stack)!r})")
    relevant = [r for r in relevant if r.type == kind]
    steps: list[Step] = []
    notes: list[str] = []
    original = given.state.originals.get(given.service)
    old_plain = [r for r in relevant if r.set_id is None and r.values == (_value(kind, given.old),)]
    if given.zone.create:
        steps.append(Step(Action.CREATE, Kind.HOSTED_ZONE, given.zone.name, given.service, (Call(
            "route53", "create_hosted_zone",
            {"Name": given.zone.name, "CallerReference": RunToken(f"hosted zone {given.service}"),
             "HostedZoneConfig": {"Comment": given.zone.comment or rehearsal_comment(given.zone.name),
                                  "PrivateZone": False}},
            save={zone_ref(given.service): "HostedZone.Id"}),), "in the local emulator only"))
    if original is None:
        if old_plain:
            original = Original(kind, given.old, old_plain[0].ttl or ASSUMED_TTL)
        elif not relevant and given.rehearsal:
            original = Original(kind, given.old, ASSUMED_TTL)
            seeded = original.record(name)
            steps.append(_change_step(given, Action.CREATE, "seed", [], [seeded],
                                      f"the old server's record in the local emulator, TTL {ASSUMED_TTL} assumed"))
            relevant = [seeded]
            notes.append(f"{name}: the emulator had no record of the old server; made one, its TTL {ASSUMED_TTL} assumed")
        elif not relevant:
            raise DnsProblem(given.service, "name", f"{name} has no {kind} record in the hosted zone "
                             f"{given.zone.name}: cutover moves the record that points at the old server "
                             f"({given.old}, services.{given.service}.dns.old); create it first")
        else:
            raise DnsProblem(given.service, "old", f"{name} points at "
                             + "; ".join(r.describe() for r in relevant)
                             + f", not at the old server {given.old} (services.{given.service}.dns.old)")
        steps.append(_record_original(given, original))
    wanted = _wanted(given, move, kind, name, original)
    if set(wanted) == set(relevant):
        return CutoverPlan([], wanted, original, notes)  # nothing to change: a repeated move is a no-op
    plain_old = [r for r in relevant if r.set_id is None and r.values == (_value(kind, given.old),)]
    if move.kind == "to" and plain_old and plain_old[0].ttl != given.ttl:
        lowered = RecordSet.make(name, kind, ttl=given.ttl, values=(given.old,))
        steps.append(_change_step(given, Action.UPDATE, "ttl", [plain_old[0]], [lowered],
                                  f"TTL {plain_old[0].ttl} -> {given.ttl} before traffic moves"))
        relevant = [lowered if r == plain_old[0] else r for r in relevant]
    gone = [r for r in relevant if r not in wanted]
    new = [r for r in wanted if r not in relevant]
    steps.append(_change_step(given, Action.UPDATE, "move", gone, new, f"{move}: " + "; ".join(
        r.describe() for r in wanted)))
    steps.append(_history_step(given, move, wanted))
    return CutoverPlan(steps, wanted, original, notes)


def rehearsal_comment(zone: str) -> str:
    """How the rehearsal finds again a zone it made in the emulator (a zone given by id cannot be made with it)."""
    return f"liftshift rehearsal of {zone}"


def _value(kind: str, old: str) -> str:
    return fqdn(old) if kind == "CNAME" else old


def _refuse_unsupported(given: CutoverInput, kind: str, name: str) -> None:
    if kind == "AAAA":
        raise DnsProblem(given.service, "old", f"{given.old} is an IPv6 address (an AAAA record), and Route 53 "
                         "weighs only records of one type against each other: the stack is reached over IPv4 (A "
                         "records); give the old server's IPv4 address")
    if kind == "CNAME" and name == given.zone.name:
        raise DnsProblem(given.service, "old", f"{given.old} is a host name (a CNAME record), which cannot be at "
                         f"the zone apex {name}; give the old server's IP address")
    if kind == "CNAME" and not given.target.lb_dns:
        raise DnsProblem(given.service, "old", f"{given.old} is a host name (a CNAME record), and Route 53 weighs "
                         "only records of one type against each other: without a load balancer the stack is "
                         "reached by A records of its instances' IP addresses; give the old server's IP address")


def _wanted(given: CutoverInput, move: Move, kind: str, name: str, original: Original) -> list[RecordSet]:
    if move.kind == "back":
        return [original.record(name)]
    weighted = move.kind == "to"
    ident, weight = (stack_id(given.stack), move.percent) if weighted else (None, None)
    target = given.target
    if kind == "CNAME":
        stack = RecordSet.make(name, kind, ttl=given.ttl if weighted else original.ttl, values=(target.lb_dns,),
                               set_id=ident, weight=weight)
    elif target.lb_dns:
        # EvaluateTargetHealth on the weighted alias: with no healthy target Route 53 answers with the old server
        # ("Value/route traffic to: Evaluate target health", Route 53 developer guide, alias records)
        stack = RecordSet.make(name, "A", alias=Alias(target.lb_zone or "", fqdn(target.lb_dns), weighted),
                               set_id=ident, weight=weight)
    elif target.ips:
        stack = RecordSet.make(name, "A", ttl=given.ttl if weighted else original.ttl, values=target.ips,
                               set_id=ident, weight=weight)
    else:
        raise DnsProblem(given.service, None, f"service {given.service} has no running instance with a public IP "
                         "address and no load balancer: nothing to move traffic to (deploy it first)")
    if not weighted:
        return [stack]
    old = RecordSet.make(name, kind, ttl=given.ttl, values=(given.old,), set_id=OLD_ID, weight=100 - move.percent)
    return [old, stack]


def _zone_id(given: CutoverInput) -> str | Ref:
    return zone_ref(given.service) if given.zone.create else given.zone.id


def _change_step(given: CutoverInput, action: Action, what: str, gone: list[RecordSet], new: list[RecordSet],
                 detail: str) -> Step:
    # A record set is named by name, type and set identifier: one that keeps its identity is replaced in place,
    # and every record is written with UPSERT, which creates what does not exist ("UPSERT: If a resource record
    # set doesn't already exist, Route 53 creates it. If it does exist, Route 53 updates it", Route 53 API
    # reference, ChangeResourceRecordSets). Nothing foreign can be overwritten: the plan refused foreign sets.
    # (moto, unlike Route 53, refuses a CREATE that repeats an earlier identical CREATE of a name and type
    # that has records, and a DELETE and a CREATE of one identity in one batch.)
    replaced = {_identity(r) for r in new}
    changes = [{"Action": "DELETE", "ResourceRecordSet": r.to_api()} for r in gone if _identity(r) not in replaced]
    changes += [{"Action": "UPSERT", "ResourceRecordSet": r.to_api()} for r in new]
    ref = change_ref(given.service, what)
    return Step(action, Kind.DNS_RECORD, fqdn(given.name), given.service, (
        Call("route53", "change_resource_record_sets",
             {"HostedZoneId": _zone_id(given),
              "ChangeBatch": {"Comment": f"liftshift cutover of {given.stack}/{given.service}: {what}",
                              "Changes": changes}},
             save={ref: "ChangeInfo.Id"}, retry=NEW_ZONE_ERRORS),
        Wait("route53", "resource_record_sets_changed", {"Id": ref}),
    ), detail)


def _identity(record: RecordSet) -> tuple[str, str, str | None]:
    return record.name, record.type, record.set_id


def _record_original(given: CutoverInput, original: Original) -> Step:
    """Kept before anything changes, once: a later move (and --back) reads the TTL it must restore here."""
    import json

    key = original_key(given.service)
    return Step(Action.CREATE, Kind.CUTOVER_RECORD, key, given.service, (Call("dynamodb", "update_item", {
        "TableName": names.TABLE, "Key": item_key(given.stack), "UpdateExpression": "SET #k = :v",
        "ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": key},
        "ExpressionAttributeValues": {":v": {"S": json.dumps(
            {"type": original.type, "value": original.value, "ttl": original.ttl}, sort_keys=True)}},
    }, ignore=("ConditionalCheckFailedException",)),),
        f"the old record before the cutover: {original.type} {original.value} TTL {original.ttl}")


def _history_step(given: CutoverInput, move: Move, wanted: list[RecordSet]) -> Step:
    entry = CutoverEntry(service=given.service, number=given.state.next_number(given.service), move=str(move),
                         zone=str(given.zone.name), name=fqdn(given.name),
                         records=tuple(r.describe() for r in wanted), at=given.origin.at, by=given.origin.by,
                         commit=given.origin.commit)
    return Step(Action.CREATE, Kind.CUTOVER_RECORD, f"{given.service} #{entry.number}", given.service, (
        Call("dynamodb", "update_item", {
            "TableName": names.TABLE, "Key": item_key(given.stack), "UpdateExpression": "SET #k = :v",
            "ExpressionAttributeNames": {"#k": entry.key}, "ExpressionAttributeValues": {":v": {"S": entry.to_json()}},
        }),), f"{move} by {entry.by}")
