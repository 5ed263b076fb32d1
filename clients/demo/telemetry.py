"""The telemetry scenario: devices registered with alert rules, simulated devices posting readings, a batch re-sent,
the pipeline's aggregates and alerts read back once caught up, and a burst of operator reads that meets the
usage plan's limits; then the invariants checked on what was read back (no reading lost or counted twice, one
alert per reading that crosses a rule)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from clients.config import DEVICE, OPERATOR, LocalRuntimeClient, resolve
from clients.demo.harness import PATIENT, Check, converge, parallel
from clients.devices import DeviceClient, FleetAdminClient, PostResult, Reading, Rule, first_crossed
from clients.http import ClientError, RequestStats
from clients.simulator import SignalConfig, SimulationResult, Simulator

MINUTE_MS = 60_000


def minute_of(ts: int) -> int:
    return ts - ts % MINUTE_MS


@dataclass
class DeviceReadBack:
    device_id: str
    readings: list[Reading]
    aggregates: dict[str, list[dict[str, Any]]]
    alerts: list[dict[str, Any]]


@dataclass
class TelemetryOutcome:
    rules: list[Rule]
    simulation: SimulationResult
    resent: tuple[list[Reading], PostResult] | None = None
    read_back: dict[str, DeviceReadBack] = field(default_factory=dict)
    converged_after_s: float = 0.0
    burst: tuple[int, int, int] = (0, 0, 0)
    """(requests, succeeded, 429 responses seen) of the burst of concurrent operator reads"""

    def sent(self, device_id: str) -> list[Reading]:
        run = next(run for run in self.simulation.devices if run.device_id == device_id)
        return run.sent

    def expected_alerts(self, device_id: str) -> set[tuple[str, int]]:
        return {(r.metric, r.ts) for r in self.sent(device_id) if first_crossed(self.rules, r)}


class TelemetryScenario:
    def __init__(
        self,
        runtime: LocalRuntimeClient,
        *,
        devices: int,
        duration_s: float,
        rate_hz: float,
        seed: int,
        fleet_stats: RequestStats,
        operator_stats: RequestStats,
    ) -> None:
        self.runtime = runtime
        self.devices = devices
        self.duration_s = duration_s
        self.rate_hz = rate_hz
        self.seed = seed
        self.fleet_stats = fleet_stats
        self.operator_stats = operator_stats
        self.config = SignalConfig(spike_probability=0.03)
        self.rules = [
            Rule("temperature", "gt", round(self.config.spike_threshold, 1)),
            # At the bottom of the humidity swing: crossed by a few readings, as the spikes cross the other.
            Rule(
                "humidity", "lt", round(self.config.humidity_base - self.config.humidity_amplitude - 1.5, 1)
            ),
        ]

    def admin(self) -> FleetAdminClient:
        endpoint = resolve(OPERATOR, local=self.runtime, subject="fleet-operator", groups=("admin",), env={})
        return FleetAdminClient.connect(endpoint, stats=self.operator_stats, policy=PATIENT)

    def run(self) -> TelemetryOutcome:
        with self.admin() as admin:
            registered = [admin.register(name=f"demo sensor {index + 1}") for index in range(self.devices)]
            for device in registered:
                admin.set_rules(device.device_id, self.rules)
            devices = [
                DeviceClient.connect(
                    resolve(DEVICE, local=self.runtime, token=device.token, env={}), stats=self.fleet_stats
                )
                for device in registered
            ]
            try:
                simulation = Simulator(
                    devices,
                    rate_hz=self.rate_hz,
                    duration_s=self.duration_s,
                    seed=self.seed,
                    config=self.config,
                    stats=self.fleet_stats,
                ).run()
                outcome = TelemetryOutcome(self.rules, simulation)
                # A device that never saw the answer to a batch posts it again (one from the middle of its run).
                run = max(simulation.devices, key=lambda run: len(run.batches))
                poster = next(d for d in devices if d.device_id == run.device_id)
                batch = run.batches[len(run.batches) // 2]
                outcome.resent = (batch, poster.post_readings(batch))
            finally:
                for client in devices:
                    client.close()
            started = time.monotonic()
            self._read_back(admin, outcome)
            outcome.converged_after_s = time.monotonic() - started
            outcome.burst = self._burst(registered[0].device_id)
        return outcome

    def _read_back(self, admin: FleetAdminClient, outcome: TelemetryOutcome) -> None:
        metrics = sorted({r.metric for run in outcome.simulation.devices for r in run.sent})

        def read(device_id: str) -> DeviceReadBack:
            sent = outcome.sent(device_id)
            start = minute_of(min(r.ts for r in sent)) if sent else None
            end = max(r.ts for r in sent) if sent else None
            expected = {m: per_minute(sent, m) for m in metrics}
            expected_alerts = outcome.expected_alerts(device_id)

            def fetch() -> DeviceReadBack:
                return DeviceReadBack(
                    device_id,
                    readings=[],
                    aggregates={m: admin.aggregates(device_id, m, "minute", start, end) for m in metrics},
                    alerts=admin.alerts(device_id),
                )

            def caught_up(found: DeviceReadBack) -> bool:
                counts = {
                    m: {row["start"]: row["count"] for row in rows} for m, rows in found.aggregates.items()
                }
                alerts = {(a["metric"], a["ts"]) for a in found.alerts}
                return counts == expected and alerts == expected_alerts

            found = converge(fetch, caught_up, timeout_s=20)
            found.readings = admin.readings(device_id)
            return found

        ids = [run.device_id for run in outcome.simulation.devices]
        for found in parallel(read, ids, 3, "reading telemetry back"):
            outcome.read_back[found.device_id] = found

    def _burst(self, device_id: str, requests: int = 40) -> tuple[int, int, int]:
        """Concurrent operator reads, more than the plan's burst (20) and rate (10/s): some are throttled
        (429) and retried with backoff until the bucket refills."""
        stats = RequestStats()
        endpoint = resolve(OPERATOR, local=self.runtime, subject="fleet-operator", groups=("admin",), env={})
        clients = [FleetAdminClient.connect(endpoint, stats=stats, policy=PATIENT) for _ in range(requests)]

        def read(client: FleetAdminClient) -> bool:
            try:
                client.device(device_id)
            except ClientError:
                return False
            return True

        try:
            results = parallel(read, clients, requests, "burst of operator reads")
        finally:
            for client in clients:
                client.close()
        self.operator_stats.add(stats)
        return requests, sum(results), stats.throttled


def per_minute(readings: Sequence[Reading], metric: str) -> dict[int, int]:
    return dict(Counter(minute_of(r.ts) for r in readings if r.metric == metric))


def telemetry_checks(out: TelemetryOutcome) -> list[Check]:
    sim = out.simulation
    problems = []
    # Stored exactly once is judged on the listings below. The counts cannot require accepted = distinct:
    # a post whose answer was lost stores its readings, and the retry that gets through reports them as
    # duplicates. What they must do is account for every reading posted, and never accept one twice.
    distinct = sum(len(set(run.sent)) for run in sim.devices)
    resent_batch, resent_result = out.resent if out.resent else ([], PostResult(0, 0))
    accepted = sim.accepted + resent_result.accepted
    duplicates = sim.duplicates + resent_result.duplicates
    posted = sim.sent + len(resent_batch)
    if sim.sampled != distinct:
        problems.append(
            f"{sim.sampled} readings sampled, {distinct} delivered ({sim.unsent} never were, {sim.refused} refused)"
        )
    if accepted + duplicates != posted:
        problems.append(f"accepted {accepted} + duplicates {duplicates} != {posted} readings posted")
    if accepted > distinct:
        problems.append(f"accepted {accepted} > {distinct} distinct readings sent")
    if (resent_result.accepted, resent_result.duplicates) != (0, len(resent_batch)):
        problems.append(
            f"re-sent batch of {len(resent_batch)}: accepted {resent_result.accepted},"
            f" duplicates {resent_result.duplicates}"
        )
    for run in sim.devices:
        found = out.read_back.get(run.device_id)
        if found is None:
            problems.append(f"{run.device_id}: not read back")
            continue
        listed = [(r.metric, r.ts, Decimal(repr(r.value))) for r in found.readings]
        sent = sorted((r.metric, r.ts, Decimal(repr(r.value))) for r in set(run.sent))
        if len(listed) != len(set(listed)):
            problems.append(f"{run.device_id}: the listing repeats readings")
        if sorted(listed) != sent:
            problems.append(f"{run.device_id}: listed {len(listed)} readings, sent {len(sent)}")
        for metric, rows in found.aggregates.items():
            counts = {row["start"]: row["count"] for row in rows}
            if counts != per_minute(run.sent, metric):
                problems.append(
                    f"{run.device_id} {metric}: aggregate counts {counts} != sent {per_minute(run.sent, metric)}"
                )
    checks = [
        Check(
            "no reading lost or counted twice",
            not problems,
            "; ".join(problems[:4])
            or f"{distinct} readings sampled, each listed exactly once; {accepted} accepted + {duplicates}"
            f" duplicates = {posted} readings posted (the re-sent batch: {resent_result.duplicates}"
            " duplicates); per-minute aggregate counts match",
        )
    ]
    wrong = []
    raised = expected = 0
    for run in sim.devices:
        found = out.read_back.get(run.device_id)
        alerts = [(a["metric"], a["ts"]) for a in (found.alerts if found else [])]
        want = out.expected_alerts(run.device_id)
        raised += len(alerts)
        expected += len(want)
        if len(alerts) != len(set(alerts)) or set(alerts) != want:
            wrong.append(f"{run.device_id}: {len(alerts)} alerts, expected {len(want)}")
    checks.append(
        Check(
            "one alert per reading crossing a rule",
            not wrong,
            "; ".join(wrong) or f"{raised} alerts for {expected} readings crossing a rule",
        )
    )
    return checks
