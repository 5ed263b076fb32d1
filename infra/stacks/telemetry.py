"""The telemetry service: device ingestion, admin API, and rollups/alerts on the table's stream."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
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

SERVICE = "telemetry"
RETENTION_DAYS = 7


class TelemetryStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        layer = shared_layer(self, stage)
        code = service_code(SERVICE)
        readings = table(self, "TelemetryTable", stage, ttl=True)
        env = {"TELEMETRY_TABLE_NAME": readings.table_name, "RETENTION_DAYS": str(RETENTION_DAYS)}

        def function(construct_id: str, handler: str, description: str, memory_size: int) -> PythonFunction:
            return PythonFunction(
                self,
                construct_id,
                stage=stage,
                service=SERVICE,
                code=code,
                layer=layer,
                handler=f"telemetry.handlers.{handler}.handler",
                description=description,
                memory_size=memory_size,
                environment=env,
            )

        api_fn = function("Api", "api", "Operators' API: devices, readings, aggregates, rules, alerts", 512)
        ingest_fn = function("Ingest", "ingest", "Devices post batches of readings", 512)
        authorizer_fn = function("DeviceAuthorizer", "authorizer", "Checks a device's own token", 256)
        processor_fn = function(
            "Processor", "processor", "Rollups, alerts and device state from new readings", 512
        )

        grant_table(
            api_fn.function,
            readings,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
        )
        grant_table(
            ingest_fn.function, readings, ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
        )
        grant_table(authorizer_fn.function, readings, ["dynamodb:GetItem"])
        grant_table(
            processor_fn.function,
            readings,
            [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
            ],
        )

        processing = StreamProcessor(
            self,
            "ProcessorStream",
            function=processor_fn.function,
            table_=readings,
            batch_size=500,
            max_batching_window=cdk.Duration.seconds(1),
            filters=[{"dynamodb": {"NewImage": {"type": {"S": ["READINGS"]}}}}],
        )

        operators = UserPoolAuth(self, "Operators", stage=stage, self_sign_up=False)
        device_authorizer = apigw.TokenAuthorizer(
            self,
            "DeviceTokenAuthorizer",
            handler=authorizer_fn.function,
            identity_source=apigw.IdentitySource.header("Authorization"),
            results_cache_ttl=cdk.Duration.minutes(5),
        )
        api = ServiceApi(self, "Fleet", stage=stage, service=SERVICE, plans=["fleet", "operator"])
        api.route(
            "POST",
            "/devices/{deviceId}/telemetry",
            ingest_fn.function,
            authorizer=device_authorizer,
            why_not_cognito="Devices are not Cognito users: a Lambda authorizer checks each device's own token.",
        )
        for method, path in [
            ("POST", "/devices"),
            ("GET", "/devices/{deviceId}"),
            ("GET", "/devices/{deviceId}/telemetry"),
            ("GET", "/devices/{deviceId}/aggregates"),
            ("PUT", "/devices/{deviceId}/rules"),
            ("GET", "/devices/{deviceId}/alerts"),
        ]:
            api.route(method, path, api_fn.function, authorizer=operators.authorizer)

        Monitoring(
            self,
            "Monitoring",
            stage=stage,
            service=SERVICE,
            api=api.api,
            functions={
                "Api": api_fn.function,
                "Ingest": ingest_fn.function,
                "DeviceAuthorizer": authorizer_fn.function,
                "Processor": processor_fn.function,
            },
            stream_processors={"Processor": (processor_fn.function, processing)},
        )
        cdk.CfnOutput(self, "ApiUrl", value=api.api.url)
        cdk.CfnOutput(self, "UserPoolId", value=operators.user_pool.user_pool_id)
        cdk.CfnOutput(self, "UserPoolClientId", value=operators.client.user_pool_client_id)
        for plan in ("fleet", "operator"):
            cdk.CfnOutput(self, f"{plan.title()}UsagePlanId", value=api.usage_plans[plan].usage_plan_id)
