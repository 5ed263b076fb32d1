"""Local runtime tests that need a real DynamoDB Local share one, started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from commons import dynamodb
from infra.local.dynamodb_local import DynamoDBLocal


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal() as database:
        previous = os.environ.get("DYNAMODB_ENDPOINT_URL")
        os.environ["DYNAMODB_ENDPOINT_URL"] = database.endpoint
        dynamodb.client.cache_clear()
        yield database
        dynamodb.client.cache_clear()
        if previous is None:
            os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
        else:
            os.environ["DYNAMODB_ENDPOINT_URL"] = previous
