"""The registry a stack's images are pushed to and its instances pull from: pure data.

Apart from desired.py (which re-exports it) so that `validate`, which renders each service's user-data for a
registry (spec/limits.py), does not load the desired stack's dataclasses and their hashing.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import names


@dataclass(frozen=True)
class Registry:
    host: str
    is_ecr: bool

    def repository_uri(self, stack: str, service: str) -> str:
        return f"{self.host}/{names.repository(stack, service)}"


def ecr_registry(account: str, region: str) -> Registry:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return Registry(f"{account}.dkr.ecr.{region}.{suffix}", is_ecr=True)
