"""Orders-stream consumer: charges new orders and refunds cancelled captured ones.

Each record is processed on its own (Powertools' BatchProcessor + ReportBatchItemFailures), so a
poison record fails alone instead of blocking the shard.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.dynamodb import CLIENT_CONFIG
from commons.observability import logger, metrics
from commons.streams import process_stream, stream_processor
from orders.logic.payment_flow import PaymentFlow
from orders.logic.payment_provider import SimulatedCardProcessor
from orders.repository.orders import OrdersRepository
from orders.repository.payments import PaymentsRepository
from orders.settings import load_settings

settings = load_settings(payments=True)
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
flow = PaymentFlow(
    OrdersRepository(settings.orders_table_name, dynamodb),
    PaymentsRepository(str(settings.payments_table_name), dynamodb),
    SimulatedCardProcessor(),
)
processor = stream_processor()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_stream(event, flow.handle, processor, context)
