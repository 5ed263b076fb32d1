"""The clients (storefront, fleet admin, device, simulator, command lines) against the real local runtime."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import httpx
import pytest

from clients import fleet, storefront
from clients.config import DEVICE, OPERATOR, STOREFRONT, LocalRuntime, resolve
from clients.devices import DeviceClient, FleetAdminClient, Reading, Rule, device_id_of
from clients.http import ApiError, HttpClient, RequestStats
from clients.simulator import Simulator
from clients.storefront import StorefrontClient
from tests.e2e.conftest import System, eventually


def origin(system: System) -> str:
    return system.runtime.gateway.config.origin


def storefront_client(system: System, subject: str, *groups: str) -> StorefrontClient:
    endpoint = resolve(
        STOREFRONT,
        url=system.session["apis"]["orders"],
        api_key=system.session["apiKeys"]["storefront"],
        token=system.token(subject, *groups),
        env={},
    )
    return StorefrontClient.connect(endpoint)


def admin_client(system: System) -> FleetAdminClient:
    return FleetAdminClient.connect(
        resolve(OPERATOR, local=origin(system), subject="ops", groups=("admin",), env={})
    )


def test_storefront_flow(system: System):
    customer = f"shopper-{uuid.uuid4().hex[:6]}"
    with storefront_client(system, customer) as shop:
        stock = shop.stock()
        placed = shop.place_order([("travel-mug", 1), ("paper-filters-100", 2)], "tok_visa")
        again = shop.place_order(
            [("travel-mug", 1), ("paper-filters-100", 2)], "tok_visa", placed.idempotency_key
        )
        assert again.replayed
        assert again.order_id == placed.order_id
        assert shop.wait_until_settled(placed.order_id, timeout_s=15)["status"] == "PAID"

        declined = shop.place_order([("travel-mug", 1)], "tok_chargeDeclined")
        failed = shop.wait_until_settled(declined.order_id, timeout_s=15)
        assert (failed["status"], failed["payment"]["status"]) == ("PAYMENT_FAILED", "DECLINED")

        with pytest.raises(ApiError) as too_many:
            shop.place_order([("burr-grinder", min(100, stock["burr-grinder"] + 1))], "tok_visa")
        assert too_many.value.status == 409
        assert too_many.value.problem["productIds"] == ["burr-grinder"]

        def listing():
            # The customer index is eventually consistent; one order per page exercises nextToken.
            ids = [o["orderId"] for o in shop.iterate_orders(page_size=1)]
            return ids if len(ids) == 2 else None

        assert sorted(eventually(listing)) == sorted([placed.order_id, declined.order_id])

        cancelled = shop.cancel(placed.order_id)
        assert cancelled["status"] == "CANCELLED"
        refunded = shop.wait_until(
            placed.order_id, lambda o: o["payment"]["status"] == "REFUNDED", timeout_s=15
        )
        assert shop.wait_until_settled(placed.order_id) == refunded

        to_fulfil = shop.place_order([("scale-0-1g", 1)], "tok_visa")
        shop.wait_until_settled(to_fulfil.order_id, timeout_s=15)
        with pytest.raises(ApiError) as forbidden:
            shop.fulfil(to_fulfil.order_id)
        assert forbidden.value.status == 403
    with storefront_client(system, "shop-admin", "admin") as admin:
        assert admin.fulfil(to_fulfil.order_id)["status"] == "FULFILLED"


class LoseFirstAnswer(httpx.BaseTransport):
    """Delivers the first POST to the server, then drops its answer, as a flaky network would."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and not self.lost:
            response.read()
            response.close()
            self.lost += 1
            raise httpx.ReadError("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_fleet_flow_a_retried_batch_yields_duplicates_not_double_counts(system: System):
    with admin_client(system) as admin:
        device = admin.register(name="clients e2e")
        rules = [Rule("temperature", "gt", 30), Rule("humidity", "lt", 10)]
        assert admin.set_rules(device.device_id, rules) == rules
        minute = (time.time_ns() // 1_000_000 // 60_000 - 1) * 60_000
        batch = [
            Reading(minute + i * 1000, metric, value)
            for i, (t, h) in enumerate([(20.5, 40), (31.25, 41), (22, 5)])
            for metric, value in (("temperature", t), ("humidity", h))
        ]
        endpoint = resolve(DEVICE, local=origin(system), token=device.token, env={})
        lossy = LoseFirstAnswer()
        stats = RequestStats()
        http = HttpClient(
            endpoint.base_url, api_key=endpoint.api_key, token=endpoint.token, transport=lossy, stats=stats
        )
        with DeviceClient(http, device_id_of(device.token)) as poster:
            result = poster.post_readings(batch)
        # The first attempt stored everything; the retry of the identical batch stored nothing more.
        assert lossy.lost == 1
        assert stats.retries == 1
        assert (result.accepted, result.duplicates) == (0, len(batch))

        listed = admin.readings(device.device_id)
        assert sorted(listed) == sorted(batch)

        def counts():
            rows = admin.aggregates(device.device_id, "temperature", "minute", minute, minute + 59_999)
            return rows if rows and rows[0]["count"] == 3 else None

        (row,) = eventually(counts)
        assert (row["min"], row["max"], row["sum"]) == (20.5, 31.25, 73.75)
        alerts = eventually(
            lambda: admin.alerts(device.device_id) if len(admin.alerts(device.device_id)) == 2 else None
        )
        assert sorted((a["metric"], a["value"]) for a in alerts) == [("humidity", 5), ("temperature", 31.25)]
        latest = admin.device(device.device_id)["latest"]
        assert latest["temperature"]["value"] == 22


def test_a_short_simulator_run_stores_every_reading_once(system: System):
    stats = RequestStats()
    with admin_client(system) as admin:
        registered = [admin.register(name=f"sim {n}") for n in range(2)]
        devices = [
            DeviceClient.connect(resolve(DEVICE, local=origin(system), token=r.token, env={}), stats=stats)
            for r in registered
        ]
        result = Simulator(
            devices, rate_hz=5, duration_s=2, batch_interval_s=0.5, seed=11, progress=False, stats=stats
        ).run()
        for client in devices:
            client.close()
        assert result.failed_batches == 0
        assert result.sent == result.accepted == 2 * 2 * 5 * 2
        assert result.duplicates == 0
        for run in result.devices:
            stored = admin.readings(run.device_id)
            assert Counter(stored) == Counter(run.sent)
            assert all(count == 1 for count in Counter((r.metric, r.ts) for r in stored).values())


def test_the_command_lines_against_the_local_runtime(system: System, capsys):
    local = ["--local", origin(system)]
    assert storefront.main([*local, "products"]) == 0
    products = json.loads(capsys.readouterr().out)["items"]
    assert {p["productId"] for p in products} >= {"travel-mug", "burr-grinder"}

    assert storefront.main([*local, "--user", "cli-shopper", "place", "travel-mug:1", "--wait"]) == 0
    placed = json.loads(capsys.readouterr().out)
    assert placed["order"]["status"] == "PAID"
    assert storefront.main([*local, "--user", "someone-else", "order", placed["order"]["orderId"]]) == 1
    assert json.loads(capsys.readouterr().err)["status"] == 404

    assert fleet.main([*local, "register", "--name", "cli device"]) == 0
    device = json.loads(capsys.readouterr().out)
    assert fleet.main([*local, "--device-token", device["token"], "post", "temperature=21.5"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "deviceId": device["deviceId"],
        "accepted": 1,
        "duplicates": 0,
    }
    assert fleet.main([*local, "readings", device["deviceId"]]) == 0
    assert [r["value"] for r in json.loads(capsys.readouterr().out)["items"]] == [21.5]


def test_local_discovery_reads_the_session_and_mints_tokens(system: System):
    runtime = LocalRuntime(origin(system))
    assert runtime.health()
    assert runtime.session()["apis"] == system.session["apis"]
    claims = system.runtime.issuer.verify(runtime.token("alice", ("admin",)))
    assert (claims["sub"], claims["cognito:groups"]) == ("alice", ["admin"])
    assert isinstance(runtime.dlq(), dict)
