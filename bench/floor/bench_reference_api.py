"""The reference for API functions (kind "api"): the floor's DynamoDB client, plus Powertools' Logger and
Metrics and its REST resolver with validation serving one GET route that answers a pydantic model and
publishes one metric, written as Powertools' documentation writes them (REST API event handler, data
validation, Logger, Metrics) and nothing of this project's. An API function's cold start is measured over
this one's: what our own code costs over the libraries it is built on (bench/coldstart.py).

No ``from __future__ import annotations``: the resolver reads the route's return annotation and pydantic
the model's fields at cold start, and our functions write theirs unquoted too, so neither side pays for
evaluating strings that the other does not.
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

client = boto3.client("dynamodb")
logger = Logger()
metrics = Metrics(namespace="BenchReference")
app = APIGatewayRestResolver(enable_validation=True)


class Item(BaseModel):
    item_id: str
    name: str
    stock: int


class Items(BaseModel):
    items: list[Item]


@app.get("/items")
def list_items() -> Items:
    metrics.add_metric(name="ItemsListed", unit=MetricUnit.Count, value=1)
    return Items(items=[Item(item_id="a", name="A", stock=1)])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
