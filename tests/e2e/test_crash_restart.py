"""Crash and restart, nothing lost: `make up`'s whole process group is killed with SIGKILL in the middle of work,
started again on the same data directory, and everything the APIs acknowledged comes out right.

The work: a fleet posting 5,000 readings while a storefront places orders, some declined and some cancelled
after their capture. The kill lands while readings are still being posted and the streams are busy. After the
restart (stream positions resume from the checkpoints kept under the state directory):
- every reading the API acknowledged (202) is stored once, and the aggregates count each stored reading once;
- every order reaches a final state whose payment agrees with it, and stock is conserved;
- no stream record was given up on (the on-failure destinations are empty).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_runtime.assembly import REPO_ROOT
from local_runtime.dynamodb_local import free_port
from local_runtime.synth import synthesize
from tests.e2e.conftest import eventually
from tests.e2e.processes import stop, wait_until_up

DEVICES = 5
READINGS_PER_DEVICE = 1_000
BATCH = 250
ORDERS = 16
FINAL = {"PAID", "PAYMENT_FAILED", "CANCELLED", "FULFILLED"}
PAYMENT_OF = {
    "PAID": {"CAPTURED"},
    "PAYMENT_FAILED": {"DECLINED"},
    "CANCELLED": {"REFUNDED", "PENDING", "DECLINED"},
}


@dataclass
class Runtime:
    """`python -m local_runtime` on a state directory kept across its restarts."""

    state_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start it; returns how long it took to answer."""
        output = (self.state_dir.parent / "runtime-output.txt").open("ab")
        command = [
            sys.executable,
            "-m",
            "local_runtime",
            "--port",
            str(self.port),
            "--web-port",
            str(free_port()),
        ]
        began = time.monotonic()
        self.process = subprocess.Popen(
            [*command, "--state-dir", str(self.state_dir)],
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as `make up` in a terminal has
        )
        wait_until_up(self.process, self.origin, self.state_dir.parent / "runtime-output.txt")
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL to the whole process group: the runtime and its function workers, with no chance to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def session(self) -> dict[str, Any]:
        return httpx.get(f"{self.origin}/_local/session").json()

    def token(self, service: str, subject: str, groups: str = "") -> str:
        params = {"service": service, "sub": subject, "groups": groups}
        return httpx.get(f"{self.origin}/_local/token", params=params).json()["token"]

    def client(self, service: str, plan: str, token: str) -> httpx.Client:
        session = self.session()
        headers = {"x-api-key": session["apiKeys"][plan], "Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=session["apis"][service], headers=headers, timeout=30)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    synthesize()
    state = tmp_path / "state"
    state.mkdir()
    runtime = Runtime(state)
    yield runtime
    if runtime.process is not None:
        stop(runtime.process)


class Fleet:
    """Devices posting batches of readings; only what a 202 acknowledged counts as accepted."""

    def __init__(self, runtime: Runtime, start_ms: int) -> None:
        self.runtime = runtime
        self.start_ms = start_ms
        self.acknowledged: dict[str, set[int]] = {}
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()

    def register(self, admin: httpx.Client) -> None:
        for _ in range(DEVICES):
            device_id = f"crash-{uuid.uuid4().hex[:8]}"
            created = admin.post("/devices", json={"deviceId": device_id})
            assert created.status_code == 201, created.text
            self.tokens[device_id] = created.json()["token"]
            self.acknowledged[device_id] = set()

    def post_all(self) -> None:
        """Each device posts its readings, one batch at a time; a batch cut off by the kill is not counted."""
        threads = [threading.Thread(target=self._post, args=(device,)) for device in self.tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _post(self, device_id: str) -> None:
        with self.runtime.client("telemetry", "fleet", self.tokens[device_id]) as device:
            for first in range(0, READINGS_PER_DEVICE, BATCH):
                stamps = [self.start_ms + n * 100 for n in range(first, first + BATCH)]
                readings = [
                    {"metric": "temperature", "value": n % 40, "ts": ts} for n, ts in enumerate(stamps)
                ]
                try:
                    answer = device.post(f"/devices/{device_id}/telemetry", json={"readings": readings})
                except httpx.TransportError:
                    return  # the runtime is gone: this batch may or may not be stored, and is not counted
                if answer.status_code != 202:
                    return
                with self.lock:
                    self.acknowledged[device_id].update(stamps)


def place_orders(shop: httpx.Client) -> list[str]:
    """Orders of one unit each: every third declined; the rest approved."""
    order_ids = []
    for n in range(ORDERS):
        token = "tok_chargeDeclined" if n % 3 == 2 else "tok_visa"
        body = {"items": [{"productId": "paper-filters-100", "quantity": 1}], "paymentToken": token}
        created = shop.post("/orders", json=body)
        assert created.status_code == 201, created.text
        order_ids.append(created.json()["orderId"])
    return order_ids


def stock(shop: httpx.Client, product_id: str) -> int:
    products = shop.get("/products").json()["items"]
    return next(product["stock"] for product in products if product["productId"] == product_id)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills a process group")
def test_a_sigkill_mid_work_loses_no_acknowledged_reading_and_settles_every_order(runtime: Runtime):
    runtime.start()
    shopper = runtime.token("orders", f"crash-{uuid.uuid4().hex[:6]}")
    operator = runtime.token("telemetry", "crash-operator", "admin")
    start_ms = (int(time.time() * 1000) // 3_600_000) * 3_600_000 - 3_600_000  # the last full hour
    fleet = Fleet(runtime, start_ms)
    with runtime.client("telemetry", "operator", operator) as admin:
        fleet.register(admin)
    with runtime.client("orders", "storefront", shopper) as shop:
        stock_before = stock(shop, "paper-filters-100")
        posting = threading.Thread(target=fleet.post_all)
        posting.start()
        order_ids = place_orders(shop)
        # Cancel a few right away (maybe before their charge) and a few once captured (refunds in flight).
        cancelled_early = order_ids[:3]
        for order_id in cancelled_early:
            shop.post(f"/orders/{order_id}/cancel")
        captured = [order_id for n, order_id in enumerate(order_ids) if n % 3 != 2][3:6]  # approved cards
        eventually(lambda: all(shop.get(f"/orders/{o}").json()["status"] == "PAID" for o in captured), 60)
        for order_id in captured:
            assert shop.post(f"/orders/{order_id}/cancel").status_code == 200
    # Mid-work: readings are still being posted, and the streams are busy with orders, refunds and rollups.
    eventually(lambda: sum(len(stamps) for stamps in fleet.acknowledged.values()) >= 2_000, 60)
    runtime.kill()
    posting.join()
    acknowledged = sum(len(stamps) for stamps in fleet.acknowledged.values())
    assert acknowledged >= 2_000

    recovery_began = time.monotonic()
    runtime.start()
    # Post what the kill cut off, so the fleet has sent all 5,000 (reposts of stored readings are duplicates).
    fleet.post_all()
    assert all(len(stamps) == READINGS_PER_DEVICE for stamps in fleet.acknowledged.values())

    with runtime.client("orders", "storefront", shopper) as shop:

        def settled() -> list[dict[str, Any]] | None:
            orders = [shop.get(f"/orders/{order_id}").json() for order_id in order_ids]
            done = all(
                order["status"] in FINAL and order["payment"]["status"] in PAYMENT_OF[order["status"]]
                for order in orders
            )
            return orders if done else None

        orders = eventually(settled, timeout_s=120, interval_s=0.5)
        held = sum(1 for order in orders if order["status"] in ("PAID", "FULFILLED"))
        assert stock(shop, "paper-filters-100") == stock_before - held
        for order in orders:
            if order["orderId"] in captured:
                assert (order["status"], order["payment"]["status"]) == ("CANCELLED", "REFUNDED")

    with runtime.client("telemetry", "operator", operator) as admin:

        def counted(device_id: str) -> bool:
            params = {"metric": "temperature", "period": "hour", "from": start_ms, "to": start_ms + 3_599_999}
            rows = admin.get(f"/devices/{device_id}/aggregates", params=params).json()["items"]
            return sum(row["count"] for row in rows) == READINGS_PER_DEVICE

        for device_id in fleet.tokens:
            eventually(functools.partial(counted, device_id), timeout_s=120, interval_s=0.5)
            stored: list[int] = []
            params: dict[str, Any] = {"metric": "temperature", "from": start_ms, "limit": 1000}
            while True:
                page = admin.get(f"/devices/{device_id}/telemetry", params=params).json()
                stored += [reading["ts"] for reading in page["items"]]
                if page["nextToken"] is None:
                    break
                params["nextToken"] = page["nextToken"]
            assert sorted(stored) == sorted(fleet.acknowledged[device_id])  # each once, none missing
    recovery_s = time.monotonic() - recovery_began
    assert httpx.get(f"{runtime.origin}/_local/dlq").json() == {}
    print(f"\nacknowledged before the kill: {acknowledged} readings; recovered in {recovery_s:.1f} s")
