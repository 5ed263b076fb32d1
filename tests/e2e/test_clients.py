"""The clients (storefront, fleet admin, device, simulator, command lines) against the real local runtime."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients import fleet, storefront
from clients.config import DEVICE, OPERATOR, STOREFRONT, LocalRuntimeClient, resolve
from clients.devices import DeviceClient, FleetAdminClient, Reading, Rule, device_id_of
from clients.http import ApiError, HttpClient, RequestStats
from clients.simulator import Simulator
from clients.storefront import StorefrontClient
from local_runtime.issuer import InvalidToken
from tests.e2e.conftest import System, eventually


def origin(system: System) -> str:
    return system.runtime.gateway.config.origin


def storefront_client(system: System, subject: str, *groups: str) -> StorefrontClient:
    endpoint = resolve(
        STOREFRONT,
        url=system.session["apis"]["orders"],
        api_key=system.session["apiKeys"]["storefront"],
        token=system.token("orders", subject, *groups),
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
    local = ["--local-url", origin(system)]
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


CommandLine = Callable[[Sequence[str] | None], int]


def cli(main: CommandLine, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, Any]:
    """Run a command line in process: its exit code, its stdout and its stderr, each parsed as JSON."""
    code = main(list(argv))
    captured = capsys.readouterr()
    out = json.loads(captured.out) if captured.out.strip() else None
    err = json.loads(captured.err) if captured.err.strip() else None
    return code, out, err


def test_the_storefront_command_line_lists_cancels_waits_and_fulfils(system: System, capsys):
    local = ["--local-url", origin(system)]
    customer = [*local, "--user", f"cli-{uuid.uuid4().hex[:6]}"]

    def shop(*argv: str) -> Any:
        code, out, err = cli(storefront.main, capsys, *customer, *argv)
        assert (code, err) == (0, None)
        return out

    to_cancel = shop("place", "travel-mug:1", "--wait")["order"]
    assert (to_cancel["status"], to_cancel["payment"]["status"]) == ("PAID", "CAPTURED")
    placed = shop("place", "paper-filters-100:2", "--payment-token", "tok_visa")
    assert placed["order"]["status"] == "PENDING_PAYMENT"
    assert placed["replayed"] is False
    to_fulfil = shop("wait", placed["order"]["orderId"], "--timeout", "15")
    assert (to_fulfil["orderId"], to_fulfil["status"]) == (placed["order"]["orderId"], "PAID")
    assert to_fulfil["payment"]["status"] == "CAPTURED"

    # The customer index is eventually consistent; one order per page exercises --next-token.
    eventually(lambda: len(shop("orders", "--all")["items"]) == 2)
    listing = shop("orders", "--all")
    assert listing["nextToken"] is None
    assert [o["orderId"] for o in listing["items"]] == [to_fulfil["orderId"], to_cancel["orderId"]]
    first = shop("orders", "--limit", "1")
    assert [o["orderId"] for o in first["items"]] == [to_fulfil["orderId"]]
    assert first["nextToken"]
    second = shop("orders", "--limit", "1", "--next-token", first["nextToken"])
    assert [o["orderId"] for o in second["items"]] == [to_cancel["orderId"]]

    cancelled = shop("cancel", to_cancel["orderId"])
    assert (cancelled["orderId"], cancelled["status"]) == (to_cancel["orderId"], "CANCELLED")
    refunded = shop("wait", to_cancel["orderId"], "--timeout", "15")
    assert (refunded["status"], refunded["payment"]["status"]) == ("CANCELLED", "REFUNDED")
    assert shop("cancel", to_cancel["orderId"])["status"] == "CANCELLED"  # idempotent

    code, out, err = cli(storefront.main, capsys, *customer, "fulfil", to_fulfil["orderId"])
    assert (code, out) == (1, None)
    assert (err["error"], err["status"]) == ("api", 403)
    assert shop("order", to_fulfil["orderId"])["status"] == "PAID"

    admin = [*local, "--user", "cli-admin", "--admin"]
    code, fulfilled, err = cli(storefront.main, capsys, *admin, "fulfil", to_fulfil["orderId"])
    assert (code, err) == (0, None)
    assert (fulfilled["orderId"], fulfilled["status"]) == (to_fulfil["orderId"], "FULFILLED")
    assert shop("order", to_fulfil["orderId"])["status"] == "FULFILLED"
    code, out, err = cli(storefront.main, capsys, *admin, "fulfil", to_cancel["orderId"])
    assert (code, out) == (1, None)
    assert (err["error"], err["status"]) == ("api", 409)


def test_the_storefront_command_line_configured_only_through_the_environment(
    system: System, capsys, monkeypatch: pytest.MonkeyPatch
):
    customer = f"env-{uuid.uuid4().hex[:6]}"
    monkeypatch.delenv("LOCAL_RUNTIME_URL", raising=False)
    monkeypatch.setenv("ORDERS_API_URL", system.session["apis"]["orders"])
    monkeypatch.setenv("ORDERS_API_KEY", system.session["apiKeys"]["storefront"])
    monkeypatch.setenv("ORDERS_TOKEN", system.token("orders", customer))

    code, products, _ = cli(storefront.main, capsys, "products")
    assert code == 0
    assert {p["productId"] for p in products["items"]} >= {"travel-mug"}
    code, placed, _ = cli(storefront.main, capsys, "place", "travel-mug:1", "--wait")
    assert code == 0
    assert placed["order"]["status"] == "PAID"
    order_id = placed["order"]["orderId"]
    code, order, _ = cli(storefront.main, capsys, "order", order_id)
    assert (code, order["orderId"], order["status"]) == (0, order_id, "PAID")

    def listed() -> list[str]:
        code, page, _ = cli(storefront.main, capsys, "orders", "--all")
        assert code == 0
        return [o["orderId"] for o in page["items"]]

    # ORDERS_TOKEN is the customer's: the order is theirs, and the listing holds it alone.
    assert eventually(listed) == [order_id]

    monkeypatch.setenv("ORDERS_API_KEY", "not-the-storefront-key")
    code, out, err = cli(storefront.main, capsys, "order", order_id)
    assert (code, out, err["error"]) == (1, None, "api")
    assert err["status"] == 403  # API Gateway refuses an unknown API key

    monkeypatch.delenv("ORDERS_TOKEN")
    monkeypatch.setenv("ORDERS_API_KEY", system.session["apiKeys"]["storefront"])
    code, out, err = cli(storefront.main, capsys, "order", order_id)
    assert (code, out, err["error"]) == (2, None, "configuration")
    assert "ORDERS_TOKEN" in err["detail"]


def test_the_fleet_command_line_sets_rules_and_reads_device_aggregates_and_alerts(
    system: System, capsys, tmp_path: Path
):
    local = ["--local-url", origin(system)]

    def fleet_cli(*argv: str) -> Any:
        code, out, err = cli(fleet.main, capsys, *local, *argv)
        assert (code, err) == (0, None)
        return out

    device = fleet_cli("register", "--name", "cli rules")
    device_id = device["deviceId"]
    rules = fleet_cli("rules", device_id, "--rule", "temperature:gt:30", "--rule", "humidity:lt:20.5")
    assert rules == {
        "rules": [
            {"metric": "temperature", "op": "gt", "threshold": 30},
            {"metric": "humidity", "op": "lt", "threshold": 20.5},
        ]
    }
    minute = (time.time_ns() // 1_000_000 // 60_000 - 1) * 60_000
    posted = fleet_cli(
        "--device-token",
        device["token"],
        "post",
        f"temperature=21.5@{minute}",
        f"humidity=40@{minute}",
        f"temperature=35@{minute + 1000}",
    )
    assert posted == {"deviceId": device_id, "accepted": 3, "duplicates": 0}
    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            {
                "readings": [
                    {"metric": "humidity", "value": 15, "ts": minute + 2000},
                    {"metric": "temperature", "value": 35, "ts": minute + 1000},
                ]
            }
        )
    )
    posted = fleet_cli("--device-token", device["token"], "post", "--file", str(batch))
    assert posted == {"deviceId": device_id, "accepted": 1, "duplicates": 1}

    def minute_row() -> Any:
        rows = fleet_cli(
            "aggregates",
            device_id,
            "--metric",
            "temperature",
            "--from",
            str(minute),
            "--to",
            str(minute + 59_999),
        )["items"]
        return rows if rows and rows[0]["count"] == 2 else None

    (row,) = eventually(minute_row)
    assert (row["start"], row["min"], row["max"], row["sum"], row["avg"]) == (minute, 21.5, 35, 56.5, 28.25)

    def hour_row() -> Any:
        rows = fleet_cli("aggregates", device_id, "--metric", "humidity", "--period", "hour")["items"]
        return rows if rows and rows[0]["count"] == 2 else None

    (hour,) = eventually(hour_row)
    assert (hour["start"], hour["period"]) == (minute // 3_600_000 * 3_600_000, "hour")
    assert (hour["min"], hour["max"], hour["sum"]) == (15, 40, 55)

    alerts = eventually(
        lambda: (found := fleet_cli("alerts", device_id)["items"]) and len(found) == 2 and found
    )
    assert [(a["metric"], a["value"], a["ts"]) for a in alerts] == [
        ("temperature", 35, minute + 1000),
        ("humidity", 15, minute + 2000),
    ]
    later = fleet_cli("alerts", device_id, "--from", str(minute + 1500), "--to", str(minute + 60_000))
    assert [(a["metric"], a["ts"]) for a in later["items"]] == [("humidity", minute + 2000)]

    state = eventually(
        lambda: (found := fleet_cli("device", device_id)).get("lastSeen") == minute + 2000 and found
    )
    assert state["deviceId"] == device_id
    assert state["latest"] == {
        "temperature": {"value": 35, "ts": minute + 1000},
        "humidity": {"value": 15, "ts": minute + 2000},
    }
    readings = fleet_cli("readings", device_id, "--metric", "temperature")["items"]
    assert [(r["value"], r["ts"]) for r in readings] == [(21.5, minute), (35, minute + 1000)]


def test_the_fleet_command_line_simulates_a_small_fleet(system: System, capsys):
    local = ["--local-url", origin(system)]
    code, summary, err = cli(
        fleet.main,
        capsys,
        *local,
        "simulate",
        "--devices",
        "2",
        "--rate",
        "5",
        "--duration",
        "2",
        "--interval",
        "0.5",
        "--seed",
        "3",
        "--no-progress",
    )
    assert (code, err) == (0, None)
    assert summary["failedBatches"] == 0
    assert summary["sent"] == summary["accepted"] == 2 * 2 * 5 * 2
    assert summary["duplicates"] == 0
    assert len(summary["devices"]) == 2
    (rule,) = summary["rules"]
    assert (rule["metric"], rule["op"]) == ("temperature", "gt")
    for device in summary["devices"]:
        assert device["sent"] == device["accepted"] == 2 * 5 * 2
        assert (device["duplicates"], device["failedBatches"]) == (0, 0)
        code, stored, _ = cli(fleet.main, capsys, *local, "readings", device["deviceId"])
        assert code == 0
        assert len(stored["items"]) == device["sent"]
        assert len({(r["metric"], r["ts"]) for r in stored["items"]}) == device["sent"]

        def alerts(device_id: str = device["deviceId"], expected: int = device["crossingRules"]) -> Any:
            code, found, _ = cli(fleet.main, capsys, *local, "alerts", device_id)
            return code == 0 and len(found["items"]) == expected

        eventually(alerts)


def test_local_discovery_reads_the_session_and_mints_tokens(system: System):
    runtime = LocalRuntimeClient(origin(system))
    assert runtime.health()
    assert runtime.session()["apis"] == system.session["apis"]
    pools = system.runtime.gateway.user_pools()
    claims = system.runtime.issuer.verify(runtime.token("orders", "alice", ("admin",)), pools["orders"])
    assert (claims["sub"], claims["cognito:groups"]) == ("alice", ["admin"])
    with pytest.raises(InvalidToken):  # each service's API trusts only its own pool
        system.runtime.issuer.verify(runtime.token("telemetry", "alice", ("admin",)), pools["orders"])
    assert isinstance(runtime.dlq(), dict)
