#!/usr/bin/env bash
# Create the local base image busybox:1.36 (or $1) with `docker import` from
# Debian's statically linked /bin/busybox (busybox-static), because nothing
# can be pulled from Docker Hub here. Does nothing if the image exists.
# Rootfs: bin/busybox, bin/<applet> -> busybox for every `busybox --list`
# applet, dirs tmp, etc, var/www (+ a minimal etc/passwd, etc/group); CMD ["sh"].
set -euo pipefail

TAG=${1:-busybox:1.36}

if docker image inspect "$TAG" >/dev/null 2>&1; then
    exit 0
fi

BUSYBOX=""
for cand in /bin/busybox /usr/bin/busybox; do
    if [[ -x "$cand" ]]; then BUSYBOX=$(readlink -f "$cand"); break; fi
done
if [[ -z "$BUSYBOX" ]]; then
    echo "make-busybox-image: busybox not found (apt-get install busybox-static)" >&2
    exit 1
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then  # ldd fails on a static binary
    echo "make-busybox-image: $BUSYBOX is dynamically linked; install busybox-static" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root/bin" "$root/etc" "$root/var/www" "$root/root" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
while read -r applet; do
    [[ -z "$applet" || "$applet" == busybox || "$applet" == */* ]] && continue
    ln -sf busybox "$root/bin/$applet"
done < <("$BUSYBOX" --list)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$work/rootfs.tar" .
docker import --change 'CMD ["sh"]' "$work/rootfs.tar" "$TAG" >/dev/null
echo "make-busybox-image: created $TAG" >&2
