"""Payments-stream consumer: moves each order to PAID or PAYMENT_FAILED (releasing its
stock), records captures on orders cancelled meanwhile, and records refunds."""

from __future__ import annotations

from commons.cold_start import begin_init, init_done

begin_init()  # first of all: commons.cold_start

from commons.batch import dynamodb_stream_handler
from commons.observability import LambdaHandler
from orders.order_updates import OrderUpdates
from orders.repository import OrdersRepository
from orders.settings import load_tables


def create_handler(updates: OrderUpdates) -> LambdaHandler:
    return dynamodb_stream_handler(updates.handle)


SETTINGS = load_tables()
updates = OrderUpdates(OrdersRepository(SETTINGS.orders_table_name))
handler = create_handler(updates)
init_done()
