"""The one REST resolver factory: validation on, CORS, and RFC 9457 problem responses.

Every error a route can produce because of its input is a 4xx with an
``application/problem+json`` body; only a bug in our code answers 500.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseContentModel

from commons.dynamodb import retry_later
from commons.errors import DomainError, UnsupportedMediaType
from commons.models import ApiModel, ProblemDetails
from commons.observability import logger
from commons.problems import PROBLEM_JSON, json_pointer, problem_document
from commons.request_body import is_json, parse_json


def problem(
    status: int, detail: str, instance: str | None = None, extensions: Mapping[str, Any] | None = None
) -> Response[Any]:
    """An RFC 9457 problem response."""
    body = problem_document(status, detail, instance, extensions)
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body))


def documented_responses(
    model: type[object],
    problem_model: type[ProblemDetails],
    reasons: Mapping[int, str],
    errors: Iterable[int],
    status: int = 200,
) -> dict[int, OpenAPIResponse]:
    """A route's OpenAPI responses: its success, and a problem document for each error it can answer.
    422 is always among them: Powertools documents one on every validated route, in its own shape, where
    ours answers a problem document (``reasons`` must say why)."""
    success: OpenAPIResponseContentModel = {"model": model}
    problem_content: OpenAPIResponseContentModel = {"model": problem_model}
    documented: dict[int, OpenAPIResponse] = {
        status: {"description": model.__doc__ or model.__name__, "content": {"application/json": success}}
    }
    for error in sorted({*errors, 422}):
        documented[error] = {"description": reasons[error], "content": {PROBLEM_JSON: problem_content}}
    return documented


def _pointer(location: tuple[Any, ...]) -> str:
    """('body', 'items', 0, 'quantity') -> '/items/0/quantity'; query and path parameters keep their source."""
    source, *rest = location or ("body",)
    prefix = "" if source == "body" else f"#{source}"
    return prefix + json_pointer(*rest)


def validation_problem(error: RequestValidationError, instance: str | None) -> Response[Any]:
    for item in error.errors():
        if item.get("type") == "json_invalid":
            reason = item.get("ctx", {}).get("error", "malformed")
            return problem(400, f"The request body is not valid JSON ({reason})", instance)
    errors = [
        {"pointer": _pointer(tuple(item.get("loc", ()))), "detail": item["msg"]} for item in error.errors()
    ]
    summary = "; ".join(f"{e['pointer'] or '/'}: {e['detail']}" for e in errors[:5])
    return problem(422, f"The request is invalid: {summary}", instance, {"errors": errors})


def create_resolver(
    allow_headers: list[str] | None = None,
    expose_headers: list[str] | None = None,
    parse_float: Callable[[str], Any] | None = None,
) -> APIGatewayRestResolver:
    """``allow_headers``: request headers a browser may send besides the usual ones; ``expose_headers``:
    response headers of ours that a browser's script may read (CORS hides all but a safelisted few);
    ``parse_float``: how JSON bodies' decimal numbers are read (``json.loads``' own parameter)."""
    origin = os.environ.get("CORS_ALLOW_ORIGIN", "*")
    headers = ["Authorization", "Content-Type", "x-api-key", *(allow_headers or [])]
    app = APIGatewayRestResolver(
        enable_validation=True,
        cors=CORSConfig(allow_origin=origin, allow_headers=headers, expose_headers=expose_headers),
        json_body_deserializer=partial(parse_json, parse_float=parse_float),
    )

    def request_path() -> str:
        return str(app.current_event.path)

    def on_domain_error(error: DomainError) -> Response[Any]:
        return problem(error.status, error.detail, request_path(), error.extensions)

    def content_type() -> str:
        return str(app.current_event.headers.get("content-type") or "")

    def on_validation_error(error: RequestValidationError) -> Response[Any]:
        # Powertools also reads form bodies; to this JSON API they are the wrong media type, not bad fields.
        if not is_json(content_type()) and any(e.get("loc", ("",))[0] == "body" for e in error.errors()):
            return on_domain_error(UnsupportedMediaType(content_type()))
        return validation_problem(error, request_path())

    def on_unsupported_content_type(_: RequestUnsupportedContentType) -> Response[Any]:
        return on_domain_error(UnsupportedMediaType(content_type()))

    def on_value_error(error: ValueError) -> Response[Any]:
        # Powertools' validation raises a bare ValueError for a multipart body without a boundary (it wraps
        # every other parse failure); to this JSON API any non-JSON body is the wrong media type, not a 500.
        if not is_json(content_type()):
            return on_domain_error(UnsupportedMediaType(content_type()))
        return on_unexpected(error)

    def on_service_error(error: ServiceError) -> Response[Any]:
        return problem(error.status_code, str(error.msg), request_path())

    def on_not_found(_: Exception) -> Response[Any]:
        return problem(404, "No such route", request_path())

    def on_unexpected(error: Exception) -> Response[Any]:
        busy = retry_later(error)
        if busy is not None:
            logger.warning("DynamoDB asked for a retry", extra={"error": str(error)})
            return on_domain_error(busy)
        logger.exception("Unhandled error")
        return problem(500, "An unexpected error occurred; it has been logged", request_path())

    # Powertools picks the handler of the closest class in the exception's MRO.
    app.exception_handler(DomainError)(on_domain_error)
    app.exception_handler(RequestValidationError)(on_validation_error)
    app.exception_handler(RequestUnsupportedContentType)(on_unsupported_content_type)
    app.exception_handler(ValueError)(on_value_error)
    app.exception_handler(ServiceError)(on_service_error)
    app.not_found(on_not_found)
    app.exception_handler(Exception)(on_unexpected)
    return app


def prime(app: APIGatewayRestResolver) -> None:
    """A SnapStart before-snapshot hook: build now what Powertools and pydantic would otherwise build in the
    first request, so that it is in the snapshot: every route's parameters and body (walked by generating the
    OpenAPI schema) and every wire model's validator and serializer (``defer_build`` leaves them to first use)."""
    app.get_openapi_schema()
    for model in _subclasses(ApiModel):
        model.model_rebuild(force=True)


def _subclasses(model: type[ApiModel]) -> set[type[ApiModel]]:
    found = set(model.__subclasses__())
    return found.union(*(_subclasses(subclass) for subclass in found))
