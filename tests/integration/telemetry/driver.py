"""A small client for the telemetry functions, invoking their handlers the way API Gateway and Lambda do."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from telemetry.handlers import api, ingest, processor
from tests.aws import dynamodb_client
from tests.events import lambda_context
from tests.integration.telemetry.streams import StreamReader, event, matches_filter
from tests.unit.telemetry.binding import Handlers
from tests.unit.telemetry.support import admin_event, body, device_event


class Telemetry:
    def __init__(self, handlers: Handlers, stream: StreamReader) -> None:
        self.handlers = handlers
        self.table = handlers.table_name
        self.stream = stream
        self.delivered: list[list[dict[str, Any]]] = []

    def admin(self, method: str, path: str, payload: Any = None, **query: Any) -> Any:
        params = {name: str(value) for name, value in query.items() if value is not None}
        response = api.handler(
            admin_event(method, path, body=payload, query=params or None), lambda_context()
        )
        assert response["statusCode"] < 300, response
        return body(response)

    def register(self, device_id: str) -> str:
        return str(self.admin("POST", "/devices", {"deviceId": device_id})["token"])

    def rules(self, device_id: str, rules: list[dict[str, Any]]) -> Any:
        return self.admin("PUT", f"/devices/{device_id}/rules", {"rules": rules})

    def post(self, device_id: str, readings: list[dict[str, Any]]) -> dict[str, int]:
        response = ingest.handler(device_event(device_id, {"readings": readings}), lambda_context())
        assert response["statusCode"] == 202, response
        return dict(body(response))

    def records(self, *, filtered: bool = True) -> list[dict[str, Any]]:
        records = self.stream.read()
        return [record for record in records if matches_filter(record)] if filtered else records

    def process(self, records: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Run the processor on the given records, or on everything new in the stream; returns them."""
        batch = self.records() if records is None else records
        if batch:
            result = processor.handler(event(batch), lambda_context())
            assert result == {"batchItemFailures": []}, result
        self.delivered.append(batch)
        return batch

    def aggregates(
        self, device_id: str, metric: str, period: str, start: int, end: int
    ) -> list[dict[str, Any]]:
        path = f"/devices/{device_id}/aggregates"
        return list(
            self.admin("GET", path, metric=metric, period=period, **{"from": start, "to": end})["items"]
        )

    def alerts(self, device_id: str, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.admin("GET", f"/devices/{device_id}/alerts", nextToken=token, **query)
            items += page["items"]
            token = page["nextToken"]
            if token is None:
                return items

    def device(self, device_id: str) -> Any:
        return self.admin("GET", f"/devices/{device_id}")

    def derived_items(self) -> list[dict[str, Any]]:
        """Everything the processor writes (rollups, alerts, devices), for before/after comparisons."""
        items = dynamodb_client().scan(TableName=self.table, ConsistentRead=True)["Items"]
        return sorted(
            (i for i in items if i["type"]["S"] != "READINGS"), key=lambda i: (i["pk"]["S"], i["sk"]["S"])
        )


def expected_aggregates(readings: list[dict[str, Any]], metric: str, period_ms: int) -> list[dict[str, Any]]:
    """Aggregates computed straight from distinct posted readings (first post of each (metric, ts) wins)."""
    distinct: dict[tuple[str, int], Any] = {}
    for reading in readings:
        distinct.setdefault((reading["metric"], reading["ts"]), reading["value"])
    groups: dict[int, list[Decimal]] = defaultdict(list)
    for (name, ts), value in distinct.items():
        if name == metric:
            groups[ts - ts % period_ms].append(Decimal(repr(value)))
    period = "minute" if period_ms == 60_000 else "hour"
    return [
        {
            "start": start,
            "period": period,
            "count": len(values),
            "min": as_json(min(values)),
            "max": as_json(max(values)),
            "sum": as_json(sum(values, Decimal(0))),
            "avg": as_json(sum(values, Decimal(0)) / len(values)),
        }
        for start, values in sorted(groups.items())
    ]


def as_json(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
