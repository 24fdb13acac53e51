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


def _ensure_imported(client, tag: str, rootfs, changes: list[str]) -> str:
    """``tag`` if it exists locally, else made with ``docker import`` of ``rootfs()`` (built only then)."""
    import docker.errors

    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    repository, _, version = tag.rpartition(":")
    client.api.import_image_from_data(rootfs(), repository=repository, tag=version, changes=changes)
    client.images.get(tag)  # raises if the import did not produce it
    return tag


def ensure_busybox_image(client, tag: str = BUSYBOX_TAG) -> str:
    """Make sure ``tag`` exists locally (creating it if absent); return the tag."""
    _ensure_imported(client, tag, busybox_rootfs_tar, ['CMD ["sh"]'])
    return tag


# A Python base image made from this machine's own interpreter (nothing can be pulled here): busybox's rootfs
# (a /bin/sh for RUN lines and docker's health checks, mkdir, chown ...) plus the interpreter under /usr/local,
# its standard library (without tests, tkinter, idle, ensurepip and site-packages) and the shared libraries
# `ldd` names for it and its extension modules. Made once per machine and reused by tag.
PYTHON_TAG = "liftshift-test/python:3.11"
_STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages", "__pycache__",
                "pydoc_data", "dist-packages"}
_DYNLOAD_SKIP = ("_tkinter", "_test", "xxlimited", "_ctypes_test", "_xxtestfuzz", "xxsubtype")


def _ldd(path: str) -> list[str]:
    import re

    result = subprocess.run(["ldd", path], capture_output=True, text=True)
    return [m.group(1) for line in result.stdout.splitlines()
            for m in [re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)] if m]


def python_files() -> dict[str, str]:
    """Path in the image -> path on this machine, for the running interpreter."""
    import sys
    import sysconfig

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    binary = os.path.realpath(os.path.join(sys.base_prefix, "bin", f"python{version}"))
    stdlib = sysconfig.get_paths()["stdlib"]
    files = {f"usr/local/bin/python{version}": binary}
    elves = [binary]
    for directory, dirs, names in os.walk(stdlib):
        dirs[:] = [d for d in dirs if d not in _STDLIB_SKIP and not d.startswith("config-")]
        rel = os.path.relpath(directory, stdlib)
        for name in names:
            if name.endswith((".pyc", ".pyo", ".a", ".exe")) or (rel == "lib-dynload" and name.startswith(_DYNLOAD_SKIP)):
                continue
            inside = os.path.normpath(f"usr/local/lib/python{version}/{rel}/{name}")
            files[inside] = os.path.join(directory, name)
            if name.endswith(".so"):
                elves.append(files[inside])
    for elf in elves:
        for lib in _ldd(elf):
            real = os.path.realpath(lib)
            # a library in the interpreter's own prefix (libpython) goes where the loader looks by default
            inside = lib.lstrip("/") if not lib.startswith(sys.base_prefix) else \
                f"lib/x86_64-linux-gnu/{os.path.basename(lib)}"
            files.setdefault(inside, real)
    return files


def python_rootfs_tar() -> bytes:
    import sys

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = tarfile.open(fileobj=io.BytesIO(busybox_rootfs_tar()))
    buf = io.BytesIO()
    made: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, dereference=True) as tar:
        for member in base.getmembers():
            tar.addfile(member, base.extractfile(member) if member.isfile() else None)
            made.add(member.name)

        def parents(name: str) -> None:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                directory = "/".join(parts[:i])
                if directory not in made:
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    made.add(directory)

        for inside, outside in sorted(python_files().items()):
            if inside in made:
                continue
            parents(inside)
            info = tar.gettarinfo(outside, arcname=inside)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(outside, "rb") as handle:
                tar.addfile(info, handle)
            made.add(inside)
        for link in ("python3", "python"):
            info = tarfile.TarInfo(f"usr/local/bin/{link}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, f"python{version}", 0o777
            tar.addfile(info)
    return buf.getvalue()


def ensure_python_image(client, tag: str = PYTHON_TAG) -> str:
    """Make sure ``tag`` (a Python base image from this machine's interpreter) exists locally; return it."""
    return _ensure_imported(client, tag, python_rootfs_tar, ["ENV PATH=/usr/local/bin:/bin LANG=C.UTF-8",
                                                             'CMD ["python3"]'])
