"""A compose service's `ports` (or `expose`) as app.yaml's port/publish (one port) or `ports` (several).

The first port is the main one (health, ${service.NAME.port}); every other TCP port compose publishes on
all addresses is listed too. What app.yaml cannot express is a warning at its line saying what was done
and what to do: a host address (`127.0.0.1:8080:80`: not published), a range (its first port), UDP (opened
as TCP). Pure: findings and comments go to the Context.
"""

from __future__ import annotations

from typing import Any, Optional

from .compose_load import Service
from .compose_map import Context
from .compose_parts import LOCAL_IPS, PartError, Port, parse_port, well_known_port

SSH_PORT = 22  # the instance's SSH daemon
ALL_ADDRESSES = ("", "0.0.0.0", "::")


def map_ports(ctx: Context, svc: Service, here: tuple, out: dict[str, Any]) -> bool:
    """Sets port (and publish) or ports in `out`; returns whether the service publishes a port to the outside."""
    parsed: list[tuple[int, Port]] = []
    for i, item in enumerate(svc.data.get("ports") or []):
        try:
            parsed.append((i, parse_port(item)))
        except PartError as exc:
            ctx.note(svc, ("ports", i), f"{exc}: dropped")
    pairs: list[tuple[Optional[int], int]] = []  # (published, container); published None: not published
    public = any(p.host_ip not in LOCAL_IPS for _, p in parsed)
    for i, port in parsed:
        where = ("ports", i)
        _lossy(ctx, svc, where, port)
        if port.host_ip in LOCAL_IPS:
            if public:
                ctx.note(svc, where, f"published on {port.host_ip} only (this machine): app.yaml publishes a "
                         "service's ports alike, so this one is left out; list it without the address if the "
                         "stack's other services need it (it is then published like the others)")
                continue
            ctx.note(svc, where, f"published on {port.host_ip} only (this machine): imported as not published "
                     "to the outside (internal)")
            _add(ctx, svc, where, pairs, None, port.target)
            continue
        if port.host_ip not in ALL_ADDRESSES:
            ctx.note(svc, where, f"published on {port.host_ip} only: app.yaml publishes on the instance's "
                     "addresses, so the address is not imported (who may connect is instances.ingress)")
        published = port.published
        if published is None:
            ctx.note(svc, where, f"no published port (compose picks a random one): published on {port.target}",
                     "note")
            published = port.target
        if published == SSH_PORT:
            ctx.note(svc, where, "port 22 on the instance belongs to its SSH daemon: publish the service on "
                     f"another port in the compose file (e.g. \"2222:{port.target}\")", "error")
            continue
        _add(ctx, svc, where, pairs, published, port.target)
    for i, item in enumerate(svc.data.get("expose") or [] if parsed else []):
        text = str(item).split("/")[0]
        if not any(text == str(c) for _, c in pairs):
            ctx.note(svc, ("expose", i), f"{text} is exposed beside ports: app.yaml opens a service's ports alike, "
                     "so it is not imported; add it to ports if the stack's other services need it (it is then "
                     "published)")
    if not parsed:
        for i, item in enumerate(svc.data.get("expose") or []):
            try:
                port = parse_port(str(item).split("/")[0])
            except PartError as exc:
                ctx.note(svc, ("expose", i), f"{exc}: dropped")
                continue
            if port.ranged:
                ctx.note(svc, ("expose", i), f"a range of ports: only its first port ({port.target}) is imported; "
                         "list each port the stack's services need as its own entry")
            _add(ctx, svc, ("expose", i), pairs, None, port.target)
    if not pairs:
        guess = well_known_port(svc.data.get("image"))
        out["port"] = guess or 8080
        ctx.comment(here + ("port",), "decide: compose names no port; " + (
            "the image's usual port" if guess else "a placeholder: the port the app listens on, if any"))
        ctx.note(svc, (), f"publishes and exposes no port; app.yaml needs one: wrote port {out['port']} "
                 f"({'the image usual port' if guess else 'a placeholder'}), not published to the outside")
        return False
    if len(pairs) == 1:
        published, container = pairs[0]
        out["port"] = container
        if published is not None and published != container:
            out["publish"] = published
    else:
        # compose's short form, the first entry the main port (health, ${service.NAME.port})
        out["ports"] = [f"{p}:{c}" if p is not None and p != c else c for p, c in pairs]
    return any(p is not None for p, _ in pairs)


def _lossy(ctx: Context, svc: Service, where: tuple, port: Port) -> None:
    """Warn about what a port loses in app.yaml (a range, UDP)."""
    if port.ranged:
        ctx.note(svc, where, f"a range of ports: only its first port ({port.published or port.target}:"
                 f"{port.target}) is imported (app.yaml lists single ports); list each port the app needs as its "
                 "own entry")
    if port.protocol != "tcp":
        ctx.note(svc, where, f"{port.protocol.upper()}: app.yaml opens TCP ports only; imported as TCP (a "
                 f"service that needs {port.protocol.upper()} will not answer it on liftshift)")


def _add(ctx: Context, svc: Service, where: tuple, pairs: list, published: Optional[int], container: int) -> None:
    if any(c == container for _, c in pairs):
        ctx.note(svc, where, f"container port {container} is listed already: dropped (app.yaml lists each port "
                 "once, TCP)")
        return
    if published is not None and any(p == published for p, _ in pairs):
        ctx.note(svc, where, f"port {published} is published already: dropped")
        return
    pairs.append((published, container))


def port_pairs(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(published, container) of an imported service's ports, the main one first."""
    if "ports" not in service:
        port = service.get("port")
        return [] if port is None else [(service.get("publish") or port, port)]
    out = []
    for item in service["ports"]:
        text = str(item)
        published, _, container = text.rpartition(":")
        out.append((int(published or container), int(container)))
    return out
