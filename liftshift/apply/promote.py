"""Promoting an image that is already built: pull it into the local engine, for the usual push into the stack's
repository (same tag scheme, `img-<image id>`), instead of building the service.

Why pull and push rather than a server-side copy: ECR has no API that copies an image between repositories,
accounts or regions. `PutImage` re-tags a manifest only inside one repository ("Retagging an image",
https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html), and replication is a registry-wide
setting, not a per-image copy (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html). AWS's
own answer for moving one image is to pull and push it
(https://repost.aws/knowledge-center/secondary-account-access-ecr). The engine pushes the same config and
layers, so the manifest and its digest stay the same: across repositories of one registry it mounts the
existing blobs; to another registry it re-compresses the layers, which reproduces them for images built by a
Docker engine (the pipeline compares the digests and says when a registry's copy differs).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from . import images
from ..spec.image_override import BadImageOverride, ImageSource

if TYPE_CHECKING:
    from ..targets.base import Target

ECR_HOST_RE = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
_MISSING = ("manifest unknown", "not found", "name unknown", "does not exist", "pull access denied",
            "unauthorized", "no such host", "no basic auth credentials", "denied")


@dataclass(frozen=True)
class Pulled:
    service: str
    image_id: str  # the local image id: the stack's tag is made from it, as for a build
    source_digest: str | None  # the manifest digest the source registry serves


def source_auth(source: ImageSource, target: Target) -> dict | None:
    """Credentials for the source registry: the stack's own registry's, or an ECR login (this account's
    credentials, in the source's region: another account's repository must grant them pull)."""
    host = source.host
    if host is None:
        return None
    if host == target.registry.host:
        return target.registry_auth()
    match = ECR_HOST_RE.fullmatch(host)
    if match is None:
        return None  # docker's own credential store is not read: public images, or the loopback registry
    from ..aws.ecr_auth import ecr_login
    from ..aws.session import Aws

    aws = target.aws
    if match.group(2) != aws.region:
        profile = aws.session.profile_name
        aws = Aws(region=match.group(2), profile=None if profile == "default" else profile)
    return ecr_login(aws, host)


def pull_source(client, service: str, source: ImageSource, auth: dict | None, platform: str | None,
                on_progress: Optional[images.ProgressFn] = None) -> Pulled:
    """Pull `source` (always: a tag may have moved) and return its image id and registry digest.

    A reference the registry does not have (or will not show us) is bad input, exit 2: nothing was changed.
    """
    ref = f"{source.name}@{source.digest}" if source.digest else f"{source.name}:{source.tag}"
    tail: deque[str] = deque(maxlen=15)
    errors = images._docker_errors()
    try:
        stream = client.api.pull(ref, platform=platform, auth_config=auth, stream=True, decode=True)
        images._follow(stream, service, f"pull of {ref!r}", tail, on_progress)
        image = client.images.get(ref)
    except (images.ImageError, *images._transport_errors()) as exc:
        text = images._api_message(exc) if not isinstance(exc, images.ImageError) else str(exc)
        if isinstance(exc, errors.NotFound) or any(m in text.lower() for m in _MISSING):
            raise BadImageOverride(f"--image {service}={source.reference}: cannot pull it: "
                                   f"{text.splitlines()[0]}") from None
        if isinstance(exc, images.ImageError):
            raise
        raise images.ImageError(f"service {service!r}: pull of {ref!r} failed: {text}", service=service,
                                output_tail=tail) from exc
    attrs = image.attrs or {}
    if not images._platform_matches(attrs, platform):
        raise BadImageOverride(f"--image {service}={source.reference}: the image is for "
                               f"{attrs.get('Os')}/{attrs.get('Architecture')}, the service runs on {platform}")
    return Pulled(service, images._normalise_id(image.id), source.digest or _repo_digest(attrs, source.name))


def _repo_digest(attrs: dict, name: str) -> str | None:
    """The digest the engine recorded for `name` when it pulled it (Docker Hub names are stored short)."""
    short = name.removeprefix("docker.io/").removeprefix("library/")
    for entry in attrs.get("RepoDigests") or []:
        repo, _, digest = entry.partition("@")
        if repo in (name, short) or repo.removeprefix("docker.io/").removeprefix("library/") == short:
            return digest
    return None
