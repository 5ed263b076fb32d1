"""Constructs both service stacks are built from, so the two stay alike and each rule lives once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import USAGE_PLANS, StageConfig
from infra.packaging import build_function_code, report


def service_code(service: str) -> lambda_.Code:
    """A service's code asset (its package, with python3.13 bytecode; see infra/packaging.py)."""
    built = build_function_code(service)
    print(report(built))
    return lambda_.Code.from_asset(str(built.path))


def table(
    scope: Construct, construct_id: str, stage: StageConfig, *, sort_key: bool = True, ttl: bool = False
) -> dynamodb.Table:
    """An on-demand table keyed (pk, sk) with point-in-time recovery and a NEW_AND_OLD_IMAGES stream."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        time_to_live_attribute="expiresAt" if ttl else None,
        removal_policy=stage.removal_policy,
        deletion_protection=stage.retains_data,
    )


class PythonFunction(Construct):
    """python3.13 on arm64 with the shared layer, its own log group with retention, and active tracing.
    With ``snap_start``, Lambda SnapStart on published versions and a ``live`` alias of the current version,
    which is what callers must invoke (``invoke_target``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        service: str,
        code: lambda_.Code,
        handler: str,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        memory_size: int = 256,
        timeout: cdk.Duration | None = None,
        description: str,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        # Its own role, writing only to its own log group: AWSLambdaBasicExecutionRole would let it create and
        # write any log group in the account.
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            role=role,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            code=code,
            handler=handler,
            layers=[layer],
            memory_size=memory_size,
            timeout=timeout or cdk.Duration.seconds(10),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            description=description,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            # Used once a version is published. Each SnapStart version's snapshot is billed while the version
            # is active: one no alias points to any more goes with the update that replaced it (CDK keeps it).
            current_version_options=lambda_.VersionOptions(removal_policy=cdk.RemovalPolicy.DESTROY),
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": f"ServerlessReference/{service}",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        NagSuppressions.add_resource_suppressions(
            self,  # the function, its role and the role's policy
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="X-Ray's PutTraceSegments/PutTelemetryRecords and DynamoDB's ListStreams (used by "
                    "stream mappings) support no resource-level permissions.",
                    applies_to=["Resource::*"],
                ),
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason="python3.13 is the runtime this project's layer wheels, bytecode and tests target; "
                    "moving up is one constant and a test run.",
                ),
            ],
            apply_to_children=True,
        )
        self.alias: lambda_.Alias | None = None
        if snap_start:
            # SnapStart restores published versions only: invoked unqualified ($LATEST), the function would
            # initialize from scratch at every cold start. The alias follows each deploy's new version.
            self.alias = self.function.add_alias("live")
            cdk.Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish", "The live alias publishes its current version."
            )


def invoke_target(function: lambda_.Function) -> lambda_.IFunction:
    """What a caller (an API Gateway integration) invokes: a SnapStart function's alias, else the function."""
    owner = function.node.scope
    return owner.alias if isinstance(owner, PythonFunction) and owner.alias else function


def grant_table(
    function: lambda_.IFunction, table_: dynamodb.ITable, actions: Sequence[str], indexes: Sequence[str] = ()
) -> None:
    """Exactly the listed actions on one table's items, and ``Query`` on exactly the named indexes: never
    ``dynamodb:*``, and not ``table.grant``, which adds every index (``<table ARN>/index/*``) to every action
    on a table that has one. The tables use DynamoDB's own key, so no KMS grant is needed."""
    if actions:
        function.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=[table_.table_arn]))
    if indexes:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{table_.table_arn}/index/{name}" for name in indexes]
            )
        )


class StreamProcessor(Construct):
    """A DynamoDB stream → Lambda mapping that never blocks the shard and never loses a record:
    partial batch responses, bisect on error, bounded retries and record age, SQS on-failure destination."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        table_: dynamodb.ITable,
        filters: Sequence[Mapping[str, Any]] = (),
        batch_size: int = 100,
        max_batching_window: cdk.Duration | None = None,
        retry_attempts: int = 5,
        max_record_age: cdk.Duration | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
    ) -> None:
        """``removal_policy``: the stage's, so that outside development the on-failure queue, which points
        to the records given up on, outlives the stack."""
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "OnFailure",
            retention_period=cdk.Duration.days(14),
            removal_policy=removal_policy,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.dead_letters,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3", reason="This queue is itself the on-failure destination."
                )
            ],
        )
        function.add_event_source(
            event_sources.DynamoEventSource(
                table_,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=batch_size,
                max_batching_window=max_batching_window or cdk.Duration.millis(0),
                bisect_batch_on_error=True,
                retry_attempts=retry_attempts,
                max_record_age=max_record_age or cdk.Duration.hours(6),
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.dead_letters),
                filters=[lambda_.FilterCriteria.filter(dict(f)) for f in filters] or None,
            )
        )


# What a browser may send besides the simple headers (commons.api allows the same).
CORS_HEADERS = ("Authorization", "Content-Type", "x-api-key")


class ServiceApi(Construct):
    """A REST API whose every route requires an API key, with usage plans, stage throttling, JSON
    access logs, tracing and CORS (a preflight per routed resource, added by ``add_cors_preflights``
    once the routes are in). Routes are added with ``route``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        service: str,
        plans: Sequence[str],
        cors_headers: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.cors_origin = stage.cors_allow_origin
        self.cors_headers = [*CORS_HEADERS, *cors_headers]
        self._methods: dict[str, list[str]] = {}
        self.api = self._rest_api(stage, service)
        self._execution_logs(stage)
        self._cors_on_gateway_responses()
        self.usage_plans = {name: self._usage_plan(name, service) for name in plans}
        self._suppress_findings()

    def _rest_api(self, stage: StageConfig, service: str) -> apigw.RestApi:
        """Regional, API key on every method, stage throttling, JSON access logs, tracing."""
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        return apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{service}-{stage.name}",
            description=f"{service} API ({stage.name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The role API Gateway logs with is one per account and region: ApiGatewayAccountStack owns it.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=stage.name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                throttling_rate_limit=stage.stage_rate_limit,
                throttling_burst_limit=stage.stage_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            default_method_options=apigw.MethodOptions(api_key_required=True),
        )

    def _execution_logs(self, stage: StageConfig) -> None:
        # API Gateway writes its execution logs (logging_level) to a group it names and creates itself, kept
        # forever; declared here, before the stage, it has the stage's retention and goes with the stack.
        execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{stage.name}",
            retention=stage.log_retention,
            removal_policy=stage.removal_policy,
        )
        self.api.deployment_stage.node.add_dependency(execution_logs)

    def _cors_on_gateway_responses(self) -> None:
        # API Gateway's own answers (401, 403, 429, 5xx) carry the origin too, so a page can read them.
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"{response_type.response_type}Cors",
                type=response_type,
                response_headers={"Access-Control-Allow-Origin": f"'{self.cors_origin}'"},
            )

    def _usage_plan(self, name: str, service: str) -> apigw.UsagePlan:
        limits = USAGE_PLANS[name]
        return self.api.add_usage_plan(
            f"{name.title()}Plan",
            name=name,
            description=f"{service} clients of kind '{name}'",
            throttle=apigw.ThrottleSettings(rate_limit=limits.rate_limit, burst_limit=limits.burst_limit),
            quota=apigw.QuotaSettings(limit=limits.daily_quota, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )

    def add_key(self, plan: str, purpose: str) -> apigw.IApiKey:
        """An API key of the usage plan ``plan``, its value drawn by API Gateway (no template holds it)."""
        key = self.api.add_api_key(
            f"{plan.title()}{purpose.title()}Key", description=f"{plan} plan: {purpose}"
        )
        self.usage_plans[plan].add_api_key(key)
        return key

    @property
    def base_url(self) -> str:
        """The stage's URL without a trailing slash (``api.url`` has one), as clients join paths to it."""
        stage = self.api.deployment_stage
        return f"https://{self.api.rest_api_id}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{stage.stage_name}"

    def _suppress_findings(self) -> None:
        NagSuppressions.add_resource_suppressions(
            self.api,
            [
                NagPackSuppression(
                    id="AwsSolutions-APIG2",
                    reason="Requests are validated in the functions (Powertools' resolver with pydantic "
                    "models), which answer RFC 9457 problem documents naming each bad field; a gateway "
                    "validator would answer in another shape first.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-APIG3",
                    reason="WAF is an account-level choice left to the deployer (docs/deploy.md); usage plans "
                    "throttle and meter every key here.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="API Gateway's account role for CloudWatch logging uses the AWS managed policy "
                    "AmazonAPIGatewayPushToCloudWatchLogs, which is scoped to exactly that.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                ),
            ],
            apply_to_children=True,
        )

    def route(
        self,
        method: str,
        path: str,
        function: lambda_.Function,
        *,
        authorizer: apigw.IAuthorizer | None = None,
        why_not_cognito: str | None = None,
    ) -> apigw.Method:
        """Add one route. A route not guarded by the Cognito authorizer must say why, and that
        sentence becomes its cdk-nag suppression."""
        resource = self.api.root.resource_for_path(path)
        self._methods.setdefault(path, []).append(method)
        function.add_environment("CORS_ALLOW_ORIGIN", self.cors_origin)  # what commons.api answers with
        added = resource.add_method(
            method,
            # Its invoke permission goes to the same target: a permission on the function does not cover an alias.
            apigw.LambdaIntegration(invoke_target(function), allow_test_invoke=False),
            api_key_required=True,
            authorizer=authorizer,
            authorization_type=authorizer.authorization_type if authorizer else apigw.AuthorizationType.NONE,
        )
        if not isinstance(authorizer, apigw.CognitoUserPoolsAuthorizer):
            if not why_not_cognito:
                raise ValueError(f"{method} {path} has no Cognito authorizer: say why with why_not_cognito")
            rules = ["AwsSolutions-COG4"] if authorizer else ["AwsSolutions-COG4", "AwsSolutions-APIG4"]
            NagSuppressions.add_resource_suppressions(
                added, [NagPackSuppression(id=rule, reason=why_not_cognito) for rule in rules]
            )
        return added

    def add_cors_preflights(self) -> None:
        """One OPTIONS method per routed resource, answered by API Gateway itself (a MOCK integration):
        browsers send the preflight without API key or token, so it requires neither."""
        for path, methods in self._methods.items():
            preflight = self.api.root.resource_for_path(path).add_cors_preflight(
                allow_origins=[self.cors_origin],
                allow_headers=self.cors_headers,
                allow_methods=sorted(methods),
                max_age=cdk.Duration.hours(1),
            )
            reason = "A CORS preflight: browsers send it without credentials; it only answers CORS headers."
            NagSuppressions.add_resource_suppressions(
                preflight,
                [
                    NagPackSuppression(id=rule, reason=reason)
                    for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4")
                ],
            )
