"""Lambda event filtering: the EventBridge-style patterns of an event source mapping's FilterCriteria.

A pattern is a JSON object. Nested objects follow the event's structure; a list is a set of rules
for the value at that path, any of which may match (OR); the keys of one object must all match
(AND), and ``$or`` at any level holds alternative sub-patterns. Rules are literal values
(string, number, ``null``, boolean: exact, type-aware equality) or one-operator objects:
``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but``, ``numeric`` and ``exists``.

Matching works on leaf values, as Lambda's matcher (AWS Ruler) does: a list in the event matches
when any element does; ``{"exists": true}`` needs a leaf (a string, number, boolean or null) at the
path, so ``{"NewImage": {"status": [{"exists": true}]}}`` does not match DynamoDB's
``{"status": {"S": "x"}}`` (write ``{"status": {"S": [{"exists": true}]}}``), and
``{"exists": false}`` matches when there is no leaf there. ``numeric`` compares JSON numbers only:
DynamoDB ``N`` values are strings and never match it, as in Lambda.

A mapping's filters are OR'ed (:func:`matches_any`): a record passes if any filter matches, and
every record passes when there are none. Patterns Lambda would reject when the mapping is created
raise :class:`InvalidPatternError`.

>>> matches({"dynamodb": {"NewImage": {"type": {"S": ["ORDER"]}}}},
...         {"dynamodb": {"NewImage": {"type": {"S": "ORDER"}}}})
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["InvalidPatternError", "matches", "matches_any", "parse_pattern", "validate"]

_NUMERIC_OPERATORS = {"=", "<", "<=", ">", ">="}
_STRING_OPERATORS = ("prefix", "suffix")


class InvalidPatternError(ValueError):
    """A pattern Lambda rejects with "Invalid filter pattern definition"."""


def parse_pattern(text: str) -> dict[str, Any]:
    """Parse and validate one filter's ``Pattern`` (a JSON string, as in the template)."""
    try:
        pattern = json.loads(text)
    except ValueError as error:
        raise InvalidPatternError(f"Invalid filter pattern definition: {error}") from error
    validate(pattern)
    assert isinstance(pattern, dict)
    return pattern


def validate(pattern: Any) -> None:
    """Raise :class:`InvalidPatternError` unless ``pattern`` is a well-formed filter pattern."""
    if not isinstance(pattern, dict) or not pattern:
        raise InvalidPatternError("a filter pattern must be a non-empty JSON object")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidPatternError("$or needs a list of at least two patterns")
            for alternative in value:
                validate(alternative)
        elif isinstance(value, dict):
            validate(value)
        elif isinstance(value, list):
            if not value:
                raise InvalidPatternError(f"{key!r}: an empty list matches nothing")
            for rule in value:
                _validate_rule(key, rule)
        else:
            raise InvalidPatternError(f"{key!r}: values in a pattern must be lists or objects")


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches ``pattern`` (validated first)."""
    validate(pattern)
    return _match_object(pattern, event)


def matches_any(patterns: Sequence[Mapping[str, Any]], event: Mapping[str, Any]) -> bool:
    """A mapping's filters: OR'ed; with none, everything passes."""
    return not patterns or any(_match_object(pattern, event) for pattern in patterns)


# -- validation ---------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_literal(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or _is_number(value)


def _validate_rule(key: str, rule: Any) -> None:
    if _is_literal(rule):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise InvalidPatternError(f"{key!r}: a rule is a literal or an object with one operator")
    ((operator, argument),) = rule.items()
    if operator in _STRING_OPERATORS:
        _validate_string_operand(key, operator, argument)
    elif operator == "equals-ignore-case":
        if not isinstance(argument, str):
            raise InvalidPatternError(f"{key!r}: equals-ignore-case takes a string")
    elif operator == "exists":
        if not isinstance(argument, bool):
            raise InvalidPatternError(f"{key!r}: exists takes true or false")
    elif operator == "numeric":
        _validate_numeric(key, argument)
    elif operator == "anything-but":
        _validate_anything_but(key, argument)
    else:
        raise InvalidPatternError(f"{key!r}: unsupported operator {operator!r}")


def _validate_string_operand(key: str, operator: str, argument: Any) -> None:
    if isinstance(argument, str):
        return
    if (
        isinstance(argument, dict)
        and list(argument) == ["equals-ignore-case"]
        and isinstance(argument["equals-ignore-case"], str)
    ):
        return
    raise InvalidPatternError(f"{key!r}: {operator} takes a string or {{'equals-ignore-case': string}}")


def _validate_numeric(key: str, argument: Any) -> None:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise InvalidPatternError(f"{key!r}: numeric takes [op, n] or [op, n, op, n]")
    for operator, operand in zip(argument[::2], argument[1::2], strict=True):
        if operator not in _NUMERIC_OPERATORS or not _is_number(operand):
            raise InvalidPatternError(f"{key!r}: bad numeric comparison {operator!r} {operand!r}")
    if len(argument) == 4:
        lower, upper = argument[0], argument[2]
        if lower not in (">", ">=") or upper not in ("<", "<="):
            raise InvalidPatternError(f"{key!r}: a numeric range is a lower bound then an upper bound")


def _validate_anything_but(key: str, argument: Any) -> None:
    if isinstance(argument, str) or _is_number(argument):
        return
    if isinstance(argument, list) and argument and all(isinstance(v, str) or _is_number(v) for v in argument):
        return
    if isinstance(argument, dict) and len(argument) == 1:
        ((operator, operand),) = argument.items()
        if operator in _STRING_OPERATORS and isinstance(operand, str):
            return
        if operator == "equals-ignore-case" and (
            isinstance(operand, str)
            or (isinstance(operand, list) and operand and all(isinstance(v, str) for v in operand))
        ):
            return
    raise InvalidPatternError(f"{key!r}: unsupported anything-but {argument!r}")


# -- matching -----------------------------------------------------------------------------------


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        for element in value:
            yield from _flatten(element)
    else:
        yield value


def _match_object(pattern: Mapping[str, Any], node: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_match_object(alternative, node) for alternative in expected):
                return False
            continue
        values = list(_flatten(node[key])) if isinstance(node, dict) and key in node else []
        if isinstance(expected, dict):
            # Fields inside one array element must match together; with no object there, the
            # sub-pattern can still match through exists:false.
            candidates: list[Any] = [value for value in values if isinstance(value, dict)] or [None]
            if not any(_match_object(expected, candidate) for candidate in candidates):
                return False
        else:
            leaves = [value for value in values if not isinstance(value, dict)]
            if not any(_match_rule(rule, leaves) for rule in expected):
                return False
    return True


def _match_rule(rule: Any, leaves: list[Any]) -> bool:
    if not isinstance(rule, dict):
        return any(_equals(rule, leaf) for leaf in leaves)
    ((operator, argument),) = rule.items()
    if operator == "exists":
        return bool(leaves) is argument
    return any(_match_operator(operator, argument, leaf) for leaf in leaves)


def _equals(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if _is_number(expected) or _is_number(actual):
        return _is_number(expected) and _is_number(actual) and float(expected) == float(actual)
    return isinstance(actual, str) and expected == actual


def _affix(operator: str, argument: Any, actual: Any) -> bool:
    if not isinstance(actual, str):
        return False
    text: str = actual
    affix = str(argument["equals-ignore-case"]).casefold() if isinstance(argument, dict) else str(argument)
    if isinstance(argument, dict):
        text = text.casefold()
    return text.startswith(affix) if operator == "prefix" else text.endswith(affix)


def _match_operator(operator: str, argument: Any, actual: Any) -> bool:
    if operator in _STRING_OPERATORS:
        return _affix(operator, argument, actual)
    if operator == "equals-ignore-case":
        return isinstance(actual, str) and actual.casefold() == argument.casefold()
    if operator == "numeric":
        return _is_number(actual) and all(
            _compare(actual, op, operand) for op, operand in zip(argument[::2], argument[1::2], strict=True)
        )
    if operator == "anything-but":
        return _anything_but(argument, actual)
    raise InvalidPatternError(f"unsupported operator {operator!r}")  # pragma: no cover - validated


def _compare(actual: float, operator: str, operand: float) -> bool:
    if operator == "=":
        return actual == operand
    if operator == "<":
        return actual < operand
    if operator == "<=":
        return actual <= operand
    if operator == ">":
        return actual > operand
    return actual >= operand


def _anything_but(argument: Any, actual: Any) -> bool:
    if isinstance(argument, dict):
        ((operator, operand),) = argument.items()
        if not isinstance(actual, str):
            return False
        if operator in _STRING_OPERATORS:
            return not _affix(operator, operand, actual)
        excluded = [operand] if isinstance(operand, str) else operand
        return actual.casefold() not in {value.casefold() for value in excluded}
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_equals(value, actual) for value in excluded)
