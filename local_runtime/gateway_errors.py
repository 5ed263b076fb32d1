"""API Gateway's own answers: the ones it gives instead of the function's, with its exact bodies and
``x-amzn-ErrorType`` headers, so a client's error handling meets what it will meet in AWS."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def gateway_error(status: int, error_type: str, body: dict[str, Any], request_id: str) -> Response:
    """One of API Gateway's own responses, byte-compatible: compact JSON and its error type header."""
    return Response(
        content=json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id},
    )


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
