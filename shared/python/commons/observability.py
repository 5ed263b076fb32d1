"""The one Logger and the one Metrics every function uses, as Powertools documents them.

Both read Powertools' environment variables, which the stacks set per function: POWERTOOLS_SERVICE_NAME,
POWERTOOLS_LOG_LEVEL (a level set in Lambda's logging configuration wins), POWERTOOLS_METRICS_NAMESPACE.
Each handler is decorated with ``@logger.inject_lambda_context`` (with the request id as correlation id
where there is a request) and ``@metrics.log_metrics``, which writes the invoke's metrics as one embedded
metric format document. No Tracer: Lambda's active tracing records each invoke (decision 27).
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics"]
