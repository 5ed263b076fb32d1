"""What differs between stages, chosen with CDK context: `cdk synth -c stage=prod`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

PROJECT = "serverless-reference"
DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS = 7, 3650  # as the telemetry functions accept it
# The stages' log retentions in days (a RetentionDays member's value is its name).
LOG_RETENTION_DAYS = {logs.RetentionDays.ONE_WEEK: 7, logs.RetentionDays.THREE_MONTHS: 90}


@dataclass(frozen=True)
class UsagePlanLimits:
    rate_limit: float
    burst_limit: int
    daily_quota: int


@dataclass(frozen=True)
class StageConfig:
    name: str
    removal_policy: cdk.RemovalPolicy
    log_retention: logs.RetentionDays
    stage_rate_limit: float
    stage_burst_limit: int
    alarm_email: str | None = None
    # How long raw telemetry readings are kept (rollups are kept for good): context `retentionDays`.
    readings_retention_days: int = DEFAULT_RETENTION_DAYS
    # The origin browsers may call the APIs from: context `corsOrigin`. "*" is safe here because no
    # credentials ride on cookies (API keys and tokens are headers a page must add itself).
    cors_allow_origin: str = "*"
    # Another origin the web pages are served from besides the Web stack's CloudFront domain (a custom domain
    # in front of the distribution, or http://localhost:<port> to develop the pages against this stage): its
    # pages are added to the web clients' callback and sign-out URLs. Context `webOrigin`, no trailing slash.
    web_origin: str | None = None

    @property
    def log_retention_days(self) -> int:
        """``log_retention`` in days, for what keeps logs outside CloudWatch (the web stack's log bucket)."""
        return LOG_RETENTION_DAYS[self.log_retention]

    @property
    def retains_data(self) -> bool:
        return self.removal_policy == cdk.RemovalPolicy.RETAIN

    def layer_parameter_name(self) -> str:
        """The SSM parameter through which service stacks find the layer: no stack export ties them."""
        return f"/{PROJECT}/{self.name}/layer-version-arn"

    def service_parameter_name(self, service: str, name: str) -> str:
        """An SSM parameter a service stack publishes for the web stack (``api-url``, ``user-pool-id``,
        ``auth-url``, ``web-api-key-id``): as for the layer, no stack export ties them."""
        return f"/{PROJECT}/{self.name}/{service}/{name}"


USAGE_PLANS: dict[str, UsagePlanLimits] = {
    # Browsers of one storefront share a key: generous rate, bounded daily volume.
    "storefront": UsagePlanLimits(rate_limit=100, burst_limit=200, daily_quota=1_000_000),
    # A fleet key is shared by many devices that each post every few seconds.
    "fleet": UsagePlanLimits(rate_limit=200, burst_limit=400, daily_quota=5_000_000),
    # Operators are people and dashboards.
    "operator": UsagePlanLimits(rate_limit=10, burst_limit=20, daily_quota=50_000),
}


def _retention_days(app: cdk.App) -> int:
    raw = app.node.try_get_context("retentionDays")
    if raw is None:
        return DEFAULT_RETENTION_DAYS
    if not str(raw).isdigit() or not 1 <= int(raw) <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"context retentionDays must be a whole number of days, 1 to {MAX_RETENTION_DAYS}: {raw!r}"
        )
    return int(raw)


def _web_origin(app: cdk.App) -> str | None:
    raw = app.node.try_get_context("webOrigin")
    if not raw:
        return None
    origin = str(raw).rstrip("/")
    if not re.fullmatch(r"https://[a-z0-9.-]+(:[0-9]+)?|http://localhost(:[0-9]+)?", origin):
        raise ValueError(
            f"context webOrigin must be https://<host> (or http://localhost:<port>), no path: {raw!r}"
        )
    return origin


def stage_config(app: cdk.App) -> StageConfig:
    name = str(app.node.try_get_context("stage") or "dev")
    retention_days = _retention_days(app)
    cors_origin = str(app.node.try_get_context("corsOrigin") or "*")
    alarm_email = app.node.try_get_context("alarmEmail")
    web_origin = _web_origin(app)
    if name == "dev":
        return StageConfig(
            name=name,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            log_retention=logs.RetentionDays.ONE_WEEK,
            stage_rate_limit=500,
            stage_burst_limit=1000,
            alarm_email=alarm_email,
            readings_retention_days=retention_days,
            cors_allow_origin=cors_origin,
            web_origin=web_origin,
        )
    return StageConfig(
        name=name,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        stage_rate_limit=2000,
        stage_burst_limit=4000,
        alarm_email=alarm_email,
        readings_retention_days=retention_days,
        cors_allow_origin=cors_origin,
        web_origin=web_origin,
    )
