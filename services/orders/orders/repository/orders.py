"""Orders and their idempotency records in the orders table; stock moves in the same transactions."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from commons.dynamodb import (
    decode_cursor,
    deserialize,
    encode_cursor,
    is_condition_failure,
    serialize,
    transaction_cancellation_reasons,
)
from orders.domain.model import IdempotencyRecord, Order, PaymentStatus
from orders.domain.pricing import OutOfStock
from orders.domain.states import TRANSITIONS, Event
from orders.repository.table import (
    BY_CUSTOMER_INDEX,
    ORDER_CURSOR_KEYS,
    TTL_ATTRIBUTE,
    OrdersTable,
    TryAgain,
    customer_partition,
    idempotency_item,
    idempotency_key,
    order_from_item,
    order_item,
    order_key,
    product_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TRANSACTION_ATTEMPTS = 4
# Why DynamoDB cancels a transaction that may commit when tried again: another transaction on the
# same items, or a throughput limit (a flash sale on one product, the catalogue index's partition).
PASSING_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


class IdempotencyKeyTaken(Exception):
    """Another request stored this customer's Idempotency-Key first (a race, resolved by the caller)."""


class _Expression:
    """Collects placeholder names and values for one expression set."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, *path: str) -> str:
        for part in path:
            self.names[f"#{part}"] = part
        return ".".join(f"#{part}" for part in path)

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def one_of(self, path: tuple[str, ...], options: Iterable[str]) -> str:
        return f"{self.name(*path)} IN ({', '.join(self.value(option) for option in sorted(options))})"

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            params["ExpressionAttributeValues"] = serialize(self.values)
        return params


class OrdersRepository(OrdersTable):
    def get_order(self, order_id: str) -> Order | None:
        response = self.db.get_item(
            TableName=self.table_name, Key=serialize(order_key(order_id)), ConsistentRead=True
        )
        item = response.get("Item")
        return order_from_item(deserialize(item)) if item else None

    def list_orders(
        self, customer_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Order], str | None]:
        """One page of the customer's orders, newest first, from the byCustomer index."""
        partition = customer_partition(customer_id)
        start = decode_cursor(next_token, ORDER_CURSOR_KEYS, fixed={"gsi1pk": partition})
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": "gsi1pk = :customer",
            "ExpressionAttributeValues": serialize({":customer": partition}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            query["ExclusiveStartKey"] = start
        page = self.db.query(**query)
        orders = [order_from_item(deserialize(item)) for item in page.get("Items", [])]
        return orders, encode_cursor(page.get("LastEvaluatedKey"))

    def get_idempotency(self, customer_id: str, key: str) -> IdempotencyRecord | None:
        response = self.db.get_item(
            TableName=self.table_name, Key=serialize(idempotency_key(customer_id, key)), ConsistentRead=True
        )
        item = response.get("Item")
        return IdempotencyRecord.from_json(deserialize(item)) if item else None

    def create_order(self, order: Order, idempotency: IdempotencyRecord | None, now_epoch: int) -> None:
        """Write the order, reserve each line's stock (``stock >= quantity``) and store the
        idempotency record, all in one transaction: either everything is written or nothing.

        Raises OutOfStock naming the short products, or IdempotencyKeyTaken when another
        request stored the same key first (or it is still live)."""
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": serialize(order_item(order)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        items += [self._stock_change(line.product_id, -line.quantity) for line in order.items]
        if idempotency is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": serialize(idempotency_item(idempotency)),
                        # An expired record that TTL has not removed yet does not hold the key.
                        "ConditionExpression": "attribute_not_exists(pk) OR #expiresAt <= :now",
                        "ExpressionAttributeNames": {"#expiresAt": TTL_ATTRIBUTE},
                        "ExpressionAttributeValues": serialize({":now": now_epoch}),
                    }
                }
            )
        reasons = self._transact(items)
        if not reasons:
            return
        if idempotency is not None and reasons[-1] == "ConditionalCheckFailed":
            raise IdempotencyKeyTaken
        short = [
            line.product_id
            for line, reason in zip(order.items, reasons[1 : 1 + len(order.items)], strict=True)
            if reason == "ConditionalCheckFailed"
        ]
        if short:
            raise OutOfStock(short)
        raise RuntimeError(f"Order {order.order_id} was not written: {reasons}")

    def apply(
        self, order: Order, event: Event, *, now: str, decline_reason: str | None = None
    ) -> Order | None:
        """Apply a state-machine event as one conditional write; with the stock release in
        the same transaction when the transition releases stock.

        Returns the order as written, or None when the order was not in a state the event
        starts from (it changed meanwhile, or the event was already applied)."""
        transition = TRANSITIONS[event]
        expr = _Expression()
        conditions = [expr.one_of(("status",), transition.from_status)]
        if transition.from_payment is not None:
            conditions.append(expr.one_of(("payment", "status"), transition.from_payment))
        if transition.releases_stock:
            # A transaction returns no item, so the answer is ``order`` with the changes: write only if
            # the order is still as read (a payment settled meanwhile sends the caller back to read again).
            conditions.append(expr.one_of(("status",), [order.status.value]))
            conditions.append(expr.one_of(("payment", "status"), [order.payment.status.value]))
        # A fresh id names this write. When the answer to a committed write is lost, botocore sends the same
        # request again; the resend finds its own id and succeeds, instead of failing a condition its first
        # attempt already changed (a fulfil answered 409 although it was done).
        write_id = expr.value(uuid.uuid4().hex)
        updates = [
            f"{expr.name('updatedAt')} = {expr.value(now)}",
            f"{expr.name('transitionId')} = {write_id}",
        ]
        changes: dict[str, Any] = {"updated_at": now}
        payment = order.payment
        if transition.to_status is not None:
            updates.append(f"{expr.name('status')} = {expr.value(transition.to_status.value)}")
            changes["status"] = transition.to_status
        if transition.to_payment is not None:
            updates.append(f"{expr.name('payment', 'status')} = {expr.value(transition.to_payment.value)}")
            payment = payment._replace(status=transition.to_payment)
        if decline_reason is not None and transition.to_payment is PaymentStatus.DECLINED:
            updates.append(f"{expr.name('payment', 'declineReason')} = {expr.value(decline_reason)}")
            payment = payment._replace(decline_reason=decline_reason)
        changes["payment"] = payment
        # The payment token is needed only to charge, and the charge reads it from the order's INSERT
        # record: every transition (each one settles or ends the payment) drops it from the item, its
        # index entry and later backups.
        changes["payment_token"] = None
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": serialize(order_key(order.order_id)),
            "UpdateExpression": "SET " + ", ".join(updates) + f" REMOVE {expr.name('paymentToken')}",
            "ConditionExpression": f"({' AND '.join(conditions)}) OR {expr.name('transitionId')} = {write_id}",
            **expr.params(),
        }
        if transition.releases_stock:
            items: list[TransactWriteItemTypeDef] = [{"Update": update}]  # type: ignore[typeddict-item]
            items += [self._stock_change(line.product_id, line.quantity) for line in order.items]
            reasons = self._transact(items)
            if not reasons:
                return order._replace(**changes)
            if reasons[0] == "ConditionalCheckFailed":
                return None
            raise RuntimeError(f"Stock of order {order.order_id} could not be released: {reasons}")
        try:
            response = self.db.update_item(**update, ReturnValues="ALL_NEW")
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return order_from_item(deserialize(response["Attributes"]))

    def _stock_change(self, product_id: str, delta: int) -> TransactWriteItemTypeDef:
        """Reserve (delta < 0, only if that much is in stock) or release (delta > 0) stock."""
        condition = "attribute_exists(pk)" + (" AND #stock >= :quantity" if delta < 0 else "")
        values: dict[str, Any] = {":delta": delta}
        if delta < 0:
            values[":quantity"] = -delta
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": serialize(product_key(product_id)),
                "UpdateExpression": "SET #stock = #stock + :delta",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#stock": "stock"},
                "ExpressionAttributeValues": serialize(values),
            }
        }

    def _transact(self, items: list[TransactWriteItemTypeDef]) -> list[str]:
        """Run the transaction; [] when it committed, else the per-item cancellation reasons.
        Cancellations that may pass (conflicts, throughput limits) are retried with jittered backoff,
        and become a 503 if they last."""
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.db.transact_write_items(TransactItems=items)
            except ClientError as error:
                reasons = transaction_cancellation_reasons(error)
                if not reasons:
                    raise
                if "ConditionalCheckFailed" in reasons or PASSING_CANCELLATIONS.isdisjoint(reasons):
                    return reasons
                self._sleep(random.uniform(0, 0.05 * 2**attempt))
            else:
                return []
        raise TryAgain("Too many concurrent changes to these items; please retry")
