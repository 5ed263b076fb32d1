"""A device's alert rules: one item per device, replaced whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from telemetry.domain.rules import OPS, Rule
from telemetry.repository.table import RULES_SK, TYPE_RULES, TelemetryTable, device_pk, item_key, num, text

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class RulesRepository(TelemetryTable):
    def put_rules(self, device_id: str, rules: Sequence[Rule]) -> None:
        self.db.put_item(
            TableName=self.table_name,
            Item={
                **item_key(device_pk(device_id), RULES_SK),
                "type": text(TYPE_RULES),
                "rules": {"L": [{"M": rule_attribute(rule)} for rule in rules]},
            },
        )

    def rules_for(self, device_ids: Sequence[str]) -> dict[str, list[Rule]]:
        keys = [item_key(device_pk(device_id), RULES_SK) for device_id in dict.fromkeys(device_ids)]
        rules: dict[str, list[Rule]] = {device_id: [] for device_id in device_ids}
        for item in self._batch_get(keys, consistent=True):
            device_id = item["pk"]["S"].removeprefix("DEVICE#")
            rules[device_id] = [rule_of(entry["M"]) for entry in item.get("rules", {}).get("L", [])]
        return rules


def rule_attribute(rule: Rule) -> dict[str, AttributeValueTypeDef]:
    return {"metric": text(rule.metric), "op": text(rule.op), "threshold": num(rule.threshold)}


def rule_of(attribute: Mapping[str, Any]) -> Rule:
    op = attribute["op"]["S"]
    if op not in OPS:
        raise ValueError(f"Stored rule has an unknown op {op!r}")
    return Rule(attribute["metric"]["S"], op, Decimal(attribute["threshold"]["N"]))
