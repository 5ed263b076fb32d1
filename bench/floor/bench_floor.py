"""The cold-start floor: a function that only imports boto3 and creates a DynamoDB client.

Every function of the system needs at least this much, so a function's cold start is also shown as a
ratio to this one, run in the same worker the same way (bench/coldstart.py). The client is made
as the functions and the reference functions make theirs (module level, no arguments), so the floor is
exactly what they all share; making it reaches no endpoint, so where DynamoDB is does not matter here.
"""

from typing import Any

import boto3

client = boto3.client("dynamodb")


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"ok": True}
