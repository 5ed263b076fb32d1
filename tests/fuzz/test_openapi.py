"""Every operation of docs/api/orders.json and docs/api/telemetry.json, with requests Schemathesis
generates from the documents (valid and invalid), sent through the local runtime's gateway as a
customer, an administrator or a device would send them; each answer must be no 5xx and must match
the document (status code, content type, body). How many: tests/fuzz/profile.py.

Generated ids mostly name nothing, so most cases are re-aimed at things that exist: a share of the
path ids is replaced by a real order's or device's id (the rest go through as generated: a 404 or 403
is a valid answer), and a share of the bodies names real products, an approved payment token or a
timestamp in the retention window, so that the success answers are checked against the document too.
Each choice is a hash of the generated value, so a seeded run makes the same choices every time.
"""

from __future__ import annotations

import copy
import json
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import schemathesis

from tests.fuzz import profile
from tests.fuzz.calls import call_and_validate
from tests.fuzz.conftest import OrdersWorld, TelemetryWorld

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"
REAL_ID_SHARE = 0.8  # of path ids replaced by an existing order's or device's
REAIMED_BODY_SHARE = 0.7  # of bodies re-aimed at real products / the retention window
REAIMED_QUERY_SHARE = 0.5  # of reads re-aimed at the default time range and a posted metric
APPROVED_PAYMENT_SHARE = 0.5
RECENT_WINDOW_MS = 3_600_000


def load(name: str) -> tuple[schemathesis.BaseSchema, int]:
    path = DOCS / name
    operations = sum(len(methods) for methods in json.loads(path.read_text())["paths"].values())
    return profile.load(path), operations


ORDERS, ORDERS_OPERATIONS = load("orders.json")
TELEMETRY, TELEMETRY_OPERATIONS = load("telemetry.json")


def fraction(value: object, salt: str) -> float:
    """A stable number in [0, 1) for a generated value."""
    return zlib.crc32(f"{salt}:{value!r}".encode()) / 2**32


def pick(pool: list[str], value: object) -> str:
    return pool[zlib.crc32(repr(value).encode()) % len(pool)]


def aim_path_id(case: schemathesis.Case, name: str, pool: list[str], favourites: Sequence[str] = ()) -> None:
    """Replace the generated path id by an existing one (half of the time one of ``favourites``, when
    given), for REAL_ID_SHARE of the generated values."""
    value = case.path_parameters.get(name)
    if name not in case.path_parameters or fraction(value, name) >= REAL_ID_SHARE:
        return
    favoured = favourites and fraction(value, "favourite") < 0.5
    chosen = pick(list(favourites), value) if favoured else pick(pool, value)
    case.path_parameters = {**case.path_parameters, name: chosen}


def aim_reads(case: schemathesis.Case, metrics: set[str]) -> None:
    """For REAIMED_QUERY_SHARE of the reads of readings, aggregates and alerts: the default time range
    instead of the generated one, and a metric the device has posted, so that answers have items."""
    reads = case.method == "GET" and case.path.endswith(("/aggregates", "/alerts", "/telemetry"))
    if not reads or not isinstance(case.query, dict) or fraction(case.query, "reads") >= REAIMED_QUERY_SHARE:
        return
    query = {name: value for name, value in case.query.items() if name not in ("from", "to")}
    if "metric" in query:
        query["metric"] = pick(sorted(metrics), query["metric"])
    case.query = query


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def aim_order(body: Any, product_ids: list[str]) -> Any:
    """An order body naming distinct catalogue products in small quantities (at most one line per product;
    each line as generated otherwise)."""
    if not isinstance(body, dict) or fraction(body, "order") >= REAIMED_BODY_SHARE:
        return body
    aimed = copy.deepcopy(body)
    if isinstance(aimed.get("items"), list):
        aimed["items"] = aimed["items"][: len(product_ids)]
        first = product_ids.index(pick(product_ids, aimed["items"]))
        for index, line in enumerate(aimed["items"]):
            if isinstance(line, dict):
                line["productId"] = product_ids[(first + index) % len(product_ids)]
                if is_int(line.get("quantity")):
                    line["quantity"] = 1 + line["quantity"] % 3
    if fraction(aimed.get("paymentToken"), "payment") < APPROVED_PAYMENT_SHARE:
        aimed["paymentToken"] = "tok_visa"
    return aimed


def aim_readings(body: Any, now_ms: int) -> Any:
    """A batch whose integer timestamps fall in the last hour (each reading as generated otherwise)."""
    if not isinstance(body, dict) or fraction(body, "readings") >= REAIMED_BODY_SHARE:
        return body
    aimed = copy.deepcopy(body)
    for reading in aimed.get("readings") if isinstance(aimed.get("readings"), list) else []:
        if isinstance(reading, dict) and is_int(reading.get("ts")):
            reading["ts"] = now_ms - reading["ts"] % RECENT_WINDOW_MS
    return aimed


@ORDERS.parametrize()
@profile.hypothesis_settings(ORDERS_OPERATIONS)
def test_orders_api(case: schemathesis.Case, orders_world: OrdersWorld) -> None:
    """As the customer (the storefront key and a customer's token); fulfil as an administrator."""
    world = orders_world
    if case.path.endswith("/fulfil"):
        caller = world.admin
        aim_path_id(case, "orderId", world.order_ids, favourites=world.paid_ids)
    else:
        caller = world.customer
        pool = world.order_ids if case.path.endswith("/cancel") else world.order_ids + world.paid_ids
        aim_path_id(case, "orderId", pool)
    creates = case.method == "POST" and case.path == "/orders"
    if creates and (aimed := aim_order(case.body, world.product_ids)) is not case.body:
        case.body = aimed
    response = call_and_validate(case, "orders", caller.base_url, caller.headers)
    if creates and response.status_code == 201:
        world.order_ids.append(response.json()["orderId"])


@TELEMETRY.parametrize()
@profile.hypothesis_settings(TELEMETRY_OPERATIONS)
def test_telemetry_api(case: schemathesis.Case, telemetry_world: TelemetryWorld) -> None:
    """Ingest as the registered device (the fleet key and its token); every admin route as an
    administrator (the operator key and an admin's token)."""
    ingest = case.method == "POST" and case.path.endswith("/telemetry")
    if ingest:
        caller = telemetry_world.device
        aim_path_id(case, "deviceId", [telemetry_world.device_id])
        if (aimed := aim_readings(case.body, int(time.time() * 1000))) is not case.body:
            case.body = aimed
    else:
        caller = telemetry_world.admin
        aim_path_id(case, "deviceId", telemetry_world.device_ids, favourites=[telemetry_world.device_id])
        aim_reads(case, telemetry_world.metrics)
    response = call_and_validate(case, "telemetry", caller.base_url, caller.headers)
    if case.method == "POST" and case.path == "/devices" and response.status_code == 201:
        telemetry_world.device_ids.append(response.json()["deviceId"])
    if ingest and response.status_code == 202:
        telemetry_world.metrics.update(str(reading["metric"]) for reading in case.body["readings"])
