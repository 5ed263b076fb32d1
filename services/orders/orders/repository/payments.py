"""The payments table: one item per order, keyed by the order id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from commons.dynamodb import deserialize, is_condition_failure, put_if_absent, serialize
from orders.domain.model import PaymentRecord, PaymentStatus
from orders.repository.table import payment_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class PaymentsRepository:
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
        return put_if_absent(self.db, self.table_name, serialize(payment_item(payment)))

    def settle(self, payment: PaymentRecord) -> bool:
        """Replace the PENDING intent with the charge's outcome; False when it was settled already."""
        try:
            self.db.put_item(
                TableName=self.table_name,
                Item=serialize(payment_item(payment)),
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
