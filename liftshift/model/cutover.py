"""A DNS cutover as data: Route 53 record sets, the record a cutover keeps of the original, and its history.

`liftshift cutover` moves a service's `dns.name` from the old server to the stack with Route 53 weighted
records: two record sets of one name and type, set identifiers `old` and `liftshift-<stack>`, weights
100-N and N ("Weighted routing", Route 53 developer guide:
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html). The record of the
old server as it was before the first move (`Original`: its type, value and TTL) is kept in the same
DynamoDB table as the release records (item `cutover/<stack>`), with one history entry per change (who,
when, what), so `--back` can put it back with its own TTL at any point. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass
from typing import Any

OLD_ID = "old"
ASSUMED_TTL = 300  # the rehearsal's stand-in for an old record it cannot read (local target only)


def stack_id(stack: str) -> str:
    """The set identifier of the stack's weighted record."""
    return f"liftshift-{stack}"


def fqdn(name: str) -> str:
    """A DNS name as Route 53 returns it: lower case, with the final dot."""
    return name.rstrip(".").lower() + "."


def old_type(old: str) -> str:
    """The record type that points at the old server: A/AAAA for an IP address, CNAME for a host name."""
    try:
        return "AAAA" if ipaddress.ip_address(old).version == 6 else "A"
    except ValueError:
        return "CNAME"


@dataclass(frozen=True)
class Alias:
    zone: str  # the load balancer's canonical hosted zone id
    dns: str  # fqdn(its DNS name)
    evaluate: bool  # EvaluateTargetHealth


@dataclass(frozen=True)
class RecordSet:
    """One Route 53 resource record set of the cutover's name, in a form that compares with what Route 53 reads."""

    name: str  # fqdn
    type: str  # A | AAAA | CNAME
    ttl: int | None  # None for an alias
    values: tuple[str, ...] = ()  # sorted
    alias: Alias | None = None
    set_id: str | None = None  # None: a plain (simple routing) record
    weight: int | None = None

    @classmethod
    def make(cls, name: str, type: str, *, ttl: int | None = None, values: tuple[str, ...] | list[str] = (),
             alias: Alias | None = None, set_id: str | None = None, weight: int | None = None) -> "RecordSet":
        clean = tuple(sorted(fqdn(v) if type == "CNAME" else v for v in values))
        return cls(fqdn(name), type, None if alias else ttl, clean, alias, set_id, weight)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "RecordSet":
        target = data.get("AliasTarget")
        alias = Alias(target["HostedZoneId"], fqdn(_plain_dns(target["DNSName"])),
                      bool(target.get("EvaluateTargetHealth"))) if target else None
        return cls.make(data["Name"], data["Type"], ttl=data.get("TTL"), alias=alias,
                        values=[r["Value"] for r in data.get("ResourceRecords", [])],
                        set_id=data.get("SetIdentifier"), weight=data.get("Weight"))

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.type}
        if self.set_id is not None:
            out["SetIdentifier"] = self.set_id
            out["Weight"] = self.weight
        if self.alias is not None:
            out["AliasTarget"] = {"HostedZoneId": self.alias.zone, "DNSName": self.alias.dns,
                                  "EvaluateTargetHealth": self.alias.evaluate}
        else:
            out["TTL"] = self.ttl
            out["ResourceRecords"] = [{"Value": v} for v in self.values]
        return out

    def describe(self) -> str:
        """e.g. `A shop.example.com. -> 203.0.113.10 ttl 60, weight 90 (old)`."""
        target = f"alias {self.alias.dns}" if self.alias else ", ".join(self.values)
        ttl = "" if self.alias else f" ttl {self.ttl}"
        routing = f", weight {self.weight} ({self.set_id})" if self.set_id is not None else ""
        return f"{self.type} {self.name} -> {target}{ttl}{routing}"


def _plain_dns(name: str) -> str:
    """An ALB's DNS name as an alias target may carry it (Route 53 accepts a `dualstack.` prefix)."""
    name = name.lower()
    return name[len("dualstack."):] if name.startswith("dualstack.") else name


@dataclass(frozen=True)
class Original:
    """The old server's record as it was before the first move: what `--back` puts back."""

    type: str
    value: str
    ttl: int

    def record(self, name: str) -> RecordSet:
        return RecordSet.make(name, self.type, ttl=self.ttl, values=(self.value,))


@dataclass(frozen=True)
class CutoverEntry:
    """One change a cutover made, recorded like a release: who, when, which commit, and the records set."""

    service: str
    number: int
    move: str  # "to 10%", "complete", "back"
    zone: str
    name: str
    records: tuple[str, ...]  # RecordSet.describe() of each record the name has after it
    at: str
    by: str
    commit: str | None

    @property
    def key(self) -> str:
        return f"{self.service}/{self.number:06d}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def original_key(service: str) -> str:
    return f"{service}/original"


def item_key(stack: str) -> dict[str, Any]:
    """The stack's cutover item in the locks table (stack names never contain '/', so nothing is shadowed)."""
    return {"stack": {"S": f"cutover/{stack}"}}


@dataclass
class CutoverState:
    """What the item holds: each service's original record and its entries, oldest first."""

    originals: dict[str, Original]
    entries: list[CutoverEntry]

    def of(self, service: str) -> list[CutoverEntry]:
        return [e for e in self.entries if e.service == service]

    def next_number(self, service: str) -> int:
        return max((e.number for e in self.of(service)), default=0) + 1


def from_item(item: dict[str, Any]) -> CutoverState:
    """The cutover item as GetItem returns it; values this version cannot read are left out (and left alone)."""
    originals: dict[str, Original] = {}
    entries: list[CutoverEntry] = []
    for key, value in item.items():
        if key == "stack" or "S" not in value:
            continue
        try:
            data = json.loads(value["S"])
            if key.endswith("/original"):
                originals[key.rsplit("/", 1)[0]] = Original(data["type"], data["value"], int(data["ttl"]))
            else:
                known = {k: v for k, v in data.items() if k in CutoverEntry.__dataclass_fields__}
                known["records"] = tuple(known.get("records") or ())
                entries.append(CutoverEntry(**known))
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    return CutoverState(originals, sorted(entries, key=lambda e: (e.service, e.number)))
