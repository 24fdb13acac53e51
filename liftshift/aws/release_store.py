"""Reading the release records (model.releases) from the DynamoDB table the deploy locks live in.

The records are written only by planned calls (plan.fleet's record and forget
steps, run by the executor), so a plan shows every change to them; this module
is the one place that reads them outside a plan.
"""

from __future__ import annotations

from typing import Any

from ..model.names import TABLE
from ..model.releases import Release, from_item, item_key


def read_releases(dynamodb: Any, stack: str) -> list[Release]:
    """Every recorded release of the stack, oldest first; none when the table does not exist yet."""
    import botocore.exceptions

    try:
        item = dynamodb.get_item(TableName=TABLE, Key=item_key(stack), ConsistentRead=True).get("Item") or {}
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise
    return from_item(item)
