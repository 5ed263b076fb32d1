"""Builders for the events Lambda receives, shaped as AWS sends them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb: str = "256"  # a string, as Lambda's Python runtime passes it
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def lambda_context() -> Any:
    return FakeLambdaContext(aws_request_id=str(uuid.uuid4()))


def rest_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    request_id: str = "request-1",
) -> dict[str, Any]:
    """An API Gateway REST proxy event (payload v1)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    authorizer: dict[str, Any] | None = {"claims": claims} if claims else None
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": "test",
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/test{path}",
            "requestTimeEpoch": 0,
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def stream_record(
    event_name: str,
    keys: dict[str, Any],
    new_image: dict[str, Any] | None = None,
    old_image: dict[str, Any] | None = None,
    sequence_number: str = "1",
    table_arn: str = "arn:aws:dynamodb:us-east-1:123456789012:table/test",
) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it (images already in DynamoDB JSON)."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1_700_000_000,
        "Keys": keys,
        "SequenceNumber": sequence_number,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new_image is not None:
        dynamodb["NewImage"] = new_image
    if old_image is not None:
        dynamodb["OldImage"] = old_image
    return {
        "eventID": f"event-{sequence_number}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": f"{table_arn}/stream/2026-01-01T00:00:00.000",
        "dynamodb": dynamodb,
    }


def stream_handler(record_handler: Any) -> Any:
    """A stream function's handler around ``record_handler`` (what the stream handler modules do with their
    own flow), for tests that wire the flow to their own tables and provider."""
    from commons.streams import process_stream, stream_processor

    processor = stream_processor()

    def handler(event: dict[str, Any], context: Any) -> Any:
        return process_stream(event, record_handler, processor, context)

    return handler
