"""Orders-stream consumer: charges new orders and refunds cancelled captured ones.

Each record is processed on its own (BatchProcessor + ReportBatchItemFailures), so a
poison record fails alone instead of blocking the shard.
"""

from __future__ import annotations

from commons.batch import dynamodb_stream_handler
from commons.observability import LambdaHandler
from commons.settings import load_settings
from orders.payment_flow import PaymentFlow
from orders.payments import SimulatedCardProcessor
from orders.repository import OrdersRepository, PaymentsRepository
from orders.settings import PaymentFlowSettings


def create_handler(flow: PaymentFlow) -> LambdaHandler:
    return dynamodb_stream_handler(flow.handle)


SETTINGS = load_settings(PaymentFlowSettings)
flow = PaymentFlow(
    OrdersRepository(SETTINGS.orders_table_name),
    PaymentsRepository(SETTINGS.payments_table_name),
    SimulatedCardProcessor(),
)
handler = create_handler(flow)
