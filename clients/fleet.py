"""The device fleet's command line: ``python -m clients.fleet <command>``. Prints JSON.

Operator commands (register, device, rules, readings, aggregates, alerts) use the operator API key and an
administrator's JWT; ``post`` uses the fleet API key and a device token; ``simulate`` registers its
devices as an operator, then posts as each device.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.cli import UsageError, add_local_argument, run_command
from clients.config import DEVICE, OPERATOR, ConfigError, Endpoint, resolve
from clients.devices import (
    MAX_BATCH,
    DeviceClient,
    FleetAdminClient,
    Reading,
    Rule,
    device_id_of,
    first_crossed,
)
from clients.http import RequestStats
from clients.simulator import MAX_RATE_HZ, SignalConfig, Simulator

OPS = ("gt", "gte", "lt", "lte")


def parse_rule(text: str) -> Rule:
    metric, op, threshold = [*text.split(":"), "", ""][:3]
    try:
        value = float(threshold)
    except ValueError:
        value = math.nan
    if not metric or op not in OPS or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected METRIC:OP:THRESHOLD with OP one of {OPS}, got {text!r}")
    return Rule(metric, op, int(value) if value.is_integer() else value)


@dataclass(frozen=True)
class ReadingArgument:
    """``metric=value[@ts]`` as given; without ``@ts`` it is stamped when the post is made."""

    metric: str
    value: float
    ts: int | None


def parse_reading(text: str) -> ReadingArgument:
    """``metric=value`` (now) or ``metric=value@ts`` (epoch ms)."""
    metric, _, rest = text.partition("=")
    value, _, ts = rest.partition("@")
    try:
        number, when = float(value), (int(ts) if ts else None)
    except ValueError:
        number, when = math.nan, None
    if not metric or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected METRIC=VALUE[@TS_MS], got {text!r}")
    return ReadingArgument(metric, int(number) if number.is_integer() else number, when)


def stamp(arguments: Sequence[ReadingArgument], now_ms: int) -> list[Reading]:
    """The readings, those without ``@ts`` at ``now_ms``. A metric given twice without one is refused: both
    would have the same (metric, ts), and the service would keep the first and call the other a duplicate."""
    unstamped = Counter(argument.metric for argument in arguments if argument.ts is None)
    repeated = sorted(metric for metric, count in unstamped.items() if count > 1)
    if repeated:
        raise UsageError(
            f"{', '.join(repeated)} given more than once without @TS_MS: the readings would share one"
            " timestamp and the service would keep only the first; give each its own METRIC=VALUE@TS_MS"
        )
    return [Reading(now_ms if a.ts is None else a.ts, a.metric, a.value) for a in arguments]


def readings_from_file(path: str) -> list[Reading]:
    try:
        data = json.loads(sys.stdin.read() if path == "-" else Path(path).read_text())
        items = data["readings"] if isinstance(data, dict) else data
        return [Reading(ts=int(r["ts"]), metric=str(r["metric"]), value=r["value"]) for r in items]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"--file {path}: expected {{'readings': [{{metric, value, ts}}, ...]}} or a list of readings"
            f" ({type(error).__name__}: {error})"
        ) from None


def parse_rate(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(f"a rate in (0, {MAX_RATE_HZ}] samples per second, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.fleet", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="the telemetry API's base URL (or TELEMETRY_API_URL)")
    parser.add_argument("--operator-key", help="the operator API key (or OPERATOR_API_KEY)")
    parser.add_argument("--token", help="an administrator's JWT (or TELEMETRY_TOKEN)")
    parser.add_argument("--fleet-key", help="the fleet API key, for devices (or FLEET_API_KEY)")
    parser.add_argument("--device-token", help="a device's token, <deviceId>.<secret> (or DEVICE_TOKEN)")
    add_local_argument(parser)
    parser.add_argument(
        "--user", default="fleet-operator", help="with --local: the administrator (token subject)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    register = commands.add_parser("register", help="register a device; prints its token (shown once)")
    register.add_argument("--device-id")
    register.add_argument("--name")
    device = commands.add_parser("device", help="a device and its latest readings")
    device.add_argument("device_id")
    rules = commands.add_parser("rules", help="replace a device's alert rules")
    rules.add_argument("device_id")
    rules.add_argument("--rule", action="append", type=parse_rule, default=[], metavar="METRIC:OP:THRESHOLD")
    post = commands.add_parser("post", help="post one batch as the device whose token is given")
    post.add_argument("readings", nargs="*", type=parse_reading, metavar="METRIC=VALUE[@TS_MS]")
    post.add_argument("--file", help="a JSON file of readings ({'readings': [...]} or a list); - for stdin")
    listing = commands.add_parser("readings", help="a device's stored readings")
    listing.add_argument("device_id")
    listing.add_argument("--metric")
    listing.add_argument("--from", dest="start", type=int)
    listing.add_argument("--to", dest="end", type=int)
    aggregates = commands.add_parser("aggregates", help="per-minute or per-hour count/min/max/sum/avg")
    aggregates.add_argument("device_id")
    aggregates.add_argument("--metric", required=True)
    aggregates.add_argument("--period", choices=("minute", "hour"), default="minute")
    aggregates.add_argument("--from", dest="start", type=int)
    aggregates.add_argument("--to", dest="end", type=int)
    alerts = commands.add_parser("alerts", help="a device's alerts")
    alerts.add_argument("device_id")
    alerts.add_argument("--from", dest="start", type=int)
    alerts.add_argument("--to", dest="end", type=int)
    simulate = commands.add_parser("simulate", help="register N devices and run them for a while")
    simulate.add_argument("--devices", type=int, default=5)
    simulate.add_argument("--rate", type=parse_rate, default=2.0, help="samples per second per device")
    simulate.add_argument("--duration", type=float, default=10.0, help="seconds")
    simulate.add_argument("--interval", type=float, default=1.0, help="seconds between a device's posts")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--no-progress", action="store_true")
    return parser


def operator(args: argparse.Namespace) -> Endpoint:
    return resolve(
        OPERATOR,
        url=args.url,
        api_key=args.operator_key,
        token=args.token,
        local=args.local,
        subject=args.user,
        groups=("admin",),
    )


def device_endpoint(args: argparse.Namespace, token: str | None = None) -> Endpoint:
    endpoint = resolve(
        DEVICE, url=args.url, api_key=args.fleet_key, token=token or args.device_token, local=args.local
    )
    try:
        device_id_of(endpoint.token or "")
    except ValueError as error:
        raise ConfigError(f"{error} (--device-token or DEVICE_TOKEN)") from None
    return endpoint


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    config = SignalConfig()
    rules = [Rule("temperature", "gt", round(config.spike_threshold, 1))]
    stats = RequestStats()
    devices: list[DeviceClient] = []
    with FleetAdminClient.connect(operator(args), stats=stats) as admin:
        for index in range(args.devices):
            registered = admin.register(name=f"simulated sensor {index + 1}")
            admin.set_rules(registered.device_id, rules)
            devices.append(DeviceClient.connect(device_endpoint(args, registered.token), stats=stats))
    simulator = Simulator(
        devices,
        rate_hz=args.rate,
        duration_s=args.duration,
        batch_interval_s=args.interval,
        seed=args.seed,
        config=config,
        stats=stats,
        progress=not args.no_progress,
    )
    try:
        result = simulator.run()
    finally:
        for device in devices:
            device.close()
    return {
        "devices": [
            {
                "deviceId": run.device_id,
                "sampled": run.sampled,
                "sent": len(run.sent),
                "accepted": run.accepted,
                "duplicates": run.duplicates,
                "failedBatches": len(run.failed),
                "unsent": len(run.unsent),
                "refused": len(run.refused),
                "errors": sorted({reason for _, reason in run.failed}),
                "crossingRules": sum(1 for r in run.sent if first_crossed(rules, r)),
            }
            for run in result.devices
        ],
        "rules": [rule.to_json() for rule in rules],
        "sampled": result.sampled,
        "sent": result.sent,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "failedBatches": result.failed_batches,
        "unsent": result.unsent,
        "refused": result.refused,
        "elapsedSeconds": round(result.elapsed_s, 1),
        "requests": stats.snapshot(),
    }


def run(args: argparse.Namespace) -> Any:
    command = args.command
    if command == "simulate":
        return simulate(args)
    if command == "post":
        readings = stamp(args.readings, time.time_ns() // 1_000_000)
        readings += readings_from_file(args.file) if args.file else []
        if not 1 <= len(readings) <= MAX_BATCH:
            raise UsageError(
                f"a post carries 1 to {MAX_BATCH} readings, not {len(readings)}:"
                " give METRIC=VALUE[@TS_MS] arguments or --file"
            )
        with DeviceClient.connect(device_endpoint(args)) as device:
            result = device.post_readings(readings)
        return {"deviceId": device.device_id, "accepted": result.accepted, "duplicates": result.duplicates}
    with FleetAdminClient.connect(operator(args)) as admin:
        if command == "register":
            registered = admin.register(args.device_id, args.name)
            return {"deviceId": registered.device_id, "token": registered.token}
        if command == "device":
            return admin.device(args.device_id)
        if command == "rules":
            return {"rules": [rule.to_json() for rule in admin.set_rules(args.device_id, args.rule)]}
        if command == "readings":
            found = admin.readings(args.device_id, args.metric, args.start, args.end)
            return {"items": [reading.to_json() for reading in found]}
        if command == "aggregates":
            return {"items": admin.aggregates(args.device_id, args.metric, args.period, args.start, args.end)}
        if command == "alerts":
            return {"items": admin.alerts(args.device_id, args.start, args.end)}
    raise AssertionError(command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
