"""Count what DynamoDB bills: ask every call for ReturnConsumedCapacity=TOTAL and add up the answers.

Hooks into botocore's event system on the shared client, so the production code runs unchanged."""

from __future__ import annotations

from collections import Counter
from typing import Any

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


def item_kind(params: dict[str, Any]) -> str:
    key = params.get("Key") or params.get("Item") or {}
    sk = key.get("sk", {}).get("S", "")
    if sk.startswith("R#"):
        return "readings"
    if sk.startswith("H#"):
        return "rollups"
    if sk.startswith("A#"):
        return "alerts"
    return sk.lower() or "other"


class CapacityMeter:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.write_units: Counter[str] = Counter()
        self.read_units: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._params: dict[str, Any] = {}

    def __enter__(self) -> CapacityMeter:
        events = self.client.meta.events
        events.register("before-parameter-build.dynamodb", self._before, unique_id="capacity-meter-before")
        events.register("after-call.dynamodb", self._after, unique_id="capacity-meter-after")
        return self

    def __exit__(self, *_: object) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.dynamodb", unique_id="capacity-meter-before")
        events.unregister("after-call.dynamodb", unique_id="capacity-meter-after")

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in WRITES | READS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        self._params = params

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or []
        units = sum(
            entry.get("CapacityUnits", 0.0)
            for entry in ([consumed] if isinstance(consumed, dict) else consumed)
        )
        kind = f"{model.name}:{item_kind(self._params)}"
        self.calls[kind] += 1
        if model.name in WRITES:
            self.write_units[item_kind(self._params)] += units
        elif model.name in READS:
            self.read_units[model.name] += units

    @property
    def total_write_units(self) -> float:
        return float(sum(self.write_units.values()))
