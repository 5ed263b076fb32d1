"""Devices: what the admin API does (register, read, set rules) and what the device authorizer checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from commons.errors import NotFound, Unprocessable
from telemetry.domain.devices import (
    DeviceRecord,
    hash_token,
    is_device_id,
    new_device_id,
    new_token,
    token_from_header,
    token_matches,
)
from telemetry.domain.readings import DAY_MS, MAX_FUTURE_MS, Reading, now_ms
from telemetry.domain.rollups import Aggregate, Period, aggregate
from telemetry.domain.rules import Alert, Rule
from telemetry.repository.alerts import AlertsRepository
from telemetry.repository.devices import DevicesRepository
from telemetry.repository.readings import ReadingsRepository
from telemetry.repository.rollups import RollupsRepository
from telemetry.repository.rules import RulesRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_RANGE_MS: dict[Period, int] = {"minute": 7 * DAY_MS, "hour": 366 * DAY_MS}


def authenticate(devices: DevicesRepository, authorization: object) -> str | None:
    """The device an ``Authorization: Bearer <deviceId>.<secret>`` header proves, or None."""
    parsed = token_from_header(authorization)
    if parsed is None:
        return None
    device_id, token = parsed
    return device_id if token_matches(token, devices.token_hash(device_id)) else None


class DevicesService:
    def __init__(
        self,
        devices: DevicesRepository,
        rules: RulesRepository,
        readings: ReadingsRepository,
        rollups: RollupsRepository,
        alerts: AlertsRepository,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.devices = devices
        self.rules = rules
        self.readings = readings
        self.rollups = rollups
        self.alerts = alerts
        self._now_ms = clock

    @classmethod
    def on_table(cls, table_name: str, dynamodb: DynamoDBClient) -> DevicesService:
        """Every item type lives in the one telemetry table."""
        return cls(
            DevicesRepository(table_name, dynamodb),
            RulesRepository(table_name, dynamodb),
            ReadingsRepository(table_name, dynamodb),
            RollupsRepository(table_name, dynamodb),
            AlertsRepository(table_name, dynamodb),
        )

    def register(self, device_id: str | None, name: str | None) -> tuple[str, str]:
        """A new device and its token (returned this once; only its hash is stored). 409 if the id is taken."""
        device_id = device_id or new_device_id()
        token = new_token(device_id)
        self.devices.create_device(device_id, name, hash_token(token), self._now_ms())
        return device_id, token

    def replace_token(self, device_id: str) -> str:
        """A new token for an existing device, shown once; the old one stops working. This is how an operator
        recovers a registration whose answer was lost (a retry is a 409: the device exists)."""
        if not is_device_id(device_id):
            raise NotFound(f"No device {device_id}")
        token = new_token(device_id)
        self.devices.replace_token(device_id, hash_token(token))
        return token

    def list_devices(self, limit: int, next_token: str | None) -> tuple[list[DeviceRecord], str | None]:
        return self.devices.list_devices(limit, next_token)

    def get_device(self, device_id: str) -> DeviceRecord:
        device = self.devices.get_device(device_id) if is_device_id(device_id) else None
        if device is None:
            raise NotFound(f"No device {device_id}")
        return device

    def list_readings(
        self,
        device_id: str,
        *,
        metric: str | None,
        start: int | None,
        end: int | None,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[Reading], str | None]:
        self._require_device(device_id)
        start, end = self._time_range(start, end)
        return self.readings.readings_page(
            device_id, metric=metric, start=start, end=end, limit=limit, next_token=next_token
        )

    def aggregates(
        self, device_id: str, metric: str, period: Period, start: int | None, end: int | None
    ) -> list[Aggregate]:
        """Per-minute or per-hour statistics of one metric; at most MAX_RANGE_MS[period] at once."""
        self._require_device(device_id)
        start, end = self._time_range(start, end, MAX_RANGE_MS[period])
        if end - start > MAX_RANGE_MS[period]:
            raise Unprocessable(
                f"from..to may span at most {MAX_RANGE_MS[period] // DAY_MS} days for period={period}"
            )
        return aggregate(self.rollups.minute_stats(device_id, metric, start, end), period, start, end)

    def put_rules(self, device_id: str, rules: Sequence[Rule]) -> Sequence[Rule]:
        self._require_device(device_id)
        self.rules.put_rules(device_id, rules)
        return rules

    def list_alerts(
        self, device_id: str, *, start: int | None, end: int | None, limit: int, next_token: str | None
    ) -> tuple[list[Alert], str | None]:
        self._require_device(device_id)
        start, end = self._time_range(start, end)
        return self.alerts.alerts_page(device_id, start=start, end=end, limit=limit, next_token=next_token)

    def _require_device(self, device_id: str) -> None:
        if not is_device_id(device_id):
            raise NotFound(f"No device {device_id}")
        self.devices.require_device(device_id)

    def _time_range(
        self, start: int | None, end: int | None, default_span: int | None = None
    ) -> tuple[int, int]:
        """[from, to], inclusive: to defaults to now (plus the clock skew devices may have), from to
        ``default_span`` before it, or the beginning."""
        end = self._now_ms() + MAX_FUTURE_MS if end is None else end
        if start is None:
            start = 0 if default_span is None else max(0, end - default_span)
        if start > end:
            raise Unprocessable("from must not be after to")
        return start, end
