import base64
from decimal import Decimal, Inexact
from typing import NamedTuple

import pytest
from botocore.exceptions import ClientError

from commons.dynamodb import (
    batch_get,
    condition_raises,
    decode_cursor,
    deserialize,
    encode_cursor,
    put_if_absent,
    retry_later,
    serialize,
)
from commons.errors import BadRequest, Conflict, ServiceBusy
from tests.aws import dynamodb_client

TABLE = "things"


@pytest.fixture
def table(aws):
    dynamodb_client().create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return TABLE


def test_numbers_are_read_back_as_decimal_and_a_float_is_refused():
    item = {"pk": "a", "count": 3, "ratio": Decimal("0.1"), "nested": {"values": [Decimal("1.5"), 2]}}
    assert deserialize(serialize(item)) == {**item, "count": Decimal(3), "nested": {"values": [1.5, 2]}}
    with pytest.raises(TypeError, match="Float types are not supported"):
        serialize({"ratio": 0.1})


def test_more_than_38_significant_digits_is_refused_not_rounded():
    serialize({"n": Decimal("1" * 38)})
    with pytest.raises(Inexact):
        serialize({"n": Decimal("1" * 39)})


def test_a_record_is_not_stored_as_a_list_of_its_values():
    class Point(NamedTuple):
        x: int
        y: int

    with pytest.raises(TypeError, match="Point is a record"):
        serialize({"pk": "a", "point": Point(1, 2)})


def test_condition_failure_becomes_the_domain_error(table):
    dynamodb_client().put_item(TableName=table, Item=serialize({"pk": "a"}))
    with pytest.raises(Conflict, match="exists"), condition_raises(Conflict("a exists")):
        dynamodb_client().put_item(
            TableName=table, Item=serialize({"pk": "a"}), ConditionExpression="attribute_not_exists(pk)"
        )


def test_other_client_errors_pass_through(table):
    with pytest.raises(ClientError), condition_raises(Conflict("unused")):
        dynamodb_client().put_item(TableName="missing-table", Item=serialize({"pk": "a"}))


def test_condition_success_raises_nothing(table):
    with condition_raises(lambda: Conflict("unused")):
        dynamodb_client().put_item(
            TableName=table, Item=serialize({"pk": "b"}), ConditionExpression="attribute_not_exists(pk)"
        )
    assert dynamodb_client().get_item(TableName=table, Key=serialize({"pk": "b"}))["Item"]


def test_put_if_absent_writes_once_and_never_overwrites(table):
    db = dynamodb_client()
    assert put_if_absent(db, table, serialize({"pk": "c", "version": 1})) is True
    assert put_if_absent(db, table, serialize({"pk": "c", "version": 2})) is False
    assert deserialize(db.get_item(TableName=table, Key=serialize({"pk": "c"}))["Item"]) == {
        "pk": "c",
        "version": 1,
    }
    with pytest.raises(ClientError):
        put_if_absent(db, "missing-table", serialize({"pk": "c"}))


KEYS = {"pk": "S", "sk": "S"}


def test_cursor_round_trips_and_is_url_safe():
    key = {"pk": {"S": "CUSTOMER#a/b+c"}, "sk": {"S": "2026-01-01T00:00:00Z#x"}}
    token = encode_cursor(key)
    assert token is not None
    assert all(c.isalnum() or c in "-_" for c in token)
    assert decode_cursor(token, KEYS, fixed={"pk": "CUSTOMER#a/b+c"}) == key


@pytest.mark.parametrize(
    "sk",
    [
        {"S": 5},
        {"N": "1"},
        {"B": "AAAA"},
        {"S": ""},
        {"S": "x" * 1025},
        {"S": "\ud800"},
        {"S": "a", "N": "1"},
    ],
)
def test_an_edited_cursor_is_a_bad_request_before_dynamodb_sees_it(sk):
    token = encode_cursor({"pk": {"S": "p"}, "sk": sk})
    with pytest.raises(BadRequest):
        decode_cursor(token, KEYS, fixed={"pk": "p"})


@pytest.mark.parametrize("offset", ["²", "1.5", "-1", "1e3", "", "1" * 39])
def test_a_number_in_a_cursor_must_be_an_unsigned_integer(offset):
    token = encode_cursor({"pk": {"S": "p"}, "o": {"N": offset}})
    with pytest.raises(BadRequest):
        decode_cursor(token, {"pk": "S", "o": "N"})
    assert decode_cursor(encode_cursor({"pk": {"S": "p"}, "o": {"N": "59999"}}), {"pk": "S", "o": "N"})


def test_a_cursor_nested_deeper_than_the_parser_recurses_is_a_bad_request():
    """2,000 characters of ``[`` (under the APIs' 2,048-character cap on nextToken) is deeper than CPython 3.11
    recurses: a RecursionError, where 3.13 raises a JSONDecodeError; a 400 either way."""
    token = base64.urlsafe_b64encode(b"[" * 1500).decode()
    with pytest.raises(BadRequest):
        decode_cursor(token, KEYS)


def test_no_key_means_no_cursor():
    assert encode_cursor(None) is None
    assert encode_cursor({}) is None
    assert decode_cursor(None, KEYS) is None


@pytest.mark.parametrize(
    "token",
    [
        "not-base64!!",
        encode_cursor({"pk": {"S": "a"}}),
        encode_cursor({"pk": {"S": "a"}, "sk": {"M": {}}}),
        "bnVsbA",  # base64 of "null"
    ],
)
def test_a_foreign_or_broken_cursor_is_a_bad_request(token):
    with pytest.raises(BadRequest):
        decode_cursor(token, KEYS)


def test_a_cursor_edited_to_another_partition_is_rejected():
    token = encode_cursor({"pk": {"S": "CUSTOMER#mallory"}, "sk": {"S": "x"}})
    with pytest.raises(BadRequest):
        decode_cursor(token, KEYS, fixed={"pk": "CUSTOMER#alice"})


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (
            "ProvisionedThroughputExceededException",
            "The table is busy (DynamoDB throttled this request); retry shortly",
        ),
        ("ThrottlingException", "The table is busy (DynamoDB throttled this request); retry shortly"),
        ("RequestLimitExceeded", "The table is busy (DynamoDB throttled this request); retry shortly"),
        ("TransactionConflictException", "The item is being changed by another request; retry shortly"),
        ("TransactionInProgressException", "The item is being changed by another request; retry shortly"),
    ],
)
def test_what_dynamodb_refuses_only_for_now_is_a_503_to_retry(code, detail):
    busy = retry_later(ClientError({"Error": {"Code": code, "Message": "x"}}, "UpdateItem"))
    assert busy is not None
    assert (busy.status, busy.detail) == (503, detail)


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "x"}}, "UpdateItem"),
        ClientError({"Error": {"Code": "ValidationException", "Message": "x"}}, "UpdateItem"),
        RuntimeError("a bug"),
    ],
)
def test_anything_else_is_not_for_the_client_to_retry(error):
    assert retry_later(error) is None


class Deferring:
    """A client whose BatchGetItem answers at most ``per_call`` keys and defers the rest, ``stuck`` times
    answering none at all first (what DynamoDB does under throttling or for large responses)."""

    def __init__(self, per_call: int, stuck: int = 0) -> None:
        self.per_call, self.stuck, self.requests = per_call, stuck, []

    def batch_get_item(self, RequestItems):
        self.requests.append(RequestItems)
        ((table, part),) = RequestItems.items()
        keys = part["Keys"]
        answered = [] if self.stuck > 0 else keys[: self.per_call]
        self.stuck -= 1
        rest = keys[len(answered) :]
        return {
            "Responses": {table: [{**key, "found": {"BOOL": True}} for key in answered]},
            "UnprocessedKeys": {table: {**part, "Keys": rest}} if rest else {},
        }


def test_batch_get_asks_again_for_deferred_keys_in_requests_of_100():
    keys = [{"pk": {"S": f"k{n:03d}"}} for n in range(250)]
    client = Deferring(per_call=60)
    items = batch_get(client, TABLE, keys, consistent=True, sleep=lambda _: None)
    assert sorted(item["pk"]["S"] for item in items) == sorted(key["pk"]["S"] for key in keys)
    assert max(len(request[TABLE]["Keys"]) for request in client.requests) == 100
    assert all(request[TABLE]["ConsistentRead"] for request in client.requests)


def test_batch_get_that_stays_deferred_is_a_503_to_retry():
    waits = []
    with pytest.raises(ServiceBusy, match="retry"):
        batch_get(Deferring(per_call=1, stuck=100), TABLE, [{"pk": {"S": "k"}}], sleep=waits.append)
    assert len(waits) == 8
    assert all(0 <= wait <= 1 for wait in waits)


def test_batch_get_of_existing_and_missing_items(table):
    put_if_absent(dynamodb_client(), TABLE, serialize({"pk": "a"}))
    items = batch_get(dynamodb_client(), TABLE, [{"pk": {"S": "a"}}, {"pk": {"S": "missing"}}])
    assert items == [{"pk": {"S": "a"}}]
