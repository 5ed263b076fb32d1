"""The storefront's client of the orders API, and its command line (``python -m clients.storefront``).

    client = StorefrontClient.connect(resolve(STOREFRONT, local="http://127.0.0.1:3000", subject="alice"))
    placed = client.place_order([("travel-mug", 2)], "tok_visa")
    order = client.wait_until_settled(placed.order_id)

Orders are placed with an ``Idempotency-Key`` (a new UUID unless one is given), so a retried request can
never create a second order, reserve stock twice or charge twice.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from clients.cli import add_local_argument, run_command
from clients.config import STOREFRONT, Endpoint, resolve
from clients.http import ClientError, HttpClient, RequestStats, RetryPolicy, json_of

Order = dict[str, Any]
LIVE_STATUSES = frozenset({"PENDING_PAYMENT", "PAID", "FULFILLED"})
"""Orders in these statuses hold their units out of the catalogue's stock."""


class NotSettled(ClientError):
    def __init__(self, order: Order, timeout_s: float) -> None:
        super().__init__(
            f"order {order.get('orderId')} not settled after {timeout_s}s: "
            f"{order.get('status')}/{order.get('payment', {}).get('status')}"
        )
        self.order = order


def is_settled(order: Order) -> bool:
    """The payment has an outcome the order reflects: PAID/FULFILLED with a capture, PAYMENT_FAILED, or
    CANCELLED with nothing left to do (refunded, declined, or cancelled before any charge).

    CANCELLED with CAPTURED is not settled: its refund is on the way."""
    status, payment = order["status"], order["payment"]["status"]
    if status == "PENDING_PAYMENT":
        return False
    return not (status == "CANCELLED" and payment == "CAPTURED")


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    idempotency_key: str
    replayed: bool
    """True when the server answered a repeat of an earlier request with the order it created then."""

    @property
    def order_id(self) -> str:
        return str(self.order["orderId"])


Line = tuple[str, int] | dict[str, Any]


def order_lines(items: Sequence[Line]) -> list[dict[str, Any]]:
    lines = []
    for item in items:
        if isinstance(item, dict):
            lines.append({"productId": item["productId"], "quantity": int(item["quantity"])})
        else:
            product_id, quantity = item
            lines.append({"productId": product_id, "quantity": int(quantity)})
    return lines


class StorefrontClient:
    def __init__(self, http: HttpClient, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = http
        self._sleep = sleep

    @classmethod
    def connect(
        cls, endpoint: Endpoint, *, stats: RequestStats | None = None, policy: RetryPolicy | None = None
    ) -> StorefrontClient:
        return cls(
            HttpClient(
                endpoint.base_url, api_key=endpoint.api_key, token=endpoint.token, stats=stats, policy=policy
            )
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> StorefrontClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- catalogue -----------------------------------------------------------------------------------

    def products(self) -> list[dict[str, Any]]:
        return list(self.http.json("GET", "/products")["items"])

    def stock(self) -> dict[str, int]:
        return {product["productId"]: int(product["stock"]) for product in self.products()}

    # -- orders --------------------------------------------------------------------------------------

    def place_order(
        self, items: Sequence[Line], payment_token: str, idempotency_key: str | None = None
    ) -> PlacedOrder:
        key = idempotency_key or str(uuid.uuid4())
        response = self.http.request(
            "POST",
            "/orders",
            json_body={"items": order_lines(items), "paymentToken": payment_token},
            headers={"Idempotency-Key": key},
        )
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return PlacedOrder(order=json_of(response), idempotency_key=key, replayed=replayed)

    def order(self, order_id: str) -> Order:
        found: Order = self.http.json("GET", f"/orders/{order_id}")
        return found

    def wait_until(
        self, order_id: str, done: Callable[[Order], bool], timeout_s: float = 30.0, interval_s: float = 0.2
    ) -> Order:
        """Poll ``GET /orders/{id}`` until ``done(order)``; ``NotSettled`` with the last order on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            order = self.order(order_id)
            if done(order):
                return order
            if time.monotonic() >= deadline:
                raise NotSettled(order, timeout_s)
            self._sleep(interval_s)

    def wait_until_settled(self, order_id: str, timeout_s: float = 30.0, interval_s: float = 0.2) -> Order:
        return self.wait_until(order_id, is_settled, timeout_s, interval_s)

    def orders(self, limit: int = 20, next_token: str | None = None) -> dict[str, Any]:
        """One page of the caller's orders, newest first: ``{"items": [...], "nextToken": str | None}``."""
        page: dict[str, Any] = self.http.json(
            "GET", "/orders", params={"limit": limit, "nextToken": next_token}
        )
        return page

    def iterate_orders(self, page_size: int = 100) -> Iterator[Order]:
        token: str | None = None
        while True:
            page = self.orders(page_size, token)
            yield from page["items"]
            token = page.get("nextToken")
            if not token:
                return

    def cancel(self, order_id: str) -> Order:
        # Cancelling a cancelled order returns it unchanged, so a retry after a lost response is safe.
        cancelled: Order = self.http.json("POST", f"/orders/{order_id}/cancel", idempotent=True)
        return cancelled

    def fulfil(self, order_id: str) -> Order:
        """Administrators only (403 otherwise); 409 unless the order is PAID or already FULFILLED."""
        # Fulfilling a fulfilled order returns it unchanged, so a retry after a lost response is safe.
        fulfilled: Order = self.http.json("POST", f"/orders/{order_id}/fulfil", idempotent=True)
        return fulfilled


# -- command line ------------------------------------------------------------------------------------


def parse_line(text: str) -> tuple[str, int]:
    product_id, _, quantity = text.rpartition(":")
    if not product_id or not quantity.isdigit():
        raise argparse.ArgumentTypeError(f"expected PRODUCT_ID:QUANTITY, got {text!r}")
    return product_id, int(quantity)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clients.storefront",
        description="The storefront's command line for the orders API. Prints JSON.",
    )
    parser.add_argument("--url", help="the orders API's base URL (or ORDERS_API_URL)")
    parser.add_argument("--api-key", help="the storefront API key (or ORDERS_API_KEY)")
    parser.add_argument("--token", help="the customer's JWT (or ORDERS_TOKEN)")
    add_local_argument(parser)
    parser.add_argument("--user", default="storefront-cli", help="with --local: the customer (token subject)")
    parser.add_argument("--admin", action="store_true", help="with --local: a token in the admin group")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("products", help="the catalogue, with prices and stock")
    place = commands.add_parser("place", help="place an order")
    place.add_argument("lines", nargs="+", type=parse_line, metavar="PRODUCT_ID:QUANTITY")
    place.add_argument(
        "--payment-token", default="tok_visa", help="tok_visa (approved), tok_chargeDeclined, ..."
    )
    place.add_argument("--idempotency-key", help="a new UUID unless given; reuse it to retry safely")
    place.add_argument("--wait", action="store_true", help="follow the order until its payment settles")
    place.add_argument("--timeout", type=float, default=30.0)
    show = commands.add_parser("order", help="one order")
    show.add_argument("order_id")
    wait = commands.add_parser("wait", help="follow an order until its payment settles")
    wait.add_argument("order_id")
    wait.add_argument("--timeout", type=float, default=30.0)
    listing = commands.add_parser("orders", help="the caller's orders, newest first")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--next-token")
    listing.add_argument("--all", action="store_true", help="every page")
    cancel = commands.add_parser("cancel", help="cancel an order (a captured payment is refunded)")
    cancel.add_argument("order_id")
    fulfil = commands.add_parser("fulfil", help="mark a paid order fulfilled (administrators)")
    fulfil.add_argument("order_id")
    return parser


def run(args: argparse.Namespace, client: StorefrontClient) -> Any:
    command = args.command
    if command == "products":
        return {"items": client.products()}
    if command == "place":
        placed = client.place_order(args.lines, args.payment_token, args.idempotency_key)
        order = client.wait_until_settled(placed.order_id, args.timeout) if args.wait else placed.order
        return {"order": order, "idempotencyKey": placed.idempotency_key, "replayed": placed.replayed}
    if command == "order":
        return client.order(args.order_id)
    if command == "wait":
        return client.wait_until_settled(args.order_id, args.timeout)
    if command == "orders":
        if args.all:
            return {"items": list(client.iterate_orders()), "nextToken": None}
        return client.orders(args.limit, args.next_token)
    if command == "cancel":
        return client.cancel(args.order_id)
    if command == "fulfil":
        return client.fulfil(args.order_id)
    raise AssertionError(command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def command() -> Any:
        endpoint = resolve(
            STOREFRONT,
            url=args.url,
            api_key=args.api_key,
            token=args.token,
            local=args.local,
            subject=args.user,
            groups=("admin",) if args.admin else (),
            need_token=args.command != "products",
        )
        with StorefrontClient.connect(endpoint) as client:
            return run(args, client)

    return run_command(command)


if __name__ == "__main__":
    sys.exit(main())
