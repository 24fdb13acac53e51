"""Integration tests of liftshift.apply.images against the real engine and a loopback registry."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from liftshift.apply.images import (
    BuiltImage,
    ImageError,
    build_image,
    ensure_local_image,
    push_image,
    remote_digest,
)
from support.registry import free_port, registry_digest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _write_context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


@pytest.fixture
def built(docker_client, busybox_image, docker_cleanup, tmp_path, unique) -> BuiltImage:
    ctx = _write_context(
        tmp_path,
        f"FROM {busybox_image}\nARG GREETING=none\nRUN echo \"$GREETING {unique}\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n",
    )
    lines: list[tuple[str, str]] = []
    img = build_image(
        docker_client, "web", ctx, "Dockerfile", {"GREETING": "hello"}, None, None,
        lambda svc, line: lines.append((svc, line)),
    )
    docker_cleanup.append(img.image_id)
    assert lines and all(svc == "web" for svc, _ in lines)
    assert any(line.startswith("Step 1/") for _, line in lines)
    return img


# --------------------------------------------------------------------------- pure helpers


def test_import_is_cheap():
    code = "import sys, liftshift.apply.images; print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- build


def test_build_returns_image_id_and_runs(docker_client, built):
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", built.image_id)
    image = docker_client.images.get(built.image_id)
    assert image.id == built.image_id
    assert image.tags == []  # nothing tagged with a shared name
    out = docker_client.containers.run(built.image_id, remove=True)
    assert out.decode().startswith("hello t")


def test_build_failure_names_failing_step(docker_client, busybox_image, tmp_path, docker_cleanup):
    ctx = _write_context(tmp_path, f"FROM {busybox_image}\nRUN echo before-failing\nRUN false\nRUN echo never\n")
    before = {c.id for c in docker_client.containers.list(all=True)}
    images_before = {i.id for i in docker_client.images.list(all=True)}
    try:
        with pytest.raises(ImageError) as info:
            build_image(docker_client, "api", ctx, "Dockerfile", {}, None, None, None)
    finally:
        # the classic builder keeps the layers of the steps that succeeded
        new_images = {i.id for i in docker_client.images.list(all=True)} - images_before
        docker_cleanup.extend(sorted(new_images))
    msg = str(info.value)
    assert "'api'" in msg
    assert "Step 3/4 : RUN false" in msg
    assert "non-zero code" in msg
    assert "before-failing" in msg  # the tail of the output is included
    assert info.value.step == "Step 3/4 : RUN false"
    after = {c.id for c in docker_client.containers.list(all=True)}
    assert after <= before  # forcerm removed the failed RUN container


def test_build_missing_dockerfile_is_image_error(docker_client, tmp_path):
    ctx = tmp_path / "empty"
    ctx.mkdir()
    with pytest.raises(ImageError, match="'web'"):
        build_image(docker_client, "web", ctx, "Dockerfile.nope", {}, None, None, None)


def test_build_target_stage(docker_client, busybox_image, tmp_path, docker_cleanup, unique):
    ctx = _write_context(
        tmp_path,
        f"FROM {busybox_image} AS first\nRUN echo first-{unique} > /stage\n"
        f"FROM {busybox_image} AS second\nRUN false\n",
    )
    img = build_image(docker_client, "web", ctx, "Dockerfile", {}, "first", None, None)
    docker_cleanup.append(img.image_id)
    out = docker_client.containers.run(img.image_id, ["cat", "/stage"], remove=True)
    assert out.decode().strip() == f"first-{unique}"


# --------------------------------------------------------------------------- push / remote digest


def test_push_digest_matches_registry(docker_client, built, registry, unique, docker_cleanup):
    repo_name = f"{unique}/web"
    repository = registry.repository(repo_name)
    tag = "img-" + built.image_id.removeprefix("sha256:")  # any fresh tag
    docker_cleanup.append(f"{repository}:{tag}")

    assert remote_digest(docker_client, repository, tag, None) is None
    assert registry_digest(registry.host, repo_name, tag) is None

    progress: list[str] = []
    digest = push_image(
        docker_client, "web", built.image_id, repository, tag, None, lambda s, line: progress.append(line)
    )
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == registry_digest(registry.host, repo_name, tag)
    assert remote_digest(docker_client, repository, tag, None) == digest
    assert progress

    # A second push of the same tag is a no-op that reports the same digest.
    assert push_image(docker_client, "web", built.image_id, repository, tag, None, None) == digest
    # The local tag points at the built image.
    assert docker_client.images.get(f"{repository}:{tag}").id == built.image_id


def test_remote_digest_absent_tag_and_repo(docker_client, built, registry, unique, docker_cleanup):
    repository = registry.repository(f"{unique}/web")
    docker_cleanup.append(f"{repository}:present")
    push_image(docker_client, "web", built.image_id, repository, "present", None, None)
    assert remote_digest(docker_client, repository, "absent", None) is None
    assert remote_digest(docker_client, registry.repository(f"{unique}/nothing"), "x", None) is None


def test_remote_digest_unreachable_registry_raises(docker_client):
    port = free_port()
    with pytest.raises(ImageError, match="127.0.0.1"):
        remote_digest(docker_client, f"127.0.0.1:{port}/x/y", "v1", None)


def test_push_to_dead_registry_raises(docker_client, built, unique, docker_cleanup):
    port = free_port()  # nothing listens there
    repository = f"127.0.0.1:{port}/{unique}/web"
    docker_cleanup.append(f"{repository}:v1")
    with pytest.raises(ImageError) as info:
        push_image(docker_client, "web", built.image_id, repository, "v1", None, None)
    msg = str(info.value)
    assert "'web'" in msg and repository in msg
    assert "connection refused" in msg.lower()


# --------------------------------------------------------------------------- image: services


def test_ensure_local_image_uses_local(docker_client, busybox_image):
    img = ensure_local_image(docker_client, "cache", busybox_image, None, None)
    assert img == BuiltImage("cache", docker_client.images.get(busybox_image).id)


def test_ensure_local_image_pulls_from_registry(docker_client, built, registry, unique, docker_cleanup):
    repository = registry.repository(f"{unique}/pulled")
    push_image(docker_client, "web", built.image_id, repository, "v1", None, None)
    docker_client.images.remove(f"{repository}:v1")  # only the untagged build remains locally
    docker_cleanup.append(f"{repository}:v1")
    lines: list[str] = []
    img = ensure_local_image(docker_client, "db", f"{repository}:v1", None, lambda s, line: lines.append(line))
    assert img.image_id == built.image_id
    assert any("Status" in line or "Pull" in line for line in lines)


def test_ensure_local_image_missing_raises(docker_client, registry, unique):
    with pytest.raises(ImageError, match="'db'"):
        ensure_local_image(docker_client, "db", f"{registry.host}/{unique}/none:v1", None, None)


# --------------------------------------------------------------------------- the sample stack


def test_hello_stack_builds_and_serves(docker_client, busybox_image, docker_cleanup, unique):
    import time
    import urllib.request

    img = build_image(docker_client, "web", REPO_ROOT / "stacks" / "hello", "Dockerfile", {}, None, None, None)
    docker_cleanup.append(img.image_id)
    name = f"{unique}-hello"
    docker_cleanup.append(name)
    port = free_port()
    docker_client.containers.run(
        img.image_id, name=name, detach=True, ports={"8080/tcp": ("127.0.0.1", port)}
    )
    deadline = time.monotonic() + 20
    body = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                body = resp.read().decode()
                break
        except OSError:
            time.sleep(0.2)
    assert "Hello from liftshift" in body
