"""The cold-start floor: a function that only imports boto3 and creates a DynamoDB client.

Every function of the system needs at least this much, so a function's cold start is measured as a
ratio to this one, run in the same worker the same way (infra/bench/coldstart.py).
"""

from __future__ import annotations

import os
from typing import Any

import boto3

client = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None)


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"ok": True}
