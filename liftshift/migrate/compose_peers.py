"""Peers named as hosts in env values (`postgres://db:5432/app`, `REDIS_HOST: redis`) become app.yaml's
peer references (`${service.db.host}:${service.db.port}`), which liftshift resolves when the container
starts. Compose resolves service names through its network's DNS; app.yaml v1 does not resolve names as
hosts, so without this the app would look up `db` and fail.

Only a name standing as a host is rewritten: `NAME:PORT` as the whole value or an item of a comma-separated
list, a name after `//` or `@` (before `:`, `/` or the end), or the bare name as the whole value of a
variable whose name says it holds an address (`DB_HOST`, `BROKER_URL`...). A reference that would make
services call each other in a cycle (which app.yaml refuses) is left as written, with a warning.
"""

from __future__ import annotations

import re
from typing import Any

from .compose_map import Context

HOST_KEY_RE = re.compile(r"HOST|ADDR|SERVER|URL|URI|ENDPOINT|BROKER|DSN|NODES|PEERS", re.IGNORECASE)


def rewrite_peers(ctx: Context, services: dict[str, dict[str, Any]]) -> None:
    """Rewrite env values of `services` (app.yaml names -> service data) in place."""
    compose_of = {app: compose for compose, app in ctx.names.items()}
    edges: dict[str, set[str]] = {name: set() for name in services}
    for name, service in services.items():
        svc = ctx.project.services[compose_of[name]]
        for key, value in list(service.get("env", {}).items()):
            new, peers = _rewrite(key, value, ctx.names, services, name)
            if not peers:
                continue
            if any(_reaches(edges, peer, name) for peer in peers):
                ctx.note(svc, _where(svc, key), f"{key} names {', '.join(sorted(peers))} as a host, but a reference "
                         "would make services call each other in a cycle, which app.yaml refuses: left as written "
                         "(service names are not host names on EC2 yet); set the address yourself")
                continue
            edges[name] |= peers
            service["env"][key] = new
            ctx.note(svc, _where(svc, key), f"{key}: the service name{'s' if len(peers) > 1 else ''} "
                     f"{', '.join(sorted(peers))} as a host became {new!r}: liftshift resolves it to the peer's "
                     "address when the container starts, and replaces this service when that peer is replaced",
                     "note")


def _where(svc: Any, key: str) -> tuple:
    return ("environment", key) if key in (svc.data.get("environment") or {}) else ("env_file",)


def _rewrite(key: str, value: str, names: dict[str, str], services: dict[str, dict[str, Any]],
             own: str) -> tuple[str, set]:
    used: set[str] = set()
    for compose, app in sorted(names.items(), key=lambda item: -len(item[0])):
        if app == own or app not in services or "${" in compose:
            continue
        peer = services[app]
        ports = {peer.get("port"), peer.get("publish")} - {None}
        name = re.escape(compose)
        pattern = re.compile(rf"(^|(?<=//)|(?<=@)|(?<=,)){name}(?::(\d+))?(?=$|,)|((?<=//)|(?<=@)){name}"
                             rf"(?::(\d+))?(?=[/?#;\s])")

        def host(match: re.Match) -> str:
            port = match.group(2) or match.group(4)
            text = "${service.%s.host}" % app
            if port is None and match.group(0) == value and not HOST_KEY_RE.search(key):
                return match.group(0)  # `ROLE: worker` is a word, not a host; `DB_HOST: db` is a host
            if port is None:
                return text
            if int(port) in ports:
                return text + ":${service.%s.port}" % app
            return text + ":" + port

        new = pattern.sub(host, value)
        if new != value:
            used.add(app)
            value = new
    return value, used


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return False
