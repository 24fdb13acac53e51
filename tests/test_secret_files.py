"""Secrets as files (secret_files, issue 12): fetched each time the container starts, written on tmpfs with umask 077
and then their mode and owner, bound read-only into the container; the value is in no artefact.

The rendered user-data runs under bash with tests/test_render.py's recording fakes (both start paths: the stand-in's
and the systemd run script's, with an `aws` that answers like the CLI's JSON output); then the pipeline against moto
(the role may read the files' refs, nothing carries the value) and the local rehearsal (the file arrives in the
container with its value and mode).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from liftshift.model import names
from liftshift.model.secret_files import SecretFile
from liftshift.model.user_data import render_user_data, shell_quote
from support.local import run_local
from support.registry import free_port
from test_render import Harness, _systemd_script, assert_no_injection, ctx, ecr_ctx, needs_shellcheck, shellcheck

VALUES_DIR = "/run/liftshift/secret-file-values/"
FILES = (SecretFile("db_password", "ssm", "/shop/db", None, "/run/secrets/db_password"),
         SecretFile("tls.key", "secretsmanager", "shop/tls", "key", "/etc/tls/it's key.pem", 0o440, 1234, 5678))

# The AWS CLI's JSON output of one value: the fake `aws` of these tests prints it (the value ends in a newline and
# holds quotes: the file must have it exactly).
FAKE_AWS = r"""#!/bin/bash
name=$(basename "$0")
n=$(find "$FAKE_LOG" -type f | wc -l)
printf '%s\0' "$@" >"$FAKE_LOG/$(printf %04d "$n")-$name"
case "$*" in
  *"get-parameter"*"--output json"*) printf '%s\n' '"s3cr3t \"word\"\n"' ;;
  *"get-secret-value"*"--output json"*) printf '%s\n' '"{\"key\": \"-----BEGIN KEY-----\\nabc\\n\", \"x\": 1}"' ;;
  *) printf 'secret-password' ;;
esac
"""
VALUES = {"db_password": 's3cr3t "word"\n', "tls.key": "-----BEGIN KEY-----\nabc\n"}


def stand_in(tmp_path: Path, values: dict[str, str],
             **extra: str) -> tuple[Harness, subprocess.CompletedProcess, Path]:
    """The stand-in path with the values where the local rehearsal puts them (a test directory for /run's)."""
    given = tmp_path / "given"
    given.mkdir()
    for name, value in values.items():
        (given / name).write_text(value)
    script = render_user_data(ctx(secret_files=FILES))
    assert script.count(VALUES_DIR) == 1
    h = Harness(tmp_path / "h")
    out = tmp_path / "files"
    res = h.run(script.replace(VALUES_DIR, f"{given}/"), LIFTSHIFT_STAND_IN="1", LIFTSHIFT_SECRET_FILE_DIR=str(out),
                **extra)
    return h, res, out / "web"


def test_the_stand_in_writes_each_file_with_its_mode_and_owner_and_binds_it_read_only(tmp_path: Path) -> None:
    h, res, written = stand_in(tmp_path, VALUES)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert_no_injection()
    assert sorted(p.name for p in written.iterdir()) == ["db_password", "tls.key"]  # no temporary file left
    for f in FILES:
        path = written / f.name
        assert path.read_text() == VALUES[f.name]
        assert stat.S_IMODE(path.stat().st_mode) == f.mode
    if os.geteuid() == 0:
        assert (written / "db_password").stat().st_uid == 0
        assert ((written / "tls.key").stat().st_uid, (written / "tls.key").stat().st_gid) == (1234, 5678)
    assert stat.S_IMODE(written.stat().st_mode) == 0o700
    (run,) = h.calls_of("docker", "run")
    mounts = [run[i + 1] for i, arg in enumerate(run) if arg == "-v"]
    assert mounts == [f"{written}/db_password:/run/secrets/db_password:ro",
                      f"{written}/tls.key:/etc/tls/it's key.pem:ro"]
    assert run.index("-v") < run.index(ctx().image)
    for value in VALUES.values():
        assert value.strip() not in (res.stdout + res.stderr).decode()


def test_a_file_not_given_to_the_stand_in_stops_the_boot(tmp_path: Path) -> None:
    h, res, _ = stand_in(tmp_path, {"db_password": "x"})
    assert res.returncode != 0
    assert b"secret file tls.key was not given to the stand-in host" in res.stderr
    assert h.calls_of("docker", "run") == []


def test_a_stand_in_without_a_directory_for_them_refuses(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    res = h.run(render_user_data(ctx(secret_files=FILES)), LIFTSHIFT_STAND_IN="1")
    assert res.returncode != 0 and b"no directory for secret files" in res.stderr
    assert h.calls_of("docker", "run") == []


def test_stale_files_go_at_each_start(tmp_path: Path) -> None:
    out = tmp_path / "files" / "web"
    out.mkdir(parents=True)
    (out / "gone").write_text("old")
    _, res, written = stand_in(tmp_path, VALUES)
    assert res.returncode == 0
    assert not (written / "gone").exists()


def test_the_systemd_run_script_fetches_them_at_each_start(tmp_path: Path) -> None:
    c = ecr_ctx(secret_files=FILES)
    script, _, _, lib_dir = _systemd_script(c, tmp_path)
    files_dir = tmp_path / "run-files"
    line = "secret_file_dir=/run/liftshift/secret-files/$service\n"
    assert script.count(line) == 1
    script = script.replace(line, f"secret_file_dir={shell_quote(str(files_dir))}/$service\n")
    h = Harness(tmp_path / "h")
    (h.bin / "aws").write_text(FAKE_AWS)
    res = h.run(script)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert not files_dir.exists()  # the user-data only writes the run script; the files come at container start
    assert [a for a in h.calls_of("aws") if a[0] != "ecr"] == []
    run_script = lib_dir / "web.sh"
    text = run_script.read_text()
    assert "s3cr3t" not in text and "BEGIN KEY" not in text
    if Path("/usr/bin/shellcheck").exists():
        shellcheck(text, tmp_path)

    h2 = Harness(tmp_path / "h2")
    (h2.bin / "aws").write_text(FAKE_AWS)
    (files_dir / "web").mkdir(parents=True)
    (files_dir / "web" / "stale").write_text("old")
    res = subprocess.run(["bash", str(run_script)], env=h2.env(), capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    written = files_dir / "web"
    assert sorted(p.name for p in written.iterdir()) == ["db_password", "tls.key"]
    for f in FILES:
        assert (written / f.name).read_text() == VALUES[f.name]
        assert stat.S_IMODE((written / f.name).stat().st_mode) == f.mode
    assert h2.calls_of("aws") == [
        ["ssm", "get-parameter", "--region", "eu-west-1", "--with-decryption", "--name", "/shop/db", "--query",
         "Parameter.Value", "--output", "json"],
        ["secretsmanager", "get-secret-value", "--region", "eu-west-1", "--secret-id", "shop/tls", "--query",
         "SecretString", "--output", "json"]]
    (run,) = h2.calls_of("docker", "run")
    assert f"{written}/tls.key:/etc/tls/it's key.pem:ro" in run
    # a value that cannot be read stops the start (systemd starts it again)
    (h2.bin / "aws").write_text("#!/bin/bash\nexit 255\n")
    res = subprocess.run(["bash", str(run_script)], env=h2.env(), capture_output=True, timeout=30)
    assert res.returncode != 0 and len(h2.calls_of("docker", "run")) == 1


@needs_shellcheck
@pytest.mark.parametrize("ecr", [False, True])
def test_renders_with_secret_files_are_shellcheck_clean(ecr: bool, tmp_path: Path) -> None:
    hostile = SecretFile("x", "ssm", "/a/$(touch /tmp/pwn)'`", None, "/run/secrets/$(x) 'y'", 0o600, None, 0)
    c = (ecr_ctx if ecr else ctx)(secret_files=FILES + (hostile,))
    shellcheck(render_user_data(c), tmp_path)
    directive = "# shellcheck disable=SC1003,SC1110,SC1111,SC1112,SC2016\n"
    shellcheck(render_user_data((ecr_ctx if ecr else ctx)(secret_files=FILES)).replace(directive, ""), tmp_path)


@pytest.mark.parametrize("bad", [
    dict(name="../x"), dict(name=""), dict(kind="vault"), dict(path="relative"), dict(path="/a:b"),
    dict(path="/a\nb"), dict(mode=0o1777), dict(mode=True), dict(uid=-1), dict(gid=2**31),
])
def test_the_renderer_refuses_what_the_template_cannot_carry(bad) -> None:
    f = {**FILES[0].__dict__, **bad}
    with pytest.raises(ValueError, match="secret file"):
        render_user_data(ctx(secret_files=(SecretFile(**f),)))


def test_two_files_at_one_path_are_refused() -> None:
    with pytest.raises(ValueError, match="another secret file"):
        render_user_data(ctx(secret_files=(FILES[0], SecretFile("b", "ssm", "/b", None, FILES[0].path))))


# --- the pipeline --------------------------------------------------------------------------------------------------


def write_stack(tmp_path: Path, stack: str, publish: int | None = None) -> Path:
    """A busybox service that prints its secret files' content and mode when asked (/cgi-bin/files)."""
    site = tmp_path / "app"
    (site / "www" / "cgi-bin").mkdir(parents=True)
    (site / "www" / "index.html").write_text("ok\n")
    cgi = site / "www" / "cgi-bin" / "files"
    cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                   "for f in /run/secrets/db_password /etc/app/token; do stat -c '%a %u %n' \"$f\"; cat \"$f\"; "
                   "echo; done\n")
    cgi.chmod(0o755)
    (site / "Dockerfile").write_text('FROM busybox:1.36\nCOPY www /www\n'
                                     'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(
        f"version: 1\nname: {stack}\nservices:\n  web:\n    build: ./app\n    port: 8080\n"
        f"    publish: {publish or 8080}\n"
        "    health: {path: /, interval: 1, timeout: 2, retries: 3, start_period: 0}\n"
        "    secret_files:\n"
        f"      db_password: ssm:/{stack}/db-password\n"
        f"      token: {{ref: 'secretsmanager:{stack}/api:token', path: /etc/app/token, mode: '0440', uid: 1000}}\n")
    return app_yaml


def store(endpoint: str | None, stack: str, sentinel: str) -> None:
    kwargs = {"region_name": "eu-west-1" if endpoint is None else "us-east-1"}
    if endpoint:
        kwargs.update(endpoint_url=endpoint, aws_access_key_id="liftshift-local",
                      aws_secret_access_key="liftshift-local")
    boto3.client("ssm", **kwargs).put_parameter(Name=f"/{stack}/db-password", Value=sentinel + "-db",
                                                Type="SecureString", Overwrite=True)
    boto3.client("secretsmanager", **kwargs).create_secret(
        Name=f"{stack}/api", SecretString=json.dumps({"token": sentinel + "-token", "other": "x"}))


def launch_template_data(ec2, stack: str) -> tuple[dict, str]:
    (template,) = ec2.describe_launch_templates(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}])["LaunchTemplates"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    return data, base64.b64decode(data["UserData"]).decode()


def test_on_aws_the_role_reads_the_files_refs_and_no_artefact_has_a_value(deploy_env, tmp_path, unique) -> None:
    from typer.testing import CliRunner

    from liftshift.cli.base import app

    sentinel = "sentinel-" + uuid.uuid4().hex
    store(None, unique, sentinel)
    app_yaml = str(write_stack(tmp_path, unique))
    outputs = []
    try:
        for args in (["plan", app_yaml], ["deploy", app_yaml, "-o", "json"], ["status", app_yaml],
                     ["render", app_yaml]):
            result = CliRunner().invoke(app, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        data, user_data = launch_template_data(ec2, unique)
        instances = ec2.describe_instances(Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [unique]}])
        for artefact in outputs + [user_data, json.dumps(data), json.dumps(instances, default=str)]:
            assert sentinel not in artefact
        assert f"/{unique}/db-password" in user_data and "/etc/app/token:ro" in user_data
        policy = boto3.client("iam").get_role_policy(RoleName=names.role(unique, "web"),
                                                     PolicyName=names.role_policy_name())["PolicyDocument"]
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert statements["ReadOwnParameters"]["Resource"] == [
            f"arn:aws:ssm:eu-west-1:123456789012:parameter/{unique}/db-password"]
        assert statements["ReadOwnSecrets"]["Resource"] == [
            f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{unique}/api-??????"]
        assert statements["ReadNoOtherParameters"]["NotResource"] == statements["ReadOwnParameters"]["Resource"]
        assert statements["ReadNoOtherSecrets"]["NotResource"] == statements["ReadOwnSecrets"]["Resource"]
    finally:
        CliRunner().invoke(app, ["destroy", app_yaml, "--yes"], catch_exceptions=False)


def test_in_the_local_rehearsal_the_files_arrive_with_their_value_and_mode(local, tmp_path, unique, docker_client,
                                                                         destroyed) -> None:
    from liftshift.targets.local import standin_files
    from liftshift.targets.local.services import ensure_emulator

    sentinel = "sentinel-" + uuid.uuid4().hex
    store(ensure_emulator(), unique, sentinel)
    port = free_port()
    app_yaml = write_stack(tmp_path, unique, port)
    destroyed.append((app_yaml, unique))
    result = run_local("deploy", str(app_yaml))
    assert result.exit_code == 0, result.output
    assert sentinel not in result.output

    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cgi-bin/files", timeout=10) as answer:
        seen = answer.read().decode()
    assert seen == (f"400 0 /run/secrets/db_password\n{sentinel}-db\n"
                    f"440 1000 /etc/app/token\n{sentinel}-token\n")
    (app,) = docker_client.containers.list(filters={"label": f"liftshift.stack={unique}"})
    mounts = {m["Destination"]: m for m in app.attrs["Mounts"]}
    assert not mounts["/run/secrets/db_password"]["RW"] and not mounts["/etc/app/token"]["RW"]
    assert sentinel not in json.dumps(app.attrs)  # not in its env or labels
    (host,) = docker_client.containers.list(filters={"label": f"liftshift.host.stack={unique}"})
    assert sentinel not in json.dumps(host.attrs)  # files in the stand-in, not its env
    ec2 = boto3.client("ec2", endpoint_url=ensure_emulator(), region_name="us-east-1",
                       aws_access_key_id="liftshift-local", aws_secret_access_key="liftshift-local")
    data, user_data = launch_template_data(ec2, unique)
    assert sentinel not in user_data and sentinel not in json.dumps(data)
    status = run_local("status", str(app_yaml), "-o", "json")
    assert sentinel not in status.output
    source = Path(mounts["/run/secrets/db_password"]["Source"])
    assert source.parent.parent.parent == standin_files._base() and source.read_text() == sentinel + "-db"

    assert run_local("destroy", str(app_yaml), "--yes").exit_code == 0
    assert not source.parent.parent.exists()  # the stand-in's directory went with it


def test_an_in_place_release_reads_the_files_again(local, tmp_path, unique, docker_client, destroyed) -> None:
    """A rotated value and a new file reach the container of a release that updates the instance in place."""
    import urllib.request

    from liftshift.targets.local.services import ensure_emulator

    sentinel = "sentinel-" + uuid.uuid4().hex
    store(ensure_emulator(), unique, sentinel)
    port = free_port()
    app_yaml = write_stack(tmp_path, unique, port)
    app_yaml.write_text(app_yaml.read_text().replace("    secret_files:\n",
                                                     "    rollout: {strategy: in-place, timeout: 60}\n"
                                                     "    secret_files:\n"))
    destroyed.append((app_yaml, unique))
    assert run_local("deploy", str(app_yaml)).exit_code == 0
    boto3.client("ssm", endpoint_url=ensure_emulator(), region_name="us-east-1", aws_access_key_id="liftshift-local",
                 aws_secret_access_key="liftshift-local").put_parameter(
        Name=f"/{unique}/db-password", Value=sentinel + "-rotated", Type="SecureString", Overwrite=True)
    app_yaml.write_text(app_yaml.read_text().replace("    secret_files:\n", "    env: {RELEASE: '2'}\n"
                                                     "    secret_files:\n"
                                                     f"      added: ssm:/{unique}/db-password\n"))
    second = run_local("deploy", str(app_yaml), "-o", "json")
    assert second.exit_code == 0, second.output
    assert [c["kind"] for c in json.loads(second.stdout)["changes"]].count("instance in place") == 1
    assert sentinel not in second.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cgi-bin/files", timeout=10) as answer:
        assert answer.read().decode().startswith(f"400 0 /run/secrets/db_password\n{sentinel}-rotated\n")
    (app,) = docker_client.containers.list(filters={"label": f"liftshift.stack={unique}"})
    assert app.exec_run(["cat", "/run/secrets/added"]).output.decode() == sentinel + "-rotated"


# --- app.yaml's limits ---------------------------------------------------------------------------------------------


def test_a_files_parameter_arn_over_the_ssm_limit_is_refused_at_its_key(tmp_path: Path) -> None:
    from support.appyaml import assert_spec_error, svc, write

    name = "/" + "p" * 990
    path = write(tmp_path, svc("image: nginx:1.27", "port: 8080", "secret_files:", "  ok: ssm:/short",
                               f"  long: {{ref: 'ssm:{name}', mode: '0440'}}"))
    assert_spec_error(path, 9, "services.web.secret_files.long", "the parameter's ARN would be")


def test_the_role_policy_limit_counts_the_files_refs(tmp_path: Path) -> None:
    from support.appyaml import assert_spec_error, svc, write

    files = [f"  f{i}: ssm:/{'p' * 180}/{i}" for i in range(30)]
    path = write(tmp_path, svc("image: nginx:1.27", "port: 8080", "secret_files:", *files))
    assert_spec_error(path, 7, "services.web.secret_files", "the instance role's policy")


def test_a_stand_ins_directory_is_private_and_on_the_runtime_tmpfs_where_there_is_one(tmp_path, monkeypatch) -> None:
    from liftshift.targets.local import standin_files

    runtime, state = tmp_path / "runtime", tmp_path / "state"
    runtime.mkdir()
    monkeypatch.setenv("LIFTSHIFT_STATE_DIR", str(state))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    path = standin_files.host_dir("shop", "i-1")
    assert path == runtime / "liftshift" / "secret-files" / "shop.i-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    (path / "web").mkdir()
    (path / "web" / "x").write_text("old")
    assert list(standin_files.host_dir("shop", "i-1").iterdir()) == []  # a new stand-in starts empty
    volumes, env = standin_files.mount(path)
    assert volumes == {str(path): {"bind": str(path), "mode": "rw"}} and env == {"LIFTSHIFT_SECRET_FILE_DIR": str(path)}
    standin_files.host_dir("shop", "i-2")
    standin_files.remove("shop", "i-1")
    assert not path.exists() and (path.parent / "shop.i-2").exists()
    standin_files.remove_stack("shop")
    assert list(path.parent.iterdir()) == []
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert standin_files.host_dir("shop", "i-3") == state / "secret-files" / "shop.i-3"
