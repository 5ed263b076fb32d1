"""Alarms and a dashboard per service stack: what pages someone, and what an engineer looks at first."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.serverless import StreamProcessor

PERIOD = cdk.Duration.minutes(1)


class Monitoring(Construct):
    """Alarms to one SNS topic, and a dashboard, for what pages someone: 5xx, errors, throttles,
    records given up on (on-failure queue depth) and stream processors falling behind."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        service: str,
        api: apigw.RestApi,
        functions: Mapping[str, lambda_.Function],
        authorizers: Collection[str],
        stream_processors: Mapping[str, tuple[lambda_.Function, StreamProcessor]],
    ) -> None:
        """``authorizers`` name the functions that refuse a token by raising: their errors are not alarmed
        (a rejected token is one), their real failures reach clients as 500s, which Api5xx alarms on."""
        super().__init__(scope, construct_id)
        self.topic = self._alarm_topic(stage, service)
        self.alarms: list[cloudwatch.Alarm] = []
        self._alarm("Api5xx", api.metric_server_error(period=PERIOD, statistic="Sum"), 0)
        for name, function in functions.items():
            if name not in authorizers:
                self._alarm(f"{name}Errors", function.metric_errors(period=PERIOD), 0)
            self._alarm(f"{name}Throttles", function.metric_throttles(period=PERIOD), 0)
        for name, (function, processor) in stream_processors.items():
            self._alarm(
                f"{name}OnFailureRecords",
                processor.dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD),
                0,
            )
            iterator_age = function.metric("IteratorAge", period=PERIOD, statistic="Maximum")
            self._alarm(f"{name}IteratorAge", iterator_age, 60_000, evaluation_periods=3)
        self._dashboard(stage, service, api, functions)

    def _alarm_topic(self, stage: StageConfig, service: str) -> sns.Topic:
        topic = sns.Topic(self, "Alarms", display_name=f"{service} alarms ({stage.name})", enforce_ssl=True)
        NagSuppressions.add_resource_suppressions(
            topic,
            [
                NagPackSuppression(
                    id="AwsSolutions-SNS2", reason="Alarm notifications carry no customer data."
                )
            ],
        )
        # enforce_ssl gives the topic a policy of its own, which replaces the default one that let this
        # account's alarms publish: without this statement no alarm could ever notify anyone.
        stack = cdk.Stack.of(self)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                },
            )
        )
        if stage.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(stage.alarm_email))
        return topic

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, threshold: float, evaluation_periods: int = 1
    ) -> None:
        created = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(created)

    def _dashboard(
        self, stage: StageConfig, service: str, api: apigw.RestApi, functions: Mapping[str, lambda_.Function]
    ) -> None:
        # Dashboard names are global to the account (no region), so a stage deployed in two regions needs both.
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{service}-{stage.name}-{cdk.Stack.of(self).region}"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests",
                left=[api.metric_count(period=PERIOD)],
                right=[api.metric_latency(period=PERIOD)],
            ),
            cloudwatch.GraphWidget(
                title="API errors",
                left=[api.metric_client_error(period=PERIOD), api.metric_server_error(period=PERIOD)],
            ),
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=name,
                    left=[function.metric_invocations(period=PERIOD), function.metric_errors(period=PERIOD)],
                    right=[function.metric_duration(period=PERIOD)],
                )
                for name, function in functions.items()
            )
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
