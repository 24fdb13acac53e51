"""Small network helpers for tests: free ports and registry manifest digests."""
from __future__ import annotations

import socket
import urllib.error
import urllib.request

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def registry_digest(host: str, repo: str, tag: str) -> str | None:
    """The Docker-Content-Digest of repo:tag in the plain-HTTP registry at host, None if absent."""
    url = f"http://{host}/v2/{repo}/manifests/{tag}"
    for method in ("HEAD", "GET"):
        req = urllib.request.Request(url, method=method, headers={"Accept": MANIFEST_ACCEPT})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                digest = resp.headers.get("Docker-Content-Digest")
                if digest:
                    return digest
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
    return None
