"""The developer's view: metrics kept as CloudWatch reports them, EMF read from the functions' logs, one log
file per function with one record per line, and one short terminal line per request."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from local_runtime.logbook import LogBook, RequestLine, short_name
from local_runtime.metrics import MetricStore, emf_points


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_query_aggregates_data_points_per_period_with_cloudwatch_statistics():
    clock = Clock(1_800_000_000.0)
    store = MetricStore(clock=clock)
    for value in (1, 2, 3, 4):
        store.put("AWS/Lambda", "Duration", value, {"FunctionName": "f"})
    clock.now += 60
    store.put("AWS/Lambda", "Duration", 10, {"FunctionName": "f"})
    store.put("AWS/Lambda", "Duration", 99, {"FunctionName": "other"})  # another series
    by_minute = store.query("AWS/Lambda", "Duration", {"FunctionName": "f"}, stat="Sum", period_s=60)
    assert by_minute["Values"] == [10.0, 10.0]  # newest first, as GetMetricData answers
    assert by_minute["Timestamps"][0] > by_minute["Timestamps"][1]
    assert store.query("AWS/Lambda", "Duration", {"FunctionName": "f"}, stat="Average", period_s=3600)[
        "Values"
    ] == [4.0]
    assert store.query("AWS/Lambda", "Duration", {"FunctionName": "f"}, stat="p50", period_s=3600)[
        "Values"
    ] == [3.0]
    assert store.query("AWS/Lambda", "Duration", {"FunctionName": "f"}, stat="Maximum")["Values"][0] == 10.0
    with pytest.raises(ValueError, match="multiple of 10"):
        store.query("AWS/Lambda", "Duration", {}, period_s=15)
    with pytest.raises(ValueError, match="percentile"):
        store.query("AWS/Lambda", "Duration", {}, stat="Median")


def test_data_points_older_than_an_hour_are_dropped():
    clock = Clock(1_800_000_000.0)
    store = MetricStore(clock=clock)
    store.put("N", "M", 1, {})
    clock.now += 3700
    store.put("N", "M", 2, {})
    assert store.query("N", "M", {}, period_s=60)["Values"] == [2.0]


def test_emf_records_become_data_points_in_each_dimension_set():
    record = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "ServerlessReference",
                    "Dimensions": [["service"]],
                    "Metrics": [
                        {"Name": "OrdersCreated", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
        "service": "orders",
        "OrdersCreated": [1.0, 1.0],
        "Latency": 12.5,
    }
    assert emf_points(record) == [
        (
            "ServerlessReference",
            [("OrdersCreated", 1.0), ("OrdersCreated", 1.0), ("Latency", 12.5)],
            [{"service": "orders"}],
        )
    ]
    assert emf_points({"message": "not a metric"}) == []


def test_every_log_record_is_one_line_in_its_functions_file_even_from_many_threads(tmp_path: Path):
    """Regression: print() from several threads glued records together (``}{"function"``) now and then."""
    book = LogBook(tmp_path, MetricStore(), out=io.StringIO())

    def write(thread: int) -> None:
        for n in range(300):
            book(
                "Orders-dev-ApiFunction6BF808ED",
                json.dumps({"level": "INFO", "message": f"{thread}-{n}", "pad": "x" * 500}),
            )

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    book.close()
    lines = (tmp_path / "Orders-dev-ApiFunction6BF808ED.log").read_text().splitlines()
    assert len(lines) == 2400
    assert {json.loads(line)["message"] for line in lines} == {
        f"{t}-{n}" for t in range(8) for n in range(300)
    }


def test_the_terminal_gets_one_short_line_per_request_and_errors_but_no_json(tmp_path: Path):
    out = io.StringIO()
    book = LogBook(tmp_path, MetricStore(), out=out)
    book("Orders-dev-ApiFunction6BF808ED", json.dumps({"level": "INFO", "message": "Order created"}))
    book.request(
        RequestLine(
            "orders", "POST", "/orders/dev/orders", 201, 42.25, "Orders-dev-ApiFunction6BF808ED", True
        )
    )
    book.request(RequestLine("orders", "GET", "/orders/dev/products", 403, 1.5))
    book(
        "Telemetry-dev-ProcessorFunction5B2A90E2",
        json.dumps({"level": "ERROR", "message": "Rollup write failed"}),
    )
    book.close()
    printed = out.getvalue().splitlines()
    assert len(printed) == 3
    assert "POST" in printed[0]
    assert "201" in printed[0]
    assert "42.2 ms" in printed[0]
    assert printed[0].endswith("orders/api cold")
    assert printed[1].endswith("api gateway")
    assert "telemetry/processor" in printed[2]
    assert "ERROR: Rollup write failed" in printed[2]
    assert not any(line.lstrip().startswith("{") or "b'" in line for line in printed)


def test_verbose_prints_every_record_and_functions_are_named_by_their_construct():
    out = io.StringIO()
    book = LogBook(None, MetricStore(), verbose=True, out=out)
    book("Telemetry-dev-DeviceAuthorizerFunctionAB99CE4F", "plain text")
    assert json.loads(out.getvalue()) == {
        "function": "Telemetry-dev-DeviceAuthorizerFunctionAB99CE4F",
        "message": "plain text",
    }
    assert short_name("Telemetry-dev-DeviceAuthorizerFunctionAB99CE4F") == "telemetry/device_authorizer"
