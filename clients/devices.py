"""Clients of the telemetry API: ``FleetAdminClient`` (operators: devices, rules, reads) and
``DeviceClient`` (one device posting its readings). The command line is ``python -m clients.fleet``.

A reading is identified by (device, metric, ts), and the service stores each one once: posting a batch
again reports its readings as duplicates. So ``post_readings`` retries (429, 5xx, connection errors) by
re-sending the identical batch, and a retry can never count a reading twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clients.config import Endpoint
from clients.http import ApiError, BadResponse, HttpClient, RequestStats, RetryPolicy, Unreachable

MAX_BATCH = 500


@dataclass(frozen=True, order=True)
class Reading:
    ts: int
    """epoch milliseconds"""
    metric: str
    value: float

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "ts": self.ts}


@dataclass(frozen=True)
class Rule:
    metric: str
    op: str
    """gt, gte, lt or lte"""
    threshold: float

    def crossed_by(self, value: float) -> bool:
        if self.op == "gt":
            return value > self.threshold
        if self.op == "gte":
            return value >= self.threshold
        if self.op == "lt":
            return value < self.threshold
        if self.op == "lte":
            return value <= self.threshold
        raise ValueError(f"unknown op {self.op}")

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "threshold": self.threshold}


def first_crossed(rules: Sequence[Rule], reading: Reading) -> Rule | None:
    """The rule a reading raises its (single) alert for, as the service decides: the first it crosses."""
    return next((r for r in rules if r.metric == reading.metric and r.crossed_by(reading.value)), None)


@dataclass(frozen=True)
class PostResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class Registered:
    device_id: str
    token: str


def _paged(http: HttpClient, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = http.json("GET", path, params={**params, "nextToken": token})
        yield from page["items"]
        token = page.get("nextToken")
        if not token:
            return


class FleetAdminClient:
    """Operator calls: the operator API key and an administrator's JWT."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def connect(
        cls, endpoint: Endpoint, *, stats: RequestStats | None = None, policy: RetryPolicy | None = None
    ) -> FleetAdminClient:
        return cls(
            HttpClient(
                endpoint.base_url, api_key=endpoint.api_key, token=endpoint.token, stats=stats, policy=policy
            )
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FleetAdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def register(self, device_id: str | None = None, name: str | None = None) -> Registered:
        """A new device and its token (shown once). The id is chosen here when not given, so a registration
        whose answer was lost (a 5xx, a dropped connection) can be recovered: registering again answers 409
        when the first attempt did create the device, and a new token for it is then asked for instead."""
        device_id = device_id or f"dev-{secrets.token_hex(8)}"
        body = {key: value for key, value in {"deviceId": device_id, "name": name}.items() if value}
        try:
            created = self.http.json("POST", "/devices", json_body=body)
        except (ApiError, Unreachable) as error:
            if isinstance(error, ApiError) and error.status < 500:
                raise
            try:
                created = self.http.json("POST", "/devices", json_body=body)
            except ApiError as again:
                if again.status != 409:
                    raise
                created = self.http.json("POST", f"/devices/{device_id}/token")
        return Registered(device_id=created["deviceId"], token=created["token"])

    def device(self, device_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.http.json("GET", f"/devices/{device_id}")
        return found

    def set_rules(self, device_id: str, rules: Sequence[Rule]) -> list[Rule]:
        saved = self.http.json(
            "PUT", f"/devices/{device_id}/rules", json_body={"rules": [r.to_json() for r in rules]}
        )
        return [Rule(r["metric"], r["op"], r["threshold"]) for r in saved["rules"]]

    def aggregates(
        self,
        device_id: str,
        metric: str,
        period: str = "minute",
        start: int | None = None,
        end: int | None = None,
    ) -> list[dict[str, Any]]:
        """Buckets ``{start, period, count, min, max, sum, avg}`` of ``metric``, oldest first."""
        params = {"metric": metric, "period": period, "from": start, "to": end}
        return list(self.http.json("GET", f"/devices/{device_id}/aggregates", params=params)["items"])

    def alerts(
        self, device_id: str, start: int | None = None, end: int | None = None
    ) -> list[dict[str, Any]]:
        """Every alert (all pages)."""
        return list(_paged(self.http, f"/devices/{device_id}/alerts", {"from": start, "to": end}))

    def readings(
        self,
        device_id: str,
        metric: str | None = None,
        start: int | None = None,
        end: int | None = None,
        page_size: int = 1000,
    ) -> list[Reading]:
        """Every stored reading (all pages), ascending by (ts, metric)."""
        params = {"metric": metric, "from": start, "to": end, "limit": page_size}
        return [
            Reading(ts=r["ts"], metric=r["metric"], value=r["value"])
            for r in _paged(self.http, f"/devices/{device_id}/telemetry", params)
        ]


class DeviceClient:
    """One device: the fleet API key and the device's own token (``<deviceId>.<secret>``)."""

    def __init__(self, http: HttpClient, device_id: str) -> None:
        self.http = http
        self.device_id = device_id

    @classmethod
    def connect(
        cls, endpoint: Endpoint, *, stats: RequestStats | None = None, policy: RetryPolicy | None = None
    ) -> DeviceClient:
        if not endpoint.token:
            raise ValueError("a device client needs the device's token")
        http = HttpClient(
            endpoint.base_url, api_key=endpoint.api_key, token=endpoint.token, stats=stats, policy=policy
        )
        return cls(http, device_id_of(endpoint.token))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def post_readings(self, batch: Sequence[Reading]) -> PostResult:
        """Post one batch (1..500 readings). Retries re-send the identical bytes; the result is the answer
        to the attempt that got through, so after a lost response the readings it stored show as duplicates."""
        if not 1 <= len(batch) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} readings, not {len(batch)}")
        body = {"readings": [reading.to_json() for reading in batch]}
        path = f"/devices/{self.device_id}/telemetry"
        answer = self.http.json("POST", path, json_body=body, idempotent=True)
        try:
            return PostResult(accepted=int(answer["accepted"]), duplicates=int(answer["duplicates"]))
        except (KeyError, TypeError, ValueError) as error:
            raise BadResponse(
                f"POST {path} answered {answer!r:.200}, not its accepted/duplicates counts"
            ) from error


def device_id_of(token: str) -> str:
    device_id, dot, _ = token.partition(".")
    if not dot or not device_id:
        raise ValueError("a device token looks like <deviceId>.<secret>")
    return device_id
