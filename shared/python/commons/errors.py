"""Domain errors: raised by domain logic and repositories, mapped to HTTP in one place (commons.api)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An error the caller can act on. ``status`` is the HTTP status it maps to."""

    status: int = 400

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class UnsupportedMediaType(DomainError):
    status = 415

    def __init__(self, content_type: str) -> None:
        super().__init__(f"The request body must be application/json, not {content_type!r}")


class Unprocessable(DomainError):
    status = 422


class ServiceBusy(DomainError):
    """DynamoDB still refused the request after the SDK's retries (throttled, or the item in another request's
    transaction): the client may retry shortly."""

    status = 503


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong: raised at init, never per request."""
