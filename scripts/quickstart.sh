#!/usr/bin/env bash
# From a fresh Debian/Ubuntu machine to a running rehearsal of stacks/hello, in one command (as root):
#   bash scripts/quickstart.sh
# Installs what is missing (a Docker engine, Debian's registry, static busybox), starts dockerd,
# installs liftshift with its local-rehearsal extra, and deploys stacks/hello with --target local.
# On a machine that already has Docker and liftshift, the last line alone is the whole job.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
fi
bash scripts/start-dockerd.sh
# The example builds FROM busybox:1.36: pulled from Docker Hub when online, else made locally.
docker image inspect busybox:1.36 >/dev/null 2>&1 || docker pull -q busybox:1.36 2>/dev/null ||
    bash scripts/make-busybox-image.sh busybox:1.36
# A Debian system interpreter refuses pip (PEP 668) unless told: this installs into it, as .ci/run does.
if [ -f "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]; then
    export PIP_BREAK_SYSTEM_PACKAGES=1
fi
python3 -m pip install -q -e '.[local]'
liftshift deploy stacks/hello/app.yaml --target local
