"""A reference point for API functions: boto3 and a DynamoDB client (the floor), plus Powertools'
REST resolver with validation on and one route answering a pydantic model. Its cold start is what
the issue calls "a plain Powertools API function with validation"."""

from __future__ import annotations

import os

import boto3
from bench_reference_resolver import handler

client = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None)

__all__ = ["handler"]
