#!/usr/bin/env bash
# Start the local Docker engine if it is not already answering.
# Idempotent: exits 0 at once when `docker info` works. Removes pid files and
# sockets left behind by a dockerd/containerd whose process is gone (which
# happens when a machine's processes are killed), starts dockerd detached with
# setsid, logs to /var/log/dockerd.log and waits up to 60 s for it to answer.
set -euo pipefail

LOG=/var/log/dockerd.log
WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}

docker_answers() {
    timeout 10 docker info >/dev/null 2>&1
}

if docker_answers; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    echo "start-dockerd: dockerd not found (apt-get install docker.io)" >&2
    exit 1
fi

dockerd_running() {
    # no pgrep dependency (procps may be absent on a fresh machine)
    local f
    for f in /proc/[0-9]*/comm; do
        if [[ "$(cat "$f" 2>/dev/null)" == dockerd ]]; then
            [[ "$(awk '{print $3}' "${f%/comm}/stat" 2>/dev/null)" != Z ]] && return 0
        fi
    done
    return 1
}

pid_alive() {
    # $1: pid file; true when it names a live process
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    # a zombie (state Z) answers kill -0 but is gone for our purposes
    local state
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [[ "$state" != Z ]]
}

# If a dockerd is alive but not answering yet (e.g. still starting), just wait.
if [[ -f /var/run/docker.pid ]] && pid_alive /var/run/docker.pid; then
    echo "start-dockerd: dockerd (pid $(cat /var/run/docker.pid)) is running; waiting for it" >&2
else
    if [[ -f /var/run/docker.pid ]]; then
        echo "start-dockerd: removing stale /var/run/docker.pid" >&2
        rm -f /var/run/docker.pid
    fi
    # dockerd's managed containerd keeps its pid and socket here.
    for cpid in /var/run/docker/containerd/containerd.pid /run/containerd/containerd.pid; do
        if [[ -f "$cpid" ]] && ! pid_alive "$cpid"; then
            echo "start-dockerd: removing stale $cpid and its sockets" >&2
            dir=$(dirname "$cpid")
            rm -f "$cpid" "$dir"/containerd.sock "$dir"/containerd.sock.ttrpc "$dir"/containerd-debug.sock
        fi
    done
    # A docker.sock with nobody behind it makes dockerd fail to listen.
    if [[ -S /var/run/docker.sock ]] && ! dockerd_running; then
        rm -f /var/run/docker.sock
    fi
    echo "start-dockerd: starting dockerd (log: $LOG)" >&2
    setsid dockerd >>"$LOG" 2>&1 </dev/null &
    disown || true
fi

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if docker_answers; then
        echo "start-dockerd: docker is up" >&2
        exit 0
    fi
    sleep 1
done

echo "start-dockerd: dockerd did not answer 'docker info' within ${WAIT_SECONDS}s; last log lines:" >&2
tail -n 30 "$LOG" >&2 || true
exit 1
