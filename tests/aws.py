"""The tests' own DynamoDB client: boto3's, made as the functions make theirs. boto3 reads the endpoint
from AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local) or finds moto's mock in place of AWS."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3

from commons.dynamodb import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ENDPOINT = "AWS_ENDPOINT_URL_DYNAMODB"


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=CLIENT_CONFIG)
