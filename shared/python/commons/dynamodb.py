"""DynamoDB helpers: the low-level client, typed (de)serialization, conditional writes,
batch writes that finish, and opaque pagination cursors.

Low-level client rather than the resource API: it imports faster at cold start and
maps one-to-one to the API, so what the code does is what DynamoDB is billed for.
The client comes from botocore itself and the (de)serializer is here: importing boto3
(sessions, the resource layer, s3transfer) costs cold start and buys nothing for a
DynamoDB client (make bench, docs/performance.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from commons.errors import BadRequest, DomainError, ServiceBusy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

BATCH_WRITE_LIMIT = 25
# DynamoDB's numbers: 38 significant digits, exponents -130..125; anything inexact is an error.
NUMBER_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


@cache
def client() -> DynamoDBClient:
    """One client per process, created on first use. ``DYNAMODB_ENDPOINT_URL`` points it at DynamoDB Local."""
    return cast(
        "DynamoDBClient",
        botocore.session.get_session().create_client(
            "dynamodb",
            endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
            config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5),
        ),
    )


def _number(value: int | Decimal) -> str:
    text = str(NUMBER_CONTEXT.create_decimal(value))
    if text in ("Infinity", "-Infinity", "NaN", "sNaN"):
        raise TypeError(f"{text} cannot be stored in DynamoDB")
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    # A plain tuple is a list; a named tuple is a domain record, which is stored through its own
    # to_json_dict(): one passed as it is must fail here, not be stored as a list of its values.
    return isinstance(value, list) or type(value) is tuple


def _to_attribute(value: Any) -> dict[str, Any]:
    """One Python value -> one DynamoDB attribute value (what boto3's TypeSerializer does)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, set | frozenset):
        if all(_is_number(element) for element in value):
            return {"NS": [_number(element) for element in value]}
        if all(isinstance(element, str) for element in value):
            return {"SS": list(value)}
        if all(isinstance(element, bytes | bytearray) for element in value):
            return {"BS": [bytes(element) for element in value]}
    elif isinstance(value, Mapping):
        return {"M": {str(key): _to_attribute(element) for key, element in value.items()}}
    elif _is_list(value):
        return {"L": [_to_attribute(element) for element in value]}
    raise TypeError(f"Unsupported type {type(value).__name__} for value {value!r}")


def _from_attribute(attribute: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value -> Python (numbers as Decimal, what boto3's TypeDeserializer does)."""
    if len(attribute) != 1:
        raise TypeError(f"Not a DynamoDB attribute value: {attribute!r}")
    ((kind, content),) = attribute.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL", "B"):
        return content
    if kind == "N":
        return NUMBER_CONTEXT.create_decimal(content)
    if kind in ("SS", "BS"):
        return set(content)
    if kind == "NS":
        return {NUMBER_CONTEXT.create_decimal(element) for element in content}
    if kind == "L":
        return [_from_attribute(element) for element in content]
    if kind == "M":
        return {key: _from_attribute(element) for key, element in content.items()}
    raise TypeError(f"Unknown DynamoDB type {kind}")


def _to_dynamo_number(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_number(v) for k, v in value.items()}
    if _is_list(value):
        return [_to_dynamo_number(v) for v in value]
    return value


def _from_dynamo_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_number(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo_number(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python (floats allowed) -> DynamoDB JSON."""
    return {key: _to_attribute(_to_dynamo_number(value)) for key, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON -> plain Python, numbers as int or float."""
    return {key: _from_dynamo_number(_from_attribute(value)) for key, value in item.items()}


def serialize_value(value: Any) -> dict[str, Any]:
    return _to_attribute(_to_dynamo_number(value))


def is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def put_if_absent(db: DynamoDBClient, table_name: str, item: Mapping[str, Any]) -> bool:
    """PutItem unless an item with the same key exists (tables key on ``pk``); True when written.
    The item is DynamoDB JSON, as ``serialize`` returns it."""
    try:
        db.put_item(TableName=table_name, Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


@contextmanager
def condition_raises(error: DomainError | Callable[[], DomainError]) -> Iterator[None]:
    """Turn a failed ConditionExpression into a domain error::

    with condition_raises(Conflict("Order is not PAID")):
        client().update_item(..., ConditionExpression="#status = :paid")
    """
    try:
        yield
    except ClientError as failure:
        if not is_condition_failure(failure):
            raise
        raise (error if isinstance(error, DomainError) else error()) from None


_THROTTLED = "The table is busy (DynamoDB throttled this request); retry shortly"
_CONTENDED = "The item is being changed by another request; retry shortly"
# What DynamoDB answers, once botocore's retries are spent, when the same request would succeed later: the
# table or partition is over its throughput, or a single-item write met an item that a transaction is
# changing (TransactionConflictException, which botocore does not retry).
RETRY_LATER = {
    "ThrottlingException": _THROTTLED,
    "ProvisionedThroughputExceededException": _THROTTLED,
    "RequestLimitExceeded": _THROTTLED,
    "TransactionConflictException": _CONTENDED,
    "TransactionInProgressException": _CONTENDED,
}


def retry_later(error: BaseException) -> ServiceBusy | None:
    """The 503 for a DynamoDB call that failed only for now (throttled, or contended), else None."""
    if isinstance(error, ClientError):
        detail = RETRY_LATER.get(error.response.get("Error", {}).get("Code", ""))
        if detail is not None:
            return ServiceBusy(detail)
    return None


def transaction_cancellation_reasons(error: ClientError) -> list[str]:
    """The per-item reason codes of a TransactionCanceledException ('None' where that item was fine)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


class BatchWriteIncomplete(RuntimeError):
    """BatchWriteItem still had unprocessed items when the deadline passed; nothing was lost silently."""

    def __init__(self, unprocessed: Mapping[str, Sequence[Any]]) -> None:
        count = sum(len(requests) for requests in unprocessed.values())
        super().__init__(f"{count} write requests still unprocessed at the deadline")
        self.unprocessed = unprocessed


def batch_write(
    table_name: str,
    requests: Sequence[WriteRequestTypeDef],
    *,
    deadline_seconds: float = 10.0,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    dynamodb: DynamoDBClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Write all ``requests`` in chunks of 25, retrying UnprocessedItems with exponential
    backoff and full jitter until done or ``deadline_seconds`` pass. Returns the number
    of BatchWriteItem calls made; raises BatchWriteIncomplete rather than drop a write."""
    db = dynamodb or client()
    deadline = time.monotonic() + deadline_seconds
    calls = 0
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending: Mapping[str, Sequence[Any]] = {table_name: list(requests[start : start + BATCH_WRITE_LIMIT])}
        attempt = 0
        while pending:
            calls += 1
            response = db.batch_write_item(RequestItems=pending)
            pending = {table: items for table, items in response.get("UnprocessedItems", {}).items() if items}
            if not pending:
                break
            delay = random.uniform(0, min(max_delay, base_delay * 2**attempt))
            if time.monotonic() + delay > deadline:
                raise BatchWriteIncomplete(pending)
            attempt += 1
            sleep(delay)
    return calls


def encode_cursor(last_evaluated_key: Mapping[str, Any] | None) -> str | None:
    """DynamoDB's LastEvaluatedKey -> an opaque, URL-safe ``nextToken`` (None at the end)."""
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Key values a cursor may carry: an unsigned integer, or a non-empty string within DynamoDB's key size.
_CURSOR_NUMBER = re.compile(r"[0-9]{1,38}", re.ASCII)
MAX_KEY_BYTES = 1024


def decode_cursor(
    token: str | None, key_types: Mapping[str, str], fixed: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """``nextToken`` -> ExclusiveStartKey. ``key_types`` names the key attributes the listing's cursor
    holds and their types ("S" or "N"). A token that was not made by encode_cursor for this query
    (wrong shape, keys or values) is the caller's mistake: 400, never a 500 from DynamoDB refusing it.
    ``fixed`` holds key attributes the token must carry unchanged (the partition being
    listed), so an edited token cannot page through someone else's partition."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("nextToken is not a valid pagination token") from None
    if (
        not isinstance(key, dict)
        or set(key) != set(key_types)
        or not all(_is_cursor_value(key[name], type_) for name, type_ in key_types.items())
    ):
        raise BadRequest("nextToken does not belong to this listing")
    if fixed and any(key.get(name) != serialize_value(value) for name, value in fixed.items()):
        raise BadRequest("nextToken does not belong to this listing")
    return key


def _is_cursor_value(value: object, type_: str) -> bool:
    if not isinstance(value, dict) or set(value) != {type_} or not isinstance(value[type_], str):
        return False
    text = value[type_]
    if type_ == "N":
        return _CURSOR_NUMBER.fullmatch(text) is not None
    try:
        return 0 < len(text.encode()) <= MAX_KEY_BYTES
    except UnicodeEncodeError:  # a lone surrogate
        return False
