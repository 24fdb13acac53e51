"""`--image SERVICE=REF`: a service deployed from an image that is already built (build once, promote the digest).

Pure: checks the option's text against app.yaml's services and the image reference grammar (spec/grammar.py),
before anything is pulled, built or changed. A REF must name a tag or a digest: a bare name would silently
mean `:latest`, which is not something a pipeline promotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..errors import BadInput
from .grammar import IMAGE_NAME_MAX, IMAGE_REF_RE


class BadImageOverride(BadInput):
    """An --image value that names no service of app.yaml or no pullable reference: exit 2, nothing changed."""


@dataclass(frozen=True)
class ImageSource:
    """Where a promoted service's image comes from."""

    reference: str  # as given: host/repo:tag or host/repo@sha256:...
    name: str  # host/repo
    tag: str | None
    digest: str | None  # sha256:..., when the reference names one

    @property
    def host(self) -> str | None:
        """The registry host the reference names (None: Docker Hub)."""
        first, _, rest = self.name.partition("/")
        return first if rest and ("." in first or ":" in first or first == "localhost") else None


def parse_image_overrides(values: Iterable[str], services: Iterable[str], file: str = "app.yaml"
                          ) -> dict[str, ImageSource]:
    """`SERVICE=REF` options as {service: source}; BadImageOverride naming the value at the first problem."""
    known = list(services)
    out: dict[str, ImageSource] = {}
    for value in values:
        service, eq, ref = value.partition("=")
        service, ref = service.strip(), ref.strip()
        if not eq or not service or not ref:
            raise BadImageOverride(f"--image {value!r}: expected SERVICE=REF, e.g. web=registry/repo@sha256:...")
        if service not in known:
            raise BadImageOverride(f"--image {value!r}: {file} has no service {service!r} "
                                   f"(services: {', '.join(known)})")
        if service in out:
            raise BadImageOverride(f"--image {value!r}: service {service!r} is given more than once")
        out[service] = parse_reference(ref, f"--image {value!r}")
    return out


def parse_reference(ref: str, where: str) -> ImageSource:
    match = IMAGE_REF_RE.fullmatch(ref)
    if match is None or len(match.group(1)) > IMAGE_NAME_MAX:
        raise BadImageOverride(f"{where}: {ref!r} is not an image reference ([host[:port]/]repository:tag or "
                               "[host[:port]/]repository@sha256:<64 hex>)")
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if tag is None and digest is None:
        raise BadImageOverride(f"{where}: {ref!r} names neither a tag nor a digest; promote a digest "
                               f"({name}@sha256:...) or give the tag")
    if digest is not None and not digest.startswith("sha256:"):
        raise BadImageOverride(f"{where}: {ref!r}: registries address manifests by sha256 digests")
    return ImageSource(ref, name, tag, digest)
