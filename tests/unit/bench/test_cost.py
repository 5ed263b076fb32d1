"""The cost model's arithmetic (bench/cost.py), checked against sums done by hand."""

from __future__ import annotations

import pytest

from bench.cost import Assumptions, FunctionUse, Prices, UnitOfWork, dollars_per_million, unit_of_work


def test_each_line_is_the_price_times_what_one_unit_of_work_uses():
    work = UnitOfWork(
        api_requests=1.0,
        access_log_bytes=250.0,
        write_units=1.0,
        read_units=2.0,
        failed_writes=0.5,
        functions=(
            FunctionUse(
                "api", invocations=1.0, billed_ms=100.0, memory_mb=1024, log_bytes=500.0, init_ms=200.0
            ),
        ),
    )
    lines = dollars_per_million(work, Prices(), Assumptions())
    assert lines == {
        "apiGateway": 3.5,
        "lambdaRequests": 0.2,
        "lambdaDuration": pytest.approx(1e6 * 0.1 * 1.0 * 0.0000133334, abs=1e-5),  # 1 GB for 0.1 s
        "lambdaInit": pytest.approx(1e6 * 0.01 * 0.2 * 1.0 * 0.0000133334, abs=1e-5),  # 1% pay 0.2 s more
        "dynamodbWrites": 1.5 * 0.625,  # a failed conditional write is billed as one
        "dynamodbReads": 2 * 0.125,
        "logs": pytest.approx(750 / 1e9 * 0.5 * 1e6, abs=1e-5),
        "total": pytest.approx(3.5 + 0.2 + 1.33334 + 0.02667 + 0.9375 + 0.25 + 0.375, abs=1e-4),
    }


def workload() -> dict:
    return {
        "units": 100,
        "apiRequests": 10,
        "accessLogBytes": 2540,
        "failedConditionalWrites": 0,
        "functions": {
            "ingest": {
                "invocations": 10,
                "billedMsPerInvocation": 12.0,
                "memoryMB": 512,
                "logBytes": 4000,
                "writeUnits": 7.0,
                "readUnits": 3.0,
            },
            # The run's authorizer answered twice (its cache is local); production calls it per TTL.
            "authorizer": {
                "invocations": 2,
                "billedMsPerInvocation": 3.0,
                "memoryMB": 256,
                "logBytes": 800,
                "writeUnits": 0.0,
                "readUnits": 1.0,
            },
        },
    }


def test_a_cold_start_bills_what_it_takes_beyond_a_warm_invoke():
    cold = {"ingest": {"initMs": 222.0, "firstInvokeMs": 82.0}}
    work = unit_of_work(workload(), cold)
    ingest = next(f for f in work.functions if f.name == "ingest")
    assert ingest.init_ms == 222.0 - 12.0  # the init, and the first invoke's 70 ms over a warm one
    authorizer = next(f for f in work.functions if f.name == "authorizer")
    assert authorizer.init_ms == 0.0  # no cold start measured: nothing assumed


def test_modelled_invocations_scale_the_units_that_function_spent():
    work = unit_of_work(workload(), {}, invocations_override={"authorizer": 0.001})
    authorizer = next(f for f in work.functions if f.name == "authorizer")
    assert authorizer.invocations == 0.001
    assert authorizer.log_bytes == 400.0  # per invocation, as observed
    # 0.001 calls per reading = 0.1 over the 100 readings instead of 2: its read unit scales by 0.05.
    assert work.read_units == pytest.approx((3.0 + 1.0 * 0.05) / 100)
    assert work.write_units == pytest.approx(7.0 / 100)
    assert (work.api_requests, work.access_log_bytes) == (0.1, 25.4)
