"""``make demo``: start the local runtime, run a scripted scenario through the clients, print a report,
stop the runtime; exit 0 only if every invariant held.

Every invariant is computed from data read back through the APIs (and the runtime's failure
destinations), never from what the scenario meant to do:

* stock conserved: per product, catalogue stock before = stock after + units held by live orders;
* one charge per paid order: every order that reached PAID shows its capture (REFUNDED once cancelled),
  no declined order was charged, and the retried request returned the same order;
* no reading lost or counted twice: every reading sampled was sent, every device's listing holds each sent
  reading exactly once, the answers' accepted + duplicates account for every reading posted (accepted never
  exceeding the distinct readings), the re-sent batch counted as duplicates, and the per-minute aggregates
  count exactly the readings sent in each minute;
* one alert per reading that crosses a rule;
* no stream record failed (``/_local/dlq`` is empty).

    python -m clients.demo [--devices 6] [--duration 15] [--customers 6]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from clients.config import LocalRuntimeClient
from clients.demo.harness import Check
from clients.demo.orders import OrdersScenario, order_checks
from clients.demo.process import RuntimeProcess, StartupFailed, say
from clients.demo.report import render
from clients.demo.telemetry import TelemetryScenario, telemetry_checks
from clients.http import ClientError, RequestStats


@contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.monotonic()
    say(f"> {name}")
    yield
    say(f"  done in {time.monotonic() - started:.1f}s")


def scenario(runtime: LocalRuntimeClient, args: argparse.Namespace) -> tuple[str, list[Check]]:
    started = time.monotonic()
    stats = {name: RequestStats() for name in ("storefront", "storefront (admin)", "fleet", "operator")}
    with phase(f"orders: {args.customers} customers ordering concurrently"):
        orders = OrdersScenario(
            runtime, args.customers, stats["storefront"], stats["storefront (admin)"], args.seed
        ).run()
    with phase(f"telemetry: {args.devices} devices posting for {args.duration:.0f}s"):
        telemetry = TelemetryScenario(
            runtime,
            devices=args.devices,
            duration_s=args.duration,
            rate_hz=args.rate,
            seed=args.seed,
            fleet_stats=stats["fleet"],
            operator_stats=stats["operator"],
        ).run()
    dlq = runtime.dlq()
    faults = runtime.faults()
    failed_records = sum(len(records) for records in dlq.values())
    checks = [
        *order_checks(orders),
        *telemetry_checks(telemetry),
        Check(
            "no stream record failed",
            failed_records == 0,
            f"{failed_records} records in {sorted(name for name, r in dlq.items() if r)}"
            if failed_records
            else "the failure destinations (/_local/dlq) are empty",
        ),
    ]
    return render(orders, telemetry, stats, dlq, faults, checks, time.monotonic() - started), checks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=6)
    parser.add_argument("--devices", type=int, default=6)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds the devices post for")
    parser.add_argument("--rate", type=float, default=2.0, help="samples per second per device")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, help="the runtime's port (a free one by default)")
    parser.add_argument("--startup-timeout", type=float, default=90.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="demo-"))
    process = RuntimeProcess(workdir, args.port)
    keep_workdir = True
    code = 1
    try:
        say(f"> starting the local runtime on {process.origin} (state in {workdir}, in memory)")
        process.start()
        try:
            process.wait_ready(args.startup_timeout)
            say(f"  ready in {time.monotonic() - started:.1f}s")
        except StartupFailed as error:
            say(f"\nThe local runtime did not start: {error}. Its last output ({process.log_path}):\n")
            say(process.log_tail())
            return 2
        report, checks = scenario(LocalRuntimeClient(process.origin), args)
        print(report, flush=True)
        failed = [check.name for check in checks if not check.held]
        code = 1 if failed else 0
        keep_workdir = bool(failed)
        verdict = f"FAILED: {', '.join(failed)}" if failed else "every invariant held"
    except (ClientError, Exception) as error:
        say(f"\nThe scenario failed: {error!r}")
        say(traceback.format_exc())
        say(f"The runtime's last output ({process.log_path}):\n{process.log_tail()}")
        verdict = f"FAILED: the scenario did not complete ({type(error).__name__})"
    finally:
        say(f"> stopping the local runtime: {process.stop()}")
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{verdict} (wall time {time.monotonic() - started:.0f}s)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
