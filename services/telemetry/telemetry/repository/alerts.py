"""Alerts: one item per alerting reading, sorted by time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from commons.dynamodb import decode_cursor, encode_cursor, put_if_absent
from commons.errors import BadRequest
from telemetry.domain.rules import Alert
from telemetry.repository.rules import rule_attribute, rule_of
from telemetry.repository.table import (
    TYPE_ALERT,
    Item,
    TelemetryTable,
    alert_sk,
    device_pk,
    item_key,
    num,
    text,
)


class AlertsRepository(TelemetryTable):
    def put_alerts(self, device_id: str, alerts: Sequence[Alert]) -> int:
        """One item per alerting reading, created only if absent: never two alerts for one reading."""
        created = 0
        for alert in alerts:
            item = {
                **item_key(device_pk(device_id), alert_sk(alert.ts, alert.metric)),
                "type": text(TYPE_ALERT),
                "metric": text(alert.metric),
                "ts": num(alert.ts),
                "value": num(alert.value),
                "rule": {"M": rule_attribute(alert.rule)},
            }
            created += int(put_if_absent(self.db, self.table_name, item))
        return created

    def alerts_page(
        self, device_id: str, *, start: int, end: int, limit: int, next_token: str | None
    ) -> tuple[list[Alert], str | None]:
        pk = device_pk(device_id)
        # '$' sorts right after '#': every alert at ``end``, none after (and still 13 digits at MAX_TS).
        lower, upper = f"A#{start:013d}", f"A#{end:013d}$"
        exclusive_start = decode_cursor(next_token, {"pk": "S", "sk": "S"}, fixed={"pk": pk})
        if exclusive_start is not None and not lower <= exclusive_start["sk"]["S"] <= upper:
            raise BadRequest("nextToken does not belong to this listing")
        items: list[Item] = []
        for item in self._query(pk, lower, upper, page=limit + 1, exclusive_start=exclusive_start):
            items.append(item)
            if len(items) > limit:
                break
        alerts = [_alert_of(item) for item in items[:limit]]
        token = encode_cursor(item_key(pk, items[limit - 1]["sk"]["S"])) if len(items) > limit else None
        return alerts, token


def _alert_of(item: Mapping[str, Any]) -> Alert:
    return Alert(
        metric=item["metric"]["S"],
        ts=int(item["ts"]["N"]),
        value=Decimal(item["value"]["N"]),
        rule=rule_of(item["rule"]["M"]),
    )
