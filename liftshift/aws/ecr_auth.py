"""Logging in to ECR's registry: the docker credentials ECR hands out for the account (valid 12 hours)."""

from __future__ import annotations

import base64

from .session import Aws


def ecr_login(aws: Aws, host: str) -> dict:
    """The auth config the docker SDK takes for a push to `host` (GetAuthorizationToken: "AWS:<password>")."""
    data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {"username": user, "password": password, "serveraddress": host}
