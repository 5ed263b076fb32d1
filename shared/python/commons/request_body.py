"""Request bodies as JSON, for the resolver (commons.api) and for functions that parse events themselves."""

from __future__ import annotations

import json
from typing import Any


def parse_json(text: str | bytes) -> Any:
    """``json.loads``, except that a body nested deeper than the parser can recurse is a
    ``JSONDecodeError`` like any other malformed body (a 400), not a ``RecursionError`` (a 500)."""
    try:
        return json.loads(text)
    except RecursionError:
        doc = text if isinstance(text, str) else text.decode(errors="replace")
        raise json.JSONDecodeError("nested too deeply", doc, 0) from None
