"""What commands print: their results as text for people, or as JSON for machines.

Every function takes the data a command emits with `-o json` (the pipeline's report, status, history...) and
returns the text `-o text` prints instead, so the two never say different things. Pure: no I/O, no typer.
"""

from __future__ import annotations

import json
from typing import Any

SYMBOLS = {"create": "+", "update": "~", "push": "^", "launch": "+", "terminate": "-", "delete": "-", "wait": ".",
           "attach": "~"}


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True)


def steps_text(steps: list[dict[str, Any]]) -> str:
    """Steps as pipeline.describe_step gives them, one line each."""
    lines = []
    for d in steps:
        who = d["service"] or "stack"
        detail = f"  ({d['detail']})" if d["detail"] else ""
        lines.append(f"  {SYMBOLS.get(d['action'], '*')} [{who}] {d['action']} {d['kind']} {d['name']}{detail}")
    return "\n".join(lines)


def plan_text(data: dict[str, Any]) -> str:
    warned = "".join(f"warning: {w}\n" for w in data.get("warnings", []))
    warned += "".join(f"note: {n}\n" for n in data.get("notes", []))
    if not data["steps"]:
        return warned + f"No changes: stack {data['stack']} in {data['region']} is up to date."
    return (warned + f"Plan for stack {data['stack']} in {data['region']}: {data['changes']} step(s)\n"
            + steps_text(data["steps"]))


def _target_health_lines(health: dict[str, Any] | None) -> list[str]:
    """`healthy 1/2 (unhealthy 1)` and each target that is not healthy with the load balancer's reason."""
    if not health:
        return []
    others = ", ".join(f"{state} {n}" for state, n in sorted(health["states"].items()) if state != "healthy")
    lines = [f"      targets healthy {health['healthy']}/{health['total']}" + (f" ({others})" if others else "")]
    for t in health["targets"]:
        if t["state"] != "healthy":
            why = ": ".join(x for x in (t.get("reason"), t.get("description")) if x)
            lines.append(f"        {t['id']} {t['state']}" + (f" ({why})" if why else ""))
    return lines


def _lock_line(lock: dict[str, Any] | None) -> list[str]:
    if not lock:
        return []
    if lock["expired"]:
        return [f"  Lock left by {lock['owner']} ({lock['operation']} since {lock['since']}, expired: the next run "
                "takes it over)"]
    return [f"  In progress: {lock['operation']} by {lock['owner']} since {lock['since']} (holds the stack's lock)"]


def status_text(data: dict[str, Any]) -> str:
    lines = [f"Stack {data['stack']} in {data['region']} ({data['target']})"]
    lines += _lock_line(data.get("lock"))
    for name, svc in data["services"].items():
        running = sum(1 for i in svc["instances"] if i["state"] == "running")
        flag = "" if svc["declared"] else "  (not in app.yaml)"
        flag += "  (internal: only the stack's services reach it)" if svc.get("internal") else ""
        lines.append(f"  {name}: {running}/{svc['count']} running, image {svc['image'] or '-'}{flag}")
        lb = svc.get("load_balancer")
        if lb:
            lines.append(f"    load balancer {lb['address'] or lb['name']}: release "
                         f"{'#' + str(lb['release']) if lb['release'] else 'none'} serving")
            lines += _target_health_lines(lb.get("health"))
        if svc.get("extra_ports"):
            lines.append("    also publishes " + ", ".join(f"port {p['published']} (container {p['container']})"
                                                         for p in svc["extra_ports"]))
        for i in svc["instances"]:
            where = (f"at {i['address']}" if i.get("address") else
                     f"private {i['private_ip'] or '-'}" if svc.get("internal") else
                     f"public {i['public_ip'] or '-':<15} private {i['private_ip'] or '-'}")
            lines.append(f"    {i['id']}  {i['state']:<9} {i['zone']:<12} {where}")
        for v in svc.get("data", []):
            held = f"attached to {', '.join(v['attached'])}" if v["attached"] else "not attached"
            lines.append(f"    data {v['name']}: {v['id']}, {v['size_gb']} GiB in {v['zone']}, {held}")
    return "\n".join(lines)


DONE = {"create": "created", "update": "updated", "push": "pushed", "launch": "launched", "terminate": "terminated",
        "delete": "deleted", "wait": "wait(s)", "attach": "attached"}


def deploy_text(data: dict[str, Any], took: float | None = None) -> str:
    """The summary: what changed (counted by action: each step was shown once as it finished), how long it took
    (`took`, seconds), where each service answers, then the status."""
    from .progress import seconds_text

    after = f" in {seconds_text(took)}" if took is not None else ""
    if data["changed"]:
        counts: dict[str, int] = {}
        for change in data["changes"]:
            counts[change["action"]] = counts.get(change["action"], 0) + 1
        what = ", ".join(f"{n} {DONE.get(a, a)}" for a, n in counts.items())
        head = (f"Deployed stack {data['stack']} to {data['region']}{after}: {len(data['changes'])} change(s) "
                f"({what}).")
    else:
        head = f"No changes: stack {data['stack']} is up to date." + (f" Checked{after}." if after else "")
    lines = [head] + answers_text(data)
    hosts = data.get("hosts") or {}
    if hosts.get("started") or hosts.get("removed"):
        lines.append(f"Stand-in hosts: {len(hosts['started'])} booted, {len(hosts['removed'])} removed.")
    return "\n".join(lines + [status_text(data)])


def answers_text(data: dict[str, Any]) -> list[str]:
    """Where each service of a status report answers: its load balancer, else its instances."""
    lines = []
    for name, svc in data["services"].items():
        lb = svc.get("load_balancer")
        if svc.get("internal"):
            lines.append(f"  {name} is internal: only the stack's services reach it")
            continue
        if lb and (lb.get("address") or lb.get("dns")):
            where = [lb.get("address") or lb["dns"]]
        else:
            running = [i for i in svc["instances"] if i["state"] == "running"]
            where = [i.get("address") or i.get("public_ip") for i in running]
            where = [w for w in where if w]
        if where:
            lines.append(f"  {name} answers at {', '.join(where)}")
    return lines


def history_text(data: dict[str, Any]) -> str:
    lines = [f"Releases of stack {data['stack']} in {data['region']}"]
    for name, releases in data["services"].items():
        lines.append(f"  {name}:" + ("" if releases else " no releases recorded"))
        for r in releases:
            mark = "*" if r["serving"] else " "
            image = (r["image"] or "-").split(":")[-1][:12]
            reason = f"  ({r['reason'].splitlines()[0][:80]})" if r.get("reason") else ""
            lines.append(f"   {mark} #{r['number']:<4} {r['outcome']:<12} {r['at'] or '-':<25} {r['by']:<24} "
                         f"commit {r['commit'] or '-':<14} image {image}{reason}")
    return "\n".join(lines)


def render_text(data: dict[str, Any]) -> str:
    parts = []
    for name, item in data.items():
        parts.append(f"### service {name}: launch template {item['launch_template']}")
        parts.append(json.dumps(item["launch_template_data"], indent=2, sort_keys=True))
        parts.append(f"### service {name}: user-data")
        parts.append(item["user_data"])
    return "\n".join(parts)


def nothing_to_destroy_text(data: dict[str, Any]) -> str:
    if data.get("kept_data"):
        return f"Nothing to remove but data: stack {data['stack']} owns only data volumes.\n" + kept_data_text(
            data["kept_data"])
    return f"Nothing to remove: stack {data['stack']} owns nothing."


def destroyed_text(data: dict[str, Any]) -> str:
    text = f"Removed {len(data['removed'])} resource group(s) of stack {data['stack']}."
    return text + ("\n" + kept_data_text(data["kept_data"]) if data.get("kept_data") else "")


def kept_data_text(kept: list[str]) -> str:
    """The data volumes destroy keeps, and how to delete them."""
    return "\n".join([f"  kept: {line}" for line in kept]
                     + ["Data volumes are kept; `liftshift destroy --delete-data` deletes them."])


def rollback_text(data: dict[str, Any]) -> str:
    return (("Would run" if data["dry_run"] else "Rolled back:") + f" {len(data['steps'])} step(s)\n"
            + steps_text(data["steps"]))


def unlock_text(data: dict[str, Any]) -> str:
    held = data["held_by"]
    if held is None:
        return f"Stack {data['stack']} was not locked."
    return f"Unlocked {data['stack']} (was held by {held['owner']}, {held['operation']} since {held['acquired_at']})."


def stopped_text(stopped: list[str]) -> str:
    return f"Stopped: {', '.join(stopped)}." if stopped else "Nothing was running."


def verify_text(data: dict[str, Any]) -> str:
    """One line per check, ✓ or ✗, then the verdict."""
    lines = [f"Verify stack {data['stack']} in {data['region']} ({data['target']})"]
    for c in data["checks"]:
        lines.append(f"  {'✓' if c['ok'] else '✗'} [{c['service']}] {c['check']} {c['target']}: {c['detail']}")
    failed = sum(1 for c in data["checks"] if not c["ok"])
    lines.append("All checks passed." if not failed else f"{failed} check(s) failed.")
    return "\n".join(lines)


def cutover_text(data: dict[str, Any]) -> str:
    """A cutover move: its steps (as plan prints them), then the records each name has after it."""
    lines = [f"note: {data['note']}"] if data.get("note") else []
    for name, svc in data["services"].items():
        lines += [f"note: {n}" for n in svc.get("notes", [])]
        if not svc["steps"]:
            lines.append(f"[{name}] {svc['name']}: no changes ({data['move']} is in place).")
        else:
            verb = "Would run" if data["dry_run"] else "Ran"
            lines.append(f"[{name}] {svc['name']}: {verb} {len(svc['steps'])} step(s) for {data['move']}")
            lines.append(steps_text(svc["steps"]))
        where = "would have" if data["dry_run"] and svc["steps"] else "has"
        lines.append(f"  {svc['name']} {where}:" + "".join(f"\n    {r}" for r in svc["records"]))
    return "\n".join(lines)


def cutover_history_text(data: dict[str, Any]) -> str:
    """Each service's records now and its cutover moves, newest first."""
    lines = [f"note: {data['note']}"] if data.get("note") else []
    for name, svc in data["services"].items():
        lines.append(f"[{name}] {svc['name']} (zone {svc['zone']}) now:"
                     + ("".join(f"\n    {r}" for r in svc["records"]) or " no records"))
        if svc.get("original"):
            o = svc["original"]
            lines.append(f"  before the cutover: {o['type']} {o['value']} ttl {o['ttl']}")
        lines.append("  moves:" + ("" if svc["history"] else " none recorded"))
        for e in svc["history"]:
            lines.append(f"    #{e['number']:<4} {e['move']:<10} {e['at'] or '-':<25} {e['by']:<24} "
                         f"commit {e['commit'] or '-'}")
    return "\n".join(lines)


def log_line(event: dict[str, Any]) -> str:
    """One log line as `liftshift logs` prints it: time, service/instance, the line."""
    return f"{event['time']} {event['service']}/{event['instance']}  {event['message']}"


def logs_text(data: dict[str, Any]) -> str:
    if not data["events"]:
        which = " ".join(f"--{k} {data[k]}" for k in ("service", "instance", "grep") if data.get(k))
        return f"No log lines for stack {data['stack']} in that time{' (' + which + ')' if which else ''}."
    return "\n".join(log_line(e) for e in data["events"])


def build_text(data: dict[str, Any]) -> str:
    """`build`: each service's image id and, pushed, the reference a later `deploy --image` promotes."""
    lines = [f"Built stack {data['stack']}'s images" + (" and pushed them:" if data["pushed"] else ":")]
    if data["changed"]:
        lines.append(steps_text(data["changes"]))
    for name, svc in data["services"].items():
        lines.append(f"  {name}: image {svc['image_id']}")
        if svc.get("reference"):
            lines.append(f"    {svc['reference']}")
    return "\n".join(lines)
