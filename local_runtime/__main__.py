"""`make up`: synthesize if needed, run the whole system locally until interrupted."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import threading
from pathlib import Path

from local_runtime.faults import FaultSettings
from local_runtime.runtime import STATE_DIR, LocalRuntime, RuntimeOptions
from local_runtime.sites import lambda_python
from local_runtime.synth import synthesize, up_to_date
from local_runtime.watch import follow_edits


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--state-dir", type=Path, default=STATE_DIR, help="where data, keys and checkpoints live"
    )
    parser.add_argument(
        "--web-port", type=int, default=None, help="where the web pages are served (default: --port + 1)"
    )
    parser.add_argument(
        "--faults",
        default=os.environ.get("LOCAL_FAULTS", ""),
        help="inject faults: a preset (chaos) or JSON, see local_runtime/faults.py (default: $LOCAL_FAULTS)",
    )
    parser.add_argument("--in-memory", action="store_true", help="keep DynamoDB Local's data in memory only")
    parser.add_argument(
        "--no-watch", action="store_true", help="do not reload functions when their source changes"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print every log record as JSON, not one line per request"
    )
    return parser.parse_args()


def announce(runtime: LocalRuntime, options: RuntimeOptions, faults: FaultSettings | None) -> None:
    """What a person needs to start using it: URLs, keys, where tokens, metrics and logs are, a curl to try."""
    session = runtime.session()
    print("\nLocal runtime ready. Base URLs (a route's URL is its base URL + its path):", flush=True)
    for service, url in session["apis"].items():
        print(f"  {service:<10} {url}")
    print("Web pages (sign in through the local managed login):")
    for page, url in runtime.pages.items():
        print(f"  {page:<10} {url}")
    print("API keys (header x-api-key):")
    for plan, key in session["apiKeys"].items():
        print(f"  {plan:<10} {key}")
    origin = runtime.gateway.config.origin
    print(
        f"Tokens: {origin}/_local/token?service=orders&sub=alice&groups=admin   Session: {origin}/_local/session"
    )
    if faults is not None:
        print(f"Injecting faults (GET/POST {origin}/_local/faults): {json.dumps(faults.to_json())}")
    print(f"Console (dashboards, alarms): {origin}/_local/console   Metrics: {origin}/_local/metrics")
    print(f"Logs, one file per function: {options.state_dir / 'logs'}")
    print(f"Python: {lambda_python().describe()}")
    print("\nTo try it from another shell:")
    print(f"  export LOCAL_RUNTIME_URL={origin}")
    print(
        f"  curl -H 'x-api-key: {session['apiKeys'].get('storefront', '')}' {session['apis'].get('orders', '')}/products"
    )


def main() -> None:
    args = parse_args()
    if up_to_date():
        print("templates are up to date (cdk.out/)", flush=True)
    else:
        print("synthesizing the CDK app into cdk.out/ ...", flush=True)
        synthesize(force=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    web_port = args.port + 1 if args.web_port is None else args.web_port
    for port, what in ((args.port, "--port (PORT)"), (web_port, "--web-port")):
        if port_taken(port):
            print(f"port {port} is taken (another make up?): stop what uses it, or choose another {what}")
            raise SystemExit(2)
    faults = FaultSettings.parse(args.faults) if args.faults.strip() else None
    options = RuntimeOptions(
        port=args.port,
        web_port=web_port,
        state_dir=args.state_dir,
        persistent=not args.in_memory,
        faults=faults,
        verbose=args.verbose,
    )
    with LocalRuntime(options) as runtime:
        announce(runtime, options, faults)
        if not args.no_watch:
            follow_edits(runtime.functions, lambda line: print(line, flush=True), stop)
            print(
                "\nEdits under services/ and shared/ apply at the next request (--no-watch to turn that off)."
            )
        print(
            "\nPress Ctrl-C to stop. One line per request follows (--verbose for every log record).\n",
            flush=True,
        )
        # The clients' --local finds this runtime by it, whatever the port.
        found_at = options.state_dir / "runtime-url"
        found_at.write_text(runtime.gateway.config.origin + "\n")
        try:
            stop.wait()
        finally:
            found_at.unlink(missing_ok=True)
        print("stopping...", flush=True)


if __name__ == "__main__":
    main()
