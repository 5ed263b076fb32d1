"""The pure rules: state machine, pricing, request fingerprints, payment provider. No AWS."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
from pydantic import ValidationError

from commons.errors import Conflict, Unprocessable
from orders import api_models
from orders.api_models import CreateOrderRequest, LineRequest
from orders.domain import model, states
from orders.domain.model import (
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Product,
    holds_stock,
)
from orders.domain.pricing import OutOfStock, UnknownProducts, order_total, place_order, price_lines
from orders.domain.states import Event, InvalidTransition, PaymentAction
from orders.logic.payment_provider import SimulatedCardProcessor

REPO_ROOT = Path(__file__).resolve().parents[3]
S = OrderStatus
P = PaymentStatus

# Every allowed (status, payment, event) and where it leads; everything else must be refused.
ALLOWED = {
    (S.PENDING_PAYMENT, P.PENDING, Event.CANCEL): (S.CANCELLED, P.PENDING),
    (S.PAID, P.CAPTURED, Event.CANCEL): (S.CANCELLED, P.CAPTURED),
    (S.PAID, P.CAPTURED, Event.FULFIL): (S.FULFILLED, P.CAPTURED),
    (S.PENDING_PAYMENT, P.PENDING, Event.PAYMENT_CAPTURED): (S.PAID, P.CAPTURED),
    (S.PENDING_PAYMENT, P.PENDING, Event.PAYMENT_DECLINED): (S.PAYMENT_FAILED, P.DECLINED),
    (S.CANCELLED, P.PENDING, Event.CAPTURED_AFTER_CANCEL): (S.CANCELLED, P.CAPTURED),
    (S.CANCELLED, P.PENDING, Event.DECLINED_AFTER_CANCEL): (S.CANCELLED, P.DECLINED),
    (S.CANCELLED, P.CAPTURED, Event.REFUNDED): (S.CANCELLED, P.REFUNDED),
}
# CANCEL does not look at the payment: these are reachable states where it also applies.
ALLOWED |= {(S.PENDING_PAYMENT, payment, Event.CANCEL): (S.CANCELLED, payment) for payment in P} | {
    (S.PAID, payment, Event.CANCEL): (S.CANCELLED, payment) for payment in P
}

EVERY_CASE = list(itertools.product(S, P, Event))


@pytest.mark.parametrize(("status", "payment", "event"), EVERY_CASE)
def test_state_machine_allows_exactly_the_table(status, payment, event):
    expected = ALLOWED.get((status, payment, event))
    if expected is None:
        with pytest.raises(InvalidTransition) as refused:
            states.apply(status, payment, event)
        assert isinstance(refused.value, Conflict)
        assert refused.value.extensions["orderStatus"] == status.value
    else:
        assert states.apply(status, payment, event) == expected


def test_no_transition_can_reach_its_own_source_so_none_applies_twice():
    for transition in states.TRANSITIONS.values():
        for status, payment in itertools.product(S, P):
            if transition.allows(status, payment):
                after = (transition.to_status or status, transition.to_payment or payment)
                assert not transition.allows(*after), transition.event


def test_stock_is_released_only_by_transitions_that_end_holding_none():
    for transition in states.TRANSITIONS.values():
        if transition.releases_stock:
            assert all(holds_stock(source) for source in transition.from_status)
            assert transition.to_status is not None
            assert not holds_stock(transition.to_status)
        elif transition.to_status is not None:
            assert holds_stock(transition.to_status) or not any(
                holds_stock(s) for s in transition.from_status
            )


def test_terminal_states_accept_no_order_event():
    for status in (S.FULFILLED, S.PAYMENT_FAILED):
        for event in (Event.CANCEL, Event.FULFIL, Event.PAYMENT_CAPTURED, Event.PAYMENT_DECLINED):
            with pytest.raises(InvalidTransition):
                states.apply(status, P.CAPTURED, event)


def test_cancelling_a_cancelled_order_is_a_noop_only_then():
    assert [status for status in S if states.cancel_is_noop(status)] == [S.CANCELLED]


@pytest.mark.parametrize(
    ("status", "payment", "result", "event"),
    [
        (S.PENDING_PAYMENT, P.PENDING, P.CAPTURED, Event.PAYMENT_CAPTURED),
        (S.PENDING_PAYMENT, P.PENDING, P.DECLINED, Event.PAYMENT_DECLINED),
        (S.CANCELLED, P.PENDING, P.CAPTURED, Event.CAPTURED_AFTER_CANCEL),
        (S.CANCELLED, P.PENDING, P.DECLINED, Event.DECLINED_AFTER_CANCEL),
        (S.CANCELLED, P.CAPTURED, P.REFUNDED, Event.REFUNDED),
        # Already applied (a repeated or late record): nothing to do.
        (S.PAID, P.CAPTURED, P.CAPTURED, None),
        (S.FULFILLED, P.CAPTURED, P.CAPTURED, None),
        (S.CANCELLED, P.CAPTURED, P.CAPTURED, None),
        (S.CANCELLED, P.REFUNDED, P.CAPTURED, None),
        (S.CANCELLED, P.REFUNDED, P.REFUNDED, None),
        (S.PAYMENT_FAILED, P.DECLINED, P.DECLINED, None),
        (S.CANCELLED, P.DECLINED, P.DECLINED, None),
        (S.PENDING_PAYMENT, P.PENDING, P.PENDING, None),
    ],
)
def test_payment_results_map_to_events(status, payment, result, event):
    assert states.event_for_payment_result(status, payment, result) == event


@pytest.mark.parametrize(("status", "payment"), list(itertools.product(S, P)))
def test_payment_processor_charges_new_orders_and_refunds_cancelled_captured_ones(status, payment):
    expected = {
        (S.PENDING_PAYMENT, P.PENDING): PaymentAction.CHARGE,
        (S.CANCELLED, P.CAPTURED): PaymentAction.REFUND,
    }.get((status, payment))
    assert states.payment_action(status, payment) == expected


# -- pricing ------------------------------------------------------------------------------------

CATALOGUE = {
    "a": Product(product_id="a", name="A", price=Money(amount=250), stock=5),
    "b": Product(product_id="b", name="B", price=Money(amount=1999), stock=1),
}


def test_lines_are_priced_from_the_catalogue_and_totalled():
    lines = price_lines(
        [LineRequest(product_id="a", quantity=3), LineRequest(product_id="b", quantity=2)], CATALOGUE
    )
    assert [(line.product_id, line.quantity, line.unit_price.amount) for line in lines] == [
        ("a", 3, 250),
        ("b", 2, 1999),
    ]
    assert order_total(lines) == Money(amount=3 * 250 + 2 * 1999, currency="USD")


def test_total_of_the_largest_order_is_exact():
    lines = [OrderLine(product_id=f"p{n}", quantity=100, unit_price=Money(amount=999_999)) for n in range(50)]
    assert order_total(lines).amount == 50 * 100 * 999_999


def test_unknown_products_are_all_named():
    with pytest.raises(UnknownProducts) as unknown:
        price_lines([LineRequest(product_id=pid, quantity=1) for pid in ("z", "a", "y")], CATALOGUE)
    assert isinstance(unknown.value, Unprocessable)
    assert unknown.value.extensions == {"productIds": ["y", "z"]}


def test_out_of_stock_is_a_409_naming_products():
    error = OutOfStock(["b", "a"])
    assert error.status == 409
    assert error.extensions == {"productIds": ["a", "b"]}


def test_a_placed_order_waits_for_payment():
    request = CreateOrderRequest(items=[LineRequest(product_id="a", quantity=2)], payment_token="tok_visa")
    order = place_order(
        order_id="o1",
        customer_id="c1",
        requested=request.items,
        catalogue=CATALOGUE,
        payment_token="tok",
        now="T",
    )
    assert (order.status, order.payment.status) == (S.PENDING_PAYMENT, P.PENDING)
    assert order.total.amount == 500
    assert order.stock_held() == {"a": 2}
    assert "paymentToken" not in order.to_json_dict()
    assert order.payment_token == "tok"


def test_only_live_orders_hold_stock():
    order = Order(
        order_id="o",
        customer_id="c",
        status=S.PAID,
        items=[OrderLine(product_id="a", quantity=2, unit_price=Money(amount=1))],
        total=Money(amount=2),
        created_at="T",
        updated_at="T",
        payment=Payment(status=P.CAPTURED),
    )
    held = {status: order._replace(status=status).stock_held() for status in S}
    assert held == {
        S.PENDING_PAYMENT: {"a": 2},
        S.PAID: {"a": 2},
        S.FULFILLED: {"a": 2},
        S.CANCELLED: {},
        S.PAYMENT_FAILED: {},
    }


def test_decline_reason_is_omitted_unless_present():
    assert Payment(status=P.PENDING).to_json_dict() == {"status": "PENDING"}
    assert api_models.Payment(status=P.PENDING).model_dump(mode="json", by_alias=True) == {
        "status": "PENDING"
    }
    assert Payment(status=P.DECLINED, decline_reason="card_declined").to_json_dict() == {
        "status": "DECLINED",
        "declineReason": "card_declined",
    }
    assert api_models.Payment(status=P.DECLINED, decline_reason="card_declined").model_dump(
        mode="json", by_alias=True
    ) == {
        "status": "DECLINED",
        "declineReason": "card_declined",
    }


# -- requests -----------------------------------------------------------------------------------


def test_request_fingerprint_ignores_key_order_but_not_content():
    one = CreateOrderRequest.model_validate(
        {"items": [{"productId": "a", "quantity": 1}], "paymentToken": "tok_visa"}
    )
    same = CreateOrderRequest.model_validate(
        {"paymentToken": "tok_visa", "items": [{"quantity": 1, "productId": "a"}]}
    )
    other = CreateOrderRequest.model_validate(
        {"items": [{"productId": "a", "quantity": 2}], "paymentToken": "tok_visa"}
    )
    assert one.fingerprint() == same.fingerprint() != other.fingerprint()


def test_duplicate_products_are_named():
    with pytest.raises(ValidationError, match="repeated: a, b"):
        CreateOrderRequest.model_validate(
            {
                "items": [{"productId": pid, "quantity": 1} for pid in ("a", "b", "a", "c", "b")],
                "paymentToken": "t",
            }
        )


# -- the simulated card processor ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("tok_visa", "CAPTURED", None),
        ("tok_chargeDeclined", "DECLINED", "card_declined"),
        ("tok_anything_else", "DECLINED", "invalid_token"),
        ("", "DECLINED", "invalid_token"),
    ],
)
def test_card_processor_outcomes(token, status, reason):
    provider = SimulatedCardProcessor()
    result = provider.charge(idempotency_key="o1", amount=100, currency="USD", token=token)
    assert (result.status, result.decline_reason) == (status, reason)
    assert (result.charge_id is not None) == (status == "CAPTURED")
    assert provider.charges == (["o1"] if status == "CAPTURED" else [])


def test_card_processor_is_idempotent_per_key():
    provider = SimulatedCardProcessor()
    first = provider.charge(idempotency_key="o1", amount=100, currency="USD", token="tok_visa")
    again = provider.charge(idempotency_key="o1", amount=100, currency="USD", token="tok_visa")
    other = provider.charge(idempotency_key="o2", amount=100, currency="USD", token="tok_visa")
    assert first == again
    assert other.charge_id != first.charge_id
    assert provider.charges == ["o1", "o2"]
    assert first.charge_id is not None
    refund = provider.refund(idempotency_key="r1", charge_id=first.charge_id, amount=100, currency="USD")
    assert (
        provider.refund(idempotency_key="r1", charge_id=first.charge_id, amount=100, currency="USD") == refund
    )
    assert provider.refunds == [first.charge_id]


def test_charge_ids_do_not_depend_on_the_ledger():
    # A processor that lost its memory (another process) names the same charge: the key decides.
    one = SimulatedCardProcessor().charge(idempotency_key="o1", amount=1, currency="USD", token="tok_visa")
    two = SimulatedCardProcessor().charge(idempotency_key="o1", amount=1, currency="USD", token="tok_visa")
    assert one.charge_id == two.charge_id


RECORDS = {"Money", "Product", "OrderLine", "Payment", "Order", "PaymentRecord", "IdempotencyRecord"}


def _called_name(function: ast.expr) -> str | None:
    return function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)


def test_domain_records_are_built_with_keywords():
    """A named tuple also takes its fields by position, and these records hold several of one type (ids,
    times, amounts), so every construction names its fields, as keyword-only dataclasses made it (decision 25)."""
    calls = [
        (f"{path.relative_to(REPO_ROOT)}:{node.lineno}", bool(node.args))
        for path in [*(REPO_ROOT / "services/orders").rglob("*.py"), *(REPO_ROOT / "tests").rglob("*.py")]
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call) and _called_name(node.func) in RECORDS
    ]
    assert len(calls) > 20  # the records are found at all
    assert [where for where, positional in calls if positional] == []


@pytest.mark.parametrize("name", ["Money", "Product", "OrderLine", "Payment", "Order"])
def test_each_domain_record_and_its_wire_model_carry_the_same_fields(name):
    """A field added to a record but not to its pydantic model would silently drop out of API responses
    (``Order.of`` validates the record's dict, and the models ignore unknown keys)."""
    record = getattr(model, name)
    wire = getattr(api_models, name)
    assert set(record._fields) == set(wire.model_fields), name
