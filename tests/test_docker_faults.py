"""Docker faults end in one clear message and a non-zero exit before any instance, template or group exists."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
from typer.testing import CliRunner

from conftest import running_registry
from liftshift.cli.base import app
from liftshift.apply.images import ImageError, build_image, push_image
from support.faults import stack_tagged

PROVISIONED = {"instances", "templates", "groups"}


@pytest.fixture
def aws(aws_env, busybox_image, docker_client, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return aws_env


def deploy(app_yaml: Path):
    return CliRunner().invoke(app, ["deploy", str(app_yaml)], catch_exceptions=False)


def test_a_push_the_registry_rejects(aws, stack_dir, unique, tmp_path, monkeypatch):
    readonly = "  maintenance:\n    readonly:\n      enabled: true\n"  # pulls work, pushes are refused
    with running_registry(tmp_path, storage_extra=readonly) as registry:
        monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
        result = deploy(stack_dir / "app.yaml")
    assert result.exit_code == 1, result.output
    assert "error:" in result.stderr and "push" in result.stderr.lower(), result.stderr
    assert not PROVISIONED & set(stack_tagged(unique))


@pytest.mark.parametrize("login", [None, ("deployer", "wrong-password")], ids=["no-login", "wrong-login"])
def test_a_registry_login_that_is_missing_or_wrong(aws, stack_dir, unique, tmp_path, monkeypatch, login):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(b"deployer:" + bcrypt.hashpw(b"right-password", bcrypt.gensalt(rounds=4)) + b"\n")
    auth = f"auth:\n  htpasswd:\n    realm: liftshift-test\n    path: {htpasswd}\n"
    (tmp_path / "reg").mkdir()
    with running_registry(tmp_path / "reg", extra_config=auth) as registry:
        monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
        if login:
            monkeypatch.setenv("LIFTSHIFT_REGISTRY_USERNAME", login[0])
            monkeypatch.setenv("LIFTSHIFT_REGISTRY_PASSWORD", login[1])
        result = deploy(stack_dir / "app.yaml")
    assert result.exit_code == 1, result.output
    text = result.stderr.lower()
    assert "error:" in text and ("unauthorized" in text or "authentication required" in text
                                 or "no basic auth" in text), result.stderr
    assert "right-password" not in result.output and (not login or login[1] not in result.output)
    assert not PROVISIONED & set(stack_tagged(unique))


class _FullDiskApi:
    """The engine's answers when its disk is full, as the docker SDK streams them."""

    message = "write /var/lib/docker/tmp/x: no space left on device"

    def build(self, **_kwargs):
        yield {"stream": "Step 1/2 : FROM busybox:1.36\n"}
        yield {"stream": "Step 2/2 : COPY site/ /www/\n"}
        yield {"errorDetail": {"message": self.message}, "error": self.message}

    def tag(self, *_args, **_kwargs):
        return True

    def push(self, *_args, **_kwargs):
        yield {"status": "Preparing", "id": "abc"}
        yield {"errorDetail": {"message": self.message}, "error": self.message}


class _FullDiskClient:
    api = _FullDiskApi()


def test_a_full_disk_is_one_clear_error(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\n")
    with pytest.raises(ImageError) as built:
        build_image(_FullDiskClient(), "web", tmp_path)
    assert "no space left on device" in str(built.value) and "web" in str(built.value)
    with pytest.raises(ImageError) as pushed:
        push_image(_FullDiskClient(), "web", "sha256:" + "a" * 64, "127.0.0.1:1/s/web", "img-x")
    assert "no space left on device" in str(pushed.value)
