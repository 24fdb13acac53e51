"""Refs: values known only once an earlier planned call has run (a new security group's id, a pushed digest).

A planner names the value by a constructor here, the call that makes it saves
it under that ref (`Call.save`), and later calls, the executor and the
pipeline read it by the same ref; nobody spells a ref's name by hand. Plans
show a ref as `<name>` (e.g. `<sg:web>`), in text and in `-o json`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ref:
    """A value an earlier call in the plan saves (see the constructors below)."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


@dataclass(frozen=True)
class Refs:
    """Several refs whose values (lists) are concatenated: e.g. all new instance ids."""

    refs: tuple[Ref, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.refs)

    def __repr__(self) -> str:
        return "<" + " + ".join(self.names) + ">"


def security_group(service: str) -> Ref:
    """The id of the service's instances' security group, made by this plan."""
    return Ref(f"sg:{service}")


def lb_security_group(service: str) -> Ref:
    """The id of the service's load balancer's security group, made by this plan."""
    return Ref(f"sg:{service}:lb")


def load_balancer(service: str) -> Ref:
    return Ref(f"lb:{service}")


def load_balancer_dns(service: str) -> Ref:
    return Ref(f"lbdns:{service}")


def listener(service: str) -> Ref:
    return Ref(f"listener:{service}")


def target_group(service: str) -> Ref:
    """The ARN of the target group of the release going out."""
    return Ref(f"tg:{service}")


def probe_rule(service: str) -> Ref:
    """The ARN of the listener rule that routes the release header to the release going out."""
    return Ref(f"rule:{service}")


def image_digest(service: str) -> Ref:
    """The registry digest of the service's image, once pushed."""
    return Ref(f"digest:{service}")


def new_instances(service: str, subnet: str) -> Ref:
    """The ids of the instances one launch makes in `subnet`."""
    return Ref(f"new:{service}:{subnet}")


def data_volume(service: str, name: str) -> Ref:
    """The id of a data volume (services.SERVICE.data.NAME) this plan makes."""
    return Ref(f"data:{service}:{name}")


def data_instance(service: str) -> Ref:
    """The id of the one instance a data service's launch makes (its data volumes are attached to it)."""
    return Ref(f"new:{service}")
