"""Several ports per service (compose's `ports`, issue 12): each is published on the instance (`-p`), its security
group admits every one from the main port's sources, and in the local rehearsal the service answers on each.

The rendered user-data runs under bash with tests/test_render.py's recording fakes; then app.yaml's limits, the
pipeline against moto (the groups' rules) and the local rehearsal (a service answering on two ports).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import boto3
import pytest

from liftshift.model import names
from liftshift.model.user_data import render_user_data
from support.appyaml import assert_spec_error, svc, write
from support.local import run_local
from support.registry import free_port
from test_render import Harness, _systemd_script, ctx, ecr_ctx, needs_shellcheck, shellcheck

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"
EXTRA = ((8443, 443), (9000, 9000))


def docker_run(tmp_path: Path, c=None, **env: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    h = Harness(tmp_path)
    res = h.run(render_user_data(c or ctx(extra_ports=EXTRA)), LIFTSHIFT_STAND_IN="1", **env)
    return res, h.calls_of("docker", "run")


def published(run: list[str]) -> list[str]:
    return [run[i + 1] for i, arg in enumerate(run) if arg == "-p"]


def test_every_port_is_published(tmp_path: Path) -> None:
    res, (run,) = docker_run(tmp_path)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert published(run) == ["80:8080", "8443:443", "9000:9000"]
    assert run.index("-p", run.index("-p") + 1) < run.index(ctx().image)  # docker options, not the app's arguments


def test_a_stand_in_may_be_given_other_host_ports_and_an_address(tmp_path: Path) -> None:
    res, (run,) = docker_run(tmp_path, LIFTSHIFT_PUBLISH_PORT="18080", LIFTSHIFT_PUBLISH_PORT_443="18443",
                             LIFTSHIFT_PUBLISH_ADDRESS="172.17.0.1")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert published(run) == ["172.17.0.1:18080:8080", "172.17.0.1:18443:443", "172.17.0.1:9000:9000"]


def test_the_overrides_are_for_stand_ins_only(tmp_path: Path) -> None:
    script, _, _, lib_dir = _systemd_script(ecr_ctx(extra_ports=EXTRA), tmp_path)
    h = Harness(tmp_path / "h")
    res = h.run(script, LIFTSHIFT_PUBLISH_PORT_443="18443")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    run_script = (lib_dir / "web.sh").read_text()
    assert " -p 80:8080 " in run_script and " -p 8443:443 -p 9000:9000 " in run_script and "18443" not in run_script
    if shutil.which("shellcheck"):
        shellcheck(run_script, tmp_path)


@pytest.mark.parametrize("value", ["x", "1;touch /tmp/x", "80 81", "-1"])
def test_a_bad_override_stops_before_anything_runs(value: str, tmp_path: Path) -> None:
    res, runs = docker_run(tmp_path, LIFTSHIFT_PUBLISH_PORT_443=value)
    assert res.returncode != 0 and b"unusable host port for container port 443" in res.stderr
    assert runs == []


def test_one_port_renders_no_extra_section() -> None:
    assert "extra_ports" not in render_user_data(ctx())


@pytest.mark.parametrize("bad", [((0, 80),), ((80, 70000),), ((True, 80),)])
def test_the_renderer_refuses_impossible_ports(bad) -> None:
    with pytest.raises(ValueError, match="extra"):
        render_user_data(ctx(extra_ports=bad))


@needs_shellcheck
@pytest.mark.parametrize("ecr", [False, True])
def test_renders_with_more_ports_are_shellcheck_clean(ecr: bool, tmp_path: Path) -> None:
    c = (ecr_ctx if ecr else ctx)(extra_ports=EXTRA)
    shellcheck(render_user_data(c), tmp_path)
    directive = "# shellcheck disable=SC1003,SC1110,SC1111,SC1112,SC2016\n"
    shellcheck(render_user_data(c).replace(directive, ""), tmp_path)


# --- app.yaml's limits ---------------------------------------------------------------------------------------------


def test_port_22_among_the_ports_is_refused_at_its_entry(tmp_path: Path) -> None:
    path = write(tmp_path, svc("image: nginx:1.27", "ports:", '  - "8080:80"', '  - "22:2222"'))
    assert_spec_error(path, 8, "services.web.ports[1]", "SSH daemon")
    path = write(tmp_path, svc("image: nginx:1.27", "ports:", '  - "22:80"'))
    assert_spec_error(path, 7, "services.web.ports[0]", "SSH daemon")


def test_each_port_counts_against_the_groups_rules(tmp_path: Path) -> None:
    cidrs = "[" + ", ".join(f"10.0.{i}.0/24" for i in range(30)) + "]"
    fine = write(tmp_path, svc("image: nginx:1.27", "ports: [80, 443]", "instances:", f"  ingress: {cidrs}"))
    from liftshift.spec.load import load_spec

    load_spec(fine)  # 60 rules: the quota
    path = write(tmp_path, svc("image: nginx:1.27", "ports: [80, 443, 8080]", "instances:", f"  ingress: {cidrs}"))
    assert_spec_error(path, 8, "services.web.instances.ingress", "needs 90 IPv4 inbound rules")


# --- on moto -------------------------------------------------------------------------------------------------------


def write_two(directory: Path, stack: str) -> Path:
    directory.mkdir(parents=True)
    shutil.copy(HELLO / "Dockerfile", directory / "Dockerfile")
    shutil.copytree(HELLO / "site", directory / "site")
    doc = {"version": 1, "name": stack, "services": {
        "app": {"build": ".", "ports": ["8080:8080", "8443:8443"], "instances": {"ingress": ["203.0.113.0/24"]}},
        "db": {"build": ".", "ports": ["8081:8080", 9187], "internal": True},
    }}
    (directory / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")
    return directory / "app.yaml"


def group_rules(stack: str) -> dict[str, set[tuple]]:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    found = ec2.describe_security_groups(Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}])
    out: dict[str, set[tuple]] = {}
    ids = {}
    for group in found["SecurityGroups"]:
        service = names.tag_dict(group["Tags"])[names.TAG_SERVICE]
        ids[group["GroupId"]] = service
        out[service] = set()
    for group in found["SecurityGroups"]:
        service = names.tag_dict(group["Tags"])[names.TAG_SERVICE]
        for p in group["IpPermissions"]:
            out[service] |= {(p["FromPort"], p["ToPort"], r["CidrIp"]) for r in p.get("IpRanges", [])}
            out[service] |= {(p["FromPort"], p["ToPort"], "group " + ids.get(r["GroupId"], r["GroupId"]))
                             for r in p.get("UserIdGroupPairs", [])}
    return out


def test_on_aws_the_groups_admit_every_port_and_a_second_deploy_changes_nothing(deploy_env, tmp_path, unique):
    from typer.testing import CliRunner

    from liftshift.cli.base import app

    app_yaml = str(write_two(tmp_path / "s", unique))
    try:
        result = CliRunner().invoke(app, ["deploy", app_yaml], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert group_rules(unique) == {
            "app": {(8080, 8080, "203.0.113.0/24"), (8443, 8443, "203.0.113.0/24")},
            "db": {(8081, 8081, "group app"), (9187, 9187, "group app")},
        }
        again = CliRunner().invoke(app, ["deploy", app_yaml, "-o", "json"], catch_exceptions=False)
        assert again.exit_code == 0 and json.loads(again.stdout)["changes"] == [], again.output
        status = CliRunner().invoke(app, ["status", app_yaml], catch_exceptions=False)
        assert "also publishes port 8443 (container 8443)" in status.output
        assert "also publishes port 9187 (container 9187)" in status.output
    finally:
        CliRunner().invoke(app, ["destroy", app_yaml, "--yes"], catch_exceptions=False)


# --- the local rehearsal -------------------------------------------------------------------------------------------

DOCKERFILE = ('FROM busybox:1.36\nRUN mkdir -p /www /admin && echo main >/www/index.html && '
              'echo admin >/admin/index.html\n'
              'CMD ["sh", "-c", "httpd -p 9090 -h /admin && exec httpd -f -p 8080 -h /www"]\n')


def write_local(tmp_path: Path, stack: str, main: int, admin: int) -> Path:
    (tmp_path / "app").mkdir(parents=True, exist_ok=True)
    (tmp_path / "app" / "Dockerfile").write_text(DOCKERFILE)
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(f"version: 1\nname: {stack}\nservices:\n  web:\n    build: ./app\n"
                        f'    ports: ["{main}:8080", "{admin}:9090"]\n'
                        "    health: {path: /, interval: 1, timeout: 2, retries: 3, start_period: 0}\n")
    return app_yaml


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        return answer.read().decode()


def test_in_the_local_rehearsal_a_service_answers_on_both_ports(local, tmp_path, unique, docker_client, destroyed):
    main, admin = free_port(), free_port()
    app_yaml = write_local(tmp_path / "one", unique, main, admin)
    destroyed.append((app_yaml, unique))
    result = run_local("deploy", str(app_yaml))
    assert result.exit_code == 0, result.output
    assert (get(main), get(admin)) == ("main\n", "admin\n")
    assert f"also publishes port {admin} (container 9090)" in result.output
    again = run_local("deploy", str(app_yaml), "-o", "json")  # its own ports are not "in use"
    assert again.exit_code == 0 and json.loads(again.stdout)["changes"] == [], again.output

    # another stack may not take a port this one publishes, nor one in use on this machine
    other = "u" + unique[1:]
    clash = write_local(tmp_path / "two", other, free_port(), admin)
    destroyed.append((clash, other))
    refused = run_local("deploy", str(clash))
    assert refused.exit_code == 2 and f"port {admin} (service web) is already in use" in refused.output
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        clash.write_text(clash.read_text().replace(f'"{admin}:', f'"{taken}:'))
        refused = run_local("deploy", str(clash))
        assert refused.exit_code == 2 and f"port {taken} (service web) is already in use" in refused.output
    assert not docker_client.containers.list(all=True, filters={"label": f"liftshift.stack={other}"})


def test_a_second_instance_on_one_machine_publishes_its_other_ports_elsewhere(local, tmp_path, unique, docker_client,
                                                                              destroyed):
    main, admin = free_port(), free_port()
    app_yaml = write_local(tmp_path, unique, main, admin)
    app_yaml.write_text(app_yaml.read_text() + "    instances: {count: 2}\n")
    destroyed.append((app_yaml, unique))
    result = run_local("deploy", str(app_yaml))
    assert result.exit_code == 0, result.output
    apps = docker_client.containers.list(filters={"label": f"liftshift.stack={unique}"})
    bound = sorted((int(c.attrs["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostPort"]),
                    int(c.attrs["HostConfig"]["PortBindings"]["9090/tcp"][0]["HostPort"])) for c in apps)
    assert len(bound) == 2 and admin in {b for _, b in bound} and main in {m for m, _ in bound}
    assert len({b for _, b in bound}) == 2
    for main_port, admin_port in bound:
        assert (get(main_port), get(admin_port)) == ("main\n", "admin\n")
