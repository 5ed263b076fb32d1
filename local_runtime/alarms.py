"""The stacks' CloudWatch alarms, evaluated locally against the metric store as CloudWatch evaluates them.

Every ``AWS::CloudWatch::Alarm`` in the synthesized templates is read as it is declared (its dimensions' Refs
resolved to local names) and evaluated every ``interval_s`` seconds (10 s, as a high-resolution alarm is):

- a data point is the alarm's statistic over one period, periods aligned as CloudWatch aligns them; the newest
  is the period in progress (locally no data point arrives late, so a breach shows within one evaluation, not
  after its period closes);
- CloudWatch's evaluation range is retrieved: more periods than ``EvaluationPeriods`` (it does not say how many;
  ``N + max(2, N // 3)`` here, the 5 of its documented examples for N = 3);
- with at least N real data points, the N most recent are evaluated and missing ones do not matter; with fewer,
  missing ones are filled in as ``TreatMissingData`` says (``breaching``, ``notBreaching``), or only the real ones
  count (``missing``, ``ignore``): a non-breaching one makes it OK, M breaching ones ALARM; fewer breaching ones
  alone keep the state (``ignore``), or (``missing``) go to ALARM once the oldest is at least M
  (``DatapointsToAlarm``) periods old (CloudWatch's rule against premature transitions), else INSUFFICIENT_DATA;
  with no data point at all: INSUFFICIENT_DATA, kept, ALARM or OK;
- ALARM when at least M of the N evaluated data points breach, else OK. AWS/DynamoDB alarms always ignore
  missing data, as CloudWatch's do.

(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-evaluating-missing-data)

Not evaluated (listed, with the reason, and left INSUFFICIENT_DATA): metric math (``Metrics``), anomaly detection
bands, extended statistics other than percentiles (``tm99``, ``wm99``, ...). Composite alarms are not read.
Alarm actions are not taken: a change of state is a line on the terminal.
"""

from __future__ import annotations

import calendar
import operator
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.templates import Template, load_templates, resources_of
from local_runtime.metrics import STATISTICS, MetricStore
from local_runtime.template_values import Resolver, arn

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
INITIAL_REASON = "Unchecked: Initial alarm creation"
TREAT_MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_PERCENTILE = re.compile(r"p\d{1,2}(\.\d+)?|p100")

Datapoint = tuple[float, float | None]  # (the period's start, epoch seconds; its value, None if missing)


@dataclass(frozen=True)
class AlarmSpec:
    stack: str
    logical_id: str
    name: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str] = field(hash=False)
    statistic: str  # a Statistic, or an ExtendedStatistic (p99)
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str = "missing"
    description: str = ""
    unsupported: str | None = None  # why it is not evaluated locally

    @property
    def arn(self) -> str:
        return arn("cloudwatch", f"alarm:{self.name}")

    @property
    def evaluation_range(self) -> int:
        """How many periods are retrieved for one evaluation (more than EvaluationPeriods)."""
        n = self.evaluation_periods
        return n + max(2, n // 3)

    @property
    def missing_data(self) -> str:
        """How missing data is treated: AWS/DynamoDB alarms always ignore it."""
        return "ignore" if self.namespace == "AWS/DynamoDB" else self.treat_missing_data

    def breaches(self, value: float) -> bool:
        compare, _ = COMPARISONS[self.comparison_operator]
        return compare(value, self.threshold)

    def describe(self) -> dict[str, Any]:
        """As DescribeAlarms' MetricAlarms list it (without the state)."""
        stat = {"Statistic": self.statistic} if self.statistic in STATISTICS else {}
        return {
            "AlarmName": self.name,
            "AlarmArn": self.arn,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions.items()],
            **(stat or {"ExtendedStatistic": self.statistic}),
            "Period": self.period_s,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
            "Stack": self.stack,
            "LogicalId": self.logical_id,
            **({"Unsupported": self.unsupported} if self.unsupported else {}),
        }


def alarm_spec(stack: str, template: Template, logical: str) -> AlarmSpec:
    """One AWS::CloudWatch::Alarm of a template, its Refs resolved to local names."""
    resolve = Resolver(stack, template)
    props: Mapping[str, Any] = template["Resources"][logical]["Properties"]
    unsupported = []
    if "Metrics" in props:
        unsupported.append("metric math (Metrics) is not evaluated locally")
    operator_name = str(props.get("ComparisonOperator", ""))
    if operator_name not in COMPARISONS:
        unsupported.append(f"ComparisonOperator {operator_name} (anomaly detection) is not evaluated locally")
    statistic = str(props.get("Statistic") or props.get("ExtendedStatistic") or "")
    if statistic not in STATISTICS and not _PERCENTILE.fullmatch(statistic):
        unsupported.append(f"statistic {statistic or '(none)'} is not evaluated locally")
    treat = str(props.get("TreatMissingData", "missing"))
    if treat not in TREAT_MISSING_DATA:
        raise ValueError(
            f"{stack}/{logical}: TreatMissingData must be one of {', '.join(TREAT_MISSING_DATA)}"
        )
    period = int(props.get("Period", 60))
    if period < 10 or period % 10:
        unsupported.append(f"a period of {period} s (locally: 10 s or a multiple of it)")
    evaluation_periods = int(props.get("EvaluationPeriods", 1))
    return AlarmSpec(
        stack=stack,
        logical_id=logical,
        name=resolve.name(logical),
        namespace=str(resolve(props.get("Namespace", ""))),
        metric_name=str(resolve(props.get("MetricName", ""))),
        dimensions={str(d["Name"]): str(resolve(d["Value"])) for d in props.get("Dimensions", [])},
        statistic=statistic,
        period_s=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(props.get("DatapointsToAlarm", evaluation_periods)),
        threshold=float(props.get("Threshold", 0)),
        comparison_operator=operator_name,
        treat_missing_data=treat,
        description=str(resolve(props.get("AlarmDescription", ""))),
        unsupported="; ".join(unsupported) or None,
    )


def alarms_of(templates: Mapping[str, Template]) -> list[AlarmSpec]:
    return [
        alarm_spec(stack, template, logical)
        for stack, template in templates.items()
        for logical in resources_of(template, "AWS::CloudWatch::Alarm")
    ]


def load_alarms(outdir: Path) -> list[AlarmSpec]:
    """Every alarm the synthesized templates declare."""
    return alarms_of(load_templates(outdir))


# -- evaluation (pure) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What one evaluation says: the state (None: keep the current one) and why."""

    state: str | None
    reason: str


def _stamp(moment: float) -> str:
    return time.strftime("%d/%m/%y %H:%M:%S", time.gmtime(moment))


def _number(value: float) -> str:
    return repr(float(value))


def _points(points: Sequence[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"{_number(v)} ({_stamp(t)})" for t, v in points) + "]"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def evaluate(alarm: AlarmSpec, datapoints: Sequence[Datapoint]) -> Verdict:
    """The alarm's state from the data points of its evaluation range (oldest first; a missing one's value is
    None), by CloudWatch's rules (see the module's docstring)."""
    if alarm.unsupported:
        return Verdict(INSUFFICIENT_DATA, f"Unchecked: {alarm.unsupported}")
    points = list(datapoints)[-alarm.evaluation_range :]
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    treat = alarm.missing_data
    words = f"{COMPARISONS[alarm.comparison_operator][1]} the threshold ({_number(alarm.threshold)})"
    # (age in periods, the newest being 1; value) of every real data point
    existing = [(len(points) - i, t, v) for i, (t, v) in enumerate(points) if v is not None]

    if not existing:
        periods = _plural(n, "period")
        if treat == "missing":
            return Verdict(
                INSUFFICIENT_DATA, f"Insufficient Data: no datapoints were received for {periods}."
            )
        if treat == "ignore":
            return Verdict(None, f"No datapoints were received for {periods}: the state is kept [Ignore].")
        label = "Breaching" if treat == "breaching" else "NonBreaching"
        return Verdict(
            ALARM if treat == "breaching" else OK,
            f"Threshold Crossed: no datapoints were received for {periods} and "
            f"{_plural(n, 'missing datapoint')} {_was(n)} treated as [{label}].",
        )

    evaluated = existing[-n:]  # with N or more real data points, the N most recent; else every one
    breaching = [(t, v) for _, t, v in evaluated if alarm.breaches(v)]
    count, filled = len(breaching), n - len(evaluated)
    if filled and treat == "breaching":
        count += filled
    elif filled and treat in ("missing", "ignore") and count < m and count == len(evaluated):
        # Only breaching data points, fewer than M: ALARM once the oldest is M periods old, else unknown.
        oldest_age = evaluated[0][0]
        if oldest_age >= m and treat == "missing":
            return Verdict(
                ALARM,
                f"Threshold Crossed: {_plural(count, 'datapoint')} {_points(breaching)} {_was(count)} {words}, "
                f"the oldest {_plural(oldest_age, 'period')} ago, and none was not (missing datapoints: [Missing]).",
            )
        if treat == "ignore":
            return Verdict(
                None,
                f"{_plural(count, 'datapoint')} {_points(breaching)} {_was(count)} {words}, fewer than the {m} "
                "needed for ALARM: the state is kept [Ignore].",
            )
        return Verdict(
            INSUFFICIENT_DATA,
            f"Insufficient Data: {_plural(count, 'datapoint')} {_points(breaching)} {_was(count)} {words}, "
            f"fewer than the {m} needed for ALARM, and {_plural(filled, 'datapoint')} {_was(filled)} missing.",
        )

    fill_note = ""
    if filled and treat in ("breaching", "notBreaching"):
        label = "Breaching" if treat == "breaching" else "NonBreaching"
        fill_note = f" ({_plural(filled, 'missing datapoint')} treated as [{label}])"
    if count >= m:
        return Verdict(
            ALARM,
            f"Threshold Crossed: {count} out of the last {n} datapoints {_points(breaching)} {_was(count)} "
            f"{words}{fill_note} (minimum {_plural(m, 'datapoint')} for ALARM).",
        )
    if not count:
        shown = [(t, v) for _, t, v in evaluated]
        return Verdict(
            OK,
            f"Threshold Crossed: {_plural(len(shown), 'datapoint')} {_points(shown)} {_was(len(shown))} not "
            f"{words}{fill_note}.",
        )
    return Verdict(
        OK,
        f"Threshold Crossed: {count} out of the last {n} datapoints {_points(breaching)} {_was(count)} "
        f"{words}{fill_note}, fewer than the {m} needed for ALARM.",
    )


def _epoch(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def datapoints(alarm: AlarmSpec, metrics: MetricStore, now: float) -> list[Datapoint]:
    """The alarm's evaluation range from the store, oldest first: one data point per period, the newest the
    period in progress at ``now``."""
    period = alarm.period_s
    newest = int(now // period) * period
    starts = [newest - k * period for k in reversed(range(alarm.evaluation_range))]
    result = metrics.query(
        alarm.namespace,
        alarm.metric_name,
        alarm.dimensions,
        stat=alarm.statistic,
        period_s=period,
        span_s=(alarm.evaluation_range + 1) * period,
    )
    values = {_epoch(t): v for t, v in zip(result["Timestamps"], result["Values"], strict=True)}
    return [(float(start), values.get(start)) for start in starts]


# -- the evaluator -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmState:
    value: str
    reason: str
    updated: float  # epoch seconds of the last change
    recent: tuple[Datapoint, ...] = ()


Change = Callable[[AlarmSpec, AlarmState, AlarmState], None]


class AlarmEvaluator:
    """Evaluates every alarm each ``interval_s`` seconds on a thread of its own; every alarm starts as
    INSUFFICIENT_DATA. ``before_each`` runs first at each evaluation (it publishes gauges, such as the
    on-failure queues' depth); ``on_change`` hears each change of state, ``on_error`` an evaluation that
    failed (the next one runs all the same)."""

    def __init__(
        self,
        alarms: Iterable[AlarmSpec],
        metrics: MetricStore,
        *,
        interval_s: float = 10.0,
        on_change: Change | None = None,
        before_each: Callable[[], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.alarms = list(alarms)
        self.metrics = metrics
        self.interval_s = interval_s
        self.on_change = on_change
        self.before_each = before_each
        self.on_error = on_error
        self.last_error: Exception | None = None
        self._clock = clock
        started = clock()
        self._lock = threading.Lock()
        self._states = {a.name: AlarmState(INSUFFICIENT_DATA, INITIAL_REASON, started) for a in self.alarms}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self, name: str) -> AlarmState:
        with self._lock:
            return self._states[name]

    def evaluate_all(self) -> list[tuple[AlarmSpec, AlarmState, AlarmState]]:
        """One evaluation of every alarm; the changes of state it made."""
        if self.before_each is not None:
            self.before_each()
        now = self._clock()
        changes = []
        for alarm in self.alarms:
            points = [] if alarm.unsupported else datapoints(alarm, self.metrics, now)
            verdict = evaluate(alarm, points)
            with self._lock:
                old = self._states[alarm.name]
                if verdict.state is None or verdict.state == old.value:
                    self._states[alarm.name] = AlarmState(old.value, old.reason, old.updated, tuple(points))
                    continue
                new = AlarmState(verdict.state, verdict.reason, now, tuple(points))
                self._states[alarm.name] = new
            changes.append((alarm, old, new))
        for alarm, old, new in changes:
            if self.on_change is not None:
                self.on_change(alarm, old, new)
        return changes

    def describe(self) -> dict[str, Any]:
        """The alarms and their states, in DescribeAlarms' shape."""
        with self._lock:
            states = dict(self._states)
        return {
            "MetricAlarms": [
                {
                    **alarm.describe(),
                    "StateValue": states[alarm.name].value,
                    "StateReason": states[alarm.name].reason,
                    "StateUpdatedTimestamp": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(states[alarm.name].updated)
                    ),
                    "RecentDatapoints": [
                        {"Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)), "Value": v}
                        for t, v in states[alarm.name].recent
                    ],
                }
                for alarm in self.alarms
            ]
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.evaluate_all()
            except Exception as error:  # one failed evaluation must not stop the next ones
                self.last_error = error
                if self.on_error is not None:
                    self.on_error(error)
            self._stop.wait(self.interval_s)

    def start(self) -> AlarmEvaluator:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
