"""A fleet of simulated devices: N devices, each sampling at a rate and posting a batch every interval.

Each sample is two readings at the same timestamp:

* ``temperature``: a base value plus a slow drift (a mean-reverting random walk kept within
  ``drift_bound``), gaussian noise, and, rarely, a spike well above anything the drift and noise reach,
  so a rule on the spike threshold fires for spikes and nothing else;
* ``humidity``: a slow oscillation plus noise, kept within 0..100.

Signals are deterministic for a seed (each device has its own ``random.Random``), so tests and demo runs
are reproducible; only the timestamps come from the clock.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tqdm import tqdm  # type: ignore[import-untyped]

from clients.devices import MAX_BATCH, DeviceClient, PostResult, Reading
from clients.http import ApiError, ClientError, RequestStats

METRICS = ("temperature", "humidity")
# answered: stored (accepted or duplicates); failed: not answered, carried into the next post; refused: a 4xx
PostOutcome = Literal["answered", "failed", "refused"]
MAX_RATE_HZ = 1000


@dataclass(frozen=True)
class SignalConfig:
    base_temperature: float = 21.0
    drift_step: float = 0.08
    """standard deviation of the drift's step per sample"""
    drift_bound: float = 4.0
    """the drift stays within base ± this"""
    mean_reversion: float = 0.02
    noise: float = 0.3
    spike_probability: float = 0.02
    spike_margin: tuple[float, float] = (6.0, 12.0)
    """a spike lands this far above base + drift_bound"""
    humidity_base: float = 45.0
    humidity_amplitude: float = 8.0
    humidity_period_samples: int = 120
    humidity_noise: float = 1.0

    @property
    def normal_ceiling(self) -> float:
        """Above anything drift and noise reach (6 standard deviations of noise over the drift bound)."""
        return self.base_temperature + self.drift_bound + 6 * self.noise

    @property
    def spike_threshold(self) -> float:
        """A threshold every spike crosses and no normal reading does."""
        return self.base_temperature + self.drift_bound + self.spike_margin[0] - 0.5


class DeviceSignal:
    """One device's signals; ``sample(ts)`` gives its readings at ``ts``."""

    def __init__(self, rng: random.Random, config: SignalConfig | None = None) -> None:
        self.rng = rng
        self.config = config or SignalConfig()
        self.drift = 0.0
        self.samples = 0
        self.spikes = 0
        self.phase = rng.uniform(0, 2 * math.pi)

    def sample(self, ts: int) -> list[Reading]:
        c, rng = self.config, self.rng
        self.drift += rng.gauss(0.0, c.drift_step) - c.mean_reversion * self.drift
        self.drift = max(-c.drift_bound, min(c.drift_bound, self.drift))
        if rng.random() < c.spike_probability:
            self.spikes += 1
            temperature = c.base_temperature + c.drift_bound + rng.uniform(*c.spike_margin)
        else:
            noise = max(-6 * c.noise, min(6 * c.noise, rng.gauss(0.0, c.noise)))
            temperature = c.base_temperature + self.drift + noise
        angle = self.phase + 2 * math.pi * self.samples / c.humidity_period_samples
        humidity = c.humidity_base + c.humidity_amplitude * math.sin(angle) + rng.gauss(0.0, c.humidity_noise)
        self.samples += 1
        return [
            Reading(ts=ts, metric="temperature", value=round(temperature, 2)),
            Reading(ts=ts, metric="humidity", value=round(max(0.0, min(100.0, humidity)), 2)),
        ]


@dataclass
class DeviceRun:
    device_id: str
    signal: DeviceSignal
    sampled: int = 0
    """readings taken (each is in ``sent``, ``unsent`` or ``refused``)"""
    batches: list[list[Reading]] = field(default_factory=list)
    """every post the service answered, in order; each reading is in one of them at most"""
    accepted: int = 0
    duplicates: int = 0
    failed: list[tuple[list[Reading], str]] = field(default_factory=list)
    """every post that failed after its retries, and why; its readings went out again with a later post"""
    unsent: list[Reading] = field(default_factory=list)
    """readings no answered post has carried yet; after the run, those that failed to the end"""
    refused: list[Reading] = field(default_factory=list)
    """readings of posts the service refused (a 4xx other than 429): sent again, they would be refused again"""

    @property
    def sent(self) -> list[Reading]:
        return [reading for batch in self.batches for reading in batch]


@dataclass
class SimulationResult:
    devices: list[DeviceRun]
    elapsed_s: float
    stats: RequestStats

    @property
    def sampled(self) -> int:
        return sum(run.sampled for run in self.devices)

    @property
    def sent(self) -> int:
        """readings an answered post carried: stored, whether ``accepted`` then or ``duplicates`` of an
        attempt whose answer was lost"""
        return sum(len(run.sent) for run in self.devices)

    @property
    def unsent(self) -> int:
        return sum(len(run.unsent) for run in self.devices)

    @property
    def refused(self) -> int:
        return sum(len(run.refused) for run in self.devices)

    @property
    def accepted(self) -> int:
        return sum(run.accepted for run in self.devices)

    @property
    def duplicates(self) -> int:
        return sum(run.duplicates for run in self.devices)

    @property
    def posts(self) -> int:
        return sum(len(run.batches) for run in self.devices)

    @property
    def failed_batches(self) -> int:
        """posts that failed after their retries (their readings were carried into later posts)"""
        return sum(len(run.failed) for run in self.devices)

    @property
    def spikes(self) -> int:
        return sum(run.signal.spikes for run in self.devices)


class Simulator:
    """Runs ``devices`` for ``duration_s``: each samples ``rate_hz`` times a second (two readings per
    sample) and posts what it has every ``batch_interval_s``; one thread per device.

    A post that fails after its retries loses nothing: its readings go out again with the device's next
    post, and once more after the run if still undelivered. Re-sending is safe because the service stores
    each (device, metric, ts) once and reports a repeat as a duplicate."""

    def __init__(
        self,
        devices: Sequence[DeviceClient],
        *,
        rate_hz: float = 2.0,
        duration_s: float = 10.0,
        batch_interval_s: float = 1.0,
        seed: int = 7,
        config: SignalConfig | None = None,
        stats: RequestStats | None = None,
        progress: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < rate_hz <= MAX_RATE_HZ:
            raise ValueError(f"rate_hz must be in (0, {MAX_RATE_HZ}]: timestamps are whole milliseconds")
        self.devices = list(devices)
        self.rate_hz = rate_hz
        self.duration_s = duration_s
        self.batch_interval_s = batch_interval_s
        self.seed = seed
        self.config = config or SignalConfig()
        self.stats = stats or RequestStats()
        self.progress = progress
        self.clock = clock
        self._stop = threading.Event()
        self._accepted = 0
        self._failed_posts = 0

    def expected_readings(self) -> int:
        return int(len(self.devices) * self.duration_s * self.rate_hz) * len(METRICS)

    def run(self) -> SimulationResult:
        started = self.clock()
        runs = [
            DeviceRun(device.device_id, DeviceSignal(random.Random(f"{self.seed}:{index}"), self.config))
            for index, device in enumerate(self.devices)
        ]
        bar = tqdm(
            total=self.expected_readings(),
            desc="devices posting",
            unit="reading",
            disable=not self.progress,
            mininterval=0.5,
            leave=True,
        )
        lock = threading.Lock()
        threads = [
            threading.Thread(target=self._device_loop, args=(device, run, started, bar, lock), daemon=True)
            for device, run in zip(self.devices, runs, strict=True)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:
            self._stop.set()
            raise
        finally:
            bar.close()
        return SimulationResult(runs, self.clock() - started, self.stats)

    def _device_loop(
        self, device: DeviceClient, run: DeviceRun, started: float, bar: Any, lock: threading.Lock
    ) -> None:
        """Sample k is taken at ``started + k / rate``; each post carries every sample due by then."""
        period_ms = 1000.0 / self.rate_hz
        total_samples = int(self.duration_s * self.rate_hz)
        start_ms = int(started * 1000)
        next_post = started + run.signal.rng.uniform(0, self.batch_interval_s)  # devices do not post in step
        taken = 0
        while taken < total_samples:
            wait = next_post - self.clock()
            if wait > 0 and self._stop.wait(wait):
                return
            next_post += self.batch_interval_s
            now = self.clock()
            due = total_samples
            if now < started + self.duration_s:
                due = min(total_samples, int((now - started) * self.rate_hz) + 1)
            fresh: list[Reading] = []
            while taken < due:
                fresh.extend(run.signal.sample(start_ms + round(taken * period_ms)))
                taken += 1
            run.sampled += len(fresh)
            self._post_due(device, run, fresh, bar, lock)
        # The service deduplicates, so what the last posts could not deliver is simply sent again, once
        # more, after another interval's grace; whatever still fails stays in ``unsent`` for the summary.
        if run.unsent and not self._stop.wait(self.batch_interval_s):
            self._post_due(device, run, [], bar, lock)

    def _post_due(
        self, device: DeviceClient, run: DeviceRun, fresh: list[Reading], bar: Any, lock: threading.Lock
    ) -> None:
        """Post what is still unsent, oldest first, then ``fresh``. A fast rate, a slow answer or an outage
        can leave more due than one request may carry, hence requests of at most MAX_BATCH; after one fails,
        the rest waits for the next post rather than meet the same failure now."""
        due, run.unsent = run.unsent + fresh, []
        for first in range(0, len(due), MAX_BATCH):
            batch = due[first : first + MAX_BATCH]
            outcome = self._post(device, run, batch, bar, lock)
            if outcome == "refused":
                run.refused.extend(batch)  # carried, it would block every later post behind it
            elif outcome == "failed":
                run.unsent = due[first:]
                return

    def _post(
        self,
        device: DeviceClient,
        run: DeviceRun,
        batch: list[Reading],
        bar: Any,
        lock: threading.Lock,
    ) -> PostOutcome:
        """How the post went; a failed or refused post is recorded with its reason."""
        result: PostResult | None = None
        outcome: PostOutcome = "answered"
        try:
            result = device.post_readings(batch)
        except Exception as error:
            # Whatever went wrong (an outage, an answer that is not the API's, a refusal) costs this post,
            # never the device's thread.
            reason = str(error) if isinstance(error, ClientError) else f"{type(error).__name__}: {error}"
            run.failed.append((batch, reason))
            refused = isinstance(error, ApiError) and 400 <= error.status < 500 and error.status != 429
            outcome = "refused" if refused else "failed"
        else:
            run.batches.append(batch)
            run.accepted += result.accepted
            run.duplicates += result.duplicates
        with lock:
            if result is None:
                self._failed_posts += 1
            else:
                self._accepted += result.accepted
                bar.update(len(batch))
            bar.set_postfix(
                accepted=self._accepted,
                failed_posts=self._failed_posts,
                throttled=self.stats.throttled,
                refresh=False,
            )
        return outcome

    def stop(self) -> None:
        self._stop.set()
