"""DynamoDB helpers around boto3's low-level client: DynamoDB JSON through boto3's own TypeSerializer and
TypeDeserializer, conditional writes, retry-later errors, and opaque pagination cursors.

Each function creates its client at init, as Lambda advises: ``boto3.client("dynamodb", config=CLIENT_CONFIG)``.
The low-level client maps one-to-one to the API, so what the code does is what DynamoDB bills. Locally,
boto3's own ``AWS_ENDPOINT_URL_DYNAMODB`` points it at DynamoDB Local.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from commons.errors import BadRequest, DomainError, ServiceBusy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Standard retries (with a token bucket) and short timeouts: an API answers a 503 in seconds, never hangs.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def serialize_value(value: Any) -> Any:
    """One Python value -> one DynamoDB attribute value (boto3's TypeSerializer: numbers are int or Decimal,
    more than 38 significant digits is an error). A named tuple is a domain record, stored through its own
    ``to_json_dict()``: one passed as it is fails here, instead of being stored as a list of its values."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        raise TypeError(f"{type(value).__name__} is a record: store its to_json_dict()")
    return _serializer.serialize(value)


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python -> DynamoDB JSON (numbers as int or Decimal; a float is refused, as boto3 refuses it)."""
    return {key: serialize_value(value) for key, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON -> plain Python (boto3's TypeDeserializer: numbers as Decimal)."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


BATCH_GET_LIMIT = 100  # keys per BatchGetItem request
BATCH_GET_ATTEMPTS = 8


def batch_get(
    db: DynamoDBClient,
    table_name: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    consistent: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Every item that exists among ``keys`` (DynamoDB JSON), in requests of 100 keys. DynamoDB may answer
    part of a request and return the rest as UnprocessedKeys: those are asked again after a backoff with
    full jitter, as the DynamoDB guide advises; when they keep coming back, ServiceBusy (503) says retry."""
    items: list[dict[str, Any]] = []
    for begin in range(0, len(keys), BATCH_GET_LIMIT):
        chunk = {"Keys": list(keys[begin : begin + BATCH_GET_LIMIT]), "ConsistentRead": consistent}
        request: dict[str, Any] = {table_name: chunk}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = db.batch_get_item(RequestItems=request)
            items.extend(response.get("Responses", {}).get(table_name, []))
            request = {table: part for table, part in response.get("UnprocessedKeys", {}).items() if part}
            if not request:
                break
            sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        else:
            raise ServiceBusy("DynamoDB kept deferring reads; retry")
    return items


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
