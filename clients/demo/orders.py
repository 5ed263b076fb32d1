"""The orders scenario: customers ordering concurrently through the storefront, a retried request, an order for
more than the stock, payments settling, cancellations and fulfilments; then everything read back, and the
invariants checked on what was read back (stock conserved, one charge per paid order)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from clients.config import STOREFRONT, LocalRuntimeClient, resolve
from clients.demo.harness import PATIENT, Check, converge, parallel
from clients.http import ApiError, RequestStats
from clients.storefront import LIVE_STATUSES, Order, PlacedOrder, StorefrontClient

APPROVED_CARD = "tok_visa"  # the simulated card processor's test cards
DECLINED_CARD = "tok_chargeDeclined"


@dataclass
class OrdersOutcome:
    customers: int
    placed: list[tuple[str, PlacedOrder]] = field(default_factory=list)
    """(customer, placed order) for every order created"""
    declined_tokens: set[str] = field(default_factory=set)
    """order ids placed with tok_chargeDeclined"""
    replay: tuple[PlacedOrder, PlacedOrder] | None = None
    oversized: tuple[str, int, int, str] | None = None
    """(product, quantity, status, detail)"""
    reached_paid: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    fulfilled: set[str] = field(default_factory=set)
    final: dict[str, Order] = field(default_factory=dict)
    """every placed order, read back at the end"""
    listed: dict[str, list[str]] = field(default_factory=dict)
    """customer -> order ids in their listing"""
    stock_before: dict[str, int] = field(default_factory=dict)
    stock_after: dict[str, int] = field(default_factory=dict)

    def held_by_live_orders(self) -> dict[str, int]:
        held: Counter[str] = Counter()
        for order in self.final.values():
            if order["status"] in LIVE_STATUSES:
                for line in order["items"]:
                    held[line["productId"]] += int(line["quantity"])
        return dict(held)


class OrdersScenario:
    def __init__(
        self,
        runtime: LocalRuntimeClient,
        customers: int,
        stats: RequestStats,
        admin_stats: RequestStats,
        seed: int,
    ):
        self.runtime = runtime
        self.customers = [f"customer-{index + 1}" for index in range(customers)]
        self.stats = stats
        self.admin_stats = admin_stats
        self.rng = random.Random(seed)
        self.outcome = OrdersOutcome(customers)
        self.clients: dict[str, StorefrontClient] = {}

    def client(self, customer: str) -> StorefrontClient:
        if customer not in self.clients:
            endpoint = resolve(STOREFRONT, local=self.runtime, subject=customer, env={})
            self.clients[customer] = StorefrontClient.connect(endpoint, stats=self.stats, policy=PATIENT)
        return self.clients[customer]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def run(self) -> OrdersOutcome:
        try:
            self._run()
        finally:
            self.close()
        return self.outcome

    def _plans(self, catalogue: Sequence[str]) -> list[tuple[str, list[tuple[str, int]], str]]:
        """Three orders per customer: one or two lines of 1-3 units; about a quarter with a declined card."""
        plans = []
        for index, customer in enumerate(self.customers):
            for number in range(3):
                products = self.rng.sample(list(catalogue), self.rng.choice((1, 2)))
                lines = [(product, self.rng.randint(1, 3)) for product in products]
                token = DECLINED_CARD if (index + number) % 4 == 0 else APPROVED_CARD
                plans.append((customer, lines, token))
        return plans

    def _run(self) -> None:
        out = self.outcome
        # One client per customer, made before any thread uses them (httpx clients are shared across threads).
        first, *_ = [self.client(customer) for customer in self.customers]
        out.stock_before = first.stock()
        self._place(self._plans(sorted(out.stock_before)))
        self._replay_first_order()
        self._order_more_than_the_stock()
        paid = self._settle()
        to_cancel, to_fulfil = paid[0::3], paid[1::3]
        self._cancel(to_cancel)
        self._fulfil(to_fulfil)
        self._read_back()
        out.stock_after = first.stock()

    def _place(self, plans: Sequence[tuple[str, list[tuple[str, int]], str]]) -> None:
        out = self.outcome

        def place(plan: tuple[str, list[tuple[str, int]], str]) -> tuple[str, PlacedOrder, str]:
            customer, lines, token = plan
            return customer, self.client(customer).place_order(lines, token), token

        for customer, placed, token in parallel(place, plans, len(self.customers), "customers ordering"):
            out.placed.append((customer, placed))
            if token == DECLINED_CARD:
                out.declined_tokens.add(placed.order_id)

    def _replay_first_order(self) -> None:
        """A client that never saw the answer sends the same request again, with the same key."""
        out = self.outcome
        customer, original = out.placed[0]
        lines = [(line["productId"], line["quantity"]) for line in original.order["items"]]
        token = DECLINED_CARD if original.order_id in out.declined_tokens else APPROVED_CARD
        again = self.client(customer).place_order(lines, token, original.idempotency_key)
        out.replay = (original, again)

    def _order_more_than_the_stock(self) -> None:
        """More than the stock: the whole order is refused, nothing reserved."""
        out = self.outcome
        scarce = min(out.stock_before, key=lambda product: out.stock_before[product])
        quantity = min(100, out.stock_before[scarce] + 1)
        try:
            self.client(self.customers[-1]).place_order([(scarce, quantity)], APPROVED_CARD)
        except ApiError as error:
            out.oversized = (scarce, quantity, error.status, error.detail)
        else:
            out.oversized = (scarce, quantity, 201, "accepted (it should not have been)")

    def _settle(self) -> list[str]:
        """Follow every placed order until its payment settles; the ids of those that reached PAID, sorted."""

        def settle(item: tuple[str, PlacedOrder]) -> Order:
            customer, placed = item
            return self.client(customer).wait_until_settled(placed.order_id, timeout_s=30)

        settled = parallel(settle, self.outcome.placed, 12, "payments settling")
        paid = sorted(order["orderId"] for order in settled if order["status"] == "PAID")
        self.outcome.reached_paid = set(paid)
        return paid

    def _cancel(self, to_cancel: Sequence[str]) -> None:
        owner = {placed.order_id: customer for customer, placed in self.outcome.placed}

        def cancel(order_id: str) -> Order:
            client = self.client(owner[order_id])
            client.cancel(order_id)
            done = lambda order: order["payment"]["status"] == "REFUNDED"  # noqa: E731
            return client.wait_until(order_id, done, timeout_s=30)

        parallel(cancel, to_cancel, 12, "cancelling and refunding")
        self.outcome.cancelled = set(to_cancel)

    def _fulfil(self, to_fulfil: Sequence[str]) -> None:
        admin = StorefrontClient.connect(
            resolve(STOREFRONT, local=self.runtime, subject="shop-admin", groups=("admin",), env={}),
            stats=self.admin_stats,
            policy=PATIENT,
        )
        with admin:
            parallel(admin.fulfil, to_fulfil, 6, "fulfilling")
        self.outcome.fulfilled = set(to_fulfil)

    def _read_back(self) -> None:
        """Every placed order, and each customer's listing of their orders."""
        out = self.outcome

        def read(item: tuple[str, PlacedOrder]) -> Order:
            customer, placed = item
            return self.client(customer).order(placed.order_id)

        for order in parallel(read, out.placed, 12, "reading orders back"):
            out.final[order["orderId"]] = order
        expected = Counter(customer for customer, _ in out.placed)

        def listing(customer: str) -> list[str]:
            # The customer index is eventually consistent: wait until it has caught up (or give up).
            return converge(
                lambda: [order["orderId"] for order in self.client(customer).iterate_orders()],
                lambda ids: len(ids) >= expected[customer],
                timeout_s=10,
            )

        out.listed = dict(
            zip(self.customers, parallel(listing, self.customers, 6, "listing orders"), strict=True)
        )


def order_checks(out: OrdersOutcome) -> list[Check]:
    checks = []
    held = out.held_by_live_orders()
    broken = [
        f"{product}: {before} != {out.stock_after.get(product, 0)} + {held.get(product, 0)}"
        for product, before in sorted(out.stock_before.items())
        if before != out.stock_after.get(product, 0) + held.get(product, 0)
    ]
    units = sum(held.values())
    checks.append(
        Check(
            "stock conserved",
            not broken and out.oversized is not None and out.oversized[2] == 409,
            "; ".join(broken)
            or f"for all {len(out.stock_before)} products, before = after + held by live orders ({units} units);"
            f" the order for more than the stock was refused ({out.oversized[2] if out.oversized else '-'})",
        )
    )
    problems = []
    for order_id, order in sorted(out.final.items()):
        status, payment = order["status"], order["payment"]["status"]
        if status in ("PAID", "FULFILLED") and payment != "CAPTURED":
            problems.append(f"{order_id[:8]} {status} with payment {payment}")
        if order_id in out.reached_paid and status == "CANCELLED" and payment != "REFUNDED":
            problems.append(f"{order_id[:8]} cancelled after capture but payment {payment}")
        if order_id in out.declined_tokens and payment in ("CAPTURED", "REFUNDED"):
            problems.append(f"{order_id[:8]} charged with a declined card")
        if order_id not in out.reached_paid and payment in ("CAPTURED", "REFUNDED"):
            problems.append(f"{order_id[:8]} charged but never PAID")
    if out.replay is not None:
        original, again = out.replay
        if again.order_id != original.order_id or not again.replayed:
            problems.append("the retried request created or reported a different order")
    ids = [order_id for ids in out.listed.values() for order_id in ids]
    placed_ids = {placed.order_id for _, placed in out.placed}
    if sorted(ids) != sorted(placed_ids):
        problems.append(
            f"listings hold {len(ids)} orders ({len(set(ids))} distinct), {len(placed_ids)} were placed"
        )
    charged = sum(1 for order in out.final.values() if order["payment"]["status"] in ("CAPTURED", "REFUNDED"))
    checks.append(
        Check(
            "one charge per paid order",
            not problems and charged == len(out.reached_paid),
            "; ".join(problems)
            or f"{charged} charges for {len(out.reached_paid)} paid orders; declined cards never charged;"
            " the retried request returned the same order; each order listed once",
        )
    )
    return checks
