"""What EC2 would read for an instance with its role (its user-data, its secrets), read in the local rehearsal
from the emulator, for the stand-in hosts (standin.py) and their in-place releases."""

from __future__ import annotations

import base64

from ...errors import LiftshiftError


class BootFailed(LiftshiftError):
    """An instance's user-data failed on its stand-in host: the deployment failed (exit 1)."""


def read_user_data(aws, instance: str) -> bytes:
    """The user-data EC2 received for `instance` (empty when it has none)."""
    attr = aws.client("ec2").describe_instance_attribute(InstanceId=instance, Attribute="userData")
    return base64.b64decode(attr.get("UserData", {}).get("Value", ""))


def read_secrets(aws, secrets: dict[str, str]) -> dict[str, str]:
    """The secrets' values, as EC2 would read them with the instance role: from the emulator."""
    import json

    import botocore.exceptions

    from ...spec.grammar import parse_secret

    values = {}
    for name, ref in secrets.items():
        kind, ident, key = parse_secret(ref)
        try:
            if kind == "ssm":
                value = aws.client("ssm").get_parameter(Name=ident, WithDecryption=True)["Parameter"]["Value"]
            else:
                value = aws.client("secretsmanager").get_secret_value(SecretId=ident)["SecretString"]
                if key is not None:
                    value = str(json.loads(value)[key])
        except (botocore.exceptions.ClientError, ValueError, KeyError) as exc:
            raise BootFailed(
                f"secret {name} ({ref}) cannot be read from the local emulator ({type(exc).__name__}); store it "
                "there first, e.g. AWS_ENDPOINT_URL=$(liftshift local endpoint) aws ssm put-parameter ..."
            ) from None
        values[name] = value
    return values
