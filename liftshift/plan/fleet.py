"""Plans for services behind a load balancer: one Auto Scaling group and target group per release.

A rollout is three lists of steps, so a stack's services go through each
phase together: `prepare` makes the new release's template, target group and
Auto Scaling group (AWS launches, spreads and replaces the instances) and a
listener rule that routes only requests carrying the release header to it;
`gate` waits for its targets to be healthy and probes it through the load
balancer; `finish` switches the listener's default action, records the
outcome, drains and removes the old release. Traffic moves only in `finish`,
so a failed gate (see `plan_abandon`) leaves the old release serving.

Which release is live is read from AWS (the listener's default action), not
from the records, so an interrupted rollout converges on the next run.
Pure: nothing here talks to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..model import names
from ..model import refs
from ..model.desired import ListenerWant, TargetGroupWant
from ..model.observed import Observed, ObservedLoadBalancer
from ..model.releases import FAILED, LIVE, PENDING, RETIRED, ROLLED_BACK, Release, new_probe_value, of_service
from ..model.refs import Ref
from ..model.steps import (NEW_FOR_AUTO_SCALING, NEW_LB_GROUP, NEW_LOAD_BALANCER, NEW_TARGET_GROUP, Action, Call,
                           Check, GateCall, Kind, Step, Withheld)
from .records import forget_call, record_step

DRAIN_SECONDS = 30  # the target groups' deregistration delay: how long an old release's requests may drain
PROBE_SECONDS = 60  # the probe through the load balancer, once the targets are healthy
NO_RELEASE_BODY = "liftshift: no release of this service is live yet"
# The load balancer removes header fields whose names are not valid (AWS: names must match [-A-Za-z0-9]+)
# instead of passing them to the app; the default is false. "routing.http.drop_invalid_header_fields.enabled" in
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-attributes
DROP_INVALID_HEADERS = "routing.http.drop_invalid_header_fields.enabled"


@dataclass(frozen=True)
class Candidate:
    """The release a rollout puts out: from app.yaml (deploy) or from a record (rollback)."""

    service: str
    config: str
    launch_template: str
    template_step: Step | None  # creates the launch template when it does not exist
    target_group: TargetGroupWant
    listener: ListenerWant
    auto_scaling_group: str
    count: int
    subnets: tuple[str, ...]
    vpc_id: str
    timeout: int
    keep: int
    record: Release
    rollback: bool = False


@dataclass
class FleetPlan:
    prepare: list[Step] = field(default_factory=list)
    gate: list[Step] = field(default_factory=list)
    finish: list[Step] = field(default_factory=list)
    rollout: Candidate | None = None  # set when a release goes out (and may have to be abandoned)


def _drop_invalid_headers(load_balancer: Any) -> Call:
    return Call("elbv2", "modify_load_balancer_attributes", {"LoadBalancerArn": load_balancer, "Attributes": [
        {"Key": DROP_INVALID_HEADERS, "Value": "true"}]})


def probe_label(number: int) -> str:
    """How plans and progress name the release header of release `number`: never its value."""
    return f"{names.RELEASE_HEADER}: #{number} (value withheld)"


def live_config(observed: Observed, service: str) -> str | None:
    """The config hash of the release the listener sends traffic to, if any."""
    lb = observed.load_balancers.get(service)
    if lb is None or lb.default_target_group is None:
        return None
    for tg in observed.target_groups:
        if tg.arn == lb.default_target_group:
            return tg.config_hash
    return None


def _actions(target_group: Any) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": target_group}]


def _listener_params(listener: ListenerWant) -> dict[str, Any]:
    params: dict[str, Any] = {"Port": listener.port, "Protocol": listener.protocol}
    if listener.certificate_arn:
        params["Certificates"] = [{"CertificateArn": listener.certificate_arn}]
        params["SslPolicy"] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    return params


def lb_group_id(observed: Observed, service: str) -> Any:
    """The load balancer's security group: its id, or the ref its creation earlier in the plan saves."""
    have = observed.lb_groups.get(service)
    return have.id if have else refs.lb_security_group(service)


def plan_fleet(stack: str, c: Candidate, observed: Observed) -> FleetPlan:
    """Steps for one service behind a load balancer, given the release it should run."""
    out = FleetPlan()
    svc = c.service
    lb_group = lb_group_id(observed, svc)
    lb = observed.load_balancers.get(svc)
    mine = of_service(observed.releases, svc)
    groups = [g for g in observed.auto_scaling_groups if g.service == svc]
    tgs = [t for t in observed.target_groups if t.service == svc]
    live = live_config(observed, svc)
    tags = names.tags(stack, svc)

    lb_arn: Any = lb.arn if lb else refs.load_balancer(svc)
    lb_dns: Any = lb.dns if lb else refs.load_balancer_dns(svc)
    if lb is None:
        out.prepare.append(Step(Action.CREATE, Kind.LOAD_BALANCER, names.load_balancer(stack, svc), svc, (
            Call("elbv2", "create_load_balancer", {
                "Name": names.load_balancer(stack, svc), "Subnets": list(c.subnets), "SecurityGroups": [lb_group],
                "Scheme": "internet-facing", "Type": "application", "IpAddressType": "ipv4",
                "Tags": names.tag_list(tags),
            }, save={refs.load_balancer(svc): "LoadBalancers[0].LoadBalancerArn",
                  refs.load_balancer_dns(svc): "LoadBalancers[0].DNSName"},
                retry=NEW_LB_GROUP),  # its security group may be new
            replace(_drop_invalid_headers(lb_arn), retry=NEW_LOAD_BALANCER),
        ), f"application load balancer over {len(c.subnets)} subnets, dropping invalid header fields"))
    elif lb.drops_invalid_headers is False:  # made by an older liftshift, or changed by hand
        out.prepare.append(Step(Action.UPDATE, Kind.LOAD_BALANCER, lb.name, svc, (_drop_invalid_headers(lb.arn),),
                                "drop invalid header fields"))
    listener_arn: Any = lb.listener_arn if lb and lb.listener_arn else refs.listener(svc)
    if lb is None or lb.listener_arn is None:
        out.prepare.append(Step(Action.CREATE, Kind.LISTENER, f"{c.listener.protocol}:{c.listener.port}", svc, (
            Call("elbv2", "create_listener", {
                "LoadBalancerArn": lb_arn, **_listener_params(c.listener),
                "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {
                    "StatusCode": "503", "ContentType": "text/plain", "MessageBody": NO_RELEASE_BODY}}],
                "Tags": names.tag_list(tags),
            }, save={refs.listener(svc): "Listeners[0].ListenerArn"}, retry=NEW_LOAD_BALANCER),
        ), "answers 503 until a release passes its health gate"))

    leftovers_asg = [g for g in groups if g.config_hash not in (c.config, live)]
    leftovers_tg = [t for t in tgs if t.config_hash not in (c.config, live)]
    record = next((r for r in mine if r.config == c.config), None)

    if live == c.config:
        # Already live: keep its count and listener settings, finish anything an earlier run left.
        group = next((g for g in groups if g.config_hash == c.config), None)
        tg = next((t for t in tgs if t.config_hash == c.config), None)
        if group is None or tg is None:
            out.rollout = c  # its group or target group was removed outside liftshift: roll it out again
        else:
            out.prepare += _resize(group, c)
            if lb and (lb.listener_port, lb.listener_protocol, lb.listener_certificate) != (
                    c.listener.port, c.listener.protocol, c.listener.certificate_arn):
                out.prepare.append(Step(Action.UPDATE, Kind.LISTENER, f"{c.listener.protocol}:{c.listener.port}", svc, (
                    Call("elbv2", "modify_listener", {"ListenerArn": listener_arn, **_listener_params(c.listener)}),
                ), "listener settings as declared"))
            if record is not None and record.outcome != LIVE:
                out.finish.append(record_step(stack, record.with_outcome(LIVE), "recorded live"))
            for old in mine:  # a run stopped right after its switch left the previous release recorded live
                if old.outcome == LIVE and old.config != c.config:
                    out.finish.append(record_step(stack, old.with_outcome(ROLLED_BACK if c.rollback else RETIRED),
                                              "no longer serving"))
            # Every rule is a probe route an interrupted rollout left behind. Groups left by a run stopped just
            # after its switch are drained like any old release before they go.
            out.finish += _cleanup(stack, c, observed, lb, leftovers_asg, leftovers_tg, rules=list(lb.rules) if lb else [],
                                   serving=tg.arn if leftovers_asg or leftovers_tg else None)
            return out
    else:
        out.rollout = c

    # -- a release goes out --
    number = c.record.number
    # The release header's value routes the probe (and only the probe) to the pending release, so it is not the
    # number anyone could guess: an earlier attempt's value while its record is still pending (its rule may exist),
    # else a new random one. Records carry it so an interrupted run, the gate and the next run find it.
    resumed = record is not None and record.outcome == PENDING and record.number == number and record.probe
    probe = record.probe if resumed else new_probe_value()
    c = replace(c, record=replace(c.record, probe=probe))
    out.rollout = c
    pending = c.record.with_outcome(PENDING)
    if not resumed:
        out.prepare.append(record_step(stack, pending, "rollback target" if c.rollback else
                                   f"image {(c.record.image or 'pending')[:19]}, commit {c.record.commit or '-'}"))
    if c.template_step is not None:
        out.prepare.append(c.template_step)
    tg = next((t for t in tgs if t.config_hash == c.config), None)
    tg_arn: Any = tg.arn if tg else refs.target_group(svc)
    if tg is None:
        h = c.target_group.health
        out.prepare.append(Step(Action.CREATE, Kind.TARGET_GROUP, c.target_group.name, svc, (
            Call("elbv2", "create_target_group", {
                "Name": c.target_group.name, "Protocol": "HTTP", "Port": c.target_group.port, "VpcId": c.vpc_id,
                "TargetType": "instance", "HealthCheckProtocol": "HTTP", "HealthCheckPath": h["path"],
                "HealthCheckIntervalSeconds": h["interval"], "HealthCheckTimeoutSeconds": h["timeout"],
                "HealthyThresholdCount": h["healthy"], "UnhealthyThresholdCount": h["unhealthy"],
                "Matcher": {"HttpCode": "200-399"},
                "Tags": names.tag_list({**tags, names.TAG_CONFIG: c.config, names.TAG_RELEASE: str(number)}),
            }, save={refs.target_group(svc): "TargetGroups[0].TargetGroupArn"}),
            replace(_drain_attribute(tg_arn), retry=NEW_TARGET_GROUP),
        ), f"health {h['path']} every {h['interval']} s, healthy after {h['healthy']}, unhealthy after {h['unhealthy']}"))
    else:  # made by an interrupted run, perhaps before its drain setting
        out.prepare.append(Step(Action.UPDATE, Kind.TARGET_GROUP, tg.name, svc, (_drain_attribute(tg.arn),),
                                f"deregistration delay {DRAIN_SECONDS} s"))
    group = next((g for g in groups if g.config_hash == c.config), None)
    if group is None:
        out.prepare.append(Step(Action.CREATE, Kind.AUTO_SCALING_GROUP, c.auto_scaling_group, svc, (
            Call("autoscaling", "create_auto_scaling_group", {
                "AutoScalingGroupName": c.auto_scaling_group,
                "LaunchTemplate": {"LaunchTemplateName": c.launch_template, "Version": "1"},
                "MinSize": c.count, "MaxSize": c.count, "DesiredCapacity": c.count,
                "VPCZoneIdentifier": ",".join(c.subnets), "TargetGroupARNs": [tg_arn],
                "HealthCheckType": "ELB", "HealthCheckGracePeriod": min(c.timeout, 300),
                "Tags": [{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": c.auto_scaling_group,
                          "ResourceType": "auto-scaling-group"}
                         for k, v in sorted({**tags, names.TAG_CONFIG: c.config,
                                             names.TAG_RELEASE: str(number)}.items())],
            }, ignore=("AlreadyExists",), retry=NEW_FOR_AUTO_SCALING),  # a new profile, template or target group
        ), f"release #{number}: {c.count} instance(s) over {len(c.subnets)} subnets, replaced by AWS when unhealthy"))
    else:
        out.prepare += _resize(group, c)
    rules = list(lb.rules) if lb else []
    rule = next((r for r in rules if r.header_values == (probe,)), None)
    # Any other rule is a probe route an earlier run left (perhaps with a guessable value, or on this release's
    # priority): removed before this release gets its own.
    out.prepare += _delete_rules(svc, [r for r in rules if r is not rule], observed,
                                 "a probe route an earlier run left behind")
    if rule is None:
        out.prepare.append(Step(Action.CREATE, Kind.LISTENER_RULE, probe_label(number), svc, (
            Call("elbv2", "create_rule", {
                "ListenerArn": listener_arn, "Priority": number,
                "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
                    "HttpHeaderName": names.RELEASE_HEADER, "Values": [Withheld(probe)]}}],
                "Actions": _actions(tg_arn), "Tags": names.tag_list(tags),
            }, save={refs.probe_rule(svc): "Rules[0].RuleArn"}, retry=NEW_TARGET_GROUP),
        ), "routes only the health probe to the new release"))
    h = c.target_group.health
    out.gate.append(Step(Action.WAIT, Kind.RELEASE_HEALTHY, f"{svc} #{number}", svc, (
        GateCall(Check.HEALTHY, {"service": svc, "release": number, "target_group": tg_arn,
                                 "auto_scaling_group": c.auto_scaling_group, "count": c.count,
                                 "timeout": c.timeout}),
    ), f"{c.count} healthy target(s) within {c.timeout} s, or the release is removed"))
    if c.count > 0:  # with no instance the load balancer can only answer 503
        out.gate.append(Step(Action.WAIT, Kind.PROBE, f"{c.listener.protocol.lower()}://<{svc} load balancer>:{c.listener.port}"
                             f"{h['path']}", svc, (
            GateCall(Check.PROBE, {"service": svc, "release": number, "load_balancer": lb_arn, "dns": lb_dns,
                                   "port": c.listener.port, "protocol": c.listener.protocol, "path": h["path"],
                                   "timeout": PROBE_SECONDS, "header": Withheld(probe)}),
        ), f"through the load balancer with {probe_label(number)}"))

    out.finish.append(Step(Action.UPDATE, Kind.LISTENER, f"{c.listener.protocol}:{c.listener.port}", svc, (
        Call("elbv2", "modify_listener", {"ListenerArn": listener_arn, **_listener_params(c.listener),
                                          "DefaultActions": _actions(tg_arn)}, retry=NEW_TARGET_GROUP),
    ), f"traffic -> release #{number}"))
    out.finish.append(record_step(stack, c.record.with_outcome(LIVE), "live"))
    for old in mine:
        if old.config == live and old.config != c.config and old.outcome == LIVE:
            out.finish.append(record_step(stack, old.with_outcome(ROLLED_BACK if c.rollback else RETIRED),
                                      f"replaced by #{number}"))
    old_groups = [g for g in groups if g.config_hash != c.config]
    old_tgs = [t for t in tgs if t.config_hash != c.config]
    out.finish += _cleanup(stack, c, observed, lb, old_groups, old_tgs, serving=tg_arn,
                           rules=[rule if rule else refs.probe_rule(svc)])
    return out


def _rule_label(rule: Any, observed: Observed, service: str) -> str:
    """A probe rule as plans show it: the release it routes to (by its record's value, else its target group),
    never the header value."""
    if isinstance(rule, Ref):
        return "the probe rule"
    mine = of_service(observed.releases, service)
    number = next((r.number for r in mine if r.probe and r.probe in rule.header_values), None)
    if number is None:
        config = next((t.config_hash for t in observed.target_groups if t.arn == rule.target_group), None)
        number = next((r.number for r in mine if config and r.config == config), None)
    return probe_label(number) if number is not None else f"{names.RELEASE_HEADER} rule, priority {rule.priority}"


def _delete_rules(service: str, rules: list, observed: Observed, why: str) -> list[Step]:
    return [Step(Action.DELETE, Kind.LISTENER_RULE, _rule_label(rule, observed, service), service, (
        Call("elbv2", "delete_rule", {"RuleArn": rule if isinstance(rule, Ref) else rule.arn}, ignore=("RuleNotFound",)),
    ), why) for rule in rules]


def _drain_attribute(target_group: Any) -> Call:
    return Call("elbv2", "modify_target_group_attributes", {"TargetGroupArn": target_group, "Attributes": [
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(DRAIN_SECONDS)}]})


def _resize(group, c: Candidate) -> list[Step]:
    """The count changes in place: Auto Scaling launches or terminates."""
    if (group.desired, group.min_size, group.max_size) == (c.count,) * 3:
        return []
    return [Step(Action.UPDATE, Kind.AUTO_SCALING_GROUP, group.name, c.service, (
        Call("autoscaling", "update_auto_scaling_group", {
            "AutoScalingGroupName": group.name, "MinSize": c.count, "MaxSize": c.count, "DesiredCapacity": c.count}),
    ), f"count {group.desired} -> {c.count} (Auto Scaling launches or terminates)")]


def _cleanup(stack: str, c: Candidate, observed: Observed, lb: ObservedLoadBalancer | None, groups, tgs, *,
             serving: Any = None, rules: list | None = None) -> list[Step]:
    """Probe rules, then (after a switch to `serving`) the wait for it to reach the load balancer, the old
    release's deregistration and drain, old groups, old target groups and releases beyond `keep`.

    The old groups are detached from their target groups (Auto Scaling's DetachLoadBalancerTargetGroups:
    AWS deregisters their instances, which keep running; ELB sends a deregistering target no new request
    and lets those in flight finish within the deregistration delay), the drain gate waits until every
    target of those groups is deregistered and no longer `draining`, and only then are the groups (their
    instances) and target groups deleted. Every step is planned from what is observed, so a run stopped anywhere here is finished by
    the next one: a detached group lists no target group and is not detached again, but still waited for."""
    svc = c.service
    steps: list[Step] = _delete_rules(svc, rules or [], observed, "the probe route is no longer needed")
    if serving is not None:
        steps.append(Step(Action.WAIT, Kind.SWITCH, f"{svc} #{c.record.number}", svc, (
            GateCall(Check.SWITCHED, {"service": svc, "serving": serving, "target_groups": [t.arn for t in tgs]}),
        ), "the load balancer routes to the new release" + ("; then the old one is deregistered" if tgs else "")))
    draining = [t.arn for t in tgs]
    names_of = {t.arn: t.name for t in observed.target_groups}
    for group in groups:
        attached = [arn for arn in group.target_groups if arn != serving]
        if not attached:
            continue
        draining += [arn for arn in attached if arn not in draining]
        steps.append(Step(Action.UPDATE, Kind.AUTO_SCALING_GROUP, group.name, svc, (
            Call("autoscaling", "detach_load_balancer_target_groups",
                 {"AutoScalingGroupName": group.name, "TargetGroupARNs": attached},
                 # Both mean "already done": ValidationError is AWS's code for "AutoScalingGroup name not found";
                 # InvalidTarget is ELBv2's for a target that is no longer registered (moto answers it when an
                 # interrupted run's detach already deregistered the instances; AWS deregisters quietly).
                 ignore=("ValidationError", "InvalidTarget")),
        ), f"old release: detached from {', '.join(names_of.get(a, 'its target group') for a in attached)}; "
           "AWS deregisters its instances: no new request reaches them, those in flight finish"))
    if draining:
        configs = {g.config_hash for g in groups} | {t.config_hash for t in tgs}
        old = sorted(r.number for r in of_service(observed.releases, svc) if r.config in configs)
        steps.append(Step(Action.WAIT, Kind.DRAIN, f"{svc} " + (", ".join(f"#{n}" for n in old) or "old release"), svc, (
            GateCall(Check.DRAIN, {"service": svc, "target_groups": draining, "seconds": DRAIN_SECONDS}),
        ), f"until the old targets are deregistered and drained (within the deregistration delay, "
           f"{DRAIN_SECONDS} s, and a margin)"))
    for group in groups:
        steps.append(Step(Action.DELETE, Kind.AUTO_SCALING_GROUP, group.name, svc, (
            Call("autoscaling", "delete_auto_scaling_group", {"AutoScalingGroupName": group.name, "ForceDelete": True},
                 ignore=("ValidationError",)),  # AWS's code for "AutoScalingGroup name not found"
        ), "old release: its instances are terminated"))
    for tg in tgs:
        steps.append(Step(Action.DELETE, Kind.TARGET_GROUP, tg.name, svc, (
            Call("elbv2", "delete_target_group", {"TargetGroupArn": tg.arn},
                 ignore=("TargetGroupNotFound",), retry=("ResourceInUse",)),
        ), "old release"))
    steps += _prune(stack, c, observed)
    return steps


def _prune(stack: str, c: Candidate, observed: Observed) -> list[Step]:
    """Releases beyond `keep` (never the one going live) lose their record and launch template."""
    mine = sorted(of_service(observed.releases, c.service), key=lambda r: -r.number)
    kept = {r.number for r in mine[: c.keep]} | {c.record.number}
    gone = [r for r in mine if r.number not in kept]
    if not gone:
        return []
    calls = [forget_call(stack, gone)]
    templates = {t.name: t for t in observed.templates if t.service == c.service}
    for r in gone:
        t = templates.get(r.launch_template)
        if t is not None and t.config_hash != c.config:
            calls.append(Call("ec2", "delete_launch_template", {"LaunchTemplateId": t.id},
                              ignore=("InvalidLaunchTemplateId.NotFound",)))
    return [Step(Action.DELETE, Kind.RELEASES, ", ".join(f"#{r.number}" for r in gone), c.service, tuple(calls),
                 f"keeps the last {c.keep} for rollback")]


def plan_abandon(stack: str, c: Candidate, observed: Observed, reason: str, created_rule: bool) -> list[Step]:
    """A release that failed its gate is removed; the listener never pointed at it."""
    svc = c.service
    lb = observed.load_balancers.get(svc)
    steps: list[Step] = []
    number = c.record.number
    rule = next((r for r in (lb.rules if lb else []) if c.record.probe and r.header_values == (c.record.probe,)), None)
    if rule is not None or created_rule:
        steps.append(Step(Action.DELETE, Kind.LISTENER_RULE, probe_label(number), svc, (
            Call("elbv2", "delete_rule", {"RuleArn": rule.arn if rule else refs.probe_rule(svc)},
                 ignore=("RuleNotFound",)),
        ), "release abandoned"))
    steps.append(Step(Action.DELETE, Kind.AUTO_SCALING_GROUP, c.auto_scaling_group, svc, (
        Call("autoscaling", "delete_auto_scaling_group", {"AutoScalingGroupName": c.auto_scaling_group,
                                                          "ForceDelete": True}, ignore=("ValidationError",)),
    ), "release abandoned: its instances are terminated"))
    tg = next((t for t in observed.target_groups if t.service == svc and t.config_hash == c.config), None)
    steps.append(Step(Action.DELETE, Kind.TARGET_GROUP, c.target_group.name, svc, (
        Call("elbv2", "delete_target_group", {"TargetGroupArn": tg.arn if tg else refs.target_group(svc)},
             ignore=("TargetGroupNotFound",), retry=("ResourceInUse",)),
    ), "release abandoned"))
    steps.append(record_step(stack, c.record.with_outcome(FAILED, reason[:500]), "failed: " + reason.splitlines()[0][:120]))
    return steps
