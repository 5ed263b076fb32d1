"""API Gateway's own answers: the ones it gives instead of the function's, with its exact bodies and
``x-amzn-ErrorType`` headers, so a client's error handling meets what it will meet in AWS."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response


def spelled(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Response headers for ``Response.raw_headers``, spelled as given: Starlette's own header methods
    lower-case names, and API Gateway's answers keep theirs (``x-amzn-RequestId``, a function's own)."""
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def extended_request_id(request_id: str) -> str:
    """API Gateway's other request id (``TWegAcC4EowCHnA=``): the event's ``extendedRequestId``."""
    return base64.b64encode(uuid.UUID(request_id).bytes[:11]).decode()


def request_id_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    """The two request ids API Gateway puts on every answer; ``x-amz-apigw-id`` is its extended one."""
    return spelled([("x-amzn-RequestId", request_id), ("x-amz-apigw-id", extended_request_id(request_id))])


class GatewayAnswer(Response):
    """One of API Gateway's own answers, not the function's: it gets the API's gateway responses."""


# Recorded against AWS: an integration failure's body is spaced JSON (36 bytes), the gateway responses'
# template-made bodies are compact.
_SPACED_MESSAGES = frozenset({"Internal server error"})


def gateway_error(status: int, error_type: str, body: dict[str, Any], request_id: str) -> Response:
    """One of API Gateway's own responses, byte-compatible: its JSON body and its error type header."""
    spaced = body.get("message") in _SPACED_MESSAGES
    answer = GatewayAnswer(
        content=json.dumps(body) if spaced else json.dumps(body, separators=(",", ":")), status_code=status
    )
    answer.raw_headers += [
        *spelled([("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)]),
        *request_id_headers(request_id),
    ]
    return answer


MISSING_TOKEN = (403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})
FORBIDDEN = (403, "ForbiddenException", {"message": "Forbidden"})
THROTTLED = (429, "TooManyRequestsException", {"message": "Too Many Requests"})
QUOTA_SPENT = (429, "LimitExceededException", {"message": "Limit Exceeded"})
UNAUTHORIZED = (401, "UnauthorizedException", {"message": "Unauthorized"})
EXPLICIT_DENY = (
    403,
    "AccessDeniedException",
    {"Message": "User is not authorized to access this resource with an explicit deny"},
)
NOT_ALLOWED = (403, "AccessDeniedException", {"Message": "User is not authorized to access this resource"})
AUTHORIZER_FAILED = (500, "AuthorizerConfigurationException", {"message": None})
BAD_GATEWAY = (502, "InternalServerErrorException", {"message": "Internal server error"})
TIMED_OUT = (504, "IntegrationTimeoutException", {"message": "Endpoint request timed out"})
# REQUEST_TOO_LARGE's status and message; unlike the answers above, its error type name is not verified.
TOO_LARGE = (413, "RequestEntityTooLargeException", {"message": "Request Too Long"})


class Rejected(Exception):
    """Lets any step of the request pipeline end it with one of the answers above, without each step
    passing a response back."""

    def __init__(self, answer: tuple[int, str, dict[str, Any]]) -> None:
        super().__init__(answer[2])
        self.answer = answer
