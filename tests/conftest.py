"""Settings every test shares: no real AWS credentials, no tracing, a metrics namespace; and one
DynamoDB Local per session for the tests that ask for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local_runtime.dynamodb_local import DUMMY_CREDENTIALS, DynamoDBLocal
from tests.aws import ENDPOINT, dynamodb_client

os.environ.update(DUMMY_CREDENTIALS)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """A DynamoDB Local on a free loopback port, stopped (no process left) when the session ends;
    `tests.aws.dynamodb_client()` points at it meanwhile."""
    with DynamoDBLocal() as database:
        previous = os.environ.get(ENDPOINT)
        os.environ[ENDPOINT] = database.endpoint
        dynamodb_client.cache_clear()
        yield database
        dynamodb_client.cache_clear()
        if previous is None:
            os.environ.pop(ENDPOINT, None)
        else:
            os.environ[ENDPOINT] = previous
