"""The stacks' alarms evaluated locally (local_runtime/alarms.py): M out of N, each way of treating missing data
(CloudWatch's documented examples, row by row), the comparison operators, INSUFFICIENT_DATA at the start, the
evaluator against the metric store, and the alarms read from the real synthesized templates."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from pathlib import Path

import pytest

from infra.templates import load_templates, resources_of
from local_runtime.alarms import (
    ALARM,
    INITIAL_REASON,
    INSUFFICIENT_DATA,
    OK,
    AlarmEvaluator,
    AlarmSpec,
    Datapoint,
    alarm_spec,
    datapoints,
    evaluate,
    load_alarms,
)
from local_runtime.assembly import REPO_ROOT, load_assembly
from local_runtime.logbook import LogBook
from local_runtime.metrics import MetricStore
from local_runtime.stream_stores import OnFailureStore
from local_runtime.synth import synthesize
from local_runtime.template_values import Resolver

OUTDIR = REPO_ROOT / "cdk.out"
START = 1_800_000_000.0  # a multiple of 60


def spec(**overrides: object) -> AlarmSpec:
    fields: dict[str, object] = {
        "stack": "Orders-dev",
        "logical_id": "Errors",
        "name": "Orders-dev-Errors",
        "namespace": "AWS/Lambda",
        "metric_name": "Errors",
        "dimensions": {"FunctionName": "Orders-dev-ApiFunction"},
        "statistic": "Sum",
        "period_s": 60,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "threshold": 0.0,
        "comparison_operator": "GreaterThanThreshold",
        "treat_missing_data": "missing",
    }
    fields.update(overrides)
    return AlarmSpec(**fields)


def points(pattern: str, period_s: int = 60) -> list[Datapoint]:
    """CloudWatch's notation, oldest first: 0 a data point within the threshold, X one breaching it, - missing."""
    values = {"0": 0.0, "X": 1.0, "-": None}
    return [(START + i * period_s, values[c]) for i, c in enumerate(pattern.split())]


def state(alarm: AlarmSpec, pattern: str) -> str:
    verdict = evaluate(alarm, points(pattern))
    return verdict.state or "keep"


TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


# The tables of https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
# #alarms-evaluating-missing-data: the 5 data points retrieved, then the state for each treatment of
# missing data ("keep": the current state is kept).
THREE_OF_THREE = [
    ("0 - X - X", ("OK", "OK", "OK", "OK")),
    ("0 - - - -", ("OK", "OK", "OK", "OK")),
    ("- - - - -", ("INSUFFICIENT_DATA", "keep", "ALARM", "OK")),
    ("0 X X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("- - - - X", ("INSUFFICIENT_DATA", "keep", "ALARM", "OK")),
    ("X - - - -", ("ALARM", "keep", "ALARM", "OK")),
]
TWO_OF_THREE = [
    ("0 - X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 0 X 0 X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 - X - -", ("OK", "OK", "ALARM", "OK")),
    ("- - - - 0", ("OK", "OK", "ALARM", "OK")),
    ("- - - - X", ("INSUFFICIENT_DATA", "keep", "ALARM", "OK")),
]


@pytest.mark.parametrize(("pattern", "expected"), THREE_OF_THREE)
def test_three_out_of_three_treats_missing_data_as_cloudwatch_documents(pattern, expected):
    alarm = spec(evaluation_periods=3, datapoints_to_alarm=3)
    assert alarm.evaluation_range == 5
    assert (
        tuple(state(dataclasses.replace(alarm, treat_missing_data=t), pattern) for t in TREATMENTS)
        == expected
    )


@pytest.mark.parametrize(("pattern", "expected"), TWO_OF_THREE)
def test_two_out_of_three_treats_missing_data_as_cloudwatch_documents(pattern, expected):
    alarm = spec(evaluation_periods=3, datapoints_to_alarm=2)
    assert (
        tuple(state(dataclasses.replace(alarm, treat_missing_data=t), pattern) for t in TREATMENTS)
        == expected
    )


def test_m_out_of_n_needs_m_breaching_among_the_n_most_recent_data_points():
    alarm = spec(evaluation_periods=5, datapoints_to_alarm=3)  # a range of 7 periods
    assert state(alarm, "0 0 X 0 X 0 X") == ALARM  # 3 of the last 5
    assert state(alarm, "X X X 0 0 X 0") == OK  # the last 5 (X 0 0 X 0) hold 2
    assert state(alarm, "0 0 0 X X 0 X") == ALARM
    assert state(alarm, "0 0 X X 0 0 0") == OK
    # breaching data points need not be consecutive, and missing ones are skipped when there are enough real ones
    assert state(alarm, "X - X X 0 X 0") == ALARM  # the last 5 real ones: X X 0 X 0
    assert state(alarm, "X - X 0 0 0 0") == OK


def test_the_n_most_recent_real_data_points_are_evaluated_and_missing_data_is_then_irrelevant():
    for treat in TREATMENTS:
        alarm = spec(evaluation_periods=2, datapoints_to_alarm=2, treat_missing_data=treat)
        assert state(alarm, "X - X -") == ALARM, treat  # a range of 4; two real ones, both breaching
        assert state(alarm, "0 X - -") == OK, treat


def test_breaching_and_not_breaching_fill_in_only_as_many_missing_data_points_as_needed():
    breaching = spec(evaluation_periods=3, datapoints_to_alarm=3, treat_missing_data="breaching")
    # one real non-breaching data point and two filled in as breaching: still OK
    assert state(breaching, "- - 0 - -") == OK
    assert "2 missing datapoints treated as [Breaching]" in evaluate(breaching, points("- - 0 - -")).reason
    not_breaching = dataclasses.replace(breaching, datapoints_to_alarm=1, treat_missing_data="notBreaching")
    assert state(not_breaching, "- - X - -") == ALARM
    assert state(not_breaching, "- - - - -") == OK


def test_ignore_keeps_the_current_state_and_missing_has_no_data_to_judge():
    ignore = spec(treat_missing_data="ignore")
    verdict = evaluate(ignore, points("- - -"))
    assert verdict.state is None
    assert "[Ignore]" in verdict.reason
    missing = spec(treat_missing_data="missing")
    assert evaluate(missing, points("- - -")).state == INSUFFICIENT_DATA


def test_dynamodb_alarms_always_ignore_missing_data():
    alarm = spec(namespace="AWS/DynamoDB", metric_name="ThrottledRequests", treat_missing_data="breaching")
    assert evaluate(alarm, points("- - -")).state is None


@pytest.mark.parametrize(
    ("operator", "value", "breaches"),
    [
        ("GreaterThanThreshold", 5.0, False),
        ("GreaterThanThreshold", 5.1, True),
        ("GreaterThanOrEqualToThreshold", 5.0, True),
        ("GreaterThanOrEqualToThreshold", 4.9, False),
        ("LessThanThreshold", 5.0, False),
        ("LessThanThreshold", 4.9, True),
        ("LessThanOrEqualToThreshold", 5.0, True),
        ("LessThanOrEqualToThreshold", 5.1, False),
    ],
)
def test_comparison_operators(operator, value, breaches):
    alarm = spec(comparison_operator=operator, threshold=5.0)
    verdict = evaluate(alarm, [(START, 0.0), (START + 60, None), (START + 120, value)])
    assert verdict.state == (ALARM if breaches else OK)


def test_the_reason_says_which_data_points_crossed_the_threshold():
    alarm = spec(evaluation_periods=2, datapoints_to_alarm=2)
    verdict = evaluate(alarm, [(START, 0.0), (START + 60, None), (START + 120, 3.0), (START + 180, 2.0)])
    assert verdict.state == ALARM
    assert verdict.reason.startswith("Threshold Crossed: 2 out of the last 2 datapoints [3.0 (")
    assert "were greater than the threshold (0.0)" in verdict.reason


def test_an_alarm_the_runtime_cannot_evaluate_says_why():
    alarm = spec(unsupported="metric math (Metrics) is not evaluated locally")
    verdict = evaluate(alarm, points("X X X"))
    assert verdict.state == INSUFFICIENT_DATA
    assert "metric math" in verdict.reason


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_evaluator_starts_insufficient_and_follows_the_metric_store():
    clock = Clock(START + 5)
    store = MetricStore(clock=clock)
    alarm = spec(treat_missing_data="notBreaching")
    missing = spec(name="Orders-dev-Missing", logical_id="Missing")
    changes: list[tuple[str, str, str]] = []
    evaluator = AlarmEvaluator(
        [alarm, missing],
        store,
        clock=clock,
        on_change=lambda a, old, new: changes.append((a.name, old.value, new.value)),
    )
    assert evaluator.state(alarm.name).value == INSUFFICIENT_DATA
    assert evaluator.state(alarm.name).reason == INITIAL_REASON

    evaluator.evaluate_all()  # no data at all: notBreaching is OK, missing stays INSUFFICIENT_DATA
    assert changes == [(alarm.name, INSUFFICIENT_DATA, OK)]

    store.put("AWS/Lambda", "Errors", 1.0, alarm.dimensions)
    clock.now += 10
    evaluator.evaluate_all()
    assert evaluator.state(alarm.name).value == ALARM
    assert evaluator.state(alarm.name).updated == clock.now
    assert evaluator.state(missing.name).value == ALARM

    # the next period holds a success: the newest data point is within the threshold
    clock.now += 60
    store.put("AWS/Lambda", "Errors", 0.0, alarm.dimensions)
    evaluator.evaluate_all()
    assert evaluator.state(alarm.name).value == OK

    described = {a["AlarmName"]: a for a in evaluator.describe()["MetricAlarms"]}
    assert described[alarm.name]["StateValue"] == OK
    assert described[alarm.name]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "Orders-dev-ApiFunction"}
    ]
    assert (
        described[alarm.name]["AlarmArn"]
        == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Orders-dev-Errors"
    )


def test_without_new_data_the_last_data_points_are_evaluated_again_until_they_leave_the_range():
    """CloudWatch's note: an alarm re-evaluates the last data points for a while after the metric stops."""
    clock = Clock(START + 5)
    store = MetricStore(clock=clock)
    alarm = spec(treat_missing_data="notBreaching")  # a range of 3 periods
    store.put("AWS/Lambda", "Errors", 2.0, alarm.dimensions)
    assert evaluate(alarm, datapoints(alarm, store, clock.now)).state == ALARM
    clock.now += 120
    assert evaluate(alarm, datapoints(alarm, store, clock.now)).state == ALARM
    clock.now += 60
    assert evaluate(alarm, datapoints(alarm, store, clock.now)).state == OK


def test_data_points_are_the_statistic_per_period_oldest_first():
    clock = Clock(START + 150)  # in the third minute
    store = MetricStore(clock=clock)
    dims = {"FunctionName": "f"}
    store.put("AWS/Lambda", "IteratorAge", 5.0, dims, at=START + 1)
    store.put("AWS/Lambda", "IteratorAge", 9.0, dims, at=START + 30)
    store.put("AWS/Lambda", "IteratorAge", 7.0, dims, at=START + 125)
    alarm = spec(metric_name="IteratorAge", statistic="Maximum", dimensions=dims, evaluation_periods=3)
    assert datapoints(alarm, store, clock.now) == [
        (START - 120, None),
        (START - 60, None),
        (START, 9.0),
        (START + 60, None),
        (START + 120, 7.0),  # the period in progress
    ]
    p99 = dataclasses.replace(alarm, statistic="p99", evaluation_periods=1)
    assert datapoints(p99, store, clock.now)[-1] == (START + 120, 7.0)


def test_a_failing_evaluation_is_reported_and_the_next_one_runs():
    store = MetricStore()
    failures: list[Exception] = []
    calls = []

    def publish() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    evaluator = AlarmEvaluator(
        [spec(treat_missing_data="notBreaching")],
        store,
        interval_s=0.01,
        before_each=publish,
        on_error=failures.append,
    ).start()
    try:
        deadline = 200
        while evaluator.state("Orders-dev-Errors").value != OK and deadline:
            deadline -= 1
            time.sleep(0.01)
    finally:
        evaluator.stop()
    assert [str(f) for f in failures] == ["boom"]
    assert evaluator.state("Orders-dev-Errors").value == OK


def test_on_failure_records_publish_the_queue_depth(tmp_path: Path):
    store = MetricStore()
    failures = OnFailureStore(tmp_path, store)
    failures.append("Orders-dev-Queue", {"n": 1})
    failures.append("Orders-dev-Queue", {"n": 2})
    depth = store.query(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "Orders-dev-Queue"}, "Maximum"
    )
    assert depth["Values"] == [2.0]
    # a restarted runtime publishes what the queue already holds
    again = MetricStore()
    OnFailureStore(tmp_path, again).publish_depths()
    depth = again.query(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "Orders-dev-Queue"}, "Maximum"
    )
    assert depth["Values"] == [2.0]


def test_an_alarm_change_is_a_line_on_the_terminal():
    out = io.StringIO()
    logs = LogBook(None, MetricStore(), out=out)
    logs.note("alarm", "Orders-dev-Api5xx: OK -> ALARM. Threshold Crossed")
    assert out.getvalue().endswith(
        "alarm                    Orders-dev-Api5xx: OK -> ALARM. Threshold Crossed\n"
    )


# -- the real templates ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outdir() -> Path:
    synthesize()
    return OUTDIR


def test_every_alarm_in_the_templates_is_read_and_evaluable(outdir: Path):
    templates = load_templates(outdir)
    declared = {
        (stack, logical)
        for stack, t in templates.items()
        for logical in resources_of(t, "AWS::CloudWatch::Alarm")
    }
    alarms = load_alarms(outdir)
    assert {(a.stack, a.logical_id) for a in alarms} == declared
    assert len(declared) >= 10
    for alarm in alarms:
        assert alarm.unsupported is None, (alarm.name, alarm.unsupported)
        assert alarm.dimensions, alarm.name
        assert all(isinstance(v, str) and "{" not in v for v in alarm.dimensions.values())


def test_alarm_dimensions_resolve_to_the_local_names_of_functions_queues_and_apis(outdir: Path):
    assembly = load_assembly(outdir)
    functions = {f.name for f in assembly.functions.values()}
    queues = set(assembly.queues.values())
    apis = {api.name for api in assembly.apis.values()}
    alarms = load_alarms(outdir)
    for alarm in alarms:
        for name, value in alarm.dimensions.items():
            assert value in {"FunctionName": functions, "QueueName": queues, "ApiName": apis}[name], (
                alarm.name,
                value,
            )
    orders_api = next(
        f.name
        for f in assembly.functions.values()
        if f.stack.startswith("Orders") and f.logical_id.startswith("ApiFunction")
    )
    assert any(a.metric_name == "Errors" and a.dimensions == {"FunctionName": orders_api} for a in alarms)
    assert any(
        a.namespace == "AWS/SQS" and a.metric_name == "ApproximateNumberOfMessagesVisible" for a in alarms
    )


def test_an_alarm_spec_reads_every_property_the_templates_use():
    template = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "latency"]]},
                    "Namespace": "AWS/Lambda",
                    "MetricName": "Duration",
                    "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "Fn"}}],
                    "ExtendedStatistic": "p99",
                    "Period": 300,
                    "EvaluationPeriods": 5,
                    "DatapointsToAlarm": 3,
                    "Threshold": 1000,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "breaching",
                },
            },
            "Math": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [{"Id": "e", "Expression": "m1 / m2"}],
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanThreshold",
                },
            },
        }
    }
    alarm = alarm_spec("S", template, "Alarm")
    assert (
        alarm.name,
        alarm.statistic,
        alarm.period_s,
        alarm.evaluation_periods,
        alarm.datapoints_to_alarm,
    ) == (
        "S-latency",
        "p99",
        300,
        5,
        3,
    )
    assert alarm.dimensions == {"FunctionName": "S-Fn"}
    assert alarm.describe()["ExtendedStatistic"] == "p99"
    assert Resolver("S", template)({"Fn::GetAtt": ["Alarm", "Arn"]}) == alarm.arn
    math = alarm_spec("S", template, "Math")
    assert math.unsupported is not None
    assert "metric math" in math.unsupported
    with pytest.raises(ValueError, match="cannot resolve"):
        Resolver("S", template)({"Fn::GetAtt": ["Fn", "SnapStartResponse"]})
    json.dumps(alarm.describe())
