"""The storefront and device clients and their command lines, against a fake server (httpx.MockTransport)."""

from __future__ import annotations

import argparse
import json

import httpx
import pytest

from clients import fleet, storefront
from clients.devices import DeviceClient, FleetAdminClient, Reading, Rule, device_id_of
from clients.http import ApiError, HttpClient, RetryPolicy
from clients.storefront import StorefrontClient, is_settled


def http(handler, **kwargs) -> HttpClient:
    return HttpClient(
        "https://api.test/dev",
        api_key="k",
        token="t",
        transport=httpx.MockTransport(handler),
        sleep=lambda _: None,
        **kwargs,
    )


def order(status: str, payment: str, order_id: str = "o-1") -> dict:
    return {"orderId": order_id, "status": status, "payment": {"status": payment}, "items": []}


@pytest.mark.parametrize(
    ("status", "payment", "settled"),
    [
        ("PENDING_PAYMENT", "PENDING", False),
        ("PAID", "CAPTURED", True),
        ("FULFILLED", "CAPTURED", True),
        ("PAYMENT_FAILED", "DECLINED", True),
        ("CANCELLED", "CAPTURED", False),  # the refund is on its way
        ("CANCELLED", "REFUNDED", True),
        ("CANCELLED", "PENDING", True),  # cancelled before any charge
    ],
)
def test_settled_means_the_payment_has_an_outcome_the_order_reflects(status, payment, settled):
    assert is_settled(order(status, payment)) is settled


def test_place_order_sends_an_idempotency_key_and_reports_a_replay():
    keys = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        assert json.loads(request.content) == {
            "items": [{"productId": "mug", "quantity": 2}, {"productId": "jug", "quantity": 1}],
            "paymentToken": "tok_visa",
        }
        replayed = {"Idempotent-Replayed": "true"} if len(keys) > 1 else {}
        return httpx.Response(201, json=order("PENDING_PAYMENT", "PENDING"), headers=replayed)

    client = StorefrontClient(http(handler))
    first = client.place_order([("mug", 2), {"productId": "jug", "quantity": 1}], "tok_visa")
    again = client.place_order([("mug", 2), ("jug", 1)], "tok_visa", first.idempotency_key)
    assert (first.replayed, again.replayed) == (False, True)
    assert keys[0] == keys[1] == first.idempotency_key
    assert first.order_id == "o-1"
    fresh = client.place_order([("mug", 2), ("jug", 1)], "tok_visa")
    assert fresh.idempotency_key != first.idempotency_key


def test_wait_until_settled_polls_until_the_payment_settles_or_times_out():
    answers = [order("PENDING_PAYMENT", "PENDING")] * 3 + [order("PAID", "CAPTURED")]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0) if len(answers) > 1 else answers[0])

    client = StorefrontClient(http(handler), sleep=lambda _: None)
    assert client.wait_until_settled("o-1")["status"] == "PAID"

    stuck = StorefrontClient(http(lambda _: httpx.Response(200, json=order("PENDING_PAYMENT", "PENDING"))))
    with pytest.raises(storefront.NotSettled) as raised:
        stuck.wait_until_settled("o-1", timeout_s=0.05, interval_s=0.01)
    assert raised.value.order["status"] == "PENDING_PAYMENT"


def test_iterate_orders_follows_next_tokens():
    pages = {None: (["a", "b"], "t1"), "t1": (["c"], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        items, token = pages[request.url.params.get("nextToken")]
        assert request.url.params["limit"] == "2"
        return httpx.Response(200, json={"items": [{"orderId": i} for i in items], "nextToken": token})

    client = StorefrontClient(http(handler))
    assert [o["orderId"] for o in client.iterate_orders(page_size=2)] == ["a", "b", "c"]


def test_a_device_post_retried_after_a_lost_response_resends_the_same_batch():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        assert request.headers["Authorization"] == "Bearer dev-1.secret"
        if len(bodies) == 1:
            raise httpx.ReadError("the answer was lost")
        if len(bodies) == 2:
            return httpx.Response(503, json={"message": "Service Unavailable"})
        return httpx.Response(202, json={"accepted": 0, "duplicates": 2})

    device = DeviceClient(
        HttpClient(
            "https://api.test/dev",
            token="dev-1.secret",
            transport=httpx.MockTransport(handler),
            sleep=lambda _: None,
        ),
        device_id_of("dev-1.secret"),
    )
    result = device.post_readings([Reading(1, "temperature", 21.5), Reading(1, "humidity", 40)])
    assert (result.accepted, result.duplicates) == (0, 2)
    assert len(bodies) == 3
    assert bodies[0] == bodies[1] == bodies[2]
    assert json.loads(bodies[0]) == {
        "readings": [
            {"metric": "temperature", "value": 21.5, "ts": 1},
            {"metric": "humidity", "value": 40, "ts": 1},
        ]
    }
    with pytest.raises(ValueError, match="1 to 500"):
        device.post_readings([])


def test_admin_reads_page_through_everything():
    def handler(request: httpx.Request) -> httpx.Response:
        path, token = request.url.path, request.url.params.get("nextToken")
        if path.endswith("/telemetry"):
            if token is None:
                return httpx.Response(
                    200, json={"items": [{"metric": "t", "value": 1, "ts": 5}], "nextToken": "n"}
                )
            return httpx.Response(
                200, json={"items": [{"metric": "t", "value": 2.5, "ts": 6}], "nextToken": None}
            )
        if path.endswith("/rules"):
            return httpx.Response(200, json=json.loads(request.content))
        return httpx.Response(404, json={"detail": "No device"})

    admin = FleetAdminClient(http(handler, policy=RetryPolicy(max_attempts=1)))
    assert admin.readings("dev-1") == [Reading(5, "t", 1), Reading(6, "t", 2.5)]
    assert admin.set_rules("dev-1", [Rule("t", "gt", 30)]) == [Rule("t", "gt", 30)]


def test_device_ids_come_from_device_tokens():
    assert device_id_of("dev-abc.s3cret") == "dev-abc"
    with pytest.raises(ValueError, match="deviceId"):
        device_id_of("no-dot")


def test_command_line_arguments_parse():
    assert storefront.parse_line("travel-mug:2") == ("travel-mug", 2)
    assert fleet.parse_rule("temperature:gt:30") == Rule("temperature", "gt", 30)
    assert fleet.parse_rule("h:lte:2.5") == Rule("h", "lte", 2.5)
    assert fleet.parse_reading("temperature=21.5@1700000000000") == fleet.ReadingArgument(
        "temperature", 21.5, 1700000000000
    )
    assert fleet.parse_reading("humidity=40") == fleet.ReadingArgument("humidity", 40, None)
    for bad in ("travel-mug", "mug:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            storefront.parse_line(bad)
    for bad in ("t:between:3", "t:gt:nan", "t:gt"):
        with pytest.raises(argparse.ArgumentTypeError):
            fleet.parse_rule(bad)
    for bad in ("t=warm", "=5", "t=nan", "t=5@soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            fleet.parse_reading(bad)


def test_the_command_lines_report_missing_configuration(capsys, monkeypatch):
    for name in (
        "ORDERS_API_URL",
        "ORDERS_API_KEY",
        "ORDERS_TOKEN",
        "LOCAL_RUNTIME_URL",
        "TELEMETRY_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    assert storefront.main(["orders"]) == 2
    assert "ORDERS_API_URL" in json.loads(capsys.readouterr().err)["detail"]
    assert fleet.main(["alerts", "dev-1"]) == 2
    assert "TELEMETRY_API_URL" in json.loads(capsys.readouterr().err)["detail"]


def fake_connections(monkeypatch, handler) -> None:
    """The command lines connect to ``handler`` instead of the network."""

    def storefront_client(cls, endpoint, **_):
        return cls(http(handler))

    def device_client(cls, endpoint, **_):
        return cls(http(handler), device_id_of(endpoint.token))

    monkeypatch.setattr(StorefrontClient, "connect", classmethod(storefront_client))
    monkeypatch.setattr(DeviceClient, "connect", classmethod(device_client))


STOREFRONT_FLAGS = ("--url", "https://api.test/dev", "--api-key", "k", "--token", "t")
FLEET_FLAGS = ("--url", "https://api.test/dev", "--fleet-key", "k", "--device-token", "dev-1.s")


def test_an_answer_the_client_cannot_read_is_a_response_error_with_exit_1(capsys, monkeypatch):
    html = httpx.Response(200, text="<html>maintenance</html>", headers={"Content-Type": "text/html"})
    answers = {"/dev/products": html, "/dev/orders": html, "/dev/devices/dev-1/telemetry": html}
    fake_connections(monkeypatch, lambda request: answers[request.url.path])

    for main, argv in (
        (storefront.main, [*STOREFRONT_FLAGS, "products"]),
        (storefront.main, [*STOREFRONT_FLAGS, "place", "mug:1"]),
        (fleet.main, [*FLEET_FLAGS, "post", "temperature=21"]),
    ):
        assert main(argv) == 1, argv
        error = json.loads(capsys.readouterr().err)
        assert error["error"] == "BadResponse"
        assert "not JSON (text/html)" in error["detail"]

    answers["/dev/devices/dev-1/telemetry"] = httpx.Response(202, json={"stored": 1})
    assert fleet.main([*FLEET_FLAGS, "post", "temperature=21"]) == 1
    assert "not its accepted/duplicates counts" in json.loads(capsys.readouterr().err)["detail"]

    answers["/dev/products"] = httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
    )
    assert storefront.main([*STOREFRONT_FLAGS, "products"]) == 1
    assert "cannot be decoded" in json.loads(capsys.readouterr().err)["detail"]


def test_a_metric_given_twice_without_a_timestamp_is_refused_as_a_usage_error(capsys, monkeypatch):
    posted = []

    def handler(request: httpx.Request) -> httpx.Response:
        readings = json.loads(request.content)["readings"]
        posted.append(readings)
        return httpx.Response(202, json={"accepted": len(readings), "duplicates": 0})

    fake_connections(monkeypatch, handler)

    argv = [*FLEET_FLAGS, "post", "temperature=21", "humidity=40", "temperature=22"]
    assert fleet.main(argv) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["error"] == "usage"
    assert error["detail"].startswith("temperature given more than once without @TS_MS")
    assert posted == []

    argv = [*FLEET_FLAGS, "post", "temperature=21", "humidity=40", "temperature=22@1700000000000"]
    assert fleet.main(argv) == 0
    ((now, humidity, explicit),) = posted
    assert now["ts"] == humidity["ts"] != explicit["ts"] == 1700000000000
    assert json.loads(capsys.readouterr().out)["accepted"] == 3


def test_input_the_command_cannot_use_is_a_usage_error_and_no_request_is_made(capsys, monkeypatch, tmp_path):
    fake_connections(monkeypatch, lambda request: pytest.fail("no request should be made"))
    not_json = tmp_path / "readings.json"
    not_json.write_text("temperature=21")
    too_many = tmp_path / "many.json"
    too_many.write_text(json.dumps([{"metric": "t", "value": 1, "ts": ts} for ts in range(501)]))

    for argv, detail in (
        ([*FLEET_FLAGS, "post"], "not 0"),
        ([*FLEET_FLAGS, "post", "--file", str(not_json)], "JSONDecodeError"),
        ([*FLEET_FLAGS, "post", "--file", str(tmp_path / "missing.json")], "FileNotFoundError"),
        ([*FLEET_FLAGS, "post", "--file", str(too_many)], "not 501"),
    ):
        assert fleet.main(argv) == 2, argv
        error = json.loads(capsys.readouterr().err)
        assert (error["error"], detail in error["detail"]) == ("usage", True), error

    argv = ["--url", "https://api.test/dev", "--fleet-key", "k", "--device-token", "no-dot", "post", "t=1"]
    assert fleet.main(argv) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["error"] == "configuration"
    assert "DEVICE_TOKEN" in error["detail"]


def test_a_registration_whose_answer_was_lost_is_recovered_with_a_new_token():
    """The first POST created the device but its answer was a 502 (an injected fault, a crashed response): the
    retry is a 409, so the client asks for a new token for the id it chose."""
    calls: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        if request.url.path.endswith("/devices") and len(calls) == 1:
            return httpx.Response(502, json={"message": "Internal server error"})
        if request.url.path.endswith("/devices"):
            return httpx.Response(409, json={"title": "Conflict", "status": 409, "detail": "exists"})
        device_id = request.url.path.split("/")[-2]
        return httpx.Response(200, json={"deviceId": device_id, "token": f"{device_id}.new"})

    admin = FleetAdminClient(http(handler, policy=RetryPolicy(max_attempts=1)))
    registered = admin.register(name="sensor")
    assert registered.device_id.startswith("dev-")
    assert registered.token == f"{registered.device_id}.new"
    assert [method for method, _ in calls] == ["POST", "POST", "POST"]
    assert calls[2][1].endswith(f"/devices/{registered.device_id}/token")


def test_a_registration_refused_outright_is_not_retried():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            409, json={"title": "Conflict", "status": 409, "detail": "Device d-1 already exists"}
        )

    with pytest.raises(ApiError, match="already exists"):
        FleetAdminClient(http(handler, policy=RetryPolicy(max_attempts=1))).register("d-1")
