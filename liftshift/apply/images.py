"""Building, tagging and pushing container images.

This is the only module of liftshift that builds, tags or pushes images.  The
docker client is always passed in (never created here) and the ``docker``
package is only imported inside functions, so ``import liftshift.apply.images``
stays cheap.

Notes on the docker SDK (7.1) this module relies on:

* ``client.api.build`` uses the classic builder: progress arrives as
  ``{"stream": "Step N/M : ..."}`` events, a failure as an ``{"error": ...}``
  event (the low-level API does not raise), and the image id as
  ``{"aux": {"ID": "sha256:..."}}``.
* ``client.api.push(..., stream=True, decode=True)`` does not raise on failure
  either: every event must be checked for ``error``/``errorDetail``.  The final
  ``aux`` event carries the manifest digest.
* ``client.api.inspect_distribution`` asks the engine to resolve a manifest in
  the registry.  It works against a plain-HTTP registry on 127.0.0.0/8 (the
  engine trusts loopback as insecure) and against ECR with an auth_config; a
  missing tag or repository answers 404 ``manifest unknown`` (NotFound).
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ..errors import LiftshiftError

ProgressFn = Callable[[str, str], None]

_TAIL_LINES = 15
_IMAGE_ID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")
_NOT_FOUND_MARKERS = (
    "manifest unknown",
    "name unknown",
    "not found",
    "repository name not known",
    "does not exist",
)


class ImageError(LiftshiftError):
    """An image operation failed.

    The message says what failed, for which service, and ends with the last
    lines of the engine's output.  ``service``, ``step`` (the failing build
    step, when known) and ``output_tail`` are kept as attributes.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        step: str | None = None,
        output_tail: Iterable[str] = (),
    ) -> None:
        self.service = service
        self.step = step
        self.output_tail = [line for line in output_tail if line]
        full = message
        if self.output_tail:
            full += "\n--- last output lines ---\n" + "\n".join(self.output_tail)
        super().__init__(full)


@dataclass(frozen=True)
class BuiltImage:
    service: str
    image_id: str  # "sha256:<64 hex>", the local image (config) id


def _emit(on_progress: Optional[ProgressFn], service: str, line: str) -> None:
    if on_progress is not None and line:
        on_progress(service, line)


def _event_error(event: dict[str, Any]) -> str | None:
    """The error message carried by a stream event, if any."""
    if not isinstance(event, dict):
        return None
    if event.get("error"):
        return str(event["error"]).strip()
    detail = event.get("errorDetail")
    if detail:
        if isinstance(detail, dict):
            return str(detail.get("message") or detail).strip()
        return str(detail).strip()
    return None


def _docker_errors():
    import docker.errors  # lazy: keep `import liftshift.apply.images` cheap

    return docker.errors


def _transport_errors() -> tuple[type[BaseException], ...]:
    errors = _docker_errors()
    excs: list[type[BaseException]] = [errors.DockerException]
    try:
        import requests

        excs.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover - requests comes with docker
        pass
    return tuple(excs)


def _normalise_id(image_id: str) -> str:
    image_id = image_id.strip()
    if not image_id.startswith("sha256:"):
        image_id = "sha256:" + image_id
    return image_id


# --------------------------------------------------------------------------- build


def build_image(
    client,
    service: str,
    context: Path,
    dockerfile: str = "Dockerfile",
    buildargs: dict[str, str] | None = None,
    target: str | None = None,
    platform: str | None = None,
    on_progress: Optional[ProgressFn] = None,
    *,
    tag: str | None = None,
) -> BuiltImage:
    """Build ``context`` with the classic builder and return the image id.

    Nothing is tagged unless the caller passes ``tag`` (no shared names, so
    concurrent builds cannot overwrite each other).  ``on_progress(service,
    line)`` receives every line of build output.
    """
    context = Path(context)
    if not context.is_dir():
        raise ImageError(
            f"build of service {service!r} failed: build context {str(context)!r} is not a directory",
            service=service,
        )
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    step: str | None = None
    image_id: str | None = None
    short_id: str | None = None

    def failed(message: str, output_tail) -> ImageError:
        """The one build error: names the service and the step reached so far."""
        where = f" at {step}" if step else ""
        return ImageError(f"build of service {service!r} failed{where}: {message}", service=service, step=step,
                          output_tail=output_tail)

    kwargs: dict[str, Any] = dict(
        path=str(context),
        dockerfile=dockerfile,
        buildargs=dict(buildargs or {}),
        rm=True,
        forcerm=True,
        decode=True,
    )
    if target:
        kwargs["target"] = target
    if platform:
        kwargs["platform"] = platform
    if tag:
        kwargs["tag"] = tag

    errors = _docker_errors()
    try:
        for event in client.api.build(**kwargs):
            if not isinstance(event, dict):
                continue
            if "stream" in event:
                for line in str(event["stream"]).splitlines():
                    line = line.rstrip()
                    if not line.strip():
                        continue
                    tail.append(line)
                    if _STEP_RE.match(line):
                        step = line
                    m = re.match(r"^Successfully built ([0-9a-f]+)$", line)
                    if m:
                        short_id = m.group(1)
                    _emit(on_progress, service, line)
            elif "status" in event:
                line = str(event["status"]).rstrip()
                if event.get("id"):
                    line = f"{event['id']}: {line}"
                if line:
                    tail.append(line)
                    _emit(on_progress, service, line)
            msg = _event_error(event)
            if msg is not None:
                raise failed(msg, tail)
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = _normalise_id(str(aux["ID"]))
    except ImageError:
        raise
    except errors.BuildError as exc:  # only from the high-level API, kept for safety
        lines = [str(e.get("stream", "")).rstrip() for e in (exc.build_log or []) if isinstance(e, dict)]
        raise failed(exc.msg, (list(tail) + lines)[-_TAIL_LINES:]) from exc
    except _transport_errors() as exc:
        raise failed(_api_message(exc), tail) from exc

    if image_id is None and short_id is not None:
        try:
            image_id = client.images.get(short_id).id
        except _transport_errors() as exc:
            raise ImageError(
                f"build of service {service!r}: cannot resolve built image {short_id}: {_api_message(exc)}",
                service=service,
                output_tail=tail,
            ) from exc
    if image_id is None or not _IMAGE_ID_RE.match(image_id):
        raise ImageError(
            f"build of service {service!r} finished without reporting an image id",
            service=service,
            step=step,
            output_tail=tail,
        )
    return BuiltImage(service=service, image_id=image_id)


def _api_message(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation).strip()
    return str(exc).strip() or type(exc).__name__


# --------------------------------------------------------------------------- image: services


def _platform_matches(attrs: dict[str, Any], platform: str | None) -> bool:
    if not platform:
        return True
    parts = platform.split("/")
    want_os = parts[0] if parts else ""
    want_arch = parts[1] if len(parts) > 1 else ""
    want_variant = parts[2] if len(parts) > 2 else ""
    if want_os and attrs.get("Os") and attrs.get("Os") != want_os:
        return False
    if want_arch and attrs.get("Architecture") and attrs.get("Architecture") != want_arch:
        return False
    if want_variant and attrs.get("Variant") and attrs.get("Variant") != want_variant:
        return False
    return True


def ensure_local_image(
    client,
    service: str,
    reference: str,
    platform: str | None = None,
    on_progress: Optional[ProgressFn] = None,
) -> BuiltImage:
    """Use the local image ``reference`` if present (and of ``platform``), else pull it."""
    errors = _docker_errors()
    try:
        image = client.images.get(reference)
        if _platform_matches(image.attrs or {}, platform):
            return BuiltImage(service=service, image_id=_normalise_id(image.id))
    except errors.ImageNotFound:
        pass
    except _transport_errors() as exc:
        raise ImageError(
            f"service {service!r}: cannot inspect local image {reference!r}: {_api_message(exc)}",
            service=service,
        ) from exc

    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        stream = client.api.pull(reference, platform=platform, stream=True, decode=True)
        _follow(stream, service, f"pull of {reference!r}", tail, on_progress)
        image = client.images.get(reference)
    except ImageError:
        raise
    except _transport_errors() as exc:
        raise ImageError(
            f"service {service!r}: pull of {reference!r} failed: {_api_message(exc)}",
            service=service,
            output_tail=tail,
        ) from exc
    return BuiltImage(service=service, image_id=_normalise_id(image.id))


def _follow(events, service: str, what: str, tail: deque[str], on_progress: Optional[ProgressFn]) -> list[dict]:
    """Read a pull or push stream to its end: every event is checked for an error (the SDK does
    not raise on them), status lines feed the tail and progress; returns the `aux` payloads."""
    auxes = []
    for event in events:
        if not isinstance(event, dict):
            continue
        msg = _event_error(event)
        if msg is not None:
            raise ImageError(f"service {service!r}: {what} failed: {msg}", service=service, output_tail=tail)
        line = _status_line(event)
        if line:
            tail.append(line)
            if not event.get("progressDetail"):
                _emit(on_progress, service, line)
        if isinstance(event.get("aux"), dict):
            auxes.append(event["aux"])
    return auxes


def _status_line(event: dict[str, Any]) -> str:
    status = str(event.get("status") or "").rstrip()
    if not status:
        return ""
    if event.get("id"):
        return f"{event['id']}: {status}"
    return status


# --------------------------------------------------------------------------- registry


def remote_digest(client, repository: str, tag: str, auth_config: dict | None = None) -> str | None:
    """The registry's manifest digest for ``repository:tag``; None when absent.

    Uses the engine's distribution endpoint (``inspect_distribution``), which
    was verified to work against the plain-HTTP loopback registry (dockerd
    trusts 127.0.0.0/8 as insecure), so no HTTP client of our own is needed.
    """
    errors = _docker_errors()
    ref = f"{repository}:{tag}"
    try:
        info = client.api.inspect_distribution(ref, auth_config=auth_config)
    except errors.NotFound:
        return None
    except errors.APIError as exc:
        text = _api_message(exc).lower()
        if getattr(exc, "status_code", None) == 404 or any(m in text for m in _NOT_FOUND_MARKERS):
            return None
        raise ImageError(f"cannot look up {ref} in the registry: {_api_message(exc)}") from exc
    except _transport_errors() as exc:
        raise ImageError(f"cannot look up {ref} in the registry: {_api_message(exc)}") from exc
    digest = ((info or {}).get("Descriptor") or {}).get("digest")
    if not digest:
        raise ImageError(f"registry answered for {ref} without a digest: {info!r}")
    return str(digest)


def push_image(
    client,
    service: str,
    image_id: str,
    repository: str,
    tag: str,
    auth_config: dict | None = None,
    on_progress: Optional[ProgressFn] = None,
) -> str:
    """Tag ``image_id`` as ``repository:tag``, push it and return the manifest digest."""
    ref = f"{repository}:{tag}"
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    digest: str | None = None
    try:
        if not client.api.tag(image_id, repository, tag, force=True):
            raise ImageError(f"service {service!r}: could not tag {image_id} as {ref}", service=service)
        stream = client.api.push(repository, tag=tag, auth_config=auth_config, stream=True, decode=True)
        for aux in _follow(stream, service, f"push of {ref}", tail, on_progress):
            if aux.get("Digest"):
                digest = str(aux["Digest"])
        if digest is None:
            image = client.images.get(image_id)
            image.reload()
            for repo_digest in image.attrs.get("RepoDigests") or []:
                name, _, d = repo_digest.partition("@")
                if name == repository and d:
                    digest = d
                    break
    except ImageError:
        raise
    except _transport_errors() as exc:
        raise ImageError(
            f"service {service!r}: push of {ref} failed: {_api_message(exc)}",
            service=service,
            output_tail=tail,
        ) from exc
    if not digest:
        raise ImageError(
            f"service {service!r}: push of {ref} reported no digest",
            service=service,
            output_tail=tail,
        )
    return digest
