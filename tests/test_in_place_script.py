"""The in-place release command (gate.in_place_script, what SSM Run Command runs on an instance), run for real
under bash with fake `aws`, `docker` and `curl` programs on PATH: the release's user-data lands in a file only
root can read, in a directory only root can enter, with no moment where it is readable by others; it runs,
then the instance's own health check decides the exit code SSM reports, and on failure the previous
release's command is run the same way (gate.update_or_restore)."""
from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from liftshift.apply.gate import RolloutFailed, in_place_script, update_or_restore

# Stands in for a release's user-data: it records, while it runs, the modes of its own file and directory
# and of what it writes with its own umask (the real user-data sets 022 for its unit files), then "pulls".
USER_DATA = b"""#!/bin/bash
set -euo pipefail
umask 022
stat -c %a "$0" >"$OUT/file-mode"
stat -c %a "$(dirname "$0")" >"$OUT/dir-mode"
touch "$OUT/unit" && stat -c %a "$OUT/unit" >"$OUT/unit-mode"
aws ecr get-login-password --region eu-west-1 >/dev/null
docker pull registry/app@sha256:0000
"""


def fake_tools(bindir: Path, log: Path) -> None:
    """`aws`, `docker` and `curl` that log their arguments; `curl` fails (exit 7, "connection refused") as many
    times as $OUT/curl-fails says, then succeeds."""
    bindir.mkdir()
    for tool in ("aws", "docker", "curl"):
        path = bindir / tool
        fail = ('n=$(cat "$OUT/curl-fails" 2>/dev/null || echo 0)\n'
                'if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$OUT/curl-fails"; exit 7; fi\n') if tool == "curl" else ""
        path.write_text(f'#!/bin/bash\nprintf "%s\\n" "{tool} $*" >>{log}\n{fail}exit 0\n')
        path.chmod(0o755)


def run(script: str, tmp: Path) -> subprocess.CompletedProcess:
    bindir = tmp / "bin"
    if not bindir.exists():
        fake_tools(bindir, tmp / "calls")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "OUT": str(tmp), "HOME": str(tmp)}
    # SSM Run Command's shell has the usual umask 022: the script must not rely on the caller's.
    return subprocess.run([shutil.which("bash"), "-c", "umask 022; " + script], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_release_script_is_written_root_only_and_run(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir(mode=0o755)
    old = lib / "release.sh"  # left world-readable by an older liftshift
    old.write_text("echo old release with env values\n")
    old.chmod(0o644)
    script = in_place_script(USER_DATA, 8080, "/healthz", 10, directory=str(lib))
    result = run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    # while it ran: 0600 in a 0700 directory; the user-data's own umask still applies to what it writes
    assert (tmp_path / "file-mode").read_text().strip() == "600"
    assert (tmp_path / "dir-mode").read_text().strip() == "700"
    assert (tmp_path / "unit-mode").read_text().strip() == "644"
    assert stat.S_IMODE(os.stat(lib / "release.sh").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(lib).st_mode) == 0o700
    assert (lib / "release.sh").read_bytes() == USER_DATA
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[:2] == ["aws ecr get-login-password --region eu-west-1", "docker pull registry/app@sha256:0000"]
    assert calls[2] == "curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:8080/healthz"


def test_the_umask_is_set_before_anything_is_written() -> None:
    lines = in_place_script(USER_DATA, 8080, None, 10).splitlines()
    umask = lines.index("umask 077")
    writes = [i for i, line in enumerate(lines) if ">/var/lib/liftshift" in line or "mkdir" in line]
    assert writes and umask < min(writes)
    assert lines.index("chmod 0700 /var/lib/liftshift") < lines.index("rm -f /var/lib/liftshift/release.sh") < max(writes)


def release(digest: str, exit_code: int = 0) -> bytes:
    """A release's user-data: pulls its image by digest and (re)starts it, or fails with `exit_code`."""
    return (f"#!/bin/bash\nset -euo pipefail\ndocker pull registry/app@sha256:{digest}\n"
            f"docker run -d --name app registry/app@sha256:{digest}\nexit {exit_code}\n").encode()


def calls(tmp: Path) -> list[str]:
    return (tmp / "calls").read_text().splitlines() if (tmp / "calls").exists() else []


def test_a_release_that_answers_its_health_check_exits_0(tmp_path: Path) -> None:
    (tmp_path / "curl-fails").write_text("2")  # starting: two refused checks, then an answer
    lib = tmp_path / "lib"
    result = run(in_place_script(release("1111"), 8080, "/healthz", 30, directory=str(lib)), tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == ["docker pull registry/app@sha256:1111", "docker run -d --name app registry/app@sha256:1111",
                               *["curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:8080/healthz"] * 3]


def test_a_release_never_healthy_exits_1_within_its_timeout_saying_so(tmp_path: Path) -> None:
    (tmp_path / "curl-fails").write_text("1000")
    result = run(in_place_script(release("2222"), 8080, "/healthz", 1, directory=str(tmp_path / "lib")), tmp_path)
    assert result.returncode == 1
    assert "no healthy answer on port 8080 within 1 s" in result.stderr
    assert calls(tmp_path)[:2] == ["docker pull registry/app@sha256:2222", "docker run -d --name app registry/app@sha256:2222"]
    assert calls(tmp_path)[2:] and set(calls(tmp_path)[2:]) == {
        "curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:8080/healthz"}


def test_a_failing_user_data_is_the_command_s_exit_code_and_nothing_is_probed(tmp_path: Path) -> None:
    result = run(in_place_script(release("3333", exit_code=5), 8080, "/healthz", 30, directory=str(tmp_path / "lib")),
                 tmp_path)
    assert result.returncode == 5
    assert not [c for c in calls(tmp_path) if c.startswith("curl")]


def test_without_a_health_path_the_port_accepting_a_connection_is_the_check(tmp_path: Path) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        result = run(in_place_script(release("4444"), port, None, 30, directory=str(tmp_path / "lib")), tmp_path)
    assert result.returncode == 0, result.stderr
    result = run(in_place_script(release("4444"), port, None, 1, directory=str(tmp_path / "lib")), tmp_path)
    assert result.returncode == 1 and f"no healthy answer on port {port} within 1 s" in result.stderr


def test_a_failed_health_check_puts_the_previous_release_back(tmp_path: Path) -> None:
    """What AwsGate.update_in_place does through SSM, with bash for SSM: the new release's command fails its
    health check (curl refused until its timeout), so the previous release's user-data runs again."""
    lib = tmp_path / "lib"
    templates = {"shop-web-2": release("2222"), "shop-web-1": release("1111")}
    ran: list[int] = []

    class Notes:
        def __init__(self):
            self.notes: list[str] = []

        def note(self, text: str) -> None:
            self.notes.append(text)

    def ssm_run(template: str) -> tuple[bool, str]:
        # the new release's checks are refused throughout; the previous one answers at once
        (tmp_path / "curl-fails").write_text("1000" if template == "shop-web-2" else "0")
        result = run(in_place_script(templates[template], 8080, "/healthz", 1, directory=str(lib)), tmp_path)
        ran.append(result.returncode)
        return result.returncode == 0, result.stderr.strip()

    notes = Notes()
    with pytest.raises(RolloutFailed) as failed:
        update_or_restore("web #2 on i-1", notes, ssm_run, "shop-web-2", "shop-web-1")
    assert str(failed.value) == "web #2 on i-1 failed in place: no healthy answer on port 8080 within 1 s"
    assert ran == [1, 0] and notes.notes == ["web #2 on i-1: failed in place; putting its previous release back"]
    pulls = [c for c in calls(tmp_path) if c.startswith("docker pull")]
    assert pulls == ["docker pull registry/app@sha256:2222", "docker pull registry/app@sha256:1111"]
    assert (lib / "release.sh").read_bytes() == templates["shop-web-1"]  # the previous release's, root-only
    assert stat.S_IMODE(os.stat(lib / "release.sh").st_mode) == 0o600


# --- a release whose container has a health command (health.command): Docker's health status decides ------------

def command_release(digest: str, config: str = "0123abcd") -> bytes:
    """A release's user-data in the rendered shape health_command_container reads (header, run_args with
    --health-cmd): it pulls and runs its image."""
    return (f"#!/bin/bash\n# liftshift user-data for stack shop, service db, config {config}\n"
            "# generated by liftshift; do not edit\nset -euo pipefail\n"
            f"docker pull registry/db@sha256:{digest}\n"
            "container_name=liftshift-shop-db\n"
            "run_args=(\n"
            '  --name "$container_name"\n'
            f'  --label "liftshift.config={config}"\n'
            "  --health-cmd 'pg_isready -U app'\n"
            "  --health-interval 1s\n"
            f"  registry/db@sha256:{digest}\n"
            ")\n"
            'docker run -d "${run_args[@]}"\n').encode()


def fake_docker_health(tmp: Path) -> None:
    """`aws`, `curl` and a `docker` whose `inspect` answers `<config label> starting` as many times as
    $OUT/starting says, then $OUT/health (`<config label> <status>`); without it, no such container (exit 1)."""
    fake_tools(tmp / "bin", tmp / "calls")
    (tmp / "bin" / "docker").write_text(
        "#!/bin/bash\n"
        f'printf "%s\\n" "docker $*" >>{tmp / "calls"}\n'
        'if [ "$1" = inspect ]; then\n'
        '  n=$(cat "$OUT/starting" 2>/dev/null || echo 0)\n'
        '  if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$OUT/starting"; echo "0123abcd starting"; exit 0; fi\n'
        '  [ -f "$OUT/health" ] || { echo "Error: No such object: $4" >&2; exit 1; }\n'
        '  cat "$OUT/health"\n'
        "fi\n"
        "exit 0\n")


INSPECT = ('docker inspect --format {{index .Config.Labels "liftshift.config"}} {{.State.Health.Status}} '
           "liftshift-shop-db")


def test_a_health_command_release_waits_for_docker_s_healthy_status_not_http(tmp_path: Path) -> None:
    fake_docker_health(tmp_path)
    (tmp_path / "starting").write_text("2")  # its start period: two checks say starting
    (tmp_path / "health").write_text("0123abcd healthy\n")
    script = in_place_script(command_release("5555"), 8080, "/", 30, directory=str(tmp_path / "lib"))
    assert "curl" not in script and "--format '{{index .Config.Labels \"liftshift.config\"}} " \
                                    "{{.State.Health.Status}}' liftshift-shop-db" in script
    result = run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == ["docker pull registry/db@sha256:5555", "docker run -d --name liftshift-shop-db "
                               "--label liftshift.config=0123abcd --health-cmd pg_isready -U app --health-interval "
                               "1s registry/db@sha256:5555", *[INSPECT] * 3]


def test_a_health_command_never_healthy_exits_1_within_the_timeout_naming_the_status(tmp_path: Path) -> None:
    fake_docker_health(tmp_path)
    (tmp_path / "starting").write_text("1000")
    result = run(in_place_script(command_release("6666"), 8080, "/", 1, directory=str(tmp_path / "lib")), tmp_path)
    assert result.returncode == 1
    assert "container liftshift-shop-db not healthy within 1 s (docker health status: 0123abcd starting)" \
        in result.stderr
    assert not [c for c in calls(tmp_path) if c.startswith("curl")]


def test_a_health_command_that_fails_makes_the_container_unhealthy_and_fails_at_once(tmp_path: Path) -> None:
    fake_docker_health(tmp_path)
    (tmp_path / "health").write_text("0123abcd unhealthy\n")
    result = run(in_place_script(command_release("7777"), 8080, "/", 600, directory=str(tmp_path / "lib")), tmp_path)
    assert result.returncode == 1
    assert "container liftshift-shop-db is unhealthy: its health command failed" in result.stderr
    assert calls(tmp_path).count(INSPECT) == 1


@pytest.mark.parametrize("health", [None, "9999abcd healthy\n"], ids=["no-container", "the-old-release-s"])
def test_only_the_new_release_s_container_counts(health, tmp_path: Path) -> None:
    """Until the new container runs, `docker inspect` finds none, or the old release's (another config label):
    neither is the release being healthy."""
    fake_docker_health(tmp_path)
    if health:
        (tmp_path / "health").write_text(health)
    result = run(in_place_script(command_release("8888"), 8080, "/", 1, directory=str(tmp_path / "lib")), tmp_path)
    assert result.returncode == 1 and "not healthy within 1 s" in result.stderr


def test_a_failed_health_command_release_puts_the_previous_http_release_back(tmp_path: Path) -> None:
    """The previous release (an HTTP health path) is probed as before when it is put back."""
    fake_docker_health(tmp_path)
    (tmp_path / "health").write_text("0123abcd unhealthy\n")
    templates = {"shop-db-2": command_release("2222"), "shop-db-1": release("1111")}
    lib = tmp_path / "lib"

    def ssm_run(template: str) -> tuple[bool, str]:
        result = run(in_place_script(templates[template], 8080, "/healthz", 5, directory=str(lib)), tmp_path)
        return result.returncode == 0, result.stderr.strip()

    class Notes:
        def note(self, text: str) -> None:
            pass

    with pytest.raises(RolloutFailed) as failed:
        update_or_restore("db #2 on i-1", Notes(), ssm_run, "shop-db-2", "shop-db-1")
    assert str(failed.value) == "db #2 on i-1 failed in place: container liftshift-shop-db is unhealthy: its health " \
                                "command failed"
    assert calls(tmp_path)[-1] == "curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:8080/healthz"


def test_the_rendered_user_data_of_a_health_command_is_waited_on_by_docker_status() -> None:
    """From a real render: the container's EC2 name and the release's config hash."""
    from liftshift.model.user_data import Health, UserDataContext, render_user_data

    registry = "127.0.0.1:5000"
    ctx = UserDataContext(stack="shop", service="db", image=f"{registry}/shop/db@sha256:{'ab' * 32}", registry=registry,
                          registry_is_ecr=False, region="eu-west-1", log_group="/liftshift/shop", port=5432,
                          publish=5432, command=None, env=(), volumes=(), config_hash="0123abcd",
                          health=Health("/", 5, 3, 3, 5, command=("pg_isready", "-U", "app")))
    script = in_place_script(render_user_data(ctx).encode(), 5432, "/", 60)
    assert "liftshift-shop-db" in script and "'0123abcd healthy'" in script and "curl" not in script.split("\n", 7)[-1]
    http = in_place_script(render_user_data(ctx.__class__(**{**ctx.__dict__, "health": Health("/", 5, 3, 3, 5)}))
                           .encode(), 5432, "/", 60)
    assert "curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:5432/" in http and "docker inspect" not in http
