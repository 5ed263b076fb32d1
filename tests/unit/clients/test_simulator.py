"""The simulated signals (deterministic for a seed) and the simulator's batching, with a fake device."""

from __future__ import annotations

import itertools
import random
import threading

from clients.devices import MAX_BATCH, PostResult, Reading, Rule, first_crossed
from clients.http import ApiError
from clients.simulator import DeviceSignal, SignalConfig, Simulator


def samples(seed: int, count: int, config: SignalConfig | None = None) -> tuple[DeviceSignal, list[Reading]]:
    signal = DeviceSignal(random.Random(seed), config)
    readings = [reading for n in range(count) for reading in signal.sample(1_000_000 + n * 500)]
    return signal, readings


def values(readings: list[Reading], metric: str) -> list[float]:
    return [r.value for r in readings if r.metric == metric]


def test_the_same_seed_gives_the_same_signals():
    assert samples(42, 500)[1] == samples(42, 500)[1]
    assert samples(42, 500)[1] != samples(43, 500)[1]


def test_temperature_drifts_within_its_bound_and_spikes_cross_the_rule():
    config = SignalConfig()
    signal, readings = samples(7, 5000, config)
    temperatures = values(readings, "temperature")
    rule = Rule("temperature", "gt", config.spike_threshold)
    crossing = [t for t in temperatures if rule.crossed_by(t)]
    normal = [t for t in temperatures if not rule.crossed_by(t)]

    assert signal.spikes > 0
    assert len(crossing) == signal.spikes  # every spike crosses the rule, nothing else does
    assert 0.005 < signal.spikes / 5000 < 0.04  # occasional (probability 0.02)
    assert all(t <= config.normal_ceiling for t in normal)
    low = config.base_temperature - config.drift_bound - 6 * config.noise
    assert all(t >= low for t in temperatures)
    assert abs(signal.drift) <= config.drift_bound
    # It drifts: the mean of a window wanders, more than noise alone would move it.
    windows = [sum(normal[i : i + 200]) / 200 for i in range(0, len(normal) - 200, 200)]
    assert max(windows) - min(windows) > 0.5


def test_humidity_oscillates_within_0_and_100():
    _, readings = samples(3, 2000)
    humidity = values(readings, "humidity")
    assert all(0 <= h <= 100 for h in humidity)
    assert max(humidity) - min(humidity) > 10


def test_each_sample_is_two_readings_at_the_same_timestamp_rounded_to_hundredths():
    _, readings = samples(1, 10)
    assert len(readings) == 20
    assert {r.metric for r in readings} == {"temperature", "humidity"}
    assert all(round(r.value, 2) == r.value for r in readings)
    assert len({(r.metric, r.ts) for r in readings}) == 20


def test_first_crossed_follows_the_services_rule_order():
    rules = [Rule("t", "gt", 30), Rule("t", "gte", 10), Rule("h", "lt", 5)]
    assert first_crossed(rules, Reading(1, "t", 31)) == rules[0]
    assert first_crossed(rules, Reading(1, "t", 10)) == rules[1]
    assert first_crossed(rules, Reading(1, "t", 9)) is None
    assert first_crossed(rules, Reading(1, "h", 4)) == rules[2]


class FakeDevice:
    def __init__(self, device_id: str, fail_first: bool = False) -> None:
        self.device_id = device_id
        self.batches: list[list[Reading]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def post_readings(self, batch):
        if not 1 <= len(batch) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} readings")  # as DeviceClient does
        with self.lock:
            if self.fail_first:
                self.fail_first = False
                raise ApiError(503, "down")
            self.batches.append(list(batch))
        return PostResult(accepted=len(batch), duplicates=0)


def test_the_simulator_posts_every_sample_once_in_batches():
    devices = [FakeDevice("dev-a"), FakeDevice("dev-b"), FakeDevice("dev-c", fail_first=True)]
    simulator = Simulator(devices, rate_hz=20, duration_s=0.6, batch_interval_s=0.1, seed=5, progress=False)

    result = simulator.run()

    assert simulator.expected_readings() == 3 * 12 * 2
    for device, run in zip(devices, result.devices, strict=True):
        assert run.device_id == device.device_id
        assert run.batches == device.batches
        sent = run.sent + [r for batch, _ in run.failed for r in batch]
        assert len(sent) == 24
        assert len({(r.metric, r.ts) for r in sent}) == 24
        stamps = sorted({r.ts for r in sent})
        assert all(b - a == 50 for a, b in itertools.pairwise(stamps))  # 20 Hz
        assert len(device.batches) > 1
    assert result.failed_batches == 1
    assert result.accepted == result.sent == 3 * 24 - len(result.devices[2].failed[0][0])


def test_more_readings_due_than_one_request_carries_go_in_several_full_requests():
    device = FakeDevice("dev-fast")
    devices = [device]
    simulator = Simulator(devices, rate_hz=1000, duration_s=0.4, batch_interval_s=2.0, seed=1, progress=False)

    result = simulator.run()

    assert simulator.expected_readings() == 800
    assert result.failed_batches == 0
    assert result.accepted == result.sent == 800
    assert all(len(batch) <= MAX_BATCH for batch in device.batches)
    assert len({(r.metric, r.ts) for batch in device.batches for r in batch}) == 800
