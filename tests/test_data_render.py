"""The user-data's data volumes section (templates/user-data.sh.j2, "data volumes"), rendered and run under bash
with fake tools (tests/test_render.py's harness): shellcheck-clean renders; on a stand-in host a labelled Docker
named volume per name; on EC2 the device (or its /dev/xvdX name) waited for, a file system made only when blkid
finds none, an fstab entry with nofail, the mount, and a Docker volume of the same name bound to a directory of
it; a second run (an in-place release) makes no second file system and no second fstab line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from liftshift.model.data_volumes import DataVolume
from liftshift.model.user_data import render_user_data
from liftshift.spec.grammar import char_problem
from test_render import HOSTILE, FAKE_RECORDER, Harness, _systemd_script, assert_no_injection, ctx, ecr_ctx, \
    needs_shellcheck, run_stand_in, shellcheck

DATA = (DataVolume("files", "/srv/files", 10, "/dev/sdf"), DataVolume("pg", "/var/lib/postgresql/data", 20, "/dev/sdg"))


@needs_shellcheck
@pytest.mark.parametrize("ecr", [False, True])
def test_data_volumes_render_shellcheck_clean(ecr: bool, tmp_path: Path) -> None:
    paths = ["/c/" + v for v in HOSTILE if ":" not in v and not char_problem(v)]
    hostile = tuple(DataVolume(f"v{i}", path, 1, f"/dev/sd{letter}") for i, (path, letter) in
                    enumerate(zip(paths, "fghijklmnop")))
    for data in (DATA, hostile):
        shellcheck(render_user_data(ecr_ctx(data=data) if ecr else ctx(data=data)), tmp_path)
    assert_no_injection()


def test_a_stand_in_host_uses_a_labelled_docker_volume_per_name(tmp_path: Path) -> None:
    h = run_stand_in(ctx(data=DATA), tmp_path, LIFTSHIFT_INSTANCE_ID="i-test", LIFTSHIFT_PUBLISH_PORT="18080")
    assert h.calls_of("docker", "volume") == [
        ["volume", "create", "--label", "liftshift.stack=shop", "--label", "liftshift.service=web", "--label",
         f"liftshift.data={name}", f"liftshift-shop-web-{name}"] for name in ("files", "pg")]
    (run,) = h.calls_of("docker", "run")
    image = run.index(ctx().image)
    assert run[image - 4: image] == ["-v", "liftshift-shop-web-files:/srv/files",
                                     "-v", "liftshift-shop-web-pg:/var/lib/postgresql/data"]
    assert not [n for n, _ in h.calls() if n in ("blkid", "mkfs.ext4", "mount")]


# Fakes of the disk tools, over the recorder: a device holds a file system once mkfs.ext4 made one (a marker
# file beside it); a directory is mounted once mount ran for it.
FAKE_DISK = FAKE_RECORDER.replace("exit 0\n", r'''case "$name" in
  blkid)
    dev=${!#}
    [ -e "$dev.fs" ] || exit 2
    case "$*" in *UUID*) printf '0f3a9c1e-1234-4cde-8f00-%012d\n' "$(stat -c %i "$dev")" ;; esac
    ;;
  mkfs.ext4) touch "${!#}.fs" ;;
  mount) touch "$1.mounted" ;;
  mountpoint) [ -e "${!#}.mounted" ] || exit 1 ;;
esac
exit 0
''')


def test_on_ec2_the_device_is_formatted_once_mounted_by_fstab_and_bound_into_the_container(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "sdf").write_text("")  # Nitro: the udev link of the attached name
    (root / "dev" / "xvdg").write_text("")  # Xen: only the xvd name exists
    (root / "fstab").write_text("UUID=root / xfs defaults 0 0\n")
    script, _, _, lib_dir = _systemd_script(ecr_ctx(data=DATA), tmp_path)
    for old, new in (("[ -b ", "[ -e "), ("[ ! -b ", "[ ! -e "), ("/dev/xvd", f"{root}/dev/xvd"),
                     ("/dev/sd", f"{root}/dev/sd"), ("/etc/fstab", f"{root}/fstab"),
                     ("/var/lib/liftshift/data", f"{root}/data")):
        assert old in script
        script = script.replace(old, new)
    h = Harness(tmp_path / "h")
    for tool in ("blkid", "mkfs.ext4", "mount", "mountpoint"):
        (h.bin / tool).write_text(FAKE_DISK)
        (h.bin / tool).chmod(0o755)
    for _ in range(2):  # first boot, then the same script again (an in-place release)
        res = h.run(script)
        assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    assert h.calls_of("mkfs.ext4") == [["-q", f"{root}/dev/sdf"], ["-q", f"{root}/dev/xvdg"]]
    assert h.calls_of("mount") == [[f"{root}/data/files"], [f"{root}/data/pg"]]
    fstab = (root / "fstab").read_text().splitlines()
    assert fstab[0] == "UUID=root / xfs defaults 0 0" and len(fstab) == 3
    assert all(line.endswith(" ext4 defaults,nofail 0 2") for line in fstab[1:])
    assert [line.split()[1] for line in fstab[1:]] == [f"{root}/data/files", f"{root}/data/pg"]
    # the run script mounts (or waits, by failing and being restarted) before it starts the container
    run_script = (lib_dir / "web.sh").read_text()
    mounts = [line for line in run_script.splitlines() if line.startswith("mountpoint -q")]
    assert mounts == [f"mountpoint -q {root}/data/{n} || mount {root}/data/{n} || exit 1" for n in ("files", "pg")]
    last = run_script.splitlines()[-1]
    assert last.startswith("exec docker run") and "-v liftshift-shop-web-files:/srv/files " in last
    assert "-v liftshift-shop-web-pg:/var/lib/postgresql/data " in last
    # each a Docker volume bound to a directory of its mounted file system (empty at first: the image's files
    # are copied in, as with compose's named volumes); made on both runs, which Docker answers with the same volume
    creates = h.calls_of("docker", "volume")
    assert creates[:2] == [
        ["volume", "create", "--label", "liftshift.stack=shop", "--label", "liftshift.service=web", "--label",
         f"liftshift.data={name}", "--driver", "local", "--opt", "type=none", "--opt", "o=bind", "--opt",
         f"device={root}/data/{name}/volume", f"liftshift-shop-web-{name}"] for name in ("files", "pg")]
    assert creates[2:] == creates[:2]
    assert (root / "data" / "files" / "volume").is_dir()
    if shutil.which("shellcheck"):
        shellcheck(run_script, tmp_path)


def test_on_ec2_a_volume_that_never_appears_fails_the_boot_after_waiting(tmp_path: Path) -> None:
    script = render_user_data(ecr_ctx(data=DATA[:1]))
    # the wait made short: 2 tries without sleeping (the template's 300 tries, 2 s apart, are 10 minutes)
    script, waits = re.subn(r'-ge 300 \]; then(\s+)die "data volume', r'-ge 2 ]; then\1die "data volume', script)
    script, sleeps = re.subn(r'sleep 2(\s+)done(\s+)if \[ ! -b', r'sleep 0\1done\2if [ ! -b', script)
    assert waits == sleeps == 1
    script = script.replace("/dev/sd", f"{tmp_path}/none/sd").replace("/dev/xvd", f"{tmp_path}/none/xvd")
    h = Harness(tmp_path / "h")
    res = subprocess.run(["bash", "-c", script], env=h.env(), capture_output=True, timeout=60)
    assert res.returncode == 1
    assert b"data volume files was not attached at" in res.stderr
    assert h.calls_of("docker", "run") == [] and h.calls_of("systemctl", "restart") == []


def test_the_bind_backed_docker_volume_gets_the_images_files_when_empty(docker_client, busybox_image, tmp_path,
                                                                         unique) -> None:
    """What the EC2 path relies on, on a real engine: a local-driver volume bound to an empty directory is filled
    with the image's files at the mount path on first use (as a plain named volume is), and keeps what is written."""
    import docker.errors

    directory = tmp_path / "volume"
    directory.mkdir()
    name = f"liftshift-{unique}-web-files"
    volume = docker_client.volumes.create(name, driver="local", driver_opts={
        "type": "none", "o": "bind", "device": str(directory)}, labels={"liftshift.stack": unique})
    try:
        out = docker_client.containers.run(busybox_image, ["sh", "-c", "ls /etc && echo mine > /etc/written"],
                                           volumes={name: {"bind": "/etc", "mode": "rw"}}, remove=True)
        assert b"passwd" in out and (directory / "passwd").is_file()
        again = docker_client.containers.run(busybox_image, ["cat", "/etc/written"],
                                             volumes={name: {"bind": "/etc", "mode": "rw"}}, remove=True)
        assert again == b"mine\n"
    finally:
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
