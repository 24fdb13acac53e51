"""Peers by name (issue 12): each peer's name and aliases resolve inside the container (--add-host), and a
`depends_on` with condition healthy holds the container's start until the peer answers its health check.

Runs the rendered user-data under bash with recording fakes for docker (tests/test_render.py's harness) and
a real HTTP server as the peer; the stand-in path (LIFTSHIFT_STAND_IN=1) finds every peer at
LIFTSHIFT_SERVICE_HOST, as in the local rehearsal.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from pathlib import Path

import pytest

from liftshift.model.user_data import Peer, render_user_data
from test_render import Harness, ctx, needs_shellcheck, shellcheck


class Answers(http.server.BaseHTTPRequestHandler):
    status = 503

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(type(self).status if self.path == "/ready" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def peer_server():
    handler = type("PeerAnswers", (Answers,), {"status": 503})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def peers(port: int, **db) -> tuple[Peer, ...]:
    return (Peer("db", port, "0123abcd", aliases=("database", "db.internal"), **db), Peer("api", 8081, "4567abcd"))


def test_every_peer_name_and_alias_resolves_to_its_address(tmp_path: Path) -> None:
    c = ctx(peers=peers(5432))
    h = Harness(tmp_path)
    res = h.run(render_user_data(c), LIFTSHIFT_STAND_IN="1", LIFTSHIFT_SERVICE_HOST="172.17.0.1")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    (run,) = h.calls_of("docker", "run")
    hosts = [run[i + 1] for i, arg in enumerate(run) if arg == "--add-host"]
    assert hosts == ["db:172.17.0.1", "database:172.17.0.1", "db.internal:172.17.0.1", "api:172.17.0.1"]
    assert run.index("--add-host") < run.index(c.image)  # docker options, not the app's arguments


def test_a_service_without_peers_gets_no_host_entries(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    res = h.run(render_user_data(ctx()), LIFTSHIFT_STAND_IN="1")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    (run,) = h.calls_of("docker", "run")
    assert "--add-host" not in run


@pytest.mark.skipif(shutil.which("timeout") is None, reason="needs timeout(1)")
def test_a_healthy_dependency_holds_the_start_until_its_health_path_answers(peer_server, tmp_path: Path) -> None:
    server, handler = peer_server
    port = server.server_address[1]
    script = render_user_data(ctx(peers=peers(port, wait=True, wait_path="/ready")))
    h = Harness(tmp_path)
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    import subprocess

    proc = subprocess.Popen(["bash", str(path)], env=h.env(LIFTSHIFT_STAND_IN="1", LIFTSHIFT_SERVICE_HOST="127.0.0.1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(4)  # the peer answers 503: nothing may start
        assert proc.poll() is None
        assert h.calls_of("docker", "run") == []
        handler.status = 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"waiting for db to be healthy" in err
    assert len(h.calls_of("docker", "run")) == 1


@pytest.mark.skipif(shutil.which("timeout") is None, reason="needs timeout(1)")
def test_a_healthy_dependency_without_a_path_waits_for_a_tcp_connect(peer_server, tmp_path: Path) -> None:
    server, _ = peer_server
    script = render_user_data(ctx(peers=peers(server.server_address[1], wait=True)))
    h = Harness(tmp_path)
    res = h.run(script, LIFTSHIFT_STAND_IN="1", LIFTSHIFT_SERVICE_HOST="127.0.0.1")
    assert res.returncode == 0, res.stderr.decode()[-2000:]  # 503 answers, but the port accepts: started
    assert len(h.calls_of("docker", "run")) == 1


@needs_shellcheck
def test_peers_render_shellcheck_clean(tmp_path: Path) -> None:
    out = render_user_data(ctx(peers=peers(5432, wait=True, wait_path="/ready"),
                               env=(("DB", "${service.db.host}"),)))
    shellcheck(out, tmp_path)
    directive = "# shellcheck disable=SC1003,SC1110,SC1111,SC1112,SC2016\n"
    shellcheck(out.replace(directive, ""), tmp_path)  # the template's own code, without the file-wide disable


def test_peer_aliases_and_paths_are_checked_before_rendering() -> None:
    with pytest.raises(ValueError, match="alias"):
        render_user_data(ctx(peers=(Peer("db", 5432, "0123abcd", aliases=("bad name",)),)))
    with pytest.raises(ValueError, match="health path"):
        render_user_data(ctx(peers=(Peer("db", 5432, "0123abcd", wait=True, wait_path="no-slash"),)))


def test_dependencies_are_launched_first_and_a_changed_dependency_replaces_its_dependents():
    """depends_on orders the launches (web is first in app.yaml, db first in the plan), and, as for
    ${service...} references, a dependent's config names its dependency's, so it is replaced with it."""
    from liftshift.model.observed import Observed
    from liftshift.plan.stack import plan_infrastructure
    from test_plan import desired, make_spec, service_dict

    def spec(db_env: dict[str, str]):
        return make_spec({"web": service_dict(depends_on={"db": {"condition": "healthy"}}, instances={"count": 1}),
                          "db": service_dict(port=5432, publish=5432, aliases=["database"], env=db_env,
                                             instances={"count": 1})})

    want = desired(spec({}))
    steps = plan_infrastructure(want, Observed())
    launched = [s.service for s in steps if s.kind.value == "instances" and s.action.value == "launch"]
    assert launched == ["db", "web"]
    user_data = want.services["web"].launch_template.user_data
    assert "--add-host" in user_data and "database" in user_data
    changed = desired(spec({"V": "2"}))
    assert changed.services["web"].launch_template.config_hash != want.services["web"].launch_template.config_hash
