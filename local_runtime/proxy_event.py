"""The Lambda proxy event (payload 1.0) as API Gateway REST builds it from a request.

Its keys, their types and their spelling are those of events API Gateway sent, recorded against AWS
(tests/fixtures/aws/, compared by tests/local_runtime/test_parity_gateway.py): header names as the
client wrote them, ``Content-Length`` and ``Connection`` left out, ``X-Forwarded-*`` and
``X-Amzn-Trace-Id`` added; the path and path parameters percent-encoded as sent; ``;`` separating
query parameters as ``&`` does.
"""

from __future__ import annotations

import fnmatch
import functools
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import Scope

from local_runtime.assembly import ACCOUNT
from local_runtime.gateway_errors import extended_request_id
from local_runtime.server import RAW_HEADER_NAMES

# API Gateway does not pass these on to the function (recorded: a POST's event has neither).
_DROPPED_HEADERS = frozenset({"content-length", "connection"})


@functools.cache
def short_id(name: str, length: int = 6) -> str:
    """The stable id API Gateway gives a named thing (an API, a resource, a deployment), derived from its name."""
    return uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:length]


def raw_path(scope: Scope) -> str:
    """The path as the client sent it, percent-encoding kept (API Gateway does not decode it)."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else str(scope["path"])


def _media_type(header: str | None) -> str:
    """``Image/PNG; q=0.9, text/html`` -> ``image/png``: the first type of the header, bare."""
    return (header or "").split(",", 1)[0].split(";", 1)[0].strip().lower()


def is_binary(header: str | None, binary_media_types: tuple[str, ...]) -> bool:
    media_type = _media_type(header)
    return bool(media_type) and any(fnmatch.fnmatchcase(media_type, t.lower()) for t in binary_media_types)


@dataclass(frozen=True)
class EventStage:
    """What the event says about the API and its stage."""

    api_id: str
    stage: str
    stage_variables: Mapping[str, str]
    server_port: int


@dataclass(frozen=True)
class EventRequest:
    """One request, matched to its resource."""

    request: Request
    resource: str
    path: str
    path_params: Mapping[str, str]
    request_id: str
    started: float


def _headers(request: Request, server_port: int) -> dict[str, list[str]]:
    spellings: Mapping[str, str] = request.scope.get("extensions", {}).get(RAW_HEADER_NAMES) or {}
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        if name not in _DROPPED_HEADERS:
            headers.setdefault(spellings.get(name, name), []).append(value)
    client = request.client.host if request.client else "127.0.0.1"
    forwarded = request.headers.get("x-forwarded-for")
    headers[spellings.get("x-forwarded-for", "X-Forwarded-For")] = [
        f"{forwarded}, {client}" if forwarded else client
    ]
    headers[spellings.get("x-forwarded-port", "X-Forwarded-Port")] = [str(server_port)]
    headers[spellings.get("x-forwarded-proto", "X-Forwarded-Proto")] = [request.scope["scheme"]]
    if "x-amzn-trace-id" not in request.headers:
        headers["X-Amzn-Trace-Id"] = [f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"]
    return headers


def request_fields(call: EventRequest, stage: EventStage, api_key: tuple[str, str] | None) -> dict[str, Any]:
    """The proxy event's fields but the body and the authorizer's context: what a REQUEST authorizer
    is given too. ``api_key`` is the caller's key and its id, when it sent one of the stage's."""
    request = call.request
    multi_headers = _headers(request, stage.server_port)
    multi_query: dict[str, list[str]] = {}
    query = request.scope["query_string"].decode("latin-1")
    for name, value in parse_qsl(query.replace(";", "&"), keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    identity: dict[str, Any] = {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": request.client.host if request.client else "127.0.0.1",
        "user": None,
        "userAgent": request.headers.get("user-agent"),
        "userArn": None,
    }
    if api_key is not None:
        identity["apiKey"], identity["apiKeyId"] = api_key
    domain = request.headers.get("host") or f"127.0.0.1:{stage.server_port}"
    return {
        "resource": call.resource,
        "path": call.path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {n: v[-1] for n, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(call.path_params) or None,
        "stageVariables": dict(stage.stage_variables) or None,
        "requestContext": {
            "resourceId": short_id(call.resource),
            "resourcePath": call.resource,
            "httpMethod": request.method,
            "extendedRequestId": extended_request_id(call.request_id),
            "requestTime": datetime.fromtimestamp(call.started, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage.stage}{call.path}",
            "accountId": ACCOUNT,
            "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
            "stage": stage.stage,
            "domainPrefix": domain.split(".", 1)[0].split(":", 1)[0],
            "requestTimeEpoch": int(call.started * 1000),
            "requestId": call.request_id,
            "identity": identity,
            "domainName": domain,
            "deploymentId": short_id(f"{stage.api_id}/{stage.stage}"),
            "apiId": stage.api_id,
        },
    }
