"""The emulator's overhead is taken per request: each round trip minus the functions that request invoked."""

from __future__ import annotations

import pytest

from bench.latency import distribution, request_overheads
from bench.system import Report

SYSTEM = {"telemetry.authorizer", "telemetry.ingest"}


def test_each_request_loses_the_durations_of_the_system_functions_it_invoked() -> None:
    reports = [
        [Report("telemetry.authorizer", 3.0, False), Report("telemetry.ingest", 7.5, False)],
        [Report("telemetry.ingest", 9.0, False)],
        # A reference function run beside the system is not the request's.
        [Report("telemetry.ingest", 4.0, False), Report("floor.reference", 50.0, False)],
    ]
    assert request_overheads([12.5, 11.0, 6.25], reports, SYSTEM) == [2.0, 2.0, 2.25]


def test_the_p50_of_paired_overheads_ignores_how_much_the_functions_vary() -> None:
    # Functions of 5 to 15 ms under a steady 2 ms, one request 1.5 ms slower: the difference of the two p50s
    # lands between a fast and a slow function and is not the overhead's p50.
    durations = [5.0, 15.0, 6.0, 14.0]
    round_trips = [7.0, 17.0, 9.5, 16.0]
    overheads = request_overheads(
        round_trips, [[Report("telemetry.ingest", d, False)] for d in durations], SYSTEM
    )
    assert distribution(overheads)["p50"] == 2.0
    assert distribution(round_trips)["p50"] - distribution(durations)["p50"] == pytest.approx(2.75)


def test_a_request_without_its_reports_is_an_error_not_a_silent_shift() -> None:
    with pytest.raises(ValueError, match="shorter"):
        request_overheads([1.0, 2.0], [[]], SYSTEM)
