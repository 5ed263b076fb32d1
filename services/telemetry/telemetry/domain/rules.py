"""Alert rules: a reading of ``metric`` crossing ``threshold`` by ``op`` raises an alert.

A reading raises at most one alert: the first rule (in the order the rules were saved) that it
crosses. Alerts are keyed by the reading (metric, ts), so no redelivery or later rule change can
ever produce a second alert for the same reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal, NamedTuple, get_args

from telemetry.domain.readings import Reading

Op = Literal["gt", "gte", "lt", "lte"]
OPS: tuple[Op, ...] = get_args(Op)
MAX_RULES = 50


class Rule(NamedTuple):
    metric: str
    op: Op
    threshold: Decimal

    def crossed_by(self, value: Decimal) -> bool:
        if self.op == "gt":
            return value > self.threshold
        if self.op == "gte":
            return value >= self.threshold
        if self.op == "lt":
            return value < self.threshold
        return value <= self.threshold


class Alert(NamedTuple):
    metric: str
    ts: int
    value: Decimal
    rule: Rule


def first_crossed(rules: Sequence[Rule], reading: Reading) -> Rule | None:
    for rule in rules:
        if rule.metric == reading.metric and rule.crossed_by(reading.value):
            return rule
    return None


def alerts_for(readings: Iterable[Reading], rules: Sequence[Rule]) -> list[Alert]:
    alerts = []
    for reading in readings:
        rule = first_crossed(rules, reading)
        if rule is not None:
            alerts.append(Alert(reading.metric, reading.ts, reading.value, rule))
    return alerts
