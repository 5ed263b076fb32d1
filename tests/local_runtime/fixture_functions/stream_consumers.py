"""Stream consumers for the event source mapping tests.

Each appends what it received (one JSON line per invoke) to the file named by FIXTURE_LOG, so a
test sees every delivery, including those of invokes that failed or timed out. Behaviour is driven
by attributes of the items themselves (NewImage): ``poison`` raises, ``fail_times`` (N) reports the
record as a batch item failure that many deliveries, ``sleep`` (N, seconds) sleeps.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any


def _attribute(record: dict[str, Any], name: str) -> str | None:
    value = record["dynamodb"].get("NewImage", {}).get(name)
    if not value:
        return None
    return str(next(iter(value.values())))


def _deliver(event: dict[str, Any], context: Any) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Log this delivery; return its records and how often each sequence number was seen before."""
    path = os.environ["FIXTURE_LOG"]
    seen: Counter[str] = Counter()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as log:
            for line in log:
                seen.update(r["dynamodb"]["SequenceNumber"] for r in json.loads(line)["records"])
    records = event["Records"]
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"requestId": context.aws_request_id, "records": records}) + "\n")
    return records, seen


def record(event: dict[str, Any], context: Any) -> None:
    _deliver(event, context)


def fail_on_poison(event: dict[str, Any], context: Any) -> None:
    records, _ = _deliver(event, context)
    if any(_attribute(r, "poison") for r in records):
        raise RuntimeError("poison record in batch")


def report_failures(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records, seen = _deliver(event, context)
    failed = [
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if int(_attribute(r, "fail_times") or 0) > seen[r["dynamodb"]["SequenceNumber"]]
    ]
    # Reported highest first: Lambda must retry from the lowest, whatever the order.
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in reversed(failed)]}


def bad_identifier_first(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answers the first delivery with an identifier that is in no batch; then succeeds."""
    _, seen = _deliver(event, context)
    if not seen:
        return {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}
    return {"batchItemFailures": []}


def sleep_on_flag(event: dict[str, Any], context: Any) -> None:
    records, _ = _deliver(event, context)
    for r in records:
        if seconds := _attribute(r, "sleep"):
            time.sleep(float(seconds))
