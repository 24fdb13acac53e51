"""Images of independent services built side by side (Target.parallel) on the real engine: each service gets the
image of its own build, services with the same build share one, each worker thread has its own docker client; a
build that fails among several stops the run with the error a serial run gives, and nothing is pushed; pushes run
side by side too, and an image already in the registry is not pushed again (moto, a real registry)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from liftshift.pipeline.build import LocalEngine, build
from liftshift.pipeline.bounded import run_bounded
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import docker_connector
from support.faults import stack_tagged
from support.registry import registry_digest

DOCKERFILE = ('FROM busybox:1.36\nARG WHO=nobody\nLABEL liftshift.test.who=$WHO\n'
              'RUN echo "$WHO {unique}" > /who\nCMD ["cat", "/who"]\n')
FAILING = 'FROM busybox:1.36\nRUN echo building-api && false\n'


def write_stack(root: Path, unique: str, api_dockerfile: str = DOCKERFILE) -> Path:
    """web and worker: the same build (context web/, WHO=web); jobs: context web/ with WHO=jobs; api: api/."""
    for context, dockerfile in (("web", DOCKERFILE), ("api", api_dockerfile)):
        (root / context).mkdir(parents=True)
        (root / context / "Dockerfile").write_text(dockerfile.format(unique=unique))
    services = {"web": ("web", "web"), "api": ("api", "api"), "worker": ("web", "web"), "jobs": ("web", "jobs")}
    app_yaml = root / "app.yaml"
    app_yaml.write_text(f"version: 1\nname: {unique}\nservices:\n" + "".join(
        f"  {name}:\n    build: {{context: {context}, args: {{WHO: {who}}}}}\n    port: 8080\n"
        for name, (context, who) in services.items()))
    return app_yaml


def test_bounded_jobs_keep_their_order_and_the_earliest_failure_in_that_order_is_raised():
    later_failed = threading.Event()

    def fails(name: str, after: threading.Event | None = None, then: threading.Event | None = None):
        def job():
            if after is not None:
                assert after.wait(30)
            if then is not None:
                then.set()
            raise RuntimeError(name)
        return job

    assert run_bounded([lambda n=n: n * n for n in range(7)], 3) == [n * n for n in range(7)]
    # "b" fails only after "c" failed: the error raised is still b's, the first in the jobs' order (a serial run's)
    with pytest.raises(RuntimeError, match="^b$"):
        run_bounded([lambda: "a", fails("b", after=later_failed), fails("c", then=later_failed)], 3)


class Together(Progress):
    """Each build waits at a barrier when it starts: the run ends only if `parties` builds ran at once."""

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=120)
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def step_started(self, step) -> None:
        self.barrier.wait()  # BrokenBarrierError when the builds run one after another

    def step_done(self, step) -> None:
        with self.lock:
            self.lines.append(f"done {step.action} {step.service}")


def test_services_build_side_by_side_each_with_its_own_image_and_client(tmp_path, unique, busybox_image,
                                                                        docker_client, docker_cleanup):
    spec, base = load_spec(write_stack(tmp_path, unique))
    connect = docker_connector()
    clients: dict[int, set[int]] = {}  # thread -> the clients it was given

    def docker():
        client = connect()
        clients.setdefault(threading.get_ident(), set()).add(id(client))
        return client

    progress = Together(parties=3)  # three builds: web (and worker), jobs, api
    result = build(spec, base, LocalEngine(docker, progress, parallel=4))
    images = {name: info["image_id"] for name, info in result["services"].items()}
    docker_cleanup.extend(set(images.values()))

    assert list(images) == ["web", "api", "worker", "jobs"]  # app.yaml's order
    assert images["web"] == images["worker"]  # one build for both, not two
    assert len({images["web"], images["api"], images["jobs"]}) == 3
    assert sorted(progress.lines) == ["done build api", "done build jobs", "done build web, worker"]
    for name, who in (("web", "web"), ("worker", "web"), ("jobs", "jobs"), ("api", "api")):
        image = docker_client.images.get(images[name])
        assert image.labels["liftshift.test.who"] == who
        assert docker_client.containers.run(images[name], remove=True).decode() == f"{who} {unique}\n"
    assert len(clients) >= 3 and all(len(mine) == 1 for mine in clients.values())  # one client per thread
    assert len({client for mine in clients.values() for client in mine}) == len(clients)  # none shared


@pytest.fixture
def on_moto(deploy_env, unique, tmp_path, busybox_image):
    """An app.yaml of four services for moto and the test registry (deploy_env untags what was pushed)."""
    yield tmp_path, deploy_env


def registry_repositories(registry, unique: str) -> list[str]:
    """The stack's repositories in the registry's storage (a push makes one)."""
    stored = registry.root / "docker" / "registry" / "v2" / "repositories" / unique
    return sorted(path.name for path in stored.iterdir()) if stored.is_dir() else []


def test_a_failing_build_among_several_fails_the_run_as_a_serial_run_does_and_pushes_nothing(on_moto, unique,
                                                                                             docker_client):
    root, registry = on_moto
    app_yaml = str(write_stack(root, unique, api_dockerfile=FAILING))
    errors = []
    for parallel in ("8", "1"):
        result = CliRunner().invoke(app, ["deploy", app_yaml, "--parallel", parallel])
        assert result.exit_code == 1, result.output
        assert "RUN echo building-api && false" in result.stderr
        error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert error and "build of service 'api' failed" in error[0], result.stderr
        errors.append(error[0])
        finished = [line.split(" (")[0] for line in result.stderr.splitlines() if line.startswith("  ✓ ")]
        if parallel == "8":  # the builds running beside the failed one finished; nothing started after it
            assert "  ✗ [api] build image from api" in [line.split(" (")[0] for line in result.stderr.splitlines()], result.stderr
            assert set(finished) <= {"  ✓ [web, worker] build image from web", "  ✓ [jobs] build image from web"}
    assert errors[0] == errors[1]  # the same error side by side as one after another
    assert registry_repositories(registry, unique) == []  # nothing pushed
    assert stack_tagged(unique) == {}  # nothing created in AWS


def test_pushes_run_side_by_side_and_an_image_already_in_the_registry_is_not_pushed_again(on_moto, unique):
    root, registry = on_moto
    app_yaml = str(write_stack(root, unique))
    first = CliRunner().invoke(app, ["build", app_yaml, "--push", "-o", "json", "--parallel", "4"])
    assert first.exit_code == 0, first.output
    pushed = json.loads(first.stdout)
    assert registry_repositories(registry, unique) == ["api", "jobs", "web", "worker"]
    assert pushed["changed"] and sorted(c["service"] for c in pushed["changes"] if c["action"] == "push") == [
        "api", "jobs", "web", "worker"]
    for name, service in pushed["services"].items():
        served = registry_digest(registry.host, f"{unique}/{name}", service["tag"])
        assert served == service["digest"], name
    assert pushed["services"]["web"]["digest"] == pushed["services"]["worker"]["digest"]  # one image, two repos

    again = CliRunner().invoke(app, ["build", app_yaml, "--push", "-o", "json", "--parallel", "4"])
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert not second["changed"] and second["changes"] == []  # every tag was in the registry: no push
    assert {n: s["digest"] for n, s in second["services"].items()} == {
        n: s["digest"] for n, s in pushed["services"].items()}
