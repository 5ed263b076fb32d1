"""Payments-stream consumer: moves each order to PAID or PAYMENT_FAILED (releasing its
stock), records captures on orders cancelled meanwhile, and records refunds."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.observability import LambdaHandler, instrument
from commons.settings import load_settings
from orders.order_updates import OrderUpdates
from orders.repository import OrdersRepository
from orders.settings import OrdersTableSettings


def create_handler(updates: OrderUpdates) -> LambdaHandler:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: DynamoDBRecord) -> None:
        updates.handle(record)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return instrument(handle)


SETTINGS = load_settings(OrdersTableSettings)
updates = OrderUpdates(OrdersRepository(SETTINGS.orders_table_name))
handler = create_handler(updates)
