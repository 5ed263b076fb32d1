"""Throughput on this machine: readings ingested per second through the gateway by concurrent
devices (each posting 100 readings per request back to back), then the stream records those
requests wrote, processed by the telemetry processor through its event source mapping (batches of
the template's size, one batch at a time per shard as Lambda does by default)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.system import BenchSystem, Device


def ingest(system: BenchSystem, devices: int, seconds: float) -> dict[str, Any]:
    fleet = [system.register_device(hours_back=160) for _ in range(devices)]
    with ThreadPoolExecutor(devices) as pool:
        list(pool.map(lambda device: device.post(), fleet))  # warm-up: one environment per device
    throttled_before = system.throttled
    stop = threading.Event()
    counts = [0] * devices

    def run(index: int, device: Device) -> None:
        while not stop.is_set():
            device.post()
            counts[index] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(devices) as pool:
        futures = [pool.submit(run, index, device) for index, device in enumerate(fleet)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    elapsed = time.perf_counter() - started
    requests = sum(counts)
    return {
        "devices": devices,
        "seconds": round(elapsed, 2),
        "requests": requests,
        "readings": requests * 100,
        "readingsPerSecond": round(requests * 100 / elapsed, 1),
        "requestsPerSecond": round(requests / elapsed, 1),
        "throttled": system.throttled - throttled_before,
    }


def stream(system: BenchSystem) -> dict[str, Any]:
    """Drain what ``ingest`` left in the telemetry table's stream."""
    key = system.keys["telemetry.processor"]
    (poller,) = [p for p in system.pollers if p.mapping.function == key]
    delivered = poller.stats["succeeded"]
    batches = poller.stats["invocations"]
    started = last_progress = time.perf_counter()
    quiet = 0
    while quiet < 2:
        if poller.poll_once() or poller.backlog():
            last_progress, quiet = time.perf_counter(), 0
        else:
            quiet += 1
    records = poller.stats["succeeded"] - delivered
    elapsed = max(last_progress - started, 1e-9)
    return {
        "records": records,
        "batches": poller.stats["invocations"] - batches,
        "batchSize": poller.mapping.batch_size,
        "seconds": round(elapsed, 2),
        "recordsPerSecond": round(records / elapsed, 1),
    }


def measure(system: BenchSystem, devices: int, seconds: float) -> dict[str, Any]:
    system.drain()
    found = ingest(system, devices, seconds)
    drained = stream(system)
    system.drain()
    return {"ingest": found, "stream": drained}
