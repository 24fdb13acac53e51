"""How compose services find each other, in app.yaml terms: `depends_on` (start order, waiting for health),
`aliases` (more names of a service), and the dependencies compose never declares.

In compose every service resolves every other by name on the project's network. In app.yaml a service's
container resolves the names (and aliases) of the services it depends on (or names in ${service...}), so
the import declares them: compose's depends_on and links as written, network and link aliases as the
target's aliases, and, inferred, every peer whose name stands as a host in a service's environment or
command (`postgres://db:5432/app`, `REDIS_HOST=redis`, `http://api:8080`). An inferred dependency that
would make a cycle (app.yaml refuses one) is skipped with a warning. A name written with a container port
the peer publishes on another port has the published port written instead (peers are reached on the
instance's published port). Pure: findings and comments go to the Context.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from ..spec.grammar import ALIAS_RE
from .compose_load import Service
from .compose_map import Context
from .compose_ports import port_pairs

HOST_KEY_RE = re.compile(r"HOST|ADDR|SERVER|URL|URI|ENDPOINT|BROKER|DSN|NODES|PEERS", re.IGNORECASE)
HOST_OPTIONS = ("-h", "-H", "--host", "--hostname", "--server", "--broker", "--address", "--addr")
CONDITIONS = {"service_started": "started", "service_healthy": "healthy",
              "service_completed_successfully": "started"}


class Peers:
    """The dependencies and aliases of every imported service, built up in order, written at the end."""

    def __init__(self, ctx: Context, services: dict[str, dict[str, Any]]):
        self.ctx, self.services = ctx, services
        self.compose_of = {app: compose for compose, app in ctx.names.items() if app in services}
        self.depends: dict[str, dict[str, str]] = {name: {} for name in services}
        self.inferred: dict[str, dict[str, str]] = {name: {} for name in services}  # peer -> why
        self.aliases: dict[str, list[str]] = {name: [] for name in services}
        self.owner: dict[str, str] = {name: name for name in services}  # every host name -> its service

    def svc(self, name: str) -> Service:
        return self.ctx.project.services[self.compose_of[name]]

    def alias(self, name: str, alias: str, svc: Service, where: tuple, why: str) -> None:
        if self.owner.get(alias) == name:
            return
        if not ALIAS_RE.fullmatch(alias):
            self.ctx.note(svc, where, f"{alias!r} is not a host name app.yaml accepts as an alias: not imported")
        elif alias in self.owner:
            self.ctx.note(svc, where, f"{alias!r} is already a name of service {self.owner[alias]}: not imported "
                          f"as an alias of {name} (in app.yaml a name resolves to one service)")
        else:
            self.owner[alias] = name
            self.aliases[name].append(alias)
            self.ctx.comment(("services", name, "aliases", len(self.aliases[name]) - 1), why)

    def cycle(self, name: str, peer: str) -> Optional[list[str]]:
        """The path peer -> ... -> name if depending on `peer` would close a cycle, else None."""
        trail: dict[str, Optional[str]] = {peer: None}
        todo = [peer]
        while todo:
            node = todo.pop()
            if node == name:
                path = [node]
                while trail[path[-1]] is not None:
                    path.append(trail[path[-1]])
                return [name] + path[::-1]
            for nxt in self.depends[node]:
                if nxt not in trail:
                    trail[nxt] = node
                    todo.append(nxt)
        return None


def map_peers(ctx: Context, services: dict[str, dict[str, Any]]) -> None:
    """Add depends_on and aliases to `services` (app.yaml names -> service data) in place."""
    peers = Peers(ctx, services)
    for name in services:
        _own_aliases(peers, name)
    for name in services:
        _declared(peers, name)
    for name in services:
        _links(peers, name)
    for name in services:
        _infer(peers, name)
    for name, service in services.items():
        _write(peers, name, service)


def _own_aliases(peers: Peers, name: str) -> None:
    svc = peers.svc(name)
    compose = peers.compose_of[name]
    if compose.lower() != name:  # a renamed service answers to its compose name too, as the app calls it
        peers.alias(name, compose, svc, (), f"compose's name of the service ({name} in app.yaml)")
    networks = svc.data.get("networks")
    if not isinstance(networks, dict):
        return
    for network, options in networks.items():
        found = options.get("aliases") if isinstance(options, dict) else None
        if found is None:
            continue
        if not isinstance(found, list):
            peers.ctx.note(svc, ("networks", network, "aliases"), "must be a list of host names: not imported")
            continue
        for i, alias in enumerate(found):
            peers.alias(name, str(alias), svc, ("networks", network, "aliases", i),
                        f"a network alias in compose (network {network})")


def _declared(peers: Peers, name: str) -> None:
    """compose's depends_on, in the order written."""
    ctx, svc = peers.ctx, peers.svc(name)
    declared = svc.data.get("depends_on") or {}
    for dep, options in declared.items():
        where = ("depends_on", dep)
        options = options if isinstance(options, dict) else {}
        required = str(options.get("required", "true")).lower() != "false"
        peer = ctx.names.get(dep)
        if dep == peers.compose_of[name]:
            ctx.note(svc, where, "a service cannot depend on itself: remove it from depends_on", "error")
            continue
        if peer not in peers.services:
            if dep in ctx.project.excluded or not required:
                why = (f"left out by its profiles ({', '.join(ctx.project.excluded[dep])})"
                       if dep in ctx.project.excluded else "not a service of this compose file (required: false)")
                ctx.note(svc, where, f"depends on {dep}, which is {why}: not imported")
            elif dep not in ctx.project.services:
                ctx.note(svc, where, f"depends on {dep}, which is not a service of this compose file", "error")
            continue
        condition = str(options.get("condition", "service_started"))
        if condition not in CONDITIONS:
            ctx.note(svc, where + ("condition",), f"{condition!r} is not a compose condition (service_started, "
                     "service_healthy, service_completed_successfully): imported as started")
        elif condition == "service_completed_successfully":
            ctx.note(svc, where + ("condition",), f"service_completed_successfully has no app.yaml equivalent "
                     f"(liftshift runs long-lived services, not one-shot jobs): imported as started, and {dep} runs "
                     "as a service that is restarted whenever it exits. Run the job before deploying, or in this "
                     "service's entrypoint")
        wanted = CONDITIONS.get(condition, "started")
        if str(options.get("restart", "")).lower() == "true":
            ctx.note(svc, where + ("restart",), f"not needed: when {dep} is replaced, liftshift restarts or replaces "
                     f"this service so that it reaches {dep}'s new address", "note")
        for key in options:
            if key not in ("condition", "required", "restart"):
                ctx.note(svc, where + (key,), "not imported: app.yaml's depends_on takes a condition", "note")
        if not _allowed(peers, name, peer, svc, where):
            continue
        path = peers.cycle(name, peer)
        if path:
            ctx.note(svc, where, "services depend on each other in a cycle: " + " -> ".join(path)
                     + " (compose refuses it too): remove one of these depends_on", "error")
            continue
        peers.depends[name][peer] = wanted
        if wanted == "healthy" and not peers.services[peer].get("health"):
            ctx.note(svc, where + ("condition",), f"waits for {dep} to be healthy, but {dep} has no health check "
                     "in app.yaml (compose's did not map, or it has none): liftshift waits until its port accepts "
                     "connections instead")


def _allowed(peers: Peers, name: str, peer: str, svc: Service, where: tuple) -> bool:
    """A service with instances depends on no service without (nothing would answer for it)."""
    count = peers.services[name].get("instances", {}).get("count", 1)
    if peers.services[peer].get("instances", {}).get("count", 1) == 0 and count:
        peers.ctx.note(svc, where, f"{peer} runs no instance (replicas 0): the dependency is not imported")
        return False
    return True


def _links(peers: Peers, name: str) -> None:
    """`links: [db, "db:database"]`: a dependency on db, and `database` one of db's aliases."""
    ctx, svc = peers.ctx, peers.svc(name)
    links = svc.data.get("links")
    if links is None:
        return
    if not isinstance(links, list):
        ctx.note(svc, ("links",), "must be a list of SERVICE or SERVICE:ALIAS: not imported")
        return
    for i, link in enumerate(links):
        dep, _, alias = str(link).partition(":")
        peer = ctx.names.get(dep)
        if peer not in peers.services or peer == name:
            ctx.note(svc, ("links", i), f"{dep} is not another service of this compose file: not imported")
            continue
        if alias and alias != dep:
            peers.alias(peer, alias, svc, ("links", i), f"a link alias in compose (links of {name})")
        if peer in peers.depends[name] or not _allowed(peers, name, peer, svc, ("links", i)):
            continue
        path = peers.cycle(name, peer)
        if path:
            ctx.note(svc, ("links", i), "a dependency on the linked service would make a cycle, which app.yaml "
                     "refuses: " + " -> ".join(path) + f"; not imported, so {alias or dep} does not resolve in "
                     f"{name}'s container: reach it by an address you set")
            continue
        peers.depends[name][peer] = "started"
        peers.inferred[name][peer] = f"from links ({link})"


def _infer(peers: Peers, name: str) -> None:
    """Every peer named as a host in the environment or command: a dependency (condition started)."""
    ctx, svc, service = peers.ctx, peers.svc(name), peers.services[name]
    hosts = {host: owner for host, owner in peers.owner.items() if owner != name}
    hosts.update({peers.compose_of[p]: p for p in peers.services if p != name})
    ported: set[str] = set()  # peers named with a port somewhere
    for what, where, value, context, put in _texts(svc, service):
        _, found, _ = _scan(peers, what, value, context, hosts, set(), ported)
        for peer in found:
            if peer in peers.depends[name] or not _allowed(peers, name, peer, svc, where):
                continue
            path = peers.cycle(name, peer)
            if path:
                ctx.note(svc, where, f"{what} names {peer} as a host, but a dependency on {peer} would make a "
                         "cycle, which app.yaml refuses: " + " -> ".join(path) + f"; not imported, so {peer} does "
                         f"not resolve in {name}'s container: use an address you set (e.g. the load balancer's)")
                continue
            peers.depends[name][peer] = "started"
            peers.inferred[name][peer] = f"inferred: {what} names {peer} as a host"
        new, _, changed = _scan(peers, what, value, context, hosts, set(peers.depends[name]), set())
        if changed:
            put(new)
            ctx.note(svc, where, f"{what}: {', '.join(changed)}: the peer publishes that container port on "
                     "another port, which is where the stack's services reach it", "note")
    for peer in peers.depends[name]:
        moved = [f"{c} on {p}" for p, c in port_pairs(peers.services[peer]) if p != c]
        if moved and peer not in ported:
            ctx.note(svc, ("depends_on",) if "depends_on" in svc.data else (), f"{peer} publishes container port "
                     f"{', '.join(moved)}: the stack's services reach it on the published port, not on the container's "
                     f"(as in compose); if this service calls {peer} on its default port, set the port it uses")


def _texts(svc: Service, service: dict[str, Any]) -> Iterator[tuple[str, tuple, str, str, Any]]:
    """(what, where in compose, value, its context, put) of each env value and command argument: the context
    is the variable's name, or the argument before."""
    env = service.get("env") or {}
    for key in list(env):
        where = ("environment", key) if key in (svc.data.get("environment") or {}) else ("env_file",)
        yield f"env {key}", where, env[key], key, lambda v, k=key: env.__setitem__(k, v)
    command = service.get("command") or []
    where = ("entrypoint",) if "entrypoint" in svc.data and "command" not in svc.data else ("command",)
    for i, arg in enumerate(list(command)):
        yield "command", where, arg, command[i - 1] if i else "", lambda v, i=i: command.__setitem__(i, v)


def _scan(peers: Peers, what: str, value: str, context: str, hosts: dict[str, str], fix: set[str],
          ported: set[str]) -> tuple[str, list[str], list[str]]:
    """The peers `value` names as a host (in order; those named with a port go into `ported` too), and `value`
    with the container port of a peer in `fix` replaced by the port it publishes it on (and what was replaced)."""
    found: list[tuple[int, str]] = []  # (where in the value, peer)
    changed: list[str] = []
    whole = [part.strip() for part in value.split(",")]
    bare = bool(HOST_KEY_RE.search(context)) if what.startswith("env") else context in HOST_OPTIONS
    for host in sorted(hosts, key=len, reverse=True):
        peer = hosts[host]
        name = re.escape(host)
        pattern = re.compile(rf"(?:^|(?<=//)|(?<=@)|(?<=[\s,=]))({name}):(\d{{1,5}})(?=$|[/?#;\s,])"
                             rf"|(?:(?<=//)|(?<=@)|(?<=[Hh][Oo][Ss][Tt]=)|(?<=\s-h\s)|(?<=\s--host\s))({name})"
                             rf"(?=$|[/?#;\s,])")
        if bare and host in whole:
            found.append((value.find(host), peer))

        def repl(match: re.Match) -> str:
            found.append((match.start(), peer))
            if match.group(2) is not None:
                ported.add(peer)
            if match.group(2) is None or peer not in fix:
                return match.group(0)
            port = int(match.group(2))
            pairs = port_pairs(peers.services[peer])
            moved = [p for p, c in pairs if c == port and p != port]
            if moved and not any(p == port for p, _ in pairs):
                changed.append(f"{host}:{port} -> {host}:{moved[0]}")
                return f"{match.group(1)}:{moved[0]}"
            return match.group(0)

        value = pattern.sub(repl, value)
    return value, list(dict.fromkeys(peer for _, peer in sorted(found))), changed


def _write(peers: Peers, name: str, service: dict[str, Any]) -> None:
    """depends_on (a list when every condition is started) and aliases, before instances."""
    depends, inferred = peers.depends[name], peers.inferred[name]
    extra: dict[str, Any] = {}
    here = ("services", name)
    if depends:
        if all(c == "started" for c in depends.values()):
            extra["depends_on"] = list(depends)
            for i, peer in enumerate(depends):
                if peer in inferred:
                    peers.ctx.comment(here + ("depends_on", i), inferred[peer])
        else:
            extra["depends_on"] = {peer: {"condition": c} for peer, c in depends.items()}
            for peer in depends:
                if peer in inferred:
                    peers.ctx.comment(here + ("depends_on", peer), inferred[peer])
    if peers.aliases[name]:
        extra["aliases"] = peers.aliases[name]
    if not extra:
        return
    instances = service.pop("instances", None)
    service.update(extra)
    if instances is not None:
        service["instances"] = instances
