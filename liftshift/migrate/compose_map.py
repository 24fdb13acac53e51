"""The mapping from a compose project (compose_load.py) to app.yaml data, comments and findings. Pure.

Every compose key a service may hold is in exactly one of: MAPPED (handled by compose_fields.py and
the modules it calls, or compose_peers.py), NOTES (ignored, harmless: said once), UNSUPPORTED (no app.yaml field: a
warning saying what to do), REFUSED (would make the app unsafe or wrong on EC2: exit 2 unless
--allow-unsupported). Anything else is an unknown key: a warning. Problems that leave nothing valid to
write (no image and no build, a name that cannot be mapped) are findings of level "error": exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .compose_load import Finding, Project, Service
from .compose_parts import is_name, sanitise_name

NOTES = {
    "container_name": "ignored: liftshift names the container itself",
    "labels": "ignored: container labels are not carried over (a LABEL in the Dockerfile keeps them)",
    "annotations": "ignored: container annotations are not carried over",
    "restart": "ignored: on the instance systemd restarts the container whenever it stops, whatever the policy",
    "logging": "ignored: the container's output goes to CloudWatch Logs (log group /liftshift/<stack>)",
    "tty": "ignored: the container runs without a terminal",
    "stdin_open": "ignored: the container runs without stdin",
    "pull_policy": "ignored: the instance pulls the image by digest from the stack's ECR repository",
    "platform": "ignored: the architecture follows instances.type (arm64 types such as t4g build arm64 images)",
    "hostname": "ignored: the container gets Docker's default host name",
    "domainname": "ignored: the container gets Docker's default domain name",
    "profiles": "",  # handled when loading; no note
    "extends": "",
}
UNSUPPORTED = {
    "cap_add": "app.yaml has no capabilities setting: the container gets Docker's defaults. Drop the need (e.g. "
               "bind ports above 1024) or run a process that needs it outside liftshift",
    "cap_drop": "app.yaml has no capabilities setting: the container keeps Docker's defaults (drop them in the "
                "image, e.g. with setpriv/capsh in the entrypoint)",
    "ulimits": "app.yaml has no ulimits: set them in the image's entrypoint (ulimit) or Docker's daemon "
               "default-ulimits on a custom AMI",
    "sysctls": "app.yaml has no sysctls: the container gets the instance's defaults",
    "external_links": "dropped: reach other stacks by address, not by container name",
    "pid": "dropped: the container gets its own PID namespace",
    "ipc": "dropped: the container gets its own IPC namespace",
    "uts": "dropped: the container gets its own UTS namespace",
    "userns_mode": "dropped: Docker's default user namespace setting is used",
    "security_opt": "dropped: the container runs with Docker's default seccomp and AppArmor profiles",
    "cgroup_parent": "dropped", "cgroup": "dropped",
    "shm_size": "dropped: /dev/shm is Docker's default 64 MiB",
    "tmpfs": "dropped: app.yaml mounts no tmpfs; the path is in the container's own filesystem",
    "read_only": "dropped: the container's root filesystem stays writable",
    "extra_hosts": "dropped: app.yaml adds no /etc/hosts entries (the stack's services resolve each other by name "
                   "and aliases); set an address the app needs in env",
    "dns": "dropped: the container uses the VPC's resolver", "dns_search": "dropped", "dns_opt": "dropped",
    "mac_address": "dropped",
    "working_dir": "app.yaml has no working directory: set WORKDIR in the Dockerfile",
    "user": "app.yaml has no user setting: set USER in the Dockerfile",
    "group_add": "dropped: set the groups in the image",
    "init": "dropped: add an init (tini, dumb-init) to the image if the app needs one to reap children",
    "volumes_from": "dropped: services run on separate instances and cannot share a container's volumes",
    "configs": "app.yaml has no configs: COPY the file into the image, or bind-mount it from a path you put on "
               "the instance",
    "runtime": "dropped: the instance's default runtime (runc) is used",
    "isolation": "dropped", "storage_opt": "dropped",
    "gpus": "dropped: app.yaml has no GPU setting (choose a GPU instance type and AMI yourself)",
    "device_cgroup_rules": "dropped", "blkio_config": "dropped",
    "cpu_count": "dropped", "cpu_percent": "dropped", "cpu_shares": "dropped", "cpu_period": "dropped",
    "cpu_quota": "dropped", "cpu_rt_runtime": "dropped", "cpu_rt_period": "dropped", "cpuset": "dropped",
    "mem_reservation": "dropped", "memswap_limit": "dropped", "mem_swappiness": "dropped",
    "oom_kill_disable": "dropped", "oom_score_adj": "dropped", "pids_limit": "dropped",
    "stop_signal": "app.yaml has no stop signal: docker stops the container with SIGTERM, then SIGKILL; handle "
                   "SIGTERM, or set STOPSIGNAL in the Dockerfile",
    "stop_grace_period": "app.yaml has no stop grace period: docker's default (10 s) applies",
    "attach": "dropped", "develop": "dropped: compose watch is for development",
    "post_start": "dropped: app.yaml has no lifecycle hooks (run it in the entrypoint)",
    "pre_stop": "dropped: app.yaml has no lifecycle hooks (trap SIGTERM in the entrypoint)",
    "label_file": "dropped", "credential_spec": "dropped (Windows only)",
    "models": "dropped: app.yaml has no models", "provider": "dropped: app.yaml has no providers",
    "use_api_socket": "dropped: the container does not get the Docker API socket",
}
REFUSED = {
    "privileged": "a privileged container owns the instance (every device, every capability): liftshift will not "
                  "run one unless --allow-unsupported is given, and even then runs it unprivileged",
    "devices": "host devices differ on EC2 instances and are not passed to the container: refused unless "
               "--allow-unsupported is given (then dropped)",
}
MAPPED = ("build", "image", "ports", "expose", "environment", "env_file", "command", "entrypoint", "volumes",
          "secrets", "healthcheck", "deploy", "scale", "networks", "network_mode", "mem_limit", "cpus", "depends_on",
          "links")
TOP_LEVEL = ("services", "name", "version", "volumes", "secrets", "networks", "configs", "include")


@dataclass
class Imported:
    """app.yaml as data (keys in the order written), the comments after its keys, the findings."""

    stack: str
    app: dict[str, Any]
    comments: dict[tuple, str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    commands: list[dict[str, str]] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)  # compose name -> app.yaml name

    def problems(self, allow_unsupported: bool) -> list[Finding]:
        return [f for f in self.findings
                if f.level == "error" or (f.level == "refused" and not allow_unsupported)]


@dataclass
class Context:
    project: Project
    stack: str
    out_dir: Path
    imported: Imported
    names: dict[str, str]

    def add(self, finding: Finding) -> None:
        self.imported.findings.append(finding)

    def note(self, svc: Service, sub: tuple, message: str, level: str = "warning") -> None:
        self.add(svc.finding(level, sub, message))

    def comment(self, path: tuple, text: str) -> None:
        self.imported.comments[path] = text


def stack_name(project: Project, given: Optional[str]) -> tuple[str, Optional[str]]:
    """The stack's name and, if it had to be changed from compose's, why (else None)."""
    from ..errors import BadInput

    if given is not None:
        if not is_name(given):
            raise BadInput(f"--name {given!r}: a stack name is 1-32 characters of a-z, 0-9 and '-', starting and "
                           "ending with a letter or digit")
        return given, None
    written, what = (project.name, "compose's top-level name") if project.name else (project.dir.resolve().name,
                                                                                       "the directory's name")
    name = sanitise_name(written)
    if not name:
        raise BadInput(f"cannot make a stack name of {what} {written!r}: give one with --name")
    return name, (None if name == written else f"{what} {written!r} is not a stack name; using {name!r}")


def map_project(project: Project, stack: str, out_dir: Path) -> Imported:
    from .compose_fields import map_service

    imported = Imported(stack, {"version": 1, "name": stack})
    imported.findings.extend(project.findings)
    ctx = Context(project, stack, out_dir, imported, {})
    imported.header = [f"app.yaml imported from {project.located.file} by `liftshift import compose`.",
                       "Lines marked `decide:` need a decision before the first deploy."]
    imported.app["region"] = None  # written as a commented-out line: a decision
    imported.comments[("region",)] = ("decide: the AWS region (else --region, AWS_REGION, the profile's region), "
                                      "e.g. region: eu-west-1")
    _top_level(ctx)
    _service_names(ctx)
    services: dict[str, Any] = {}
    imported.app["services"] = services
    for compose_name, svc in project.services.items():
        name = ctx.names.get(compose_name)
        if name is None:
            continue
        for key in svc.data:
            _classify(ctx, svc, key)
        services[name] = map_service(ctx, svc, name)
    if not project.services:
        raise_no_services(project)
    from .compose_peers import map_peers

    map_peers(ctx, services)
    return imported


def raise_no_services(project: Project) -> None:
    from .compose_load import ComposeError

    hidden = ", ".join(f"{n} ({'/'.join(p)})" for n, p in project.excluded.items())
    raise ComposeError(project.located.file, project.located.line_of(("services",)), ("services",),
                       f"no service is enabled: every one has profiles ({hidden}); name one with --profile")


def _service_names(ctx: Context) -> None:
    taken: dict[str, str] = {}
    for compose_name, svc in ctx.project.services.items():
        name = compose_name if is_name(compose_name) else sanitise_name(compose_name)
        if not name:
            ctx.note(svc, (), f"service name {compose_name!r} has no letter or digit liftshift can use: rename the "
                              "service in the compose file (a-z, 0-9, '-')", "error")
            continue
        if name in taken:
            ctx.note(svc, (), f"service name {compose_name!r} becomes {name!r}, which service {taken[name]!r} is "
                              "already called: rename one of them in the compose file", "error")
            continue
        if name != compose_name:
            ctx.note(svc, (), f"service {compose_name!r} is renamed {name!r}: liftshift's names are 1-32 characters "
                              "of a-z, 0-9 and '-'")
        taken[name] = compose_name
        ctx.names[compose_name] = name
        ctx.imported.services[compose_name] = name


def _classify(ctx: Context, svc: Service, key: str) -> None:
    if key.startswith("x-") or key in MAPPED:
        return
    if key in NOTES:
        if NOTES[key]:
            ctx.note(svc, (key,), NOTES[key], "note")
    elif key in UNSUPPORTED:
        ctx.note(svc, (key,), UNSUPPORTED[key])
    elif key in REFUSED:
        value = svc.data[key]
        if key == "privileged" and str(value).lower() != "true":
            return
        ctx.note(svc, (key,), REFUSED[key], "refused")
    else:
        ctx.note(svc, (key,), "unknown compose key: not imported (is it spelt right?)")


def _top_level(ctx: Context) -> None:
    project = ctx.project
    for key, value in project.top.items():
        if key.startswith("x-"):
            continue
        if key == "version":
            ctx.add(project.finding("note", (key,), "obsolete in the Compose Specification; ignored"))
        elif key == "networks":
            custom = [n for n in (value or {}) if n != "default"]
            if custom:
                ctx.add(project.finding("warning", (key,), f"custom networks ({', '.join(custom)}) are not imported: "
                                        "each service runs on its own instances in the VPC; peers reach each other "
                                        "by service name and aliases; network isolation is by security group"))
        elif key == "configs":
            ctx.add(project.finding("warning", (key,), UNSUPPORTED["configs"]))
        elif key == "include":
            ctx.add(project.finding("warning", (key,), "included compose files are not imported: import each of "
                                    "them on its own, or copy their services into this file"))
        elif key not in TOP_LEVEL:
            ctx.add(project.finding("warning", (key,), "unknown top-level compose key: not imported"))
    for name, profiles in project.excluded.items():
        ctx.add(project.finding("note", ("services", name, "profiles"),
                                f"service {name} is left out: its profiles ({', '.join(profiles)}) are not active "
                                "(--profile)"))
