"""The one HTTP probe: a single GET (or TCP connect) with a bound on the wait, used by the rollout gates
(through the load balancer), the load-balancer stand-in's health checks and the stand-in hosts' readiness
wait. Standard library only, and nothing from the rest of the package, so the lbproxy process can use it.

Errors are the caller's to interpret: `get` raises OSError (refused, reset, TimeoutError) or
http.client.HTTPException (not HTTP); `answers` folds them into False.
"""

from __future__ import annotations

import http.client
import socket
import ssl


def get(host: str, port: int, path: str, *, timeout: float, headers: dict[str, str] | None = None,
        https: bool = False, read: int | None = 0) -> tuple[int, str]:
    """One GET: (status, body). `read` bytes of the body are read (0: none, None: all of it, as a health
    checker does). With `https` the certificate is not checked: it names the app's domain, not the address
    probed, and the probe checks the app, not TLS."""
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = b"" if read == 0 else response.read() if read is None else response.read(read)
        return response.status, body.decode(errors="replace")
    finally:
        conn.close()


def connects(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection is accepted (a service with no HTTP health path)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def answers(host: str, port: int, path: str | None, *, timeout: float = 3.0, connect_timeout: float = 2.0) -> bool:
    """`path` answers 2xx/3xx, or (no path) the port accepts a connection."""
    if path is None:
        return connects(host, port, connect_timeout)
    try:
        return get(host, port, path, timeout=timeout)[0] < 400
    except (OSError, http.client.HTTPException):
        return False
