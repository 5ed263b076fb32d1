"""Payments-stream consumer: moves each order to PAID or PAYMENT_FAILED (releasing its
stock), records captures on orders cancelled meanwhile, and records refunds."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.dynamodb import CLIENT_CONFIG
from commons.observability import logger, metrics
from commons.streams import process_stream, stream_processor
from orders.logic.order_updates import OrderUpdates
from orders.repository.orders import OrdersRepository
from orders.settings import load_settings

settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
updates = OrderUpdates(OrdersRepository(settings.orders_table_name, dynamodb))
processor = stream_processor()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_stream(event, updates.handle, processor, context)
