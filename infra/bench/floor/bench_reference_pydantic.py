"""A reference point under the resolver's: boto3 and a DynamoDB client (the floor), plus pydantic and
the same response model as bench_reference_api.py, answering it as JSON, without Powertools. The
resolver's validation cannot cost less than this, so it bounds what any API function that validates
with pydantic can reach."""

from __future__ import annotations

import os
from typing import Any

import boto3
from bench_reference_models import Item, Items

client = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = Items(items=[Item(item_id="a", name="A", stock=1)]).model_dump_json()
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}
