"""A stand-in for a load balancer's data plane, for moto (which has none): an HTTP server answering
every request with a settable status. Point LIFTSHIFT_LB_ENDPOINT at it and it decides the rollout probe."""

from __future__ import annotations

import contextlib
import http.server
import threading
from typing import Iterator


class ProbeAnswer:
    status = 200


@contextlib.contextmanager
def answering_server() -> Iterator[tuple[ProbeAnswer, str]]:
    """(the answer to set, "127.0.0.1:PORT"); the server stops when the block ends."""
    answer = ProbeAnswer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(answer.status)
            self.end_headers()
            self.wfile.write(b"probe answer")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield answer, f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Traffic:
    """A client sending a GET to 127.0.0.1:port every 20 ms in a thread, keeping every answer in order:
    what "no failed request, old answer then new" is measured on. Use as a context manager. `headers` are
    sent with every request (e.g. a guessed release header)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        import threading

        self.port = port
        self.headers = dict(headers or {})
        self.answers: list[tuple[float, str]] = []  # (perf_counter time, body) of each 200
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import http.client
        import time

        while not self._stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/", headers=self.headers)
                response = conn.getresponse()
                body = response.read().decode(errors="replace").strip()
                conn.close()
                if response.status == 200:
                    self.answers.append((time.perf_counter(), body))
                else:
                    self.failures.append(f"HTTP {response.status}: {body[:80]}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.02)

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import time

        time.sleep(0.3)  # a few answers after the command returned
        self._stop.set()
        self._thread.join(10)

    @property
    def requests(self) -> int:
        return len(self.answers) + len(self.failures)

    def switches(self) -> list[str]:
        """The answers with repeats collapsed: ["release one", "release two"] is one clean switch."""
        out: list[str] = []
        for _, body in self.answers:
            if not out or out[-1] != body:
                out.append(body)
        return out

    def first(self, body: str, after: float) -> float | None:
        """Seconds from `after` until the first answer `body`."""
        return next((t - after for t, b in self.answers if b == body and t >= after), None)
