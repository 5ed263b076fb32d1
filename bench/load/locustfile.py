"""Locust users for ``make load`` (``python -m bench.load``): storefront customers and a device fleet.

Run by ``bench/load/__main__.py`` against a local runtime it starts, or by hand against ``make up``:

    LOAD_RUNTIME_URL=http://127.0.0.1:3000 .venv/bin/locust -f bench/load/locustfile.py --headless -t 60s

Keys and tokens come from the runtime's development endpoints (``/_local/session``, ``/_local/token``): one
customer token per storefront user (its own ``sub``), one administrator token for the operator API, which
registers each device once in the device's ``on_start``; a device then posts with the token registration
issued. The ``/_local`` calls go through plain ``requests``, not Locust's client, so they are not in the stats.

**429s are not failures.** The gateway answers 429 when a usage plan's rate is exceeded (storefront 100/s,
fleet 200/s, operator 10/s, from infra/config.py): such a request is marked a success in Locust's stats and
counted per route under ``throttled`` in the ledger; the user tries the same work again later. Answers the
API documents for a business outcome (409 out of stock, 409 cancelling an order whose payment failed) are
successes too, counted under ``outcomes``. Everything else that is not the route's 2xx is a failure.

**The ledger** (``LOAD_LEDGER``, written at ``test_stop``) is what the API acknowledged, for the nothing-lost
check: per device the readings answered 202 (and the answers' ``accepted``/``duplicates``), every order
answered 201 with its customer, the catalogue's stock before the run. A batch or an order whose answer never
came (a 429, a 5xx, a cut connection, a user stopped mid-request) stays pending and is sent again, the same
bytes with the same ``Idempotency-Key``, until it is answered: by the user's next task, or after the users
stop. Re-sending is safe: the service stores a reading once (a repeat is a duplicate) and replays an order
for a repeated key.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
from locust import HttpUser, between, constant_pacing, events, task
from locust.clients import HttpSession
from locust.env import Environment
from locust.exception import StopUser

RUNTIME_URL = os.environ.get("LOAD_RUNTIME_URL", "http://127.0.0.1:3000").rstrip("/")
LEDGER_PATH = os.environ.get("LOAD_LEDGER", "")
CUSTOMERS = int(os.environ.get("LOAD_CUSTOMERS", "20"))
DEVICES = int(os.environ.get("LOAD_DEVICES", "10"))
SAMPLES_PER_POST = 25
"""a device samples 25 times a second (40 ms apart) and posts every second: 2 metrics, 50 readings a post"""
SAMPLE_INTERVAL_MS = 40
METRICS = ("temperature", "humidity")
DECLINED_SHARE = 0.15
"""the share of orders paid with ``tok_chargeDeclined``; the rest use ``tok_visa``"""
FINAL_ATTEMPTS = 20
"""after the run: attempts to get an answer for what is still pending"""


@dataclass
class DeviceTally:
    token: str = field(repr=False)
    acknowledged: int = 0
    """readings in batches answered 202: all of them are stored"""
    accepted: int = 0
    duplicates: int = 0
    posts: int = 0


@dataclass
class Ledger:
    started_ms: int = 0
    stock_before: dict[str, int] = field(default_factory=dict)
    devices: dict[str, DeviceTally] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    """{orderId, customer, items, paymentToken} of every order answered 201"""
    customers: list[str] = field(default_factory=list)
    throttled: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    pending_batches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """device id -> the batch it has not had an answer for"""
    pending_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Idempotency-Key -> {customer, token, body} of an order that has had no answer"""
    unresolved: list[str] = field(default_factory=list)
    """what was still pending after the final attempts"""

    def to_json(self) -> dict[str, Any]:
        return {
            "startedMs": self.started_ms,
            "stockBefore": self.stock_before,
            "devices": {
                device_id: {k: v for k, v in asdict(tally).items() if k != "token"}
                for device_id, tally in self.devices.items()
            },
            "orders": self.orders,
            "customers": self.customers,
            "throttled": dict(self.throttled),
            "outcomes": dict(self.outcomes),
            "unresolved": self.unresolved,
        }


@dataclass
class Session:
    apis: dict[str, str]
    api_keys: dict[str, str]
    operator_token: str


LEDGER = Ledger()
SESSIONS: list[Session] = []


def mint_token(service: str, subject: str, groups: str = "") -> str:
    params = {"service": service, "sub": subject, "groups": groups}
    answer = requests.get(f"{RUNTIME_URL}/_local/token", params=params, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["token"])


def session() -> Session:
    return SESSIONS[0]


@events.test_start.add_listener  # type: ignore[untyped-decorator]  # Locust's EventHook is untyped
def on_test_start(environment: Environment, **_: Any) -> None:
    """Read the runtime's base URLs and keys, mint the operator's token and note the stock before any order."""
    found = requests.get(f"{RUNTIME_URL}/_local/session", timeout=10)
    found.raise_for_status()
    body = found.json()
    SESSIONS[:] = [
        Session(
            apis=body["apis"],
            api_keys=body["apiKeys"],
            operator_token=mint_token("telemetry", "load-operator", "admin"),
        )
    ]
    Customer.host = body["apis"]["orders"]
    Device.host = body["apis"]["telemetry"]
    products = requests.get(
        f"{body['apis']['orders']}/products", headers={"x-api-key": body["apiKeys"]["storefront"]}, timeout=10
    )
    products.raise_for_status()
    LEDGER.stock_before = {item["productId"]: int(item["stock"]) for item in products.json()["items"]}
    LEDGER.started_ms = time.time_ns() // 1_000_000


def send(
    client: HttpSession,
    method: str,
    path: str,
    name: str,
    ok: int,
    expected: dict[int, str] | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    """One request, classified: ``(status, body)`` for the route's ``ok`` status or an ``expected`` business
    answer (both successes); ``(429, None)`` when throttled (a success, counted apart); ``(status, None)`` for
    anything else, reported as a failure (status 0: no answer at all)."""
    with client.request(method, path, name=name, catch_response=True, **kwargs) as response:
        status = response.status_code
        if status == ok or (expected and status in expected):
            response.success()
            if status != ok and expected:
                LEDGER.outcomes[f"{name} {status} {expected[status]}"] += 1
            try:
                return status, response.json()
            except ValueError:
                response.failure(f"{status}: not JSON: {response.text[:120]!r}")
                return 0, None
        if status == 429:
            response.success()
            LEDGER.throttled[name] += 1
            return status, None
        detail = response.text[:200] if status else repr(response.error)
        response.failure(f"{status}: {detail}")
        return status, None


class Customer(HttpUser):
    """A storefront customer: browses, places orders (mostly approved cards, some declined), lists and reads
    their orders, and now and then cancels one."""

    fixed_count = CUSTOMERS
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.subject = f"load-customer-{uuid.uuid4().hex[:10]}"
        self.token = mint_token("orders", self.subject)
        self.client.headers.update(
            {"x-api-key": session().api_keys["storefront"], "Authorization": f"Bearer {self.token}"}
        )
        LEDGER.customers.append(self.subject)
        self.products: list[dict[str, Any]] = []
        self.order_ids: list[str] = []
        self.pending_key: str | None = None
        self.browse()

    @task(3)
    def browse(self) -> None:
        status, body = send(self.client, "GET", "/products", "GET /products", 200)
        if status == 200:
            self.products = list(body["items"])

    @task(4)
    def place_order(self) -> None:
        if self.pending_key is not None:
            key = self.pending_key
            order_body = LEDGER.pending_orders[key]["body"]
        else:
            in_stock = [product for product in self.products if product["stock"] > 0]
            if not in_stock:
                self.browse()
                return
            chosen = random.choices(in_stock, weights=[p["stock"] for p in in_stock])[0]
            card = "tok_chargeDeclined" if random.random() < DECLINED_SHARE else "tok_visa"
            order_body = {"items": [{"productId": chosen["productId"], "quantity": 1}], "paymentToken": card}
            key = str(uuid.uuid4())
            self.pending_key = key
            LEDGER.pending_orders[key] = {"customer": self.subject, "token": self.token, "body": order_body}
        status, placed = send(
            self.client,
            "POST",
            "/orders",
            "POST /orders",
            201,
            {409: "out of stock"},
            json=order_body,
            headers={"Idempotency-Key": key},
        )
        if status in (201, 409):  # answered: created (or replayed), or refused with nothing written
            self.pending_key = None
            del LEDGER.pending_orders[key]
        if status == 201:
            record_order(self.subject, placed, order_body)
            if placed["orderId"] not in self.order_ids:
                self.order_ids.append(placed["orderId"])

    @task(2)
    def list_orders(self) -> None:
        send(self.client, "GET", "/orders", "GET /orders", 200, params={"limit": 20})

    @task(2)
    def get_order(self) -> None:
        if self.order_ids:
            order_id = random.choice(self.order_ids)
            send(self.client, "GET", f"/orders/{order_id}", "GET /orders/{orderId}", 200)

    @task(1)
    def cancel_order(self) -> None:
        if self.order_ids:
            order_id = random.choice(self.order_ids)
            send(
                self.client,
                "POST",
                f"/orders/{order_id}/cancel",
                "POST /orders/{orderId}/cancel",
                200,
                {409: "not cancellable (payment failed)"},
            )


def record_order(customer: str, placed: dict[str, Any], body: dict[str, Any]) -> None:
    if not any(order["orderId"] == placed["orderId"] for order in LEDGER.orders):
        LEDGER.orders.append(
            {
                "orderId": placed["orderId"],
                "customer": customer,
                "items": body["items"],
                "paymentToken": body["paymentToken"],
            }
        )


class Device(HttpUser):
    """A device: registered once through the operator API, then posting a batch of 50 readings (25 samples of
    two metrics taken over the last second) once a second."""

    fixed_count = DEVICES
    wait_time = constant_pacing(1.0)

    def on_start(self) -> None:
        operator = session()
        headers = {
            "x-api-key": operator.api_keys["operator"],
            "Authorization": f"Bearer {operator.operator_token}",
        }
        for _ in range(30):  # the operator plan allows 10 requests/s: wait out a 429
            status, created = send(
                self.client,
                "POST",
                "/devices",
                "POST /devices",
                201,
                json={"name": "load-test device"},
                headers=headers,
            )
            if status == 201:
                break
            time.sleep(random.uniform(0.5, 1.5))  # gevent has patched time.sleep
        else:
            raise StopUser
        self.device_id = str(created["deviceId"])
        LEDGER.devices[self.device_id] = DeviceTally(token=str(created["token"]))
        self.client.headers.update(
            {"x-api-key": operator.api_keys["fleet"], "Authorization": f"Bearer {created['token']}"}
        )
        self.next_ts = 0
        self.temperature = random.uniform(18.0, 24.0)

    def next_batch(self) -> list[dict[str, Any]]:
        now_ms = time.time_ns() // 1_000_000
        first = max(self.next_ts, now_ms - (SAMPLES_PER_POST - 1) * SAMPLE_INTERVAL_MS)
        readings = []
        for n in range(SAMPLES_PER_POST):
            ts = first + n * SAMPLE_INTERVAL_MS
            self.temperature += random.gauss(0.0, 0.05)
            readings.append({"metric": "temperature", "value": round(self.temperature, 2), "ts": ts})
            readings.append({"metric": "humidity", "value": round(random.uniform(40.0, 50.0), 2), "ts": ts})
        self.next_ts = first + SAMPLES_PER_POST * SAMPLE_INTERVAL_MS
        return readings

    @task
    def post_readings(self) -> None:
        batch = LEDGER.pending_batches.get(self.device_id) or self.next_batch()
        LEDGER.pending_batches[self.device_id] = batch
        path = f"/devices/{self.device_id}/telemetry"
        status, answer = send(
            self.client, "POST", path, "POST /devices/{deviceId}/telemetry", 202, json={"readings": batch}
        )
        if status == 202:
            acknowledge(self.device_id, batch, answer)
        elif 400 <= status < 500 and status != 429:
            del LEDGER.pending_batches[self.device_id]  # refused: sent again, it would be refused again


def acknowledge(device_id: str, batch: list[dict[str, Any]], answer: dict[str, Any]) -> None:
    tally = LEDGER.devices[device_id]
    tally.acknowledged += len(batch)
    tally.accepted += int(answer["accepted"])
    tally.duplicates += int(answer["duplicates"])
    tally.posts += 1
    LEDGER.pending_batches.pop(device_id, None)


def settle_pending() -> None:
    """Send what the users left without an answer again until it is answered (outside Locust's stats)."""
    keys = session().api_keys
    for device_id, batch in list(LEDGER.pending_batches.items()):
        headers = {"x-api-key": keys["fleet"], "Authorization": f"Bearer {LEDGER.devices[device_id].token}"}
        url = f"{session().apis['telemetry']}/devices/{device_id}/telemetry"
        for _ in range(FINAL_ATTEMPTS):
            try:
                answer = requests.post(url, json={"readings": batch}, headers=headers, timeout=30)
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code == 202:
                acknowledge(device_id, batch, answer.json())
                break
            time.sleep(0.5)
        else:
            LEDGER.unresolved.append(f"batch of {device_id}")
    for key, pending in list(LEDGER.pending_orders.items()):
        headers = {
            "x-api-key": keys["storefront"],
            "Authorization": f"Bearer {pending['token']}",
            "Idempotency-Key": key,
        }
        for _ in range(FINAL_ATTEMPTS):
            try:
                answer = requests.post(
                    f"{session().apis['orders']}/orders", json=pending["body"], headers=headers, timeout=30
                )
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code in (201, 409):
                if answer.status_code == 201:
                    record_order(pending["customer"], answer.json(), pending["body"])
                del LEDGER.pending_orders[key]
                break
            time.sleep(0.5)
        else:
            LEDGER.unresolved.append(f"order {key}")


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def on_test_stop(environment: Environment, **_: Any) -> None:
    if SESSIONS:
        settle_pending()
    if LEDGER_PATH:
        Path(LEDGER_PATH).write_text(json.dumps(LEDGER.to_json(), indent=1))
