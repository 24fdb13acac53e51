"""Create the local base image ``busybox:1.36`` without Docker Hub.

Nothing can be pulled here, so the image is made with ``docker import`` from
Debian's statically linked /bin/busybox (package busybox-static): a rootfs
with bin/busybox, a symlink bin/<applet> -> busybox for every applet that
``busybox --list`` names, the directories tmp, etc and var/www, and
``CMD ["sh"]``.  scripts/make-busybox-image.sh does the same from a shell.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time

BUSYBOX_TAG = "busybox:1.36"

_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def find_busybox() -> str:
    for cand in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if cand and os.path.isfile(cand):
            return os.path.realpath(cand)
    raise RuntimeError("busybox not found: apt-get install busybox-static")


def _check_static(path: str) -> None:
    # A dynamically linked busybox (Debian's plain "busybox" package) would not
    # run in an image without libc: refuse an ELF with a PT_INTERP header.
    import struct

    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head[:4] != b"\x7fELF" or head[4] != 2:  # only 64-bit ELF is checked
        return
    end = "<" if head[5] == 1 else ">"
    phoff, = struct.unpack_from(end + "Q", head, 0x20)
    phentsize, phnum = struct.unpack_from(end + "HH", head, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 4 > len(head):
            break
        p_type, = struct.unpack_from(end + "I", head, off)
        if p_type == 3:  # PT_INTERP
            raise RuntimeError(
                f"{path} is dynamically linked; install busybox-static (apt-get install busybox-static)"
            )


def busybox_rootfs_tar(busybox: str | None = None) -> bytes:
    """The rootfs tarball as bytes (owned by root, deterministic mtimes)."""
    busybox = busybox or find_busybox()
    _check_static(busybox)
    applets = subprocess.run(
        [busybox, "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    mtime = int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def add(info: tarfile.TarInfo, data: bytes | None = None) -> None:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = mtime
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)

        def mkdir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            add(info)

        for d in ("bin", "etc", "var", "var/www", "root"):
            mkdir(d)
        mkdir("tmp", 0o1777)
        with open(busybox, "rb") as fh:
            data = fh.read()
        info = tarfile.TarInfo("bin/busybox")
        info.mode = 0o755
        add(info, data)
        for applet in sorted(set(applets)):
            if applet == "busybox" or "/" in applet:
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            link.mode = 0o777
            add(link)
        for name, content in (("etc/passwd", _PASSWD), ("etc/group", _GROUP)):
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            add(info, content)
    return buf.getvalue()


def ensure_busybox_image(client, tag: str = BUSYBOX_TAG) -> str:
    """Make sure ``tag`` exists locally (creating it if absent); return the tag."""
    import docker.errors

    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    repository, _, version = tag.rpartition(":")
    client.api.import_image_from_data(
        busybox_rootfs_tar(),
        repository=repository,
        tag=version,
        changes=['CMD ["sh"]'],
    )
    client.images.get(tag)  # raises if the import did not produce it
    return tag
