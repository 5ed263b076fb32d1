"""How soon what the processor derives can be read after a reading is posted (issue 26: alerts and
device state within 5 s of ingest at p95).

One device with a rule posts one reading that crosses it; from just before the POST, the stream
mappings are polled as the event source mapping polls them (each poll honours the mapping's batching
window) while an operator reads the device and its alerts, until both show that reading. Repeated
``samples`` times, one reading at a time.
"""

from __future__ import annotations

import time
from typing import Any

from bench.latency import distribution
from bench.system import BenchSystem

THRESHOLD = 80
GIVE_UP_S = 30.0


def measure(system: BenchSystem, samples: int) -> dict[str, Any]:
    device = system.register_device(hours_back=0)
    system.alert_above(device, THRESHOLD)
    system.drain()
    operator = system.operator()
    path = f"/devices/{device.device_id}"
    waits: list[float] = []
    for sample in range(samples):
        ts = int(time.time() * 1000)
        reading = {"metric": "temperature", "ts": ts, "value": THRESHOLD + 1 + sample}
        started = time.perf_counter()
        system.request(device.client(), "POST", f"{path}/telemetry", json={"readings": [reading]}, expect=202)
        while True:
            for poller in system.pollers:
                poller.poll_once()
            state = system.request(operator, "GET", path, expect=200)[0].json()
            alerts = system.request(
                operator, "GET", f"{path}/alerts", params={"from": ts, "to": ts}, expect=200
            )
            if state.get("lastSeen") == ts and alerts[0].json()["items"]:
                break
            if time.perf_counter() - started > GIVE_UP_S:
                raise RuntimeError(f"reading {ts} was not processed within {GIVE_UP_S} s")
        waits.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)  # the next reading gets a later ts
    return {"samples": samples, "alertAndStateMs": distribution(waits)}
