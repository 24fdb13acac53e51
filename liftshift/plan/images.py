"""Images: the ECR repositories and pushes that must exist before a launch template can name a digest.

Pure: a push is an instruction (PushImage) the executor hands to the image pusher.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..model import names
from ..model.desired import ImageInfo
from ..model.observed import Observed
from ..model import refs
from ..model.steps import Action, Call, Kind, PushImage, Step

LIFECYCLE_KEEP = 20


@dataclass(frozen=True)
class ImageWant:
    service: str
    repository: str  # ECR repository name, stack/service
    repository_uri: str
    image: ImageInfo
    source: str | None = None  # --image SERVICE=REF: pulled from REF, not built


def plan_images(stack: str, wants: list[ImageWant], observed: Observed) -> list[Step]:
    """ECR repositories and pushes. Where the endpoint has no ECR (observed.unavailable: an emulator, whose
    images go to LIFTSHIFT_REGISTRY, see require_services), only the pushes."""
    steps = []
    ecr = "ecr" not in observed.unavailable
    for want in wants:
        created = ecr and want.repository not in observed.repositories  # with its policy, just before the push
        if created:
            steps.append(Step(Action.CREATE, Kind.ECR_REPOSITORY, want.repository, want.service, (
                Call("ecr", "create_repository", {
                    "repositoryName": want.repository,
                    "imageTagMutability": "IMMUTABLE",
                    "imageScanningConfiguration": {"scanOnPush": True},
                    "encryptionConfiguration": {"encryptionType": "AES256"},
                    "tags": names.tag_list(names.tags(stack, want.service)),
                }, ignore=("RepositoryAlreadyExistsException",)),
                Call("ecr", "put_lifecycle_policy", {
                    "repositoryName": want.repository,
                    "lifecyclePolicyText": lifecycle_policy(),
                }),
            ), "scan on push, immutable tags, encrypted, keeps the last 20 images"))
        if want.image.digest is None:
            steps.append(Step(Action.PUSH, Kind.IMAGE, f"{want.repository_uri}:{want.image.tag}", want.service, (
                # Put again with every push to a repository made by an earlier run: a create interrupted before
                # its policy converges here, before any image could pile up (describe_repositories does not show
                # policies). A repository this plan makes gets its policy in the step just before.
                *([Call("ecr", "put_lifecycle_policy", {
                    "repositoryName": want.repository,
                    "lifecyclePolicyText": lifecycle_policy(),
                })] if ecr and not created else []),
                PushImage(want.service, want.image.image_id, want.repository_uri, want.image.tag,
                          digest=refs.image_digest(want.service)),
            ), f"from {want.source} (image {want.image.image_id[:19]}, not built)" if want.source
                else f"local image {want.image.image_id[:19]}"))
    return steps


def lifecycle_policy() -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1,
        "description": f"keep the last {LIFECYCLE_KEEP} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": LIFECYCLE_KEEP},
        "action": {"type": "expire"},
    }]}, sort_keys=True)
