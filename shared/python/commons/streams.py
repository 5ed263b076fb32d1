"""Decoding DynamoDB stream records (as Lambda receives them) into typed models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from commons.dynamodb import deserialize

if TYPE_CHECKING:  # pydantic is imported by the models' modules, never by stream plumbing
    from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound="BaseModel")
EventName = Literal["INSERT", "MODIFY", "REMOVE"]


def _raw(record: Any) -> Mapping[str, Any]:
    # Lambda delivers plain dicts; a wrapper such as Powertools' DynamoDBRecord keeps one in raw_event.
    return record.raw_event if hasattr(record, "raw_event") else record  # type: ignore[no-any-return]


def event_name(record: Any) -> EventName:
    return _raw(record)["eventName"]  # type: ignore[no-any-return]


def image(record: Any, which: Literal["NewImage", "OldImage"]) -> dict[str, Any] | None:
    """The record's new or old image as plain Python values, or None when the record has none."""
    raw_image = _raw(record).get("dynamodb", {}).get(which)
    return deserialize(raw_image) if raw_image else None


def decode_image(record: Any, which: Literal["NewImage", "OldImage"], model: type[ModelT]) -> ModelT | None:
    """The record's image validated into ``model`` (a ValidationError marks a poison record)."""
    values = image(record, which)
    return None if values is None else model.model_validate(values)


def sequence_number(record: Any) -> str:
    return str(_raw(record)["dynamodb"]["SequenceNumber"])
