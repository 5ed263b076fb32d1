"""The telemetry service: device ingestion, admin API, and rollups/alerts on the table's stream."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.serverless import ServiceApi, table
from infra.stacks.identity import UserPoolAuth
from infra.stacks.service import ServiceStack


class TelemetryStack(ServiceStack):
    service = "telemetry"

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, stage=stage, **kwargs)
        readings = table(self, "TelemetryTable", stage, ttl=True)
        fleet = "fleet"  # the admin API lists devices; only device items carry its keys
        readings.add_global_secondary_index(
            index_name=fleet,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            # Keys only: device state changes with every batch and is read from the table, not copied here.
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        env = {
            "TELEMETRY_TABLE_NAME": readings.table_name,
            "RETENTION_DAYS": str(stage.readings_retention_days),
        }

        api_fn = self.function(
            "Api", "api", "Operators' API: devices, readings, aggregates, rules, alerts",
            memory_size=512, timeout_s=10, environment=env,
            grants={readings: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]},
            index_queries={readings: [fleet]}, snap_start=True,
        )  # fmt: skip
        ingest_fn = self.function(
            "Ingest", "ingest", "Devices post batches of readings", memory_size=512, timeout_s=10, environment=env,
            grants={readings: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]},
        )  # fmt: skip
        authorizer_fn = self.function(
            "DeviceAuthorizer", "authorizer", "Checks a device's own token", memory_size=256, timeout_s=5,
            environment=env,
            grants={readings: ["dynamodb:GetItem"]},
        )  # fmt: skip
        processor_fn = self.function(
            "Processor", "processor", "Rollups, alerts and device state from new readings",
            memory_size=512, timeout_s=30, environment=env,
            grants={readings: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]},
        )  # fmt: skip
        # The processor needs new readings only, not devices, rules or its own rollups.
        self.stream_processor(
            processor_fn, readings, batch_size=500, max_batching_window=cdk.Duration.seconds(1),
            filters=[{"dynamodb": {"NewImage": {"type": {"S": ["READINGS"]}}}}],
        )  # fmt: skip

        operators = UserPoolAuth(self, "Operators", stage=stage, service=self.service, self_sign_up=False)
        devices = self.token_authorizer("DeviceTokenAuthorizer", authorizer_fn)
        api = ServiceApi(self, "Fleet", stage=stage, service=self.service, plans=["fleet", "operator"])
        api.route(
            "POST", "/devices/{deviceId}/telemetry", ingest_fn, authorizer=devices,
            why_not_cognito="Devices are not Cognito users: a Lambda authorizer checks each device's own token.",
        )  # fmt: skip
        for method, path in [
            ("POST", "/devices"),
            ("POST", "/devices/{deviceId}/token"),
            ("GET", "/devices"),
            ("GET", "/devices/{deviceId}"),
            ("GET", "/devices/{deviceId}/telemetry"),
            ("GET", "/devices/{deviceId}/aggregates"),
            ("PUT", "/devices/{deviceId}/rules"),
            ("GET", "/devices/{deviceId}/alerts"),
        ]:
            api.route(method, path, api_fn, authorizer=operators.authorizer)
        self.finish(api, operators, web_plan="operator")  # the fleet console is the operators' page
