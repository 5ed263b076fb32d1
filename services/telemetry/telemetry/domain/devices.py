"""Devices: ids, tokens, and the device state (lastSeen, latest reading per metric) that only moves forward."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from telemetry.domain.readings import Reading

DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,64}")
TOKEN_SECRET_BYTES = 32
BEARER = "bearer "


def is_device_id(value: object) -> bool:
    return isinstance(value, str) and DEVICE_ID_PATTERN.fullmatch(value) is not None


def new_device_id() -> str:
    return f"dev-{secrets.token_hex(8)}"


def new_token(device_id: str) -> str:
    """``<deviceId>.<secret>``: the secret is 32 random bytes, url-safe base64 (never contains '.')."""
    return f"{device_id}.{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"


def hash_token(token: str) -> str:
    """What is stored: SHA-256 of the whole token. The token itself is shown once and never stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_from_header(authorization: object) -> tuple[str, str] | None:
    """``Bearer <deviceId>.<secret>`` -> (deviceId, token), or None when it cannot be a device token."""
    if not isinstance(authorization, str) or authorization[: len(BEARER)].lower() != BEARER:
        return None
    token = authorization[len(BEARER) :].strip()
    device_id, dot, secret = token.partition(".")
    if not dot or not is_device_id(device_id) or len(secret) < 43 or len(token) > 256:
        return None
    return device_id, token


def token_matches(token: str, stored_hash: object) -> bool:
    if not isinstance(stored_hash, str):
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


class Latest(NamedTuple):
    ts: int
    value: Decimal


class DeviceState(NamedTuple):
    last_seen: int | None = None
    latest: Mapping[str, Latest] = MappingProxyType({})

    @property
    def empty(self) -> bool:
        return self.last_seen is None and not self.latest


class DeviceRecord(NamedTuple):
    device_id: str
    name: str | None
    created_at: int
    state: DeviceState


def state_of(readings: Iterable[Reading]) -> DeviceState:
    """The state a set of readings implies: the newest ts overall and the newest reading per metric."""
    latest: dict[str, Latest] = {}
    last_seen: int | None = None
    for reading in readings:
        current = latest.get(reading.metric)
        if current is None or current.ts < reading.ts:
            latest[reading.metric] = Latest(reading.ts, reading.value)
        if last_seen is None or last_seen < reading.ts:
            last_seen = reading.ts
    return DeviceState(last_seen, latest)


def advance(stored: DeviceState, candidate: DeviceState) -> DeviceState:
    """The part of ``candidate`` that moves ``stored`` forward; late readings never move it back."""
    last_seen = candidate.last_seen
    if last_seen is not None and stored.last_seen is not None and last_seen <= stored.last_seen:
        last_seen = None
    latest = {
        metric: entry
        for metric, entry in candidate.latest.items()
        if metric not in stored.latest or stored.latest[metric].ts < entry.ts
    }
    return DeviceState(last_seen, latest)


def within_capacity(stored: DeviceState, candidate: DeviceState, max_metrics: int) -> DeviceState:
    """``candidate`` without the new metrics that would make ``stored`` track more than ``max_metrics``:
    metrics already tracked always move on; new ones are taken by name while there is room."""
    room = max(0, max_metrics - len(stored.latest))
    dropped = set(sorted(metric for metric in candidate.latest if metric not in stored.latest)[room:])
    latest = {metric: entry for metric, entry in candidate.latest.items() if metric not in dropped}
    return DeviceState(candidate.last_seen, latest)


def split_state(state: DeviceState, metrics_per_part: int) -> list[DeviceState]:
    """``state`` in parts of at most ``metrics_per_part`` metrics, lastSeen with the first (always one part)."""
    metrics = sorted(state.latest.items())
    chunks = [
        dict(metrics[start : start + metrics_per_part]) for start in range(0, len(metrics), metrics_per_part)
    ]
    return [
        DeviceState(state.last_seen if index == 0 else None, chunk)
        for index, chunk in enumerate(chunks or [{}])
    ]
