"""The reference for Lambda authorizers (kind "authorizer"): the floor's DynamoDB client, plus Powertools'
Logger and Metrics around a plain handler that answers a TOKEN authorizer's Allow policy and publishes one
metric, written as Powertools' documentation writes them and nothing of this project's. The authorizer's
cold start is measured over this one's: what our own code costs over the libraries it uses
(bench/coldstart.py). Logger takes no correlation id: a TOKEN authorizer's event carries no request id,
and our authorizer is decorated the same way.
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

client = boto3.client("dynamodb")
logger = Logger()
metrics = Metrics(namespace="BenchReference")


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="TokenAllowed", unit=MetricUnit.Count, value=1)
    return {
        "principalId": "reference",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }
