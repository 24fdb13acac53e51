"""The one place that makes boto3 sessions and clients.

Region and credentials are resolved here, once, so every other module gets
ready clients passed in. `AWS_ENDPOINT_URL` (boto3's own setting) points the
clients at an emulator; retries use botocore's standard mode unless the user
chose a mode or attempt count through `AWS_RETRY_MODE` / `AWS_MAX_ATTEMPTS`.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import BadInput

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Lookup")
# Connections each client keeps (botocore's default is 10): a run makes up to --parallel calls to one service at
# once, and a full pool would open and drop a connection per call (urllib3's "Connection pool is full" warning).
POOL = 32


class AwsSetupError(BadInput):
    """No region or no usable credentials: bad input, exit code 2."""


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


class ServiceUnavailable(AwsSetupError):
    """The AWS endpoint does not offer a service the stack needs (an emulator without it): exit code 2."""


# How an endpoint that lacks a whole service answers. LocalStack's free edition, for ECR, ELBv2 and Auto
# Scaling: HTTP 501, InternalFailure, "The API for service '...' is either not included in your current license
# plan or has not yet been emulated by LocalStack". AWS itself has every service liftshift uses in every region.
_ABSENT_SERVICE_HINTS = ("license plan", "not yet been emulated", "not yet implemented", "pro feature")


def service_unavailable(exc: Exception) -> bool:
    """Whether a failed call says the endpoint has no such service at all (not a transient or access error)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    error = response.get("Error") or {}
    message = str(error.get("Message", "")).lower()
    return (error.get("Code") in ("InternalFailure", "NotImplemented", "InternalError")
            and any(hint in message for hint in _ABSENT_SERVICE_HINTS))


@dataclass
class CallLog:
    """Counts API calls by service and operation (benchmarks, tests, --verbose)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    retries: list[tuple[str, str, int]] = field(default_factory=list)  # (service, operation, attempt)

    def record(self, service: str, operation: str) -> None:
        self.calls.append((service, operation))

    def by_operation(self) -> Counter:
        return Counter(f"{s}:{o}" for s, o in self.calls)

    def mutating(self) -> list[str]:
        return [f"{s}:{o}" for s, o in self.calls if is_mutating(o)]

    def stack_changes(self) -> list[str]:
        """Mutating calls that change AWS resources: all but DynamoDB's (the deploy lock and release records)."""
        return [c for c in self.mutating() if not c.startswith("dynamodb:")]

    def reads(self) -> list[str]:
        return [f"{s}:{o}" for s, o in self.calls if not is_mutating(o)]


class Aws:
    """A boto3 session for one region, handing out cached clients."""

    def __init__(self, region: str | None = None, profile: str | None = None, call_log: CallLog | None = None,
                 *, endpoint_url: str | None = None, credentials: tuple[str, str] | None = None,
                 on_retry: Callable[[str, str, int], None] | None = None):
        import boto3
        import botocore.exceptions

        # botocore reads AWS_DEFAULT_REGION and the profile; AWS_REGION is the newer SDK-wide name.
        region = region or os.environ.get("AWS_REGION") or None
        try:
            keys = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]} if credentials else {}
            self.session = boto3.Session(profile_name=profile, region_name=region, **keys)
        except botocore.exceptions.ProfileNotFound:
            raise AwsSetupError(f"AWS profile {profile!r} is not configured (see ~/.aws/config)") from None
        self.region = self.session.region_name
        if not self.region:
            raise AwsSetupError(
                "no AWS region: set 'region:' in app.yaml, pass --region, or set AWS_REGION / AWS_DEFAULT_REGION"
            )
        if self.session.get_credentials() is None:
            raise AwsSetupError(
                "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "or run on a machine with an instance role"
            )
        self.call_log = call_log
        self.on_retry = on_retry
        self.endpoint_url = endpoint_url  # else boto3's own AWS_ENDPOINT_URL handling applies
        self._clients: dict[str, Any] = {}
        self._account: str | None = None
        # A client may be used by several threads at once (the executor's workers), but a boto3 Session may not
        # make clients from several at once ("Session objects are not thread safe", boto3's guide to
        # multithreading: https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html).
        self._making = threading.Lock()

    def client(self, name: str) -> Any:
        with self._making:
            return self._client(name)

    def _client(self, name: str) -> Any:
        if name not in self._clients:
            from botocore.config import Config

            options: dict[str, Any] = {"user_agent_extra": "liftshift", "max_pool_connections": POOL}
            if not (os.environ.get("AWS_RETRY_MODE") or os.environ.get("AWS_MAX_ATTEMPTS")):
                options["retries"] = {"mode": "standard", "max_attempts": 6}
            client = self.session.client(name, config=Config(**options), endpoint_url=self.endpoint_url)
            service = name
            log = self.call_log
            current = threading.local()  # the logical call in progress on this thread and its attempts

            def _call(model, **_kwargs):  # before-call fires once per API call, not per retry
                current.operation, current.attempt = model.name, 0
                if log is not None:
                    log.record(service, model.name)

            def _attempt(**_kwargs):  # before-send fires for every HTTP attempt
                current.attempt = getattr(current, "attempt", 0) + 1
                if current.attempt > 1:
                    operation = getattr(current, "operation", "?")
                    if log is not None:
                        log.retries.append((service, operation, current.attempt))
                    if self.on_retry is not None:
                        self.on_retry(service, operation, current.attempt)

            client.meta.events.register("before-call", _call)
            client.meta.events.register("before-send", _attempt)
            self._clients[name] = client
        return self._clients[name]

    def account_id(self) -> str:
        """The account, via STS: also proves the credentials work before anything else runs."""
        if self._account is None:
            import botocore.exceptions

            try:
                self._account = self.client("sts").get_caller_identity()["Account"]
            except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as exc:
                raise AwsSetupError(f"AWS credentials are incomplete: {exc}") from None
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied",
                            "UnrecognizedClientException"):
                    raise AwsSetupError(f"AWS rejected the credentials ({code}): {exc}") from None
                raise
            except botocore.exceptions.EndpointConnectionError as exc:
                raise AwsSetupError(f"cannot reach AWS: {exc}") from None
        return self._account
