"""API Gateway's throttling and quotas: token buckets (rate, burst) and per-period request quotas."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class TokenBucket:
    """Holds up to ``burst`` tokens, refilled at ``rate`` per second; each request takes one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), max(1, int(burst))
        self._clock = time.monotonic
        self._tokens = float(self.burst)
        self._updated = self._clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def period_start(period: str, now: datetime) -> datetime:
    """The start of the quota period containing ``now`` (UTC): DAY, WEEK (from Monday) or MONTH."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    if period == "MONTH":
        return day.replace(day=1)
    raise ValueError(f"unknown quota period {period}")


class Quota:
    """At most ``limit`` requests per period; the count starts again with each period."""

    def __init__(self, limit: int, period: str) -> None:
        self.limit, self.period = limit, period
        self._window: datetime | None = None
        self._used = 0
        self._lock = threading.Lock()

    def take(self, now: datetime | None = None) -> bool:
        start = period_start(self.period, now or datetime.now(UTC))
        with self._lock:
            if start != self._window:
                self._window, self._used = start, 0
            if self._used >= self.limit:
                return False
            self._used += 1
            return True
