"""The demo's invariants hold on consistent data and fail, naming the problem, on inconsistent data."""

from __future__ import annotations

import random

import pytest

from clients import config
from clients.demo import process
from clients.demo.harness import Check
from clients.demo.orders import OrdersOutcome, order_checks
from clients.demo.report import table
from clients.demo.telemetry import DeviceReadBack, TelemetryOutcome, telemetry_checks
from clients.devices import PostResult, Reading, Rule
from clients.http import RequestStats
from clients.simulator import DeviceRun, DeviceSignal, SimulationResult
from clients.storefront import PlacedOrder


def an_order(order_id: str, status: str, payment: str, product: str = "mug", quantity: int = 1) -> dict:
    return {
        "orderId": order_id,
        "status": status,
        "payment": {"status": payment},
        "items": [{"productId": product, "quantity": quantity}],
        "total": {"amount": 100 * quantity, "currency": "USD"},
    }


def orders_outcome() -> OrdersOutcome:
    final = {
        "o-paid": an_order("o-paid", "PAID", "CAPTURED", quantity=2),
        "o-done": an_order("o-done", "FULFILLED", "CAPTURED"),
        "o-cancelled": an_order("o-cancelled", "CANCELLED", "REFUNDED", quantity=3),
        "o-declined": an_order("o-declined", "PAYMENT_FAILED", "DECLINED", quantity=4),
    }
    placed = [("c1", PlacedOrder(order, f"k-{order_id}", False)) for order_id, order in final.items()]
    outcome = OrdersOutcome(customers=1, placed=placed, final=final)
    outcome.declined_tokens = {"o-declined"}
    outcome.reached_paid = {"o-paid", "o-done", "o-cancelled"}
    outcome.replay = (placed[0][1], PlacedOrder(final["o-paid"], "k-o-paid", True))
    outcome.oversized = ("mug", 11, 409, "Not enough stock of: mug")
    outcome.listed = {"c1": list(final)}
    outcome.stock_before = {"mug": 10}
    outcome.stock_after = {"mug": 7}  # 3 units held by the PAID and FULFILLED orders
    return outcome


def held(checks: list[Check]) -> dict[str, bool]:
    return {check.name: check.held for check in checks}


def test_consistent_orders_hold_every_invariant():
    assert held(order_checks(orders_outcome())) == {
        "stock conserved": True,
        "one charge per paid order": True,
    }


def test_stock_that_does_not_add_up_fails_conservation():
    outcome = orders_outcome()
    outcome.stock_after = {"mug": 8}
    (stock, _) = order_checks(outcome)
    assert not stock.held
    assert "mug: 10 != 8 + 3" in stock.detail


def test_an_accepted_order_for_more_than_the_stock_fails_conservation():
    outcome = orders_outcome()
    outcome.oversized = ("mug", 11, 201, "accepted")
    assert not order_checks(outcome)[0].held


def test_charging_problems_fail_the_charge_invariant():
    cases = []
    unrefunded = orders_outcome()
    unrefunded.final["o-cancelled"]["payment"]["status"] = "CAPTURED"
    cases.append(unrefunded)
    charged_declined = orders_outcome()
    charged_declined.final["o-declined"]["payment"]["status"] = "CAPTURED"
    cases.append(charged_declined)
    second_order = orders_outcome()
    assert second_order.replay is not None
    second_order.replay = (
        second_order.replay[0],
        PlacedOrder(an_order("o-new", "PAID", "CAPTURED"), "k", False),
    )
    cases.append(second_order)
    listed_twice = orders_outcome()
    listed_twice.listed["c1"].append("o-paid")
    cases.append(listed_twice)
    for outcome in cases:
        assert not order_checks(outcome)[1].held


def telemetry_outcome() -> TelemetryOutcome:
    batch_one = [Reading(60_000, "temperature", 21.5), Reading(60_000, "humidity", 40)]
    batch_two = [Reading(121_000, "temperature", 35), Reading(121_000, "humidity", 41)]
    run = DeviceRun(
        "dev-1", DeviceSignal(random.Random(1)), sampled=4, batches=[batch_one, batch_two], accepted=4
    )
    simulation = SimulationResult([run], elapsed_s=2, stats=RequestStats())
    rules = [Rule("temperature", "gt", 30)]
    outcome = TelemetryOutcome(rules, simulation, resent=(batch_one, PostResult(0, 2)))
    outcome.read_back["dev-1"] = DeviceReadBack(
        "dev-1",
        readings=sorted(batch_one + batch_two),
        aggregates={
            "temperature": [{"start": 60_000, "count": 1}, {"start": 120_000, "count": 1}],
            "humidity": [{"start": 60_000, "count": 1}, {"start": 120_000, "count": 1}],
        },
        alerts=[{"metric": "temperature", "ts": 121_000, "value": 35}],
    )
    return outcome


def test_consistent_telemetry_holds_every_invariant():
    assert held(telemetry_checks(telemetry_outcome())) == {
        "no reading lost or counted twice": True,
        "one alert per reading crossing a rule": True,
    }


def test_lost_double_counted_or_misaggregated_readings_fail():
    lost = telemetry_outcome()
    lost.read_back["dev-1"].readings.pop()
    twice = telemetry_outcome()
    twice.read_back["dev-1"].readings.append(Reading(60_000, "humidity", 40))
    miscounted = telemetry_outcome()
    miscounted.read_back["dev-1"].aggregates["humidity"][0]["count"] = 2
    resent_counted = telemetry_outcome()
    resent_counted.resent = (resent_counted.resent[0], PostResult(2, 0)) if resent_counted.resent else None
    for outcome in (lost, twice, miscounted, resent_counted):
        (readings, _) = telemetry_checks(outcome)
        assert not readings.held, outcome


def test_readings_stored_by_a_post_whose_answer_was_lost_hold_the_invariant():
    # The answer to batch two was lost after the service stored it; the retry reported both as duplicates.
    outcome = telemetry_outcome()
    run = outcome.simulation.devices[0]
    run.accepted, run.duplicates = 2, 2

    (readings, _) = telemetry_checks(outcome)

    assert readings.held, readings.detail
    assert "2 accepted + 4 duplicates = 6 readings posted" in readings.detail


def test_counts_that_do_not_account_for_every_post_or_readings_never_sent_fail():
    unaccounted = telemetry_outcome()
    unaccounted.simulation.devices[0].accepted = 3  # one reading posted, neither accepted nor a duplicate
    accepted_twice = telemetry_outcome()
    accepted_twice.simulation.devices[0].accepted, accepted_twice.resent = (
        4,
        (
            [Reading(60_000, "temperature", 21.5)],
            PostResult(1, 0),
        ),
    )
    never_sent = telemetry_outcome()
    never_sent.simulation.devices[0].sampled = 6
    never_sent.simulation.devices[0].unsent = [
        Reading(180_000, "temperature", 20),
        Reading(180_000, "humidity", 3),
    ]
    for outcome, problem in (
        (unaccounted, "accepted 3 + duplicates 2 != 6 readings posted"),
        (accepted_twice, "accepted 5 > 4 distinct readings sent"),
        (never_sent, "6 readings sampled, 4 delivered (2 never were, 0 refused)"),
    ):
        (readings, _) = telemetry_checks(outcome)
        assert not readings.held
        assert problem in readings.detail


def test_a_missing_or_repeated_alert_fails():
    missing = telemetry_outcome()
    missing.read_back["dev-1"].alerts = []
    repeated = telemetry_outcome()
    repeated.read_back["dev-1"].alerts *= 2
    for outcome in (missing, repeated):
        assert not telemetry_checks(outcome)[1].held


def test_tables_align():
    lines = table(["name", "n"], [("a", 1), ("long name", 22)])
    assert lines == ["  name        n", "  ---------  --", "  a           1", "  long name  22"]


def test_the_demo_does_not_take_another_runtime_on_its_port_for_its_own(tmp_path, monkeypatch):
    """Its child cannot bind a port another runtime holds and exits; that runtime's health is not the child's."""

    class ChildThatExits:
        pid = 4242
        returncode: int | None = None
        polls = 0

        def poll(self) -> int | None:
            self.polls += 1
            if self.polls > 2:
                self.returncode = 1
            return self.returncode

    asked: list[int | None] = []

    def other_runtime_answers(self, pid=None):
        asked.append(pid)
        return pid is None or pid == 1  # ready, but as process 1

    monkeypatch.setattr(config.LocalRuntimeClient, "health", other_runtime_answers)
    monkeypatch.setattr("clients.demo.process.time.sleep", lambda _: None)
    runtime = process.RuntimeProcess(tmp_path, port=3000)
    runtime.process = ChildThatExits()  # type: ignore[assignment]
    with pytest.raises(process.StartupFailed, match="exited with code 1"):
        runtime.wait_ready(timeout_s=30)
    assert asked
    assert set(asked) == {4242}
