"""Request bodies as JSON: the resolver's body deserializer (commons.api)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

JSON_MEDIA_TYPE = "application/json"


def is_json(content_type: str | None) -> bool:
    """Whether a body sent with this Content-Type is JSON: none given, or application/json (any parameters)."""
    return (content_type or "").split(";", 1)[0].strip().lower() in ("", JSON_MEDIA_TYPE)


def parse_json(text: str | bytes, parse_float: Callable[[str], Any] | None = None) -> Any:
    """``json.loads``, except that every body it refuses is a ``JSONDecodeError`` (a 400). Besides that,
    it raises a ``RecursionError`` for nesting deeper than it can recurse, a ``UnicodeDecodeError`` for
    bytes that are not UTF-8, a ``ValueError`` for an integer longer than Python converts (4,300
    digits by default), and, with ``parse_float=Decimal``, ``decimal.InvalidOperation`` (an
    ``ArithmeticError``) for an exponent beyond what a decimal holds (``1e9999999999999999999``): each
    would otherwise be answered 500. ``parse_float`` as for ``json.loads``."""
    try:
        return json.loads(text, parse_float=parse_float)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError, ArithmeticError) as error:
        if isinstance(error, RecursionError):
            reason = "nested too deeply"
        elif isinstance(error, UnicodeDecodeError):
            reason = "not UTF-8"
        elif isinstance(error, ArithmeticError):
            reason = "a number's exponent is out of range"
        else:
            reason = "a number has too many digits"
        doc = text if isinstance(text, str) else text.decode(errors="replace")
        raise json.JSONDecodeError(reason, doc, 0) from None
