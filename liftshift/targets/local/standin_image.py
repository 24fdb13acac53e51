"""The stand-in hosts' image (see standin.py): assembled from this machine's own binaries (bash, the docker
CLI, a few core tools and the shared libraries `ldd` names) with `docker import`, because nothing may be
pulled on offline machines and the official `docker:cli` image has no bash. It therefore needs a Linux host.
BOOT is what a stand-in host runs: the instance's user-data, once, as EC2 does at first boot."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile

from .services import LocalSetupError

TOOLS = ("bash", "docker", "sleep", "mkdir", "rm", "mv", "cat", "chmod", "chown", "env", "timeout")
BOOT = (
    "mkdir -p /var/log/liftshift; "
    "bash /var/lib/liftshift/user-data >/var/log/liftshift/user-data.log 2>&1; "
    # written then renamed: a reader never sees the file before its exit code is in it
    "echo $? >/var/lib/liftshift/user-data.rc.tmp; mv /var/lib/liftshift/user-data.rc.tmp /var/lib/liftshift/user-data.rc; "
    "while :; do sleep 3600; done"
)


def _libraries(binary: str) -> list[str]:
    result = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if result.returncode != 0:  # "not a dynamic executable": static, nothing to add
        return []
    found = []
    for line in result.stdout.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match:
            found.append(match.group(1))
    return found


def standin_files() -> dict[str, str]:
    """Path in the image -> path on this machine."""
    if shutil.which("ldd") is None:
        raise LocalSetupError("the local target needs a Linux host with ldd to assemble its stand-in hosts")
    files: dict[str, str] = {}
    for tool in TOOLS:
        path = shutil.which(tool)
        if path is None:
            raise LocalSetupError(f"the local target needs '{tool}' on this machine for its stand-in hosts")
        files[f"bin/{tool}"] = path
        for lib in _libraries(path):
            files[lib.lstrip("/")] = lib
    return files


def standin_image(client) -> str:
    files = standin_files()
    digest = hashlib.sha256(b"standin-format-4\n")  # bump when the image's layout changes
    for inside, outside in sorted(files.items()):
        stat = os.stat(outside)
        digest.update(f"{inside}\0{outside}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    tag = f"liftshift-standin:{digest.hexdigest()[:16]}"
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return tag
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", dereference=True) as tar:  # copy files, not host symlinks
        for directory, mode in (("bin", 0o755), ("tmp", 0o1777), ("root", 0o700), ("etc", 0o755),
                                ("var/lib/liftshift", 0o700), ("var/log", 0o755), ("var/run", 0o755),
                                ("run", 0o755), ("run/liftshift", 0o755), ("run/liftshift/secrets", 0o700)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        for inside, outside in sorted(files.items()):
            tar.add(outside, arcname=inside, recursive=False)
        sh = tarfile.TarInfo("bin/sh")
        sh.type, sh.linkname = tarfile.SYMTYPE, "bash"
        tar.addfile(sh)
    repository, version = tag.split(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=version,
                                      changes=["ENV PATH=/bin HOME=/root"])
    return tag


def tar_files(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar archive of {name: (content, mode)}, for put_archive into a container."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
