"""The storefront API: every route of the orders service in one function.

API Gateway checks the API key on every route and the customer's JWT (Cognito authorizer)
on every route but ``GET /products``; this code reads the verified claims.
"""

from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapshot_restore_py import register_before_snapshot

from commons.api import create_resolver, documented_responses, prime
from commons.dynamodb import CLIENT_CONFIG
from commons.identity import Caller, caller_from_request_context
from commons.models import ApiModel
from commons.observability import logger, metrics
from orders.api_models import CreateOrderRequest, Order, OrderPage, Problem, Product, ProductList
from orders.logic.ordering import OrdersService
from orders.repository.orders import OrdersRepository
from orders.repository.products import ProductsRepository
from orders.settings import load_settings

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
OrderId = Annotated[str, Path(alias="orderId", min_length=1, max_length=64)]


REASONS = {
    400: "Malformed JSON or an invalid nextToken",
    401: "No authenticated caller",
    403: "The caller is not an administrator",
    404: "No such order for this caller",
    409: "Not enough stock, an Idempotency-Key reused with another body, or a refused transition",
    415: "The body was not sent as application/json",
    422: "The request is invalid (one pointer per field) or names unknown products",
    503: "Too much contention on these items, or DynamoDB throttled the request; retry",
}


def responses(model: type[ApiModel], *errors: int, status: int = 200) -> dict[int, OpenAPIResponse]:
    return documented_responses(model, Problem, REASONS, errors, status)


def create_app(service: OrdersService) -> APIGatewayRestResolver:
    """The resolver with every route, bound to ``service`` (tests bind their own)."""
    app = create_resolver(allow_headers=[IDEMPOTENCY_HEADER], expose_headers=[REPLAYED_HEADER])

    def caller() -> Caller:
        return caller_from_request_context(app.current_event.request_context.raw_event)

    @app.get("/products", summary="The catalogue, with prices and stock", responses=responses(ProductList))
    def list_products() -> ProductList:
        return ProductList(items=[Product.of(product) for product in service.list_products()])

    @app.post(
        "/orders",
        summary="Place an order",
        description=(
            "Reserves the stock of every line in one transaction and starts the payment. With an "
            "Idempotency-Key, repeating the same request returns the same order (201 again, with the "
            "header Idempotent-Replayed: true); the same key with a different body is a 409."
        ),
        responses=responses(Order, 400, 401, 409, 415, 422, 503, status=201),
    )
    def create_order(
        request: CreateOrderRequest,
        idempotency_key: Annotated[
            str | None,
            Header(alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
        ] = None,
    ) -> Response[Order]:
        created = service.create_order(caller(), request, idempotency_key)
        headers = {REPLAYED_HEADER: "true"} if created.replayed else None
        return Response(
            status_code=201,
            content_type="application/json",
            body=Order.of(created.order),
            headers=headers,
        )

    @app.get(
        "/orders", summary="The caller's orders, newest first", responses=responses(OrderPage, 400, 401, 422)
    )
    def list_orders(
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> OrderPage:
        items, token = service.list_orders(caller(), limit, next_token)
        return OrderPage(items=[Order.of(order) for order in items], next_token=token)

    @app.get("/orders/<orderId>", summary="One of the caller's orders", responses=responses(Order, 401, 404))
    def get_order(order_id: OrderId) -> Order:
        return Order.of(service.get_order(caller(), order_id))

    @app.post(
        "/orders/<orderId>/cancel",
        summary="Cancel an order that is not yet fulfilled",
        description="PENDING_PAYMENT or PAID becomes CANCELLED and its stock is released; a captured "
        "payment is refunded. Cancelling a cancelled order returns it unchanged.",
        responses=responses(Order, 401, 404, 409, 503),
    )
    def cancel_order(order_id: OrderId) -> Order:
        return Order.of(service.cancel_order(caller(), order_id))

    @app.post(
        "/orders/<orderId>/fulfil",
        summary="Mark a paid order fulfilled (administrators)",
        responses=responses(Order, 401, 403, 404, 409, 503),
    )
    def fulfil_order(order_id: OrderId) -> Order:
        return Order.of(service.fulfil_order(caller(), order_id))

    return app


settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
app = create_app(
    OrdersService(
        ProductsRepository(settings.orders_table_name, dynamodb),
        OrdersRepository(settings.orders_table_name, dynamodb),
    )
)
# SnapStart: build what a first request needs before the snapshot, not in the first customer's request.
register_before_snapshot(prime, app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
