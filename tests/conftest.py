"""Shared fixtures for the integration tests.

Every heavy fixture here is lazy: nothing starts (dockerd, the registry, the
moto server) unless a test asks for it, so unit tests need none of it.

Session fixtures
    docker_client   docker.DockerClient from the environment; starts dockerd
                    with scripts/start-dockerd.sh when it does not answer.
    busybox_image   "busybox:1.36", created locally by `docker import` if absent.
    registry        a Debian docker-registry on a free 127.0.0.1 port
                    (.host "127.0.0.1:PORT", .url "http://127.0.0.1:PORT").
    moto_server     endpoint URL of a moto ThreadedMotoServer on a free port, with AWS's
                    client-token semantics added (support/aws_semantics.py: a repeated
                    RunInstances/CreateLaunchTemplate token returns the original result).
Function fixtures
    aws_env         resets moto and points the AWS environment at it; yields the URL.
    unique          a short unique lowercase name, "t" + 8 hex chars.
    docker_cleanup  a list; append container/image names or ids to have them
                    force-removed at teardown, even when the test fails.
Helper
    registry_digest(host, repo, tag) -> the registry's Docker-Content-Digest or None.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # make `support` importable whatever the rootdir mode
    sys.path.insert(0, str(TESTS_DIR))

from support.images import BUSYBOX_TAG, ensure_busybox_image  # noqa: E402
from support.registry import MANIFEST_ACCEPT, free_port, registry_digest  # noqa: E402,F401
from support.local import run_local, stack_containers  # noqa: E402

def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                resp.read()
                return
        except urllib.error.HTTPError as exc:  # an HTTP answer (even 401) means it is up
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


# --------------------------------------------------------------------------- docker


@pytest.fixture(scope="session")
def docker_client():
    import docker

    def connect():
        client = docker.from_env(timeout=300)
        client.ping()
        return client

    try:
        client = connect()
    except Exception:
        script = REPO_ROOT / "scripts" / "start-dockerd.sh"
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(
                f"cannot start dockerd with {script} (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}",
                pytrace=False,
            )
        client = connect()  # fail loudly if it still does not answer
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    return ensure_busybox_image(docker_client, BUSYBOX_TAG)


@pytest.fixture
def docker_cleanup(docker_client):
    """Register container/image names or ids; they are force-removed at teardown."""
    import docker.errors

    names: list[str] = []
    yield names
    problems = []
    for name in reversed(names):
        try:
            docker_client.api.remove_container(name, force=True, v=True)
            continue
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"container {name}: {exc}")
            continue
        try:
            docker_client.api.remove_image(name, force=True, noprune=False)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"image {name}: {exc}")
    if problems:
        print("docker_cleanup could not remove:\n  " + "\n  ".join(problems), file=sys.stderr)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Registry:
    host: str  # "127.0.0.1:PORT"
    url: str  # "http://127.0.0.1:PORT"
    root: Path  # storage root directory

    def repository(self, name: str) -> str:
        return f"{self.host}/{name}"


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as started:
        yield started


@contextlib.contextmanager
def running_registry(base: Path, storage_extra: str = "", extra_config: str = ""):
    """Debian's docker-registry on a free loopback port, stopped on exit.

    storage_extra: more YAML inside `storage:` (indented two spaces); extra_config: more top-level YAML.
    """
    binary = "/usr/bin/docker-registry"
    if not os.path.exists(binary):
        pytest.fail(f"{binary} missing: apt-get install docker-registry", pytrace=False)
    root = base / "data"
    root.mkdir()
    port = free_port()
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n"
        "  level: warn\n"
        "storage:\n"
        "  filesystem:\n"
        f"    rootdirectory: {root}\n"
        "  delete:\n"
        "    enabled: true\n" + storage_extra +
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n" + extra_config
    )
    log = open(base / "registry.log", "wb")
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/v2/", timeout=30, proc=proc)
    except Exception as exc:
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail(
            f"docker-registry did not start: {exc}\n{(base / 'registry.log').read_text()[-2000:]}",
            pytrace=False,
        )
    try:
        yield Registry(host=f"127.0.0.1:{port}", url=f"http://127.0.0.1:{port}", root=root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --------------------------------------------------------------------------- moto


@pytest.fixture(scope="session")
def moto_server():
    # Must be set before the server (and its IAM backend) starts.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.server import ThreadedMotoServer
    from support import aws_semantics

    aws_semantics.install()  # the whole session runs against EC2's token semantics, which moto lacks
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/moto-api/", timeout=30)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    yield moto_server


@pytest.fixture
def lb_endpoint(monkeypatch):
    """The load balancer's data plane for moto (which has none): the probe through it is answered here,
    and its `status` (200 unless a test sets it) decides the probe."""
    from support.lb import answering_server

    with answering_server() as (answer, address):
        monkeypatch.setenv("LIFTSHIFT_LB_ENDPOINT", address)
        yield answer


@pytest.fixture
def deploy_env(aws_env, registry, busybox_image, docker_client, monkeypatch, unique):
    """Deploys against moto and the test registry; afterwards the images pushed for the test's stacks
    (named `unique...`) are untagged."""
    import docker.errors

    monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # moto answers unimplemented calls with 500: fail fast
    yield registry
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(f"{registry.host}/{unique}"):
                with contextlib.suppress(docker.errors.NotFound):
                    docker_client.images.remove(tag)


# --------------------------------------------------------------------------- names


@pytest.fixture
def stack_dir(tmp_path, unique):
    """A copy of stacks/hello under a unique stack name."""
    import shutil

    target = tmp_path / "hello"
    shutil.copytree(Path(__file__).resolve().parent.parent / "stacks" / "hello", target)
    app_yaml = target / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("name: hello", f"name: {unique}"))
    return target


@pytest.fixture
def unique() -> str:
    return "t" + uuid.uuid4().hex[:8]


# --- the local rehearsal ---------------------------------------------------------------


@pytest.fixture(scope="session")
def local_state(tmp_path_factory, docker_client, busybox_image):
    """One emulator and one registry for the whole run, in a private state directory."""
    directory = tmp_path_factory.mktemp("liftshift-state")
    mp = pytest.MonkeyPatch()
    mp.setenv("LIFTSHIFT_STATE_DIR", str(directory))
    for var in ("AWS_ENDPOINT_URL", "LIFTSHIFT_REGISTRY", "AWS_PROFILE"):
        mp.delenv(var, raising=False)
    yield directory
    from liftshift.targets.aws import docker_connector
    from liftshift.targets.local.services import stop_services

    stop_services(docker_connector())
    mp.undo()


@pytest.fixture
def local(local_state, monkeypatch):
    monkeypatch.setenv("LIFTSHIFT_STATE_DIR", str(local_state))
    for var in ("AWS_ENDPOINT_URL", "LIFTSHIFT_REGISTRY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    return local_state


@pytest.fixture
def destroyed(docker_client):
    """Destroys the stacks a test registers, even when it fails, and checks nothing is left."""
    made: list[tuple[Path, str]] = []
    yield made
    for app_yaml, stack in made:
        run_local("destroy", str(app_yaml), "--yes")
        for container in stack_containers(docker_client, stack):
            container.remove(force=True)
        # data volumes' stand-ins, which a plain destroy keeps (targets/local/data_volumes.py)
        for volume in docker_client.volumes.list(filters={"label": [f"liftshift.stack={stack}", "liftshift.data"]}):
            volume.remove(force=True)
        untag_pushed(docker_client, stack)


def untag_pushed(docker_client, stack: str) -> None:
    """Removes the local tags of images pushed for `stack` to a loopback registry (deploy tags them so)."""
    import docker.errors

    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith("127.0.0.1:") and f"/{stack}/" in tag:
                with contextlib.suppress(docker.errors.NotFound):
                    docker_client.images.remove(tag)


