"""The orders service: storefront API, orders and payments tables, and the payment flow on their streams."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.serverless import (
    Monitoring,
    PythonFunction,
    ServiceApi,
    StreamProcessor,
    grant_table,
    service_code,
    table,
)
from infra.stacks.identity import UserPoolAuth
from infra.stacks.layer import shared_layer

SERVICE = "orders"


class OrdersStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        layer = shared_layer(self, stage)
        code = service_code(SERVICE)

        orders = table(self, "OrdersTable", stage, ttl=True)
        orders.add_global_secondary_index(
            index_name="byCustomer",
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
        )
        payments = table(self, "PaymentsTable", stage, sort_key=False)
        tables = {"ORDERS_TABLE_NAME": orders.table_name, "PAYMENTS_TABLE_NAME": payments.table_name}

        def function(
            construct_id: str, handler: str, description: str, memory_size: int, env: list[str]
        ) -> PythonFunction:
            return PythonFunction(
                self,
                construct_id,
                stage=stage,
                service=SERVICE,
                code=code,
                layer=layer,
                handler=f"orders.handlers.{handler}.handler",
                description=description,
                memory_size=memory_size,
                environment={name: tables[name] for name in env},
            )

        api_fn = function("Api", "api", "Storefront API: products and orders", 512, ["ORDERS_TABLE_NAME"])
        payment_fn = function(
            "PaymentProcessor",
            "payment_processor",
            "Charges new orders, refunds cancelled captured ones",
            256,
            ["ORDERS_TABLE_NAME", "PAYMENTS_TABLE_NAME"],
        )
        updater_fn = function(
            "OrderUpdater",
            "order_updater",
            "Moves orders on payment results, releases stock",
            256,
            ["ORDERS_TABLE_NAME"],
        )

        # Exactly what each function calls (TransactWriteItems is authorized per Put/Update inside it).
        grant_table(
            api_fn.function,
            orders,
            [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
        )
        grant_table(payment_fn.function, orders, ["dynamodb:GetItem"])
        grant_table(
            payment_fn.function, payments, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        )
        grant_table(updater_fn.function, orders, ["dynamodb:GetItem", "dynamodb:UpdateItem"])

        payments_flow = StreamProcessor(
            self,
            "PaymentProcessorStream",
            function=payment_fn.function,
            table_=orders,
            batch_size=50,
            filters=[{"dynamodb": {"NewImage": {"type": {"S": ["ORDER"]}}}}],
        )
        updates_flow = StreamProcessor(
            self, "OrderUpdaterStream", function=updater_fn.function, table_=payments, batch_size=50
        )

        auth = UserPoolAuth(
            self,
            "Customers",
            stage=stage,
            self_sign_up=True,
            why_mfa_optional="Shoppers may buy without a second factor; MFA (TOTP) is offered to all and "
            "docs/deploy.md asks administrators to enrol.",
        )
        api = ServiceApi(self, "Storefront", stage=stage, service=SERVICE, plans=["storefront"])
        api.route(
            "GET",
            "/products",
            api_fn.function,
            why_not_cognito="The catalogue is public; the storefront's API key still meters and throttles it.",
        )
        for method, path in [
            ("POST", "/orders"),
            ("GET", "/orders"),
            ("GET", "/orders/{orderId}"),
            ("POST", "/orders/{orderId}/cancel"),
            ("POST", "/orders/{orderId}/fulfil"),
        ]:
            api.route(method, path, api_fn.function, authorizer=auth.authorizer)

        Monitoring(
            self,
            "Monitoring",
            stage=stage,
            service=SERVICE,
            api=api.api,
            functions={
                "Api": api_fn.function,
                "PaymentProcessor": payment_fn.function,
                "OrderUpdater": updater_fn.function,
            },
            stream_processors={
                "PaymentProcessor": (payment_fn.function, payments_flow),
                "OrderUpdater": (updater_fn.function, updates_flow),
            },
        )
        cdk.CfnOutput(self, "ApiUrl", value=api.api.url)
        cdk.CfnOutput(self, "UserPoolId", value=auth.user_pool.user_pool_id)
        cdk.CfnOutput(self, "UserPoolClientId", value=auth.client.user_pool_client_id)
        cdk.CfnOutput(self, "StorefrontUsagePlanId", value=api.usage_plans["storefront"].usage_plan_id)
