"""The simulated signals (deterministic for a seed) and the simulator's batching, with a fake device."""

from __future__ import annotations

import itertools
import json
import random
import threading

import httpx

from clients.devices import MAX_BATCH, DeviceClient, PostResult, Reading, Rule, first_crossed
from clients.http import ApiError, BadResponse, HttpClient, Unreachable
from clients.simulator import DeviceSignal, SignalConfig, SimulationResult, Simulator


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
    """Stores what it is posted, as the service does (once per (metric, ts)); ``failures`` are raised, one
    per post, before any reading is stored."""

    def __init__(self, device_id: str, failures: list[Exception] | None = None) -> None:
        self.device_id = device_id
        self.batches: list[list[Reading]] = []
        self.failures = list(failures or [])
        self.stored: set[tuple[str, int]] = set()
        self.lock = threading.Lock()

    def post_readings(self, batch):
        if not 1 <= len(batch) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} readings")  # as DeviceClient does
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.batches.append(list(batch))
            new = {(r.metric, r.ts) for r in batch} - self.stored
            self.stored |= new
        return PostResult(accepted=len(new), duplicates=len(batch) - len(new))


def simulate(devices: list, duration_s: float = 0.6) -> SimulationResult:
    """``devices`` sampling 20 times a second and posting every 0.1 s."""
    return Simulator(
        devices, rate_hz=20, duration_s=duration_s, batch_interval_s=0.1, seed=5, progress=False
    ).run()


def assert_every_sample_stored_once(device: FakeDevice, run, samples: int) -> None:
    assert len(device.stored) == samples
    assert sorted((r.metric, r.ts) for r in run.sent) == sorted(device.stored)  # each reading sent once
    assert (run.sampled, run.unsent) == (samples, [])


def test_the_simulator_posts_every_sample_once_in_batches():
    devices = [FakeDevice("dev-a"), FakeDevice("dev-b"), FakeDevice("dev-c", [ApiError(503, "down")])]
    simulator = Simulator(devices, rate_hz=20, duration_s=0.6, batch_interval_s=0.1, seed=5, progress=False)

    result = simulator.run()

    assert simulator.expected_readings() == 3 * 12 * 2
    for device, run in zip(devices, result.devices, strict=True):
        assert run.device_id == device.device_id
        assert run.batches == device.batches
        assert_every_sample_stored_once(device, run, 24)
        stamps = sorted({r.ts for r in run.sent})
        assert all(b - a == 50 for a, b in itertools.pairwise(stamps))  # 20 Hz
        assert len(device.batches) > 1
    assert result.failed_batches == 1
    assert result.accepted == result.sent == result.sampled == 3 * 24
    assert result.unsent == 0


def test_a_batch_that_failed_after_its_retries_is_carried_into_the_next_post():
    outage = [ApiError(503, "Service Unavailable", attempts=6)] * 3
    device = FakeDevice("dev-a", outage)

    result = simulate([device])

    (run,) = result.devices
    assert_every_sample_stored_once(device, run, 24)
    assert [reason for _, reason in run.failed] == [str(outage[0])] * 3
    # Each post during the outage carried what the previous one could not deliver, oldest first, and the
    # first to get through carried all of it.
    held_back = [batch for batch, _ in run.failed]
    for earlier, later in itertools.pairwise([*held_back, device.batches[0]]):
        assert later[: len(earlier)] == earlier
    assert (result.sampled, result.sent, result.accepted, result.unsent) == (24, 24, 24, 0)


class FailsTheLastPostOnce(FakeDevice):
    """Down just as the run ends: the post that would complete the run fails, once."""

    def __init__(self, device_id: str, readings: int) -> None:
        super().__init__(device_id)
        self.readings = readings
        self.failed_once = False

    def post_readings(self, batch):
        completes_the_run = len(self.stored | {(r.metric, r.ts) for r in batch}) == self.readings
        if completes_the_run and not self.failed_once:
            self.failed_once = True
            raise Unreachable("connection refused", attempts=6)
        return super().post_readings(batch)


def test_readings_still_unsent_at_the_end_are_retried_and_what_never_gets_through_is_counted():
    late_outage = FailsTheLastPostOnce("dev-a", readings=12)
    never_up = FakeDevice("dev-b", [Unreachable("connection refused", attempts=6)] * 100)

    result = simulate([late_outage, never_up], duration_s=0.3)

    recovered, lost = result.devices
    assert_every_sample_stored_once(late_outage, recovered, 12)
    ((failed_batch, reason),) = recovered.failed
    assert reason == "connection refused"
    assert late_outage.batches[-1] == failed_batch  # sent again after the run
    assert (lost.sampled, len(lost.unsent), lost.sent) == (12, 12, [])
    assert (result.sampled, result.sent, result.accepted, result.unsent) == (24, 12, 12, 12)


def test_a_device_keeps_posting_after_an_answer_it_cannot_read():
    odd_answers = [
        BadResponse("POST /devices/dev-a/telemetry -> 200: not JSON (text/html): '<html>ok</html>'"),
        KeyError("accepted"),  # anything else a post may raise is handled the same way
    ]
    device = FakeDevice("dev-a", odd_answers)

    (run,) = simulate([device]).devices

    assert_every_sample_stored_once(device, run, 24)
    assert [reason for _, reason in run.failed] == [str(odd_answers[0]), "KeyError: 'accepted'"]


def test_an_html_page_answering_a_post_is_a_failed_post_not_a_dead_device():
    stored: set[tuple[str, int]] = set()
    posts = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        if len(posts) == 2:  # an intermediary's page instead of the API's answer
            return httpx.Response(200, text="<html>ok</html>", headers={"Content-Type": "text/html"})
        readings = {(r["metric"], r["ts"]) for r in json.loads(request.content)["readings"]}
        new = readings - stored
        stored.update(new)
        return httpx.Response(202, json={"accepted": len(new), "duplicates": len(readings - new)})

    http = HttpClient("https://api.test/dev", token="dev-a.s", transport=httpx.MockTransport(handler))

    result = simulate([DeviceClient(http, "dev-a")])

    (run,) = result.devices
    assert len(stored) == result.sampled == result.sent == 24
    ((_, reason),) = run.failed
    assert "not JSON (text/html)" in reason
    assert result.unsent == 0


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


def test_a_refused_post_is_not_carried_so_it_cannot_block_the_posts_behind_it():
    refusal = ApiError(422, "The batch was rejected, nothing was stored")
    device = FakeDevice("dev-a", [refusal])

    result = simulate([device])

    (run,) = result.devices
    ((refused_batch, reason),) = run.failed
    assert (run.refused, reason, run.unsent) == (refused_batch, str(refusal), [])
    assert len(device.batches) > 1  # every later post went through
    assert result.sampled == result.sent + result.refused == 24
    assert result.accepted == result.sent
