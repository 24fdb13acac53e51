"""The runbook's procedures for one stack, as data: the rehearsal, the cutover steps (each with its command,
success criterion and rollback), validation, the data to carry, and decommissioning of the old host. Pure.

The commands are liftshift's own (`deploy`, `verify`, `cutover --to N% | --complete | --back`, `destroy`);
what liftshift does not do (copying data, freezing writes on the old host) is spelled out as commands for
the operator to adapt.
"""

from __future__ import annotations

import shlex
from typing import Any

STEPS = ("10%", "50%")  # the gradual weights before --complete


def q(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def _gradual(service: dict[str, Any]) -> bool:
    """Whether traffic may move in steps: not for a service with data (two hosts would both write it)."""
    return not service["data"] and not service["volumes"]


def rehearsal(file: str, services: list[dict[str, Any]]) -> list[dict[str, str]]:
    """`--target local`: the whole deployment on this machine, with moto as AWS (nothing in AWS changes)."""
    out = [
        {"command": q("liftshift", "validate", file), "expect": "exit 0: app.yaml is valid"},
        {"command": q("liftshift", "plan", file, "--target", "local"),
         "expect": "the images build; the steps match \"Resources the deploy creates\" below"},
        {"command": q("liftshift", "deploy", file, "--target", "local"), "expect": "exit 0: every service healthy"},
        {"command": q("liftshift", "status", file, "--target", "local"), "expect": "each service's local address"},
        {"command": q("liftshift", "verify", file, "--target", "local"), "expect": "exit 0: every check below passes"},
    ]
    for service in services:
        if service["dns"]:
            move = ["--to", STEPS[0]] if _gradual(service) else ["--complete"]
            out.append({"command": q("liftshift", "cutover", file, "--service", service["name"], *move,
                                     "--target", "local"),
                        "expect": f"prints the weighted records it would set on {service['dns']['name']}"})
            out.append({"command": q("liftshift", "cutover", file, "--service", service["name"], "--back",
                                     "--target", "local"),
                        "expect": f"prints the records that send all of {service['dns']['name']} back to "
                                  f"{service['dns']['old']}"})
    out.append({"command": q("liftshift", "deploy", file, "--target", "local"),
                "expect": "a second deploy with no change: nothing to do"})
    out.append({"command": q("liftshift", "destroy", file, "--target", "local"),
                "expect": "the rehearsal's containers are gone (add --delete-data to drop its data volumes)"})
    return out


def validation(file: str, services: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What `liftshift verify` checks, as URLs and the answers expected, for a person to check too."""
    out = []
    for s in services:
        main = s["ports"][0]["published"]
        health = s["health"]
        if s["instances"]["count"] == 0:
            continue
        lb = s["load_balancer"]
        if lb:
            scheme = lb["protocol"].lower()
            out.append({"service": s["name"], "where": "through its load balancer",
                        "check": f"{scheme}://<load balancer address>:{lb['port']}{lb['health_path']}",
                        "expect": "HTTP 200-399 (the target group's matcher); the address is in liftshift status"})
        if s["internal"]:
            peers = s["called_by"] or ["the stack's other services"]
            out.append({"service": s["name"], "where": "from its peers only",
                        "check": f"{s['name']}:{s['ports'][0]['container']} from {', '.join(peers)}",
                        "expect": "answers from the stack's services; from outside the stack the connection is "
                                  "refused or times out"})
        if health["kind"] == "http":
            out.append({"service": s["name"], "where": "on each instance",
                        "check": f"http://<instance address>:{main}{health['path']}",
                        "expect": "HTTP 200-399 (the container's health check)"})
        elif health["kind"] == "command":
            out.append({"service": s["name"], "where": "on each instance",
                        "check": health["command"],
                        "expect": "the container's health is healthy (docker inspect)"})
        else:
            out.append({"service": s["name"], "where": "on each instance",
                        "check": f"TCP <instance address>:{main}", "expect": "the connection is accepted"})
        if s["dns"] and (lb or health["kind"] == "http"):
            out.append({"service": s["name"], "where": "by its public name, after the cutover",
                        "check": f"{'https' if lb and lb['protocol'] == 'HTTPS' else 'http'}://{s['dns']['name']}"
                                 f"{(lb or {}).get('health_path') or health['path'] or '/'}",
                        "expect": "the same answer as above; dig +short " + s["dns"]["name"]
                                  + " names the stack, not " + s["dns"]["old"]})
        elif s["dns"]:
            out.append({"service": s["name"], "where": "by its public name, after the cutover",
                        "check": f"dig +short {s['dns']['name']}",
                        "expect": f"the stack's address, not {s['dns']['old']}; the check above passes by that name"})
    return out


def data_copies(stack: str, services: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The data each service must carry from the old host: not automated; one command each, to adapt."""
    out = []
    for s in services:
        old = s["dns"]["old"] if s["dns"] else "<old host>"
        for volume in s["data"]:
            out.append({
                "service": s["name"], "what": f"data volume {volume['name']} ({volume['size_gb']} GB, mounted at "
                                              f"{volume['path']} in the container)",
                "command": f"ssh {old} 'tar -C <old path> -cf - .' | ssh <instance> "
                           f"'sudo tar -C {volume['on_instance']} -xpf -'",
                "rehearsal": f"ssh {old} 'tar -C <old path> -cf - .' | docker run --rm -i "
                             f"-v {volume['docker_volume']}:/data busybox tar -C /data -xpf -",
                "check": "file count and total size equal on both sides (`find . -type f | wc -l; du -s`)",
            })
        for volume in s["volumes"]:
            out.append({
                "service": s["name"], "what": f"host directory {volume['host']} (mounted at {volume['container']}; "
                                              "on the instance's root disk: lost when the instance is replaced)",
                "command": f"ssh {old} 'tar -C <old path> -cf - .' | ssh <instance> "
                           f"'sudo tar -C {volume['host']} -xpf -'",
                "rehearsal": "", "check": "file count and total size equal on both sides",
            })
    return out


def cutover_steps(file: str, services: list[dict[str, Any]], copies: list[dict[str, str]]) -> list[dict[str, str]]:
    """The cutover in order; each step has its command, how to tell it worked, and how to undo it."""
    steps = [
        {"title": "Deploy the stack beside the old host",
         "command": q("liftshift", "deploy", file),
         "success": "exit 0; every service healthy; no traffic moved yet",
         "rollback": "the old host still serves everything; remove the stack", "undo": q("liftshift", "destroy", file)},
    ]
    if copies:
        steps.append({"title": "Stop writes on the old host (maintenance mode or read-only) and copy the data "
                               "(section 5, Data to carry)",
                      "command": "",
                      "success": "file counts and sizes match on both sides",
                      "rollback": "re-enable writes on the old host (its data was only read)", "undo": ""})
    steps.append({"title": "Validate the stack before any traffic moves",
                  "command": q("liftshift", "verify", file),
                  "success": "exit 0 (exit 3 names what failed); the checks under \"Validation\" pass",
                  "rollback": "fix and deploy again, or go back to the previous release (or destroy the stack)",
                  "undo": q("liftshift", "rollback", file)})
    moved = [s for s in services if s["dns"]]
    for s in moved:
        back = q("liftshift", "cutover", file, "--service", s["name"], "--back")
        name, old = s["dns"]["name"], s["dns"]["old"]
        gradual = _gradual(s)
        weights = STEPS if gradual else ()
        for weight in weights:
            steps.append({"title": f"Move {weight} of {name} to the stack (TTL lowered to {s['dns']['ttl']} s first)",
                          "command": q("liftshift", "cutover", file, "--service", s["name"], "--to", weight),
                          "success": q("liftshift", "verify", file) + " exits 0; error rate and latency no "
                                     "worse than on the old host over the observation time",
                          "rollback": f"all of {name} back to {old}", "undo": back})
        steps.append({"title": f"Move all of {name} to the stack (the original TTL restored)"
                               + ("" if gradual else "; one step: its data cannot be written on two hosts"),
                      "command": q("liftshift", "cutover", file, "--service", s["name"], "--complete"),
                      "success": q("liftshift", "verify", file) + f" exits 0; the old host {old} gets no more "
                                 "requests (its access log)",
                      "rollback": f"all of {name} back to {old}" + (
                          "" if gradual else f"; copy back data written since, then re-enable writes on {old}"),
                      "undo": back})
    for s in services:
        if not s["dns"] and not s["internal"] and s["instances"]["count"]:
            steps.append({"title": f"Point {s['name']}'s public name at the stack (by hand: it has no dns setting)",
                          "command": q("liftshift", "status", file),
                          "success": "the name resolves to the address status shows; the checks under "
                                     "\"Validation\" pass by name",
                          "rollback": "point the record back at the old host", "undo": ""})
    return steps


def decommissioning(file: str, services: list[dict[str, Any]], warranty_days: int) -> list[dict[str, str]]:
    olds = sorted({s["dns"]["old"] for s in services if s["dns"]}) or ["<old host>"]
    backs = [q("liftshift", "cutover", file, "--service", s["name"], "--back") for s in services if s["dns"]]
    out = [{"step": f"Warranty: keep {', '.join(olds)} running, unchanged and out of traffic for {warranty_days} "
                    "days; validate the stack daily", "command": q("liftshift", "verify", file),
            "rollback": "at any time in it" if backs else "at any time in it: point the names back at the old host",
            "undo": "; ".join(backs)}]
    for old in olds:
        out.append({"step": f"Take a final backup of {old} (disk image or snapshot) and record where it is kept",
                    "command": "", "rollback": "none needed", "undo": ""})
        out.append({"step": f"Stop the app on {old}; a week later shut the host down", "command": "",
                    "rollback": "start it again", "undo": ""})
        out.append({"step": f"Remove {old} from DNS, monitoring, firewall rules and the inventory; "
                            "release its address and licences", "command": "",
                    "rollback": "restore from the final backup", "undo": ""})
    return out
