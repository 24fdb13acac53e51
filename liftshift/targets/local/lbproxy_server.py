"""The load-balancer stand-in's HTTP side (see lbproxy.py): one listener's server, a reverse proxy on the
standard library's http.server/http.client (no extra dependency for the rehearsal), routing each request by
the proxy's current listeners and forwarding it to a healthy target, as an ALB does."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import threading

UPSTREAM_TIMEOUT = 60.0  # an ALB's default idle timeout
VALID_HEADER_NAME = re.compile(r"[-A-Za-z0-9]+")  # what an ALB dropping invalid header fields keeps
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade"}


def serve(proxy, port: int) -> http.server.ThreadingHTTPServer:
    """A listener on 127.0.0.1:`port` forwarding by `proxy`'s routing, served from a daemon thread.
    Raises OSError when the port cannot be bound."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.proxy, server.listener_port = proxy, port
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


class Handler(http.server.BaseHTTPRequestHandler):
    """A reverse proxy on the stdlib's http.server/http.client: no extra dependency for the rehearsal."""

    protocol_version = "HTTP/1.1"
    timeout = UPSTREAM_TIMEOUT  # an idle client does not hold a thread forever

    def do_request(self) -> None:
        proxy = self.server.proxy  # lbproxy_control.Proxy
        port = self.server.listener_port
        listener = proxy.listeners.get(port)
        body = self.read_body()
        group = listener.route(self.headers) if listener else None
        targets = proxy.candidates(group) if group else []
        if not targets:
            return self.answer(503, "Service Unavailable: no target to route to")
        headers = self.upstream_headers(port, body)
        for target in targets[:2]:  # one retry on another target when a connection fails
            host, _, tport = target.address.rpartition(":")
            conn = http.client.HTTPConnection(host, int(tport), timeout=UPSTREAM_TIMEOUT)
            proxy.busy(target, +1)
            try:
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in headers:
                        conn.putheader(name, value)
                    conn.endheaders(body)
                    response = conn.getresponse()
                except TimeoutError:
                    return self.answer(504, "Gateway Timeout")
                except OSError:  # refused, reset or closed before any response byte: try another target
                    continue
                except http.client.HTTPException:
                    return self.answer(502, "Bad Gateway: invalid response from the target")
                return self.relay(response)
            finally:
                conn.close()
                proxy.busy(target, -1)
        self.answer(502, "Bad Gateway: the target refused the connection")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def upstream_headers(self, port: int, body: bytes) -> list[tuple[str, str]]:
        named = {n.strip().lower() for n in self.headers.get("Connection", "").split(",")}
        dropped = HOP_BY_HOP | named | {"content-length", "expect", "x-forwarded-for", "x-forwarded-proto",
                                        "x-forwarded-port"}
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in dropped
                   and (not self.server.proxy.drop_invalid_headers or VALID_HEADER_NAME.fullmatch(k))]
        forwarded = ", ".join([*self.headers.get_all("X-Forwarded-For", []), self.client_address[0]])
        headers += [("X-Forwarded-For", forwarded), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Port", str(port))]
        if body or "Content-Length" in self.headers or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            headers.append(("Content-Length", str(len(body))))
        return headers

    def relay(self, response: http.client.HTTPResponse) -> None:
        named = {n.strip().lower() for n in (response.getheader("Connection") or "").split(",")}
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP | named:
                    self.send_header(name, value)
            self.send_header("Connection", "close")  # without Content-Length, the body ends with the connection
            self.end_headers()
            while self.command != "HEAD" and (chunk := response.read(65536)):
                self.wfile.write(chunk)

    def answer(self, code: int, text: str) -> None:
        body = f"{code} {text}\n".encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response_only(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def log_request(self, code="-", size="-") -> None:
        pass  # no access log: the log file is for state changes and errors


for _method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    setattr(Handler, f"do_{_method}", Handler.do_request)
