"""Shell safety of the user-data, end to end on the REAL engine (property test).

tests/test_render.py checks the argv a fake ``docker`` receives. Here the rendered
user-data runs for real on a stand-in host (created exactly like
liftshift/targets/local/standin.py boots one), pulls a "dumper" image by digest from the
loopback registry and starts it through the host engine. The dumper records what
it actually received:

* ``/out/args``    its arguments, ``printf '%s\\0' "$@"``;
* ``/out/cmdline`` ``/proc/$$/cmdline`` (``/bin/sh``, ``/dump.sh``, then the arguments);
* ``/out/environ`` ``/proc/$$/environ``, its environment exactly as the kernel gave it;

``/out`` is a bind mount declared as one of the service's volumes, so the files land
on this machine. Each example asserts that every env value and command argument
arrived byte for byte, that every volume is mounted at exactly its container path
from exactly its host path, and that no payload ran: hostile fragments create files
in MARKER_DIR (mounted at the same path in the stand-in host) with ``>`` (a shell
builtin, since the stand-in image has no ``touch``) or ``touch``, and the boot log
must not show a command that was not found.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from liftshift.spec.grammar import PEER_REF_RE
from liftshift.model.user_data import UserDataContext, Volume, render_user_data
from liftshift.targets.local.standin import HOST_LABEL, _service_host, _socket_path
from liftshift.targets.local.standin_image import BOOT, standin_image
from support.registry import free_port

SERVICE = "dump"
CONTAINER_PORT = 8080
BOOT_TIMEOUT = 60.0

# Any command that escapes its quoting creates a file here (on this machine: the
# directory is mounted at the same path in every stand-in host).
MARKER_DIR = os.path.join(tempfile.gettempdir(), f"liftshift-shsafe-{uuid.uuid4().hex[:12]}")  # made by work_dir
PWN = f"{MARKER_DIR}/pwn"
FRAGMENTS = [
    "'",
    '"',
    "it's",
    "\\",
    "\\'",
    "`",
    "$",
    "$(",
    ")",
    "\n",
    "\r\n",
    "\t",
    ";",
    "&&",
    "|",
    "#",
    "--",
    "-e",
    "*",
    "~",
    "!!",
    "{a,b}",
    "%s %q %%",
    "${HOME} $0 $@ $* $# $? $$ $1",
    "$'\\n'",
    "EOF",
    "\u00e9 \u2603 \u65e5\u672c \u200b \u2028 \U0001f600 \u201cq\u201d",
    f"$(>{PWN}1)",
    f"`>{PWN}2`",
    f"; >{PWN}3",
    f"\n>{PWN}4\n",
    f"' ; >{PWN}5 ; '",
    f'" ; >{PWN}6 ; "',
    f"$'\\n'>{PWN}7",
    f"$(touch {PWN}8)",
    f"`touch {PWN}9`",
    f"\\'$(>{PWN}10)\\'",
    f"'\"$(>{PWN}11)\"'",
    f"${{IFS}}>{PWN}12",
]

_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def _no_peer_ref(value: str) -> bool:
    return PEER_REF_RE.search(value) is None  # a ${service.X.url} would need a peer


values = (
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(_CHARS, max_size=30)), min_size=1, max_size=10)
    .map("".join)
    .filter(lambda v: len(v) <= 300 and _no_peer_ref(v))
)
env_names = st.from_regex(r"[A-Za-z0-9_]{0,12}", fullmatch=True).map(lambda s: "LS_" + s)

# Path components: anything but '/', ':' (docker's -v separator, refused by render)
# and NUL; not '.'/'..' (docker cleans those), at most 30 characters (NAME_MAX).
_component = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/:"), min_size=1, max_size=30
).filter(lambda c: c not in (".", ".."))
# Top-level names of the dumper image and of what docker mounts itself.
_TAKEN = {"bin", "dev", "etc", "proc", "sys", "tmp", "var", "root", "out", "usr", "lib", "sbin",
          "dump.sh", ".dockerenv"}
container_paths = st.lists(_component, min_size=1, max_size=3).filter(
    lambda parts: parts[0] not in _TAKEN).map(lambda parts: "/" + "/".join(parts))
volume_specs = st.lists(
    st.tuples(_component, container_paths, st.booleans()),
    max_size=3,
    unique_by=lambda v: v[1],
)


@st.composite
def cases(draw):
    names = draw(st.lists(env_names, min_size=1, max_size=5, unique=True))
    env = tuple((name, draw(values)) for name in names)
    command = draw(st.lists(values, min_size=1, max_size=6).map(tuple))  # None: an explicit example
    return {"env": env, "command": command, "volumes": draw(volume_specs)}


HOSTILE_CASE = {
    "env": tuple((f"LS_{i}", v) for i, v in enumerate(FRAGMENTS)) + (("LS_EMPTY", ""),),
    "command": tuple(FRAGMENTS) + ("",),
    "volumes": [
        ("h " + v.replace("/", "_").replace(":", "_") if v.strip("./") else f"h{i}", "/c/x" + v.replace(":", "_"),
         i % 2 == 0)
        for i, v in enumerate(FRAGMENTS[:12])
    ],
}

DUMP_SH = """\
#!/bin/sh
if [ "$#" -gt 0 ]; then printf '%s\\0' "$@" >/out/args.tmp; else : >/out/args.tmp; fi
cat "/proc/$$/cmdline" >/out/cmdline.tmp
cat "/proc/$$/environ" >/out/environ.tmp
mv /out/args.tmp /out/args
mv /out/cmdline.tmp /out/cmdline
mv /out/environ.tmp /out/environ
: >/out/ready
exec sleep 3600
"""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dumper(docker_client, busybox_image, registry, tmp_path_factory) -> str:
    """The dumper image pushed to the loopback registry: "<registry>/<repo>@sha256:..."."""
    from liftshift.apply.images import push_image

    context = tmp_path_factory.mktemp("dumper")
    (context / "dump.sh").write_text(DUMP_SH)
    (context / "Dockerfile").write_text(
        f"FROM {busybox_image}\nCOPY dump.sh /dump.sh\nENTRYPOINT [\"/bin/sh\", \"/dump.sh\"]\n")
    image, _ = docker_client.images.build(path=str(context), rm=True, forcerm=True)
    repository = f"{registry.host}/shsafe/dumper"
    digest = push_image(docker_client, "dumper", image.id, repository, "v1")
    yield f"{repository}@{digest}"
    with contextlib.suppress(Exception):
        docker_client.images.remove(image.id, force=True)


@pytest.fixture(scope="module")
def standin(docker_client) -> str:
    return standin_image(docker_client)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    os.makedirs(MARKER_DIR)
    try:
        yield tmp_path_factory.mktemp("shsafe")
    finally:
        shutil.rmtree(MARKER_DIR, ignore_errors=True)


# --------------------------------------------------------------------------- harness


def _split0(data: bytes) -> list[bytes]:
    if not data:
        return []
    assert data.endswith(b"\0"), data[-50:]
    return data[:-1].split(b"\0")


def _environ(data: bytes) -> dict[bytes, bytes]:
    pairs = [entry.partition(b"=") for entry in _split0(data)]
    return {name: value for name, _, value in pairs}


def _remove_stack(client, stack: str) -> None:
    for label in (f"liftshift.stack={stack}", f"liftshift.host.stack={stack}"):
        for container in client.containers.list(all=True, filters={"label": label}):
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)


def _boot(client, image: str, stack: str, instance: str, port: int, user_data: bytes, mounts: list[str]):
    """A stand-in host as StandInHosts._boot makes one (plus same-path mounts for the test)."""
    volumes = {_socket_path(): {"bind": "/var/run/docker.sock", "mode": "rw"}}
    volumes.update({m: {"bind": m, "mode": "rw"} for m in mounts})
    container = client.containers.create(
        image, ["/bin/bash", "-c", BOOT], name=f"liftshift-host-{stack}-{instance}", detach=True,
        network_mode="host",
        environment={"LIFTSHIFT_STAND_IN": "1", "LIFTSHIFT_INSTANCE_ID": instance,
                     "LIFTSHIFT_PUBLISH_PORT": str(port), "LIFTSHIFT_SERVICE_HOST": _service_host(client)},
        volumes=volumes,
        labels={HOST_LABEL: instance, "liftshift.host.stack": stack, "liftshift.service": SERVICE,
                "liftshift.port": str(port)},
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("user-data")
        info.size, info.mode = len(user_data), 0o700
        tar.addfile(info, io.BytesIO(user_data))
    container.put_archive("/var/lib/liftshift", buffer.getvalue())
    container.start()
    return container


def _wait_boot(host) -> tuple[str, str]:
    """(exit code of the user-data, its log)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        host.reload()
        if host.status != "running":
            pytest.fail(f"stand-in host stopped: {host.logs(tail=20)!r}")
        result = host.exec_run(["cat", "/var/lib/liftshift/user-data.rc"])
        if result.exit_code == 0:
            log = host.exec_run(["cat", "/var/log/liftshift/user-data.log"]).output
            return result.output.decode().strip(), log.decode(errors="replace")
        time.sleep(0.2)
    pytest.fail(f"user-data did not finish within {BOOT_TIMEOUT:.0f} s")


def _wait_file(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the dumper did not write {path} within {timeout:.0f} s")
        time.sleep(0.1)


def check_case(client, image: str, standin: str, root: Path, case: dict) -> None:
    stack = "ss" + uuid.uuid4().hex[:8]
    instance = "i-" + uuid.uuid4().hex[:12]
    example_dir = root / stack
    out = example_dir / "out"
    out.mkdir(parents=True)
    volumes = [Volume(str(out), "/out")] + [
        Volume(f"{example_dir}/v{i}-{host}", container, read_only)
        for i, (host, container, read_only) in enumerate(case["volumes"])
    ]
    command = case["command"]
    env = case["env"]
    for leftover in os.listdir(MARKER_DIR):  # an earlier failing example's, not this one's
        os.remove(os.path.join(MARKER_DIR, leftover))
    port = free_port()
    user_data = render_user_data(UserDataContext(
        stack=stack, service=SERVICE, image=image, registry=image.split("/", 1)[0], registry_is_ecr=False,
        region="local", log_group=f"/liftshift/{stack}", port=CONTAINER_PORT, publish=port,
        command=command, env=env, volumes=tuple(volumes), health=None, config_hash="0123abcd",
    ))
    try:
        host = _boot(client, standin, stack, instance, port, user_data.encode(), [MARKER_DIR, str(example_dir)])
        rc, log = _wait_boot(host)
        assert rc == "0", f"user-data exited {rc}:\n{log[-3000:]}"
        _wait_file(out / "ready")
        app = client.containers.get(f"liftshift-{stack}-{SERVICE}-{instance}")

        expected_args = [a.encode() for a in (command or ())]
        assert _split0((out / "args").read_bytes()) == expected_args
        assert _split0((out / "cmdline").read_bytes()) == [b"/bin/sh", b"/dump.sh", *expected_args]

        received = _environ((out / "environ").read_bytes())
        ours = {name: value for name, value in received.items() if name.startswith(b"LS_")}
        assert ours == {name.encode(): value.encode() for name, value in env}

        mounts = {m["Destination"]: (m["Source"], m["RW"]) for m in app.attrs["Mounts"]}
        assert mounts == {v.container: (v.host, not v.read_only) for v in volumes}

        assert os.listdir(MARKER_DIR) == [], "an injected command ran on the stand-in host"
        assert "command not found" not in log and "syntax error" not in log, log[-3000:]
    finally:
        _remove_stack(client, stack)


# --------------------------------------------------------------------------- the property


@settings(max_examples=16, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),  # no shrinking: each example boots a host
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much, HealthCheck.large_base_example])
@example(case=HOSTILE_CASE)
@example(case={"env": (), "command": None, "volumes": []})
@given(case=cases())
def test_values_arrive_byte_for_byte(docker_client, dumper, standin, work_dir, case):
    check_case(docker_client, dumper, standin, work_dir, case)
