"""Unit tests never reach the network: pytest-socket blocks it (`--disable-socket`), moto stands in for AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.aws import dynamodb_client


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        dynamodb_client.cache_clear()
        yield
        dynamodb_client.cache_clear()
