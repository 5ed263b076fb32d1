"""Orders-stream consumer: charges new orders and refunds cancelled captured ones.

Each record is processed on its own (BatchProcessor + ReportBatchItemFailures), so a
poison record fails alone instead of blocking the shard.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.observability import LambdaHandler, instrument
from commons.settings import load_settings
from orders.payment_flow import PaymentFlow
from orders.payments import SimulatedCardProcessor
from orders.repository import OrdersRepository, PaymentsRepository
from orders.settings import PaymentFlowSettings


def create_handler(flow: PaymentFlow) -> LambdaHandler:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: DynamoDBRecord) -> None:
        flow.handle(record)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return instrument(handle)


SETTINGS = load_settings(PaymentFlowSettings)
flow = PaymentFlow(
    OrdersRepository(SETTINGS.orders_table_name),
    PaymentsRepository(SETTINGS.payments_table_name),
    SimulatedCardProcessor(),
)
handler = create_handler(flow)
