"""The orders service: storefront API, orders and payments tables, and the payment flow on their streams."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.serverless import ServiceApi, table
from infra.stacks.identity import UserPoolAuth
from infra.stacks.service import ServiceStack


class OrdersStack(ServiceStack):
    service = "orders"

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, stage=stage, **kwargs)
        orders = table(self, "OrdersTable", stage, ttl=True)
        by_customer = "byCustomer"  # the API lists a customer's orders; nothing else queries
        orders.add_global_secondary_index(
            index_name=by_customer,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
        )
        payments = table(self, "PaymentsTable", stage, sort_key=False)
        orders_env = {"ORDERS_TABLE_NAME": orders.table_name}

        # Grants are exactly what each function calls (a TransactWriteItems is authorized per Put/Update in it).
        api_fn = self.function(
            "Api", "api", "Storefront API: products and orders", memory_size=512, timeout_s=10,
            environment=orders_env,
            grants={orders: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]},
            index_queries={orders: [by_customer]}, snap_start=True,
        )  # fmt: skip
        payment_fn = self.function(
            "PaymentProcessor", "payment_processor", "Charges new orders, refunds cancelled captured ones",
            memory_size=256, timeout_s=30, environment={**orders_env, "PAYMENTS_TABLE_NAME": payments.table_name},
            grants={orders: ["dynamodb:GetItem"], payments: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]},
        )  # fmt: skip
        updater_fn = self.function(
            "OrderUpdater", "order_updater", "Moves orders on payment results, releases stock",
            memory_size=256, timeout_s=30, environment=orders_env,
            grants={orders: ["dynamodb:GetItem", "dynamodb:UpdateItem"]},
        )  # fmt: skip
        # The payment processor needs orders only, not products or idempotency records.
        self.stream_processor(
            payment_fn,
            orders,
            batch_size=50,
            filters=[{"dynamodb": {"NewImage": {"type": {"S": ["ORDER"]}}}}],
        )
        self.stream_processor(updater_fn, payments, batch_size=50)

        customers = UserPoolAuth(
            self, "Customers", stage=stage, service=self.service, self_sign_up=True,
            why_mfa_optional="Shoppers may buy without a second factor; MFA (TOTP) is offered to all and "
            "docs/deploy.md asks administrators to enrol.",
        )  # fmt: skip
        api = ServiceApi(
            self, "Storefront", stage=stage, service=self.service, plans=["storefront"],
            cors_headers=["Idempotency-Key"],
        )  # fmt: skip
        api.route(
            "GET", "/products", api_fn,
            why_not_cognito="The catalogue is public; the storefront's API key still meters and throttles it.",
        )  # fmt: skip
        for method, path in [
            ("POST", "/orders"),
            ("GET", "/orders"),
            ("GET", "/orders/{orderId}"),
            ("POST", "/orders/{orderId}/cancel"),
            ("POST", "/orders/{orderId}/fulfil"),
        ]:
            api.route(method, path, api_fn, authorizer=customers.authorizer)
        self.finish(api, customers, web_plan="storefront")
        # `make seed STAGE=...` finds the table to load the catalogue into through this output.
        cdk.CfnOutput(self, "TableName", value=orders.table_name)
