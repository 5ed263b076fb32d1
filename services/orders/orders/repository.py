"""The only code that talks to DynamoDB.

Orders table (single-table design, every item has ``type``):

    item          pk                          sk            gsi1pk (byCustomer)   gsi1sk
    PRODUCT       PRODUCT#<productId>         PRODUCT       CATALOGUE             PRODUCT#<productId>
    ORDER         ORDER#<orderId>             ORDER         CUSTOMER#<sub>        <createdAt>#<orderId>
    IDEMPOTENCY   IDEMPOTENCY#<sub>#<key>     IDEMPOTENCY   -                     -        (expiresAt: TTL)

Payments table: one item per order, ``pk`` = the order id, ``type`` = PAYMENT.

Every state change is a conditional write built from ``orders.domain.states``; stock moves
only inside the same transaction as the order change that justifies it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from commons.dynamodb import (
    decode_cursor,
    deserialize,
    encode_cursor,
    is_condition_failure,
    put_if_absent,
    serialize,
    transaction_cancellation_reasons,
)
from commons.errors import DomainError
from orders.domain.model import (
    IdempotencyRecord,
    Order,
    PaymentRecord,
    PaymentStatus,
    Product,
)
from orders.domain.pricing import OutOfStock
from orders.domain.states import TRANSITIONS, Event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

BY_CUSTOMER_INDEX = "byCustomer"
TTL_ATTRIBUTE = "expiresAt"
TYPE_PRODUCT = "PRODUCT"
TYPE_ORDER = "ORDER"
TYPE_IDEMPOTENCY = "IDEMPOTENCY"
TYPE_PAYMENT = "PAYMENT"
CATALOGUE_PARTITION = "CATALOGUE"
ORDER_CURSOR_KEYS = {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"}
BATCH_GET_LIMIT = 100
TRANSACTION_ATTEMPTS = 4
# Why DynamoDB cancels a transaction that may commit when tried again: another transaction on the
# same items, or a throughput limit (a flash sale on one product, the catalogue index's partition).
PASSING_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


class TryAgain(DomainError):
    """Contention we could not resolve by retrying (TransactionConflict): the client may retry."""

    status = 503


class IdempotencyKeyTaken(Exception):
    """Another request stored this customer's Idempotency-Key first (a race, resolved by the caller)."""


def product_key(product_id: str) -> dict[str, str]:
    return {"pk": f"PRODUCT#{product_id}", "sk": TYPE_PRODUCT}


def order_key(order_id: str) -> dict[str, str]:
    return {"pk": f"ORDER#{order_id}", "sk": TYPE_ORDER}


def idempotency_key(customer_id: str, key: str) -> dict[str, str]:
    return {"pk": f"IDEMPOTENCY#{customer_id}#{key}", "sk": TYPE_IDEMPOTENCY}


def customer_partition(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def product_item(product: Product) -> dict[str, Any]:
    return {
        **product_key(product.product_id),
        "type": TYPE_PRODUCT,
        "gsi1pk": CATALOGUE_PARTITION,
        "gsi1sk": f"PRODUCT#{product.product_id}",
        **product.to_json_dict(),
    }


def order_item(order: Order) -> dict[str, Any]:
    item = {
        **order_key(order.order_id),
        "type": TYPE_ORDER,
        "gsi1pk": customer_partition(order.customer_id),
        "gsi1sk": f"{order.created_at}#{order.order_id}",
        **order.to_json_dict(),
    }
    if order.payment_token is not None:
        item["paymentToken"] = order.payment_token
    return item


def order_from_item(item: Mapping[str, Any]) -> Order:
    return Order.from_json(item)


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


class OrdersRepository:
    """Products, orders and idempotency records in the orders table."""

    def __init__(
        self, table_name: str, dynamodb: DynamoDBClient, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.table_name = table_name
        self.db = dynamodb
        self._sleep = sleep

    # -- products ---------------------------------------------------------------------------

    def put_product_if_absent(self, product: Product) -> bool:
        """Create the product unless it exists (its stock is never reset); True when created."""
        return put_if_absent(self.db, self.table_name, serialize(product_item(product)))

    def list_products(self) -> list[Product]:
        """The whole catalogue from its GSI partition, ordered by product id."""
        products: list[Product] = []
        start: dict[str, Any] | None = None
        while True:
            query: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": BY_CUSTOMER_INDEX,
                "KeyConditionExpression": "gsi1pk = :catalogue",
                "ExpressionAttributeValues": serialize({":catalogue": CATALOGUE_PARTITION}),
            }
            if start:
                query["ExclusiveStartKey"] = start
            page = self.db.query(**query)
            products += [Product.from_json(deserialize(item)) for item in page.get("Items", [])]
            start = dict(page.get("LastEvaluatedKey") or {})
            if not start:
                return products

    def get_products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The products that exist among ``product_ids`` (eventually consistent: prices, not stock)."""
        found: dict[str, Product] = {}
        unique = sorted(set(product_ids))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            keys = [serialize(product_key(pid)) for pid in unique[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            for attempt in range(8):
                response = self.db.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    product = Product.from_json(deserialize(item))
                    found[product.product_id] = product
                request = {k: v for k, v in response.get("UnprocessedKeys", {}).items() if v.get("Keys")}
                if not request:
                    break
                self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
            else:
                raise TryAgain("The catalogue is busy; please retry")
        return found

    # -- orders -----------------------------------------------------------------------------

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
            item = {
                **idempotency_key(idempotency.customer_id, idempotency.key),
                "type": TYPE_IDEMPOTENCY,
                **idempotency.to_json_dict(),
            }
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": serialize(item),
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

    # -- internals --------------------------------------------------------------------------

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


class PaymentsRepository:
    """The payments table: one item per order, keyed by the order id."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient) -> None:
        self.table_name = table_name
        self.db = dynamodb

    def get(self, order_id: str) -> PaymentRecord | None:
        response = self.db.get_item(
            TableName=self.table_name, Key=serialize({"pk": order_id}), ConsistentRead=True
        )
        item = response.get("Item")
        return PaymentRecord.from_json(deserialize(item)) if item else None

    def put_new(self, payment: PaymentRecord) -> bool:
        """Store the order's payment (its charge intent); False when one is already stored."""
        return put_if_absent(self.db, self.table_name, serialize(_payment_item(payment)))

    def settle(self, payment: PaymentRecord) -> bool:
        """Replace the PENDING intent with the charge's outcome; False when it was settled already."""
        try:
            self.db.put_item(
                TableName=self.table_name,
                Item=serialize(_payment_item(payment)),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=serialize({":pending": PaymentStatus.PENDING.value}),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def mark_refunded(self, order_id: str, refund_id: str, now: str) -> bool:
        """CAPTURED -> REFUNDED; False when the payment was not CAPTURED (already refunded)."""
        try:
            self.db.update_item(
                TableName=self.table_name,
                Key=serialize({"pk": order_id}),
                UpdateExpression="SET #status = :refunded, refundId = :refund, updatedAt = :now",
                ConditionExpression="#status = :captured",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":refunded": PaymentStatus.REFUNDED.value,
                        ":captured": PaymentStatus.CAPTURED.value,
                        ":refund": refund_id,
                        ":now": now,
                    }
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True


def _payment_item(payment: PaymentRecord) -> dict[str, Any]:
    return {"pk": payment.order_id, "type": TYPE_PAYMENT, **payment.to_json_dict()}
