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
