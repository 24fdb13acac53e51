"""Reads a DNS cutover needs: the hosted zone, the record sets of one name, the stored cutover state, and a
load balancer's canonical hosted zone (for an alias record). Changes are planned calls (plan/cutover.py).
"""

from __future__ import annotations

import re
from typing import Any

from ..model.cutover import CutoverState, RecordSet, fqdn, from_item, item_key
from ..model.names import TABLE

ZONE_ID_RE = re.compile(r"(?:/hostedzone/)?Z[A-Z0-9]{1,32}")  # as spec/runtime.py DnsSpec accepts one


def zone_id(value: str) -> str:
    """A hosted zone id without the `/hostedzone/` prefix Route 53 answers with."""
    return value.rsplit("/", 1)[-1]


def find_zone(route53: Any, zone: str) -> tuple[str, str] | None:
    """(id, fqdn name) of the hosted zone `zone` names (its id, or its name: the one public zone of that name),
    or None. Several public zones of one name are ambiguous: ValueError."""
    import botocore.exceptions

    if ZONE_ID_RE.fullmatch(zone):  # an id: Z0123..., /hostedzone/Z...
        try:
            found = route53.get_hosted_zone(Id=zone_id(zone))["HostedZone"]
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchHostedZone", "InvalidInput"):
                return None
            raise
        return zone_id(found["Id"]), fqdn(found["Name"])
    wanted = fqdn(zone)
    zones = route53.list_hosted_zones_by_name(DNSName=wanted, MaxItems="100").get("HostedZones", [])
    same = [z for z in zones if fqdn(z["Name"]) == wanted]
    public = [z for z in same if not (z.get("Config") or {}).get("PrivateZone")]
    if len(public) > 1:
        raise ValueError(f"{len(public)} public hosted zones are named {wanted}: give the zone's id instead")
    chosen = public or same
    return (zone_id(chosen[0]["Id"]), wanted) if chosen else None


def find_rehearsal_zone(route53: Any, comment: str) -> tuple[str, str] | None:
    """A zone the local rehearsal made in its emulator, by the comment it gave it."""
    for z in route53.list_hosted_zones().get("HostedZones", []):
        if (z.get("Config") or {}).get("Comment") == comment:
            return zone_id(z["Id"]), fqdn(z["Name"])
    return None


def records_of(route53: Any, zone: str, name: str) -> list[RecordSet]:
    """Every record set of `name` in the zone (any type), as RecordSets."""
    wanted = fqdn(name)
    out: list[RecordSet] = []
    params: dict[str, Any] = {"HostedZoneId": zone, "StartRecordName": wanted}
    while True:
        page = route53.list_resource_record_sets(**params)
        for data in page.get("ResourceRecordSets", []):
            if fqdn(data["Name"]) != wanted:
                return out
            if data["Type"] in ("A", "AAAA", "CNAME"):
                out.append(RecordSet.from_api(data))
        if not page.get("IsTruncated"):
            return out
        params = {"HostedZoneId": zone, "StartRecordName": page["NextRecordName"],
                  "StartRecordType": page["NextRecordType"]}
        if "NextRecordIdentifier" in page:
            params["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def read_cutover(dynamodb: Any, stack: str) -> CutoverState:
    """The stack's cutover item (originals and history); empty when the table or item does not exist yet."""
    import botocore.exceptions

    try:
        item = dynamodb.get_item(TableName=TABLE, Key=item_key(stack), ConsistentRead=True).get("Item") or {}
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return from_item({})
        raise
    return from_item(item)


def load_balancer_zone(elbv2: Any, name: str) -> str | None:
    """The canonical hosted zone id of a load balancer: an alias record to it names this zone."""
    found = elbv2.describe_load_balancers(Names=[name]).get("LoadBalancers", [])
    return found[0].get("CanonicalHostedZoneId") if found else None
