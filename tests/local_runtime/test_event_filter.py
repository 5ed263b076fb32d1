"""Lambda event filtering on DynamoDB stream records, in the shape Lambda filters them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.event_filter import InvalidPatternError, matches, matches_any, parse_pattern

ORDERS_PATTERN = {"dynamodb": {"NewImage": {"type": {"S": ["ORDER"]}}}}  # the orders stack's filter
STREAM_ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/2026-01-01T00:00:00.000"


def record(
    event_name: str = "INSERT",
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600.0,
        "Keys": keys or {"pk": {"S": "ORDER#1"}, "sk": {"S": "ORDER"}},
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    dynamodb.update(
        SequenceNumber="000000000000000000042", SizeBytes=120, StreamViewType="NEW_AND_OLD_IMAGES"
    )
    return {
        "eventID": "5e1c0b5a-1111-4b7a-9a0f-2f8a8e1b2c3d",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


ORDER = {
    "pk": {"S": "ORDER#1"},
    "type": {"S": "ORDER"},
    "status": {"S": "PENDING"},
    "total": {"N": "42.50"},
    "items": {"L": [{"M": {"sku": {"S": "A-1"}}}, {"M": {"sku": {"S": "B-2"}}}]},
    "tags": {"SS": ["gift", "express"]},
    "paid": {"BOOL": False},
    "note": {"NULL": True},
}
PAYMENT = {"pk": {"S": "ORDER#1"}, "type": {"S": "PAYMENT"}, "amount": {"N": "42.50"}}


def test_the_projects_order_filter_passes_orders_and_drops_everything_else() -> None:
    assert matches(ORDERS_PATTERN, record(new=ORDER))
    assert matches(ORDERS_PATTERN, record("MODIFY", new=ORDER, old=ORDER))
    assert not matches(ORDERS_PATTERN, record(new=PAYMENT))
    assert not matches(ORDERS_PATTERN, record("REMOVE", old=ORDER))  # no NewImage at all
    # Without the type descriptor the pattern points at an object, not a leaf: no match, as in Lambda.
    assert not matches({"dynamodb": {"NewImage": {"type": ["ORDER"]}}}, record(new=ORDER))


def test_lists_are_or_and_keys_are_and() -> None:
    both = {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"status": {"S": ["PENDING", "PAID"]}}},
    }
    assert matches(both, record(new=ORDER))
    assert matches(both, record("MODIFY", new=ORDER, old=ORDER))
    assert not matches(both, record("REMOVE", old=ORDER))
    assert not matches(both, record(new={**ORDER, "status": {"S": "SHIPPED"}}))


def test_literal_types_are_exact() -> None:
    # N values are strings in stream records: the string matches, the number does not.
    assert matches({"dynamodb": {"NewImage": {"total": {"N": ["42.50"]}}}}, record(new=ORDER))
    assert not matches({"dynamodb": {"NewImage": {"total": {"N": [42.5]}}}}, record(new=ORDER))
    assert matches({"dynamodb": {"NewImage": {"paid": {"BOOL": [False]}}}}, record(new=ORDER))
    assert not matches({"dynamodb": {"NewImage": {"paid": {"BOOL": [0]}}}}, record(new=ORDER))
    assert matches({"dynamodb": {"NewImage": {"note": {"NULL": [True]}}}}, record(new=ORDER))
    assert matches({"dynamodb": {"SizeBytes": [120.0]}}, record(new=ORDER))  # numbers compare as numbers
    assert matches({"dynamodb": {"NewImage": {"x": [None]}}}, {"dynamodb": {"NewImage": {"x": None}}})
    assert not matches({"dynamodb": {"NewImage": {"x": [None]}}}, record(new=ORDER))  # missing is not null
    assert matches(
        {"dynamodb": {"NewImage": {"type": {"S": [""]}}}}, record(new={**ORDER, "type": {"S": ""}})
    )


def test_arrays_in_the_event_match_when_any_element_does() -> None:
    assert matches({"dynamodb": {"NewImage": {"tags": {"SS": ["express"]}}}}, record(new=ORDER))
    assert matches(
        {"dynamodb": {"NewImage": {"items": {"L": {"M": {"sku": {"S": ["B-2"]}}}}}}}, record(new=ORDER)
    )
    assert not matches(
        {"dynamodb": {"NewImage": {"items": {"L": {"M": {"sku": {"S": ["C-3"]}}}}}}}, record(new=ORDER)
    )


def test_prefix_suffix_and_equals_ignore_case() -> None:
    new = record(new=ORDER)
    assert matches({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}}, new)
    assert not matches({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}}, new)
    assert matches({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": {"equals-ignore-case": "order#"}}]}}}}, new)
    assert matches({"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#1"}]}}}}, new)
    assert not matches({"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#2"}]}}}}, new)
    assert matches({"dynamodb": {"Keys": {"pk": {"S": [{"suffix": {"equals-ignore-case": "DER#1"}}]}}}}, new)
    assert matches({"dynamodb": {"NewImage": {"status": {"S": [{"equals-ignore-case": "pending"}]}}}}, new)
    assert not matches({"dynamodb": {"NewImage": {"status": {"S": [{"equals-ignore-case": "paid"}]}}}}, new)
    # String operators never match numbers.
    assert not matches({"dynamodb": {"SizeBytes": [{"prefix": "12"}]}}, new)


def test_anything_but() -> None:
    new = record(new=ORDER)
    status = lambda rule: {"dynamodb": {"NewImage": {"status": {"S": [rule]}}}}  # noqa: E731
    assert matches(status({"anything-but": "PAID"}), new)
    assert not matches(status({"anything-but": "PENDING"}), new)
    assert not matches(status({"anything-but": ["PAID", "PENDING"]}), new)
    assert matches(status({"anything-but": {"prefix": "PAI"}}), new)
    assert not matches(status({"anything-but": {"prefix": "PEN"}}), new)
    assert not matches(status({"anything-but": {"suffix": "ING"}}), new)
    assert not matches(status({"anything-but": {"equals-ignore-case": ["paid", "pending"]}}), new)
    assert matches({"eventName": [{"anything-but": ["REMOVE"]}]}, new)
    assert not matches({"eventName": [{"anything-but": ["REMOVE"]}]}, record("REMOVE", old=ORDER))
    assert matches({"dynamodb": {"SizeBytes": [{"anything-but": [100, 200]}]}}, new)
    assert not matches({"dynamodb": {"SizeBytes": [{"anything-but": 120}]}}, new)
    # anything-but only matches a field that is there.
    assert not matches({"dynamodb": {"NewImage": {"missing": {"S": [{"anything-but": "x"}]}}}}, new)


def test_numeric_matches_json_numbers_only() -> None:
    new = record(new=ORDER)
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 0, "<=", 120]}]}}, new)
    assert not matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 0, "<", 120]}]}}, new)
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": ["=", 120]}]}}, new)
    assert matches({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}, new)
    # DynamoDB N values are strings in the record: numeric never matches them (as in Lambda).
    assert not matches({"dynamodb": {"NewImage": {"total": {"N": [{"numeric": [">", 0]}]}}}}, new)


def test_exists_works_on_leaves() -> None:
    new = record(new=ORDER)
    assert matches({"dynamodb": {"NewImage": {"status": {"S": [{"exists": True}]}}}}, new)
    assert not matches({"dynamodb": {"NewImage": {"refund": {"S": [{"exists": True}]}}}}, new)
    assert matches({"dynamodb": {"NewImage": {"refund": [{"exists": False}]}}}, new)
    assert matches(
        {"dynamodb": {"OldImage": {"status": {"S": [{"exists": False}]}}}}, new
    )  # INSERT: no OldImage
    assert not matches({"dynamodb": {"NewImage": {"status": {"S": [{"exists": False}]}}}}, new)
    # An attribute is an object ({"S": ...}), not a leaf: exists:true does not see it ...
    assert not matches({"dynamodb": {"NewImage": {"status": [{"exists": True}]}}}, new)
    # ... and exists:false matches even when it is there (Lambda behaves the same way).
    assert matches({"dynamodb": {"NewImage": {"status": [{"exists": False}]}}}, new)


def test_or_at_any_level() -> None:
    pattern = {
        "dynamodb": {
            "$or": [
                {"NewImage": {"type": {"S": ["ORDER"]}}},
                {"OldImage": {"type": {"S": ["ORDER"]}}},
            ]
        }
    }
    assert matches(pattern, record(new=ORDER))
    assert matches(pattern, record("REMOVE", old=ORDER))
    assert not matches(pattern, record(new=PAYMENT))
    combined = {
        "eventName": ["MODIFY"],
        "$or": [
            {"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}},
            {"dynamodb": {"OldImage": {"status": {"S": ["PAID"]}}}},
        ],
    }
    paid = {**ORDER, "status": {"S": "PAID"}}
    assert matches(combined, record("MODIFY", new=paid, old=ORDER))
    assert not matches(combined, record("INSERT", new=paid))
    assert not matches(combined, record("MODIFY", new=ORDER, old=ORDER))


def test_a_mappings_filters_are_ored_and_none_means_everything() -> None:
    payments = {"dynamodb": {"NewImage": {"type": {"S": ["PAYMENT"]}}}}
    assert matches_any([], record(new=PAYMENT))
    assert matches_any([ORDERS_PATTERN, payments], record(new=PAYMENT))
    assert matches_any([ORDERS_PATTERN, payments], record(new=ORDER))
    assert not matches_any([ORDERS_PATTERN, payments], record(new={**ORDER, "type": {"S": "REFUND"}}))


def test_patterns_come_from_the_templates_json_strings() -> None:
    assert parse_pattern(json.dumps(ORDERS_PATTERN)) == ORDERS_PATTERN


@pytest.mark.parametrize(
    "text",
    [
        "single-string",
        '[{"eventName": ["INSERT"]}]',
        "{}",
        '{"eventName": "INSERT"}',
        '{"eventName": []}',
        '{"eventName": [{"wildcard": "IN*"}]}',
        '{"eventName": [{"prefix": 1}]}',
        '{"eventName": [{"prefix": "I", "suffix": "T"}]}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">"]}]}}',
        '{"dynamodb": {"SizeBytes": [{"numeric": ["<", 5, ">", 1]}]}}',
        '{"dynamodb": {"SizeBytes": [{"numeric": ["!=", 5]}]}}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">", "5"]}]}}',
        '{"eventName": [{"exists": "yes"}]}',
        '{"eventName": [{"anything-but": {"wildcard": "x"}}]}',
        '{"$or": [{"eventName": ["INSERT"]}]}',
        '{"eventName": [["INSERT"]]}',
    ],
)
def test_patterns_lambda_rejects_are_rejected(text: str) -> None:
    with pytest.raises(InvalidPatternError):
        parse_pattern(text)
