"""Settings every test shares: no real AWS credentials, no tracing, a metrics namespace."""

from __future__ import annotations

import os

from infra.local.dynamodb_local import DUMMY_CREDENTIALS

os.environ.update(DUMMY_CREDENTIALS)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")
os.environ.pop("AWS_PROFILE", None)
