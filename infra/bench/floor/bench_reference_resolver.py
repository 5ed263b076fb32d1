"""Powertools' REST resolver with validation on and one route answering a pydantic model: what the two API
reference functions (bench_reference_api.py, bench_reference_api_paused.py) add to their DynamoDB client."""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from bench_reference_models import Item, Items

app = APIGatewayRestResolver(enable_validation=True)


@app.get("/items")
def list_items() -> Items:
    return Items(items=[Item(item_id="a", name="A", stock=1)])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
