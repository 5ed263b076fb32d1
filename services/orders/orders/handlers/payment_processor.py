"""Orders-stream consumer: charges new orders and refunds cancelled captured ones.

Each record is processed on its own (commons.batch + ReportBatchItemFailures), so a
poison record fails alone instead of blocking the shard.
"""

from __future__ import annotations

from commons.cold_start import begin_init, init_done

begin_init()  # first of all: commons.cold_start

from commons.batch import dynamodb_stream_handler
from commons.observability import LambdaHandler
from orders.payment_flow import PaymentFlow
from orders.payments import SimulatedCardProcessor
from orders.repository import OrdersRepository, PaymentsRepository
from orders.settings import load_tables


def create_handler(flow: PaymentFlow) -> LambdaHandler:
    return dynamodb_stream_handler(flow.handle)


SETTINGS = load_tables(payments=True)
flow = PaymentFlow(
    OrdersRepository(SETTINGS.orders_table_name),
    PaymentsRepository(str(SETTINGS.payments_table_name)),
    SimulatedCardProcessor(),
)
handler = create_handler(flow)
init_done()
