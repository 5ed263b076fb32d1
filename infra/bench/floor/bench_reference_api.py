"""A reference point for API functions: boto3 and a DynamoDB client (the floor), plus Powertools'
REST resolver with validation on and one route answering a pydantic model. Its cold start is what
the issue calls "a plain Powertools API function with validation"."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from bench_reference_models import Item, Items

client = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None)
app = APIGatewayRestResolver(enable_validation=True)


@app.get("/items")
def list_items() -> Items:
    return Items(items=[Item(item_id="a", name="A", stock=1)])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
