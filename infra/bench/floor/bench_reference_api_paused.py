"""The resolver's reference initialized the way our handlers are (commons.cold_start, commons.dynamodb):
Python's cyclic garbage collector paused until the end of init, then everything frozen, and the client
made with botocore alone, without boto3. What it still costs above the floor is the imports of
Powertools' resolver and pydantic themselves: the least an API function built on them can cost here,
before its own modules and its first DynamoDB call."""

from __future__ import annotations

import gc

gc.disable()

import os  # noqa: E402

import botocore.session  # noqa: E402
from bench_reference_resolver import handler  # noqa: E402

client = botocore.session.get_session().create_client(
    "dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None
)
gc.freeze()
gc.enable()

__all__ = ["handler"]
