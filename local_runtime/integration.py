"""The Lambda proxy integration's side of the gateway: its timeout, the payload limit Lambda keeps, and
the answer API Gateway accepts from the function (payload 1.0) and turns into the HTTP response.

An answer of the wrong shape, or one too large, is API Gateway's 502, not the function's: clients meet
that in AWS, so they meet it here.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.responses import Response

from local_runtime.functions import Invocation
from local_runtime.gateway_errors import BAD_GATEWAY, TIMED_OUT, gateway_error, request_id_headers, spelled

INTEGRATION_TIMEOUT_S = 29.0
RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
MAX_INVOKE_BYTES = (
    6 * 1024 * 1024
)  # Lambda's synchronous invoke payload (event; the answer may be 100 bytes more)


def as_text(value: Any) -> str:
    """A JSON value as API Gateway writes it into a header or an authorizer context: ``true``, ``3``."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def too_large(body: Any, payload: Any, limit: int) -> bool:
    """Whether ``payload`` as JSON exceeds ``limit`` bytes (measured only when its body could make it)."""
    return isinstance(body, str) and len(body) > limit // 2 and len(json.dumps(payload).encode()) > limit


def timed_out(invocation: Invocation) -> bool:
    return (invocation.error or {}).get("errorType") == "Sandbox.Timedout"


def integration_response(
    invocation: Invocation, request_id: str, binary: bool, integration_timeout_s: float
) -> Response:
    """The function's answer as API Gateway returns it. A base64 body is decoded only when the request's
    first Accept type is a binary media type of the API; otherwise the client gets the base64 text."""
    if timed_out(invocation) and invocation.duration_ms >= integration_timeout_s * 1000 - 50:
        return gateway_error(*TIMED_OUT, request_id)
    result = invocation.result
    if (
        not invocation.ok
        or not _valid_proxy_response(result)
        or too_large(result.get("body"), result, MAX_INVOKE_BYTES + 100)  # Lambda fails the invoke
    ):
        return gateway_error(*BAD_GATEWAY, request_id)
    body = result.get("body")
    content: bytes = b""
    if body is not None:
        try:
            content = (
                base64.b64decode(body, validate=True)
                if result.get("isBase64Encoded") and binary
                else str(body).encode()
            )
        except binascii.Error:
            return gateway_error(*BAD_GATEWAY, request_id)
    # Both header maps reach the client, a name's multi values first, under its first spelling (recorded).
    merged: dict[str, tuple[str, list[str]]] = {}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        merged.setdefault(name.lower(), (name, []))[1].extend(as_text(value) for value in values)
    for name, value in (result.get("headers") or {}).items():
        merged.setdefault(name.lower(), (name, []))[1].append(as_text(value))
    if "content-type" not in merged:
        merged["content-type"] = ("Content-Type", ["application/json"])  # API Gateway's default
    response = Response(content=content, status_code=int(result.get("statusCode", 200)))
    response.raw_headers += [
        *spelled((name, value) for name, values in merged.values() for value in values),
        *request_id_headers(request_id),
    ]
    return response


def _valid_proxy_response(result: Any) -> bool:
    # Recorded: an answer of headers alone is a 200, an empty one a 502.
    if not isinstance(result, dict) or not result or not set(result) <= RESPONSE_KEYS:
        return False
    status = result.get("statusCode", 200)
    if isinstance(status, bool) or not isinstance(status, int | str) or not str(status).isdigit():
        return False
    if not 100 <= int(status) <= 599:
        return False
    headers, multi = result.get("headers"), result.get("multiValueHeaders")
    if headers is not None and not isinstance(headers, dict):
        return False
    if multi is not None and (
        not isinstance(multi, dict) or not all(isinstance(v, list) for v in multi.values())
    ):
        return False
    body = result.get("body")
    return body is None or isinstance(body, str)
