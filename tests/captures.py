"""Events and answers AWS produced, kept as data under tests/fixtures/aws/ (their sources: SOURCES.md),
and the structural comparison the parity tests make with them."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

CAPTURES = Path(__file__).parent / "fixtures" / "aws"
# LocalStack's snapshots replace values that change from run to run with "<name>" or "<name:n>".
_PLACEHOLDER = re.compile(r"^<[^<>]+>$")


@cache
def _read(name: str) -> str:
    return (CAPTURES / name).read_text(encoding="utf-8")


def capture(name: str) -> Any:
    """A fresh copy of one kept capture, by file name."""
    return json.loads(_read(name))


def json_type(value: Any) -> str:
    """A value's JSON type, as the captures can tell them apart: 1 and 1.0 are both numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape_differences(ours: Any, recorded: Any, where: str = "$") -> list[str]:
    """Where ``ours`` differs from ``recorded`` in keys (their spelling included) or JSON types, down
    to the leaves. A recorded placeholder matches any value; a recorded null matches only null."""
    if isinstance(recorded, str) and _PLACEHOLDER.match(recorded):
        return []
    if json_type(ours) != json_type(recorded):
        return [f"{where}: {json_type(ours)} where AWS has {json_type(recorded)}"]
    if isinstance(recorded, dict):
        found = [f"{where}.{key}: missing" for key in recorded if key not in ours]
        found += [f"{where}.{key}: not in AWS's" for key in ours if key not in recorded]
        for key in recorded.keys() & ours.keys():
            found += shape_differences(ours[key], recorded[key], f"{where}.{key}")
        return found
    if isinstance(recorded, list):
        return (
            [d for item in ours for d in shape_differences(item, recorded[0], f"{where}[]")]
            if recorded
            else []
        )
    return []
