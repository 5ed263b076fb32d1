"""The real local runtime (as tests/e2e starts it) and the callers the generated requests go out as:
API keys per usage plan, Cognito tokens from the local issuer, a registered device and its token, and
some orders and devices that exist, so that generated requests reach more than the 404 branch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.e2e.conftest import System, eventually, running_system
from tests.fuzz import profile
from tests.fuzz.calls import TALLY

PAYMENT_APPROVED = "tok_visa"
PAYMENT_DECLINED = "tok_chargeDeclined"
PAID_FOR_FULFIL = 4


@dataclass
class Caller:
    """Where and as whom a generated request goes: the API's base URL and the headers that authenticate it."""

    base_url: str
    headers: dict[str, str]


@dataclass
class OrdersWorld:
    customer: Caller
    admin: Caller
    product_ids: list[str]
    # Orders of the customer (one PAID, one PAYMENT_FAILED, one CANCELLED) for every order route; the
    # orders the fuzzer creates join them.
    order_ids: list[str] = field(default_factory=list)
    # PAID orders that only GET and fulfil are aimed at (a cancel would leave fulfil nothing to fulfil).
    paid_ids: list[str] = field(default_factory=list)


@dataclass
class TelemetryWorld:
    admin: Caller
    device: Caller
    device_id: str
    # Devices that exist: the posting device (with readings and rules) first; devices the fuzzer registers join.
    device_ids: list[str] = field(default_factory=list)
    # Metrics the posting device has readings of.
    metrics: set[str] = field(default_factory=lambda: {"temperature"})


def caller(system: System, service: str, plan: str, token: str) -> Caller:
    return Caller(
        base_url=system.session["apis"][service],
        headers={"x-api-key": system.session["apiKeys"][plan], "Authorization": f"Bearer {token}"},
    )


@pytest.fixture(scope="session")
def fuzz_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("fuzz-state")) as started:
        yield started


@pytest.fixture(scope="session")
def orders_world(fuzz_system: System) -> OrdersWorld:
    customer_id = str(uuid.uuid4())  # Cognito subs are UUIDs
    customer = caller(fuzz_system, "orders", "storefront", fuzz_system.token("orders", customer_id))
    admin = caller(
        fuzz_system, "orders", "storefront", fuzz_system.token("orders", str(uuid.uuid4()), "admin")
    )
    with fuzz_system.client("orders", "storefront") as client:
        client.headers.update(customer.headers)
        products = client.get("/products")
        assert products.status_code == 200, products.text
        product_ids = [product["productId"] for product in products.json()["items"]]

        def place(index: int, payment_token: str) -> str:
            line = {"productId": product_ids[index % len(product_ids)], "quantity": 1}
            created = client.post("/orders", json={"items": [line], "paymentToken": payment_token})
            assert created.status_code == 201, created.text
            return str(created.json()["orderId"])

        world = OrdersWorld(customer=customer, admin=admin, product_ids=product_ids)
        world.order_ids += [
            place(0, PAYMENT_APPROVED),
            place(1, PAYMENT_DECLINED),
            place(2, PAYMENT_APPROVED),
        ]
        world.paid_ids += [place(3 + index, PAYMENT_APPROVED) for index in range(PAID_FOR_FULFIL)]
        cancelled = client.post(f"/orders/{world.order_ids[-1]}/cancel")
        assert cancelled.status_code == 200, cancelled.text

        def settled() -> bool:
            statuses = {client.get(f"/orders/{order_id}").json()["status"] for order_id in world.paid_ids}
            return statuses == {"PAID"}

        eventually(settled, timeout_s=30)  # the payment processor has charged them: fulfil can answer 200
    return world


@pytest.fixture(scope="session")
def telemetry_world(fuzz_system: System) -> TelemetryWorld:
    admin = caller(
        fuzz_system, "telemetry", "operator", fuzz_system.token("telemetry", "fuzz-operator", "admin")
    )
    with fuzz_system.client("telemetry", "operator") as client:
        client.headers.update(admin.headers)
        device_ids, tokens = [], []
        for name in ("fuzz sensor", "fuzz spare"):
            created = client.post(
                "/devices", json={"deviceId": f"fuzz-{uuid.uuid4().hex[:12]}", "name": name}
            )
            assert created.status_code == 201, created.text
            device_ids.append(created.json()["deviceId"])
            tokens.append(created.json()["token"])
        rules = {"rules": [{"metric": "temperature", "op": "gt", "threshold": 30}]}
        assert client.put(f"/devices/{device_ids[0]}/rules", json=rules).status_code == 200
    device = caller(fuzz_system, "telemetry", "fleet", tokens[0])
    now = int(time.time() * 1000)
    readings = [
        {"metric": "temperature", "value": 20 + i * 5, "ts": now - 60_000 + i * 1000} for i in range(4)
    ]
    with fuzz_system.client("telemetry", "fleet", tokens[0]) as client:
        posted = client.post(f"/devices/{device_ids[0]}/telemetry", json={"readings": readings})
        assert posted.status_code == 202, posted.text
    with fuzz_system.client("telemetry", "operator") as client:
        client.headers.update(admin.headers)
        # The stream processor has seen the readings: the device has a state, an alert and rollups to answer.
        eventually(lambda: client.get(f"/devices/{device_ids[0]}").json()["lastSeen"], timeout_s=15)
    return TelemetryWorld(admin=admin, device=device, device_id=device_ids[0], device_ids=device_ids)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.cases:
        return
    terminalreporter.section(f"generated requests (FUZZ_PROFILE={profile.PROFILE})")
    for line in TALLY.summary():
        terminalreporter.write_line(line)
