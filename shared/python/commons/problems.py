"""RFC 9457 problem documents and JSON pointers, without any web framework: the resolver (commons.api)
answers with them, and the pure domain names fields with the same pointers."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


def problem_document(
    status: int, detail: str, instance: str | None = None, extensions: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The problem document; extension members never replace the standard ones."""
    body: dict[str, Any] = {**(extensions or {})}
    body |= {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return body


def json_pointer(*parts: object) -> str:
    """An RFC 6901 pointer, ``("items", 0)`` -> ``/items/0``, with '~' and '/' inside a part escaped."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)
