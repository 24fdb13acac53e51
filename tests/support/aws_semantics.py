"""AWS's client-token semantics for the in-process moto server (moto ignores ClientToken).

EC2 keeps a client token after its instance has ended ("A client token is valid for at least 24 hours after
the termination of the instance"): the same token with the same parameters returns the original reservation,
whatever state its instances are in now; the same token with other parameters fails with
IdempotentParameterMismatch ("Ensuring idempotency in Amazon EC2 API requests",
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). CreateLaunchTemplate takes a client
token the same way; here it answers with the original template.

`install()` wraps moto's EC2 response handlers `run_instances` and `create_launch_template` (class-level, so
every request of the ThreadedMotoServer in this process goes through it). Tokens are remembered per account
and region on the EC2 backend object, so `POST /moto-api/reset` forgets them with everything else. Requests
without a token (moto's default "ABCDE") are passed through. `seen` counts the repeats answered from memory.
"""
from __future__ import annotations

import threading
from typing import Any

MISMATCH = "Arguments on this idempotent request are inconsistent with arguments used in previous request(s)."

_lock = threading.Lock()
_installed: dict[str, Any] = {}
seen = {"repeats": 0, "mismatches": 0}


def _params(handler) -> Any:
    """The request's parameters but the token (moto's parsed querystring for EC2's query protocol)."""
    return sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in handler.querystring.items()
                  if k not in ("ClientToken",))


def _idempotent(operation: str, original):
    def handler(self):
        from moto.core.responses import ActionResult
        from moto.ec2.exceptions import EC2ClientError

        token = self._get_param("ClientToken")
        if not token or token == "ABCDE":
            return original(self)
        backend = self.ec2_backend
        with _lock:
            memory = backend.__dict__.setdefault("_liftshift_client_tokens", {})
            params = _params(self)
            earlier = memory.get((operation, token))
            if earlier is not None:
                if earlier[0] != params:
                    seen["mismatches"] += 1
                    raise EC2ClientError("IdempotentParameterMismatch", MISMATCH)
                seen["repeats"] += 1
                return ActionResult(earlier[1])  # the original result: a reservation shows its instances' state now
            result = original(self)
            memory[(operation, token)] = (params, result.result if isinstance(result, ActionResult) else result)
            return result

    handler.__wrapped__ = original
    return handler


def install() -> None:
    """Give the moto server in this process AWS's client-token semantics (idempotent: installs once)."""
    from moto.ec2.responses.instances import InstanceResponse
    from moto.ec2.responses.launch_templates import LaunchTemplates

    with _lock:
        if _installed:
            return
        for cls, operation in ((InstanceResponse, "run_instances"), (LaunchTemplates, "create_launch_template")):
            original = getattr(cls, operation)
            _installed[operation] = (cls, original)
            setattr(cls, operation, _idempotent(operation, original))


def uninstall() -> None:
    with _lock:
        for operation, (cls, original) in _installed.items():
            setattr(cls, operation, original)
        _installed.clear()
