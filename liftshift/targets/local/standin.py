"""Stand-in hosts: one container per emulated EC2 instance, running its user-data for real.

For every instance the emulator reports pending or running for a stack, a
container with the Docker socket mounted and a Linux docker CLI executes that
instance's user-data exactly as EC2 would have received it (read back from the
emulator), with LIFTSHIFT_STAND_IN=1. The app containers are started by that
script through the host's engine, so their published ports land on this
machine. Terminated instances lose their host and their app containers.

The stand-in image and the boot command are in standin_image.py. What EC2 would
read with the instance role (user-data, secrets) is read from the emulator by
emulated_reads.py, not in the host logic.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...model.observed import Observed, ObservedInstance, ObservedLoadBalancer
from ...model.user_data import health_command_container
from ...spec.grammar import service_order
from ...spec.model import AppSpec
from ... import http_probe
from . import lbproxy, standin_files
from .services import LocalSetupError, state_dir
from .emulated_reads import BootFailed, read_secrets, read_user_data
from .standin_image import BOOT, standin_image, tar_files
from ...errors import Unhealthy

HOST_LABEL = "liftshift.host"  # value: instance id
ADDRESS_LABEL = "liftshift.address"  # the address its app's published ports listen on


class HealthCheckFailed(Unhealthy):
    """A service never became healthy: exit code 3."""


# --- hosts ----------------------------------------------------------------------------


@dataclass
class Host:
    instance: str
    service: str
    port: int
    container: Any
    # Where its published ports listen: 127.0.0.1 and every address of this machine, or for an internal
    # service only the bridge's gateway, which the stack's containers reach and the outside does not.
    address: str = "127.0.0.1"
    extra_ports: tuple[tuple[int, int], ...] = ()  # (published, container) beyond the main port


class StandInHosts:
    """What stands in for EC2 actually running the instances of a stack."""

    def __init__(self, docker: Callable[[], Any], aws, progress, *, boot_timeout: float = 180.0):
        self.docker = docker
        self.aws = aws
        self.progress = progress
        self.boot_timeout = boot_timeout

    def _hosts(self, stack: str) -> list[Host]:
        containers = self.docker().containers.list(all=True, filters={"label": f"liftshift.host.stack={stack}"})
        return [Host(c.labels[HOST_LABEL], c.labels["liftshift.service"], int(c.labels["liftshift.port"]), c,
                     c.labels.get(ADDRESS_LABEL, "127.0.0.1"),
                     standin_files.parse_label(c.labels.get(standin_files.EXTRA_PORTS_LABEL)))
                for c in containers]

    def check_ports(self, spec: AppSpec) -> None:
        """Before anything starts: each published port (a load balancer's: its listener port) must be free
        or already this stack's."""
        ours = {p for h in self._hosts(spec.name) for p in (h.port, *(e for e, _ in h.extra_ports))}
        ours |= standin_files.bound_ports(self.docker(), spec.name)
        ours |= {p for p in (self._listener_port(spec.name, n) for n in spec.services) if p}
        seen: dict[int, str] = {}
        for name, service in spec.services.items():
            if service.instances.count == 0:
                continue
            port = service.load_balancer.listener_port if service.load_balancer else service.published_port
            for port in (port, *(published for published, _ in service.extra_ports)):  # every one it publishes
                if port in seen:
                    raise LocalSetupError(
                        f"services {seen[port]} and {name} both publish port {port}; on one machine they need "
                        "different published ports ('publish', or PUBLISH in 'ports')")
                seen[port] = name
                if port not in ours and not _port_free(port):
                    raise LocalSetupError(
                        f"port {port} (service {name}) is already in use on this machine: stop what uses it or "
                        "change the published port in app.yaml")

    def converge(self, spec: AppSpec, observed: Observed) -> dict[str, list[str]]:
        """After a plan ran (targets.base.Hosts): hosts for the live instances, load-balancer stand-ins, and
        a wait until every service answers."""
        self.progress.phase("booting stand-in hosts")
        started = self.reconcile(spec, observed)
        self.ensure_load_balancers(spec.name, observed)
        self.wait_healthy(spec)
        return started

    def load_balancer_address(self, lb: ObservedLoadBalancer) -> str | None:
        """The load-balancer stand-in serves plain HTTP on this machine, at the listener's port."""
        return f"http://127.0.0.1:{lb.listener_port}" if lb.listener_port else None

    def reconcile(self, spec: AppSpec, observed: Observed) -> dict[str, list[str]]:
        """Hosts for exactly the live instances: remove the gone ones first (freeing ports), then boot.
        Returns the instance ids whose hosts were started and removed."""
        live = {i.id: i for i in observed.instances if i.state in ("pending", "running")}
        hosts = self._hosts(spec.name)
        kept = []
        removed = []
        for host in hosts:
            if host.instance not in live:
                self.progress.note(f"stand-in host for {host.instance} ({host.service}) removed: instance gone")
                self._remove(spec.name, host)
                removed.append(host.instance)
            elif host.container.status != "running":  # a stand-in that died is booted again
                self._remove(spec.name, host)
            elif host.service in spec.services and host.address != self._address(spec, host.service):
                self._remove(spec.name, host)  # internal was turned on or off: published elsewhere now
            else:
                kept.append(host)
        started = []
        order = {name: i for i, name in enumerate(service_order(spec))}  # depends_on: dependencies boot first
        for instance in sorted(live.values(), key=lambda i: (order.get(i.service, len(order)), i.id)):
            if any(h.instance == instance.id for h in kept) or instance.service not in spec.services:
                continue
            used = {h.port for h in kept if h.service == instance.service}
            settings = spec.services[instance.service]
            wanted = settings.published_port
            # Behind a load balancer only the stand-in balancer listens on a declared port.
            port = wanted if wanted not in used and settings.load_balancer is None else _free_port()
            taken = {p for h in kept if h.service == instance.service for p, _ in h.extra_ports}
            taken |= standin_files.bound_ports(self.docker(), spec.name, instance.service)  # also in-place ones
            extra = standin_files.choose_ports(  # the others at their declared ports, unless the service has them
                settings.extra_ports, taken, _free_port)
            host = self._boot(spec.name, instance, port, spec.services[instance.service].secrets,
                              self._address(spec, instance.service), extra_ports=extra,
                              secret_files={n: f.ref for n, f in settings.secret_files.items()})
            kept.append(host)
            started.append(host)
        for host in started:
            self._wait_boot(host)
        return {"started": [h.instance for h in started], "removed": removed}

    # -- the load-balancer stand-ins (lbproxy.py), one per load balancer --

    def load_balancer_state(self, stack: str, service: str) -> Path:
        return state_dir() / f"lb.{stack}.{service}.json"

    def _listener_port(self, stack: str, service: str) -> int | None:
        state = lbproxy.read_state(self.load_balancer_state(stack, service))
        if not state or not lbproxy.alive(state.get("pid")):
            return None
        ports = [int(p) for p in state.get("listeners", {})]
        return ports[0] if ports else None

    def ensure_load_balancers(self, stack: str, observed: Observed) -> None:
        """A running stand-in for every load balancer the emulator has for the stack."""
        credentials = self.aws.session.get_credentials()
        env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials.access_key,
               "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
        env.pop("AWS_SESSION_TOKEN", None)
        for service, lb in observed.load_balancers.items():
            path = self.load_balancer_state(stack, service)
            state = lbproxy.read_state(path)
            if state and lbproxy.alive(state.get("pid")) and state.get("load_balancer") == lb.arn:
                continue
            if state:
                lbproxy.stop(path)
            self.progress.note(f"starting the load-balancer stand-in of {service}")
            lbproxy.start(self.aws.endpoint_url, self.aws.region, lb.arn, path,
                          path.with_suffix(".log"), env)

    def crash_looping(self, stack: str, instances: list[str], restarts: int) -> str | None:
        """An app container of these instances that exited or restarted `restarts` times, with its logs."""
        for instance in instances:
            for app in self._apps(stack, instance):
                app.reload()
                count = app.attrs.get("RestartCount", 0)
                if app.status in ("exited", "dead") or count >= restarts:
                    logs = app.logs(tail=20).decode(errors="replace").rstrip()
                    return (f"the container on {instance} is {app.status} after {count} restart(s)\n"
                            f"--- last log lines of its container ---\n{logs}")
        return None

    def last_logs(self, stack: str, instances: list[str], lines: int = 20) -> str:
        out = []
        for instance in instances[:3]:
            for app in self._apps(stack, instance):
                out.append(f"--- last log lines of the container on {instance} ---\n"
                           + app.logs(tail=lines).decode(errors="replace").rstrip())
        return ("\n" + "\n".join(out)) if out else ""

    def run_release(self, stack: str, instance: str, user_data: bytes, path: str | None,
                    timeout: float, *, secret_files: dict[str, str] | None = None) -> tuple[bool, str]:
        """Run a release's user-data on an instance's stand-in host (as SSM Run Command would on EC2; it
        becomes the host's boot script too), then probe its container: (healthy, why not)."""
        host = next((h for h in self._hosts(stack) if h.instance == instance), None)
        if host is None:
            return False, f"no stand-in host for {instance}"
        if secret_files:  # read again, as the instance does at each start: a new file, a rotated value
            try:
                host.container.put_archive("/run", standin_files.values_archive(read_secrets(self.aws, secret_files)))
            except BootFailed as exc:
                return False, str(exc)
        host.container.put_archive("/var/lib/liftshift", tar_files({"user-data": (user_data, 0o700)}))
        result = host.container.exec_run(["bash", "/var/lib/liftshift/user-data"])
        if result.exit_code != 0:
            tail = "\n".join(result.output.decode(errors="replace").splitlines()[-20:])
            return False, f"its user-data exited {result.exit_code}:\n{tail}"
        # A release whose container has a health command is healthy when Docker says so (as on EC2).
        by_command = health_command_container(user_data.decode("utf-8", errors="replace")) is not None
        deadline = time.monotonic() + timeout
        while True:
            app = self._app_container(stack, host)
            state = _container_state(app)
            if state in ("exited", "dead", "unhealthy", "missing") or (
                    app is not None and app.attrs.get("RestartCount", 0) >= 3):
                break
            if _docker_healthy(app) if by_command else _answers(host.address, host.port, path):
                return True, ""
            if time.monotonic() > deadline:
                state = f"no healthy answer within {timeout:.0f} s"
                break
            time.sleep(0.5)
        logs = app.logs(tail=10).decode(errors="replace").rstrip() if app else "(no container)"
        return False, f"its container is {state}\n--- last log lines of its container ---\n{logs}"

    def remove_all(self, stack: str) -> None:
        for path in state_dir().glob(f"lb.{stack}.*.json"):
            lbproxy.stop(path)
        for log in state_dir().glob(f"lb.{stack}.*.log"):
            log.unlink(missing_ok=True)
        for host in self._hosts(stack):
            self._remove(stack, host)
        for container in self.docker().containers.list(all=True, filters={"label": f"liftshift.stack={stack}"}):
            container.remove(force=True)
        standin_files.remove_stack(stack)

    def remove_data(self, stack: str) -> None:
        """destroy --delete-data: the Docker volumes that stood in for the stack's EBS data volumes."""
        from .data_volumes import remove_data_volumes

        for name in remove_data_volumes(self.docker(), stack):
            self.progress.note(f"Docker volume {name} removed")

    def addresses(self, stack: str) -> dict[str, str]:
        return {h.instance: f"http://{h.address}:{h.port}" for h in self._hosts(stack)}

    def log_events(self, aws, query):
        """`liftshift logs`: the app containers' own logs (standin_logs.py), where EC2 would send them to
        CloudWatch."""
        from .standin_logs import read_container_logs

        return read_container_logs(self.docker(), query)

    def target_health(self, aws, stack: str, service: str, target_group: str) -> list[dict]:
        """The load-balancer stand-in's own checks (moto's describe_target_health says healthy always)."""
        return lbproxy.target_health(self.load_balancer_state(stack, service), target_group)

    def wait_healthy(self, spec: AppSpec, timeout: float | None = None) -> None:
        for host in self._hosts(spec.name):
            service = spec.services.get(host.service)
            if service is None:
                continue
            health = service.health
            budget = timeout or ((health.start_period + health.interval * (health.retries + 1) + 15)
                                 if health else 60)
            app = self._app_container(spec.name, host)
            deadline = time.monotonic() + budget
            self.progress.note(f"waiting for {host.service} on {host.instance} at {host.address}:{host.port}")
            while True:
                state = _container_state(app)
                if state in ("exited", "dead", "unhealthy", "missing"):
                    raise self._unhealthy(spec.name, host, f"its container is {state}"
                                          + (" (its health command failed)" if state == "unhealthy" and health
                                             and health.command is not None else ""))
                if health is not None and health.command is not None:
                    if _docker_healthy(app):  # the container's own health command, which need not be HTTP
                        break
                elif _answers(host.address, host.port, health.path if health else None):
                    break
                if time.monotonic() > deadline:
                    raise self._unhealthy(spec.name, host, f"no healthy answer within {budget:.0f} s")
                time.sleep(0.5)
                app = self._app_container(spec.name, host)

    # -- internals --

    def _apps(self, stack: str, instance: str) -> list:
        """The app containers an instance's user-data started."""
        return self.docker().containers.list(all=True, filters={
            "label": [f"liftshift.stack={stack}", f"liftshift.instance={instance}"]})

    def _app_container(self, stack: str, host: Host):
        found = self._apps(stack, host.instance)
        return found[0] if found else None

    def _unhealthy(self, stack: str, host: Host, why: str) -> HealthCheckFailed:
        app = self._app_container(stack, host)
        logs = app.logs(tail=20).decode(errors="replace").rstrip() if app else "(no container)"
        return HealthCheckFailed(
            f"service {host.service} on {host.instance} ({host.address}:{host.port}) is not healthy: {why}\n"
            f"--- last log lines of its container ---\n{logs}")

    def _address(self, spec: AppSpec, service: str) -> str:
        return _service_host(self.docker()) if spec.services[service].internal else "127.0.0.1"

    def _boot(self, stack: str, instance: ObservedInstance, port: int, secrets: dict[str, str],
              address: str = "127.0.0.1", *, extra_ports: list[tuple[int, int]] | None = None,
              secret_files: dict[str, str] | None = None) -> Host:
        client = self.docker()
        secret_values = read_secrets(self.aws, secrets)
        file_values = read_secrets(self.aws, secret_files or {})
        extra_ports = extra_ports or []
        environment = standin_files.environment(extra_ports)
        # A directory of this machine for secret files (standin_files.py), also where a service has none yet:
        # an in-place release (run_release) may bring some, and a container's mounts cannot be added later.
        volumes, more = standin_files.mount(standin_files.host_dir(stack, instance.id))
        environment.update(more)
        user_data = read_user_data(self.aws, instance.id)
        if not user_data:
            raise BootFailed(f"instance {instance.id} has no user-data to run")
        self.progress.note(f"booting stand-in host for {instance.id} ({instance.service}) on port {port}")
        name = f"liftshift-host-{stack}-{instance.id}"
        with contextlib.suppress(Exception):
            client.containers.get(name).remove(force=True)
        container = client.containers.create(
            standin_image(client), ["/bin/bash", "-c", BOOT], name=name, detach=True,
            network_mode="host",
            environment={"LIFTSHIFT_STAND_IN": "1", "LIFTSHIFT_INSTANCE_ID": instance.id,
                         "LIFTSHIFT_PUBLISH_PORT": str(port), "LIFTSHIFT_SERVICE_HOST": _service_host(client),
                         **({"LIFTSHIFT_PUBLISH_ADDRESS": address} if address != "127.0.0.1" else {}), **environment},
            volumes={_socket_path(): {"bind": "/var/run/docker.sock", "mode": "rw"}, **volumes},
            labels={HOST_LABEL: instance.id, "liftshift.host.stack": stack, "liftshift.service": instance.service,
                    "liftshift.port": str(port), ADDRESS_LABEL: address,
                    standin_files.EXTRA_PORTS_LABEL: standin_files.label(extra_ports)},
        )
        container.put_archive("/var/lib/liftshift", tar_files({"user-data": (user_data, 0o700)}))
        if secret_values:  # files, not env: they do not show in `docker inspect` of the stand-in
            container.put_archive("/run", tar_files({f"liftshift/secrets/{n}": (v.encode(), 0o400)
                                                for n, v in secret_values.items()}))
        if file_values:
            container.put_archive("/run", standin_files.values_archive(file_values))
        container.start()
        return Host(instance.id, instance.service, port, container, address, tuple(extra_ports))

    def _wait_boot(self, host: Host) -> None:
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            host.container.reload()
            if host.container.status != "running":
                raise BootFailed(f"stand-in host for {host.instance} stopped: {host.container.logs(tail=20)!r}")
            result = host.container.exec_run(["cat", "/var/lib/liftshift/user-data.rc"])
            rc = result.output.decode().strip() if result.exit_code == 0 else ""
            if rc:
                if rc == "0":
                    return
                log = host.container.exec_run(["cat", "/var/log/liftshift/user-data.log"]).output
                tail = "\n".join(log.decode(errors="replace").splitlines()[-20:])
                raise BootFailed(f"user-data of {host.instance} ({host.service}) exited {rc}:\n{tail}")
            time.sleep(0.3)
        raise BootFailed(f"user-data of {host.instance} did not finish within {self.boot_timeout:.0f} s")

    def _remove(self, stack: str, host: Host) -> None:
        for container in self._apps(stack, host.instance):
            container.remove(force=True)
        standin_files.remove(stack, host.instance, host.container)  # its secret files, while it can help
        with contextlib.suppress(Exception):
            host.container.remove(force=True)


def _service_host(client) -> str:
    """Where app containers on this engine reach ports published on this machine: the bridge's gateway."""
    try:
        return client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    except (LookupError, TypeError, KeyError):
        return "172.17.0.1"


def _socket_path() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def _container_state(container) -> str:
    if container is None:
        return "missing"
    container.reload()
    health = (container.attrs.get("State", {}).get("Health") or {}).get("Status")
    return "unhealthy" if health == "unhealthy" else container.status


def _docker_healthy(container) -> bool:
    """Docker reports the container's health check (its health command) passing: status `healthy`."""
    return container is not None and (container.attrs.get("State", {}).get("Health") or {}).get("Status") == "healthy"


def _answers(address: str, port: int, path: str | None) -> bool:
    """HTTP GET of `path` answering 2xx/3xx, or (no health declared) a TCP connect."""
    return http_probe.answers(address, port, path)
