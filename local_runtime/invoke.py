"""`make invoke FN=orders/api EVENT=event.json`: invoke one function of the running local runtime once with
an event (a file, or - for standard input), as `sam local invoke -e` does, and print its result and logs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__)
    parser.add_argument("function", help="a function's short name (orders/api) or its local name")
    parser.add_argument("event", nargs="?", default="-", help="a JSON file, or - for standard input")
    parser.add_argument(
        "--url",
        default=os.environ.get("LOCAL_RUNTIME_URL", f"http://127.0.0.1:{os.environ.get('PORT', '3000')}"),
        help="the running runtime (default: $LOCAL_RUNTIME_URL, or port $PORT)",
    )
    args = parser.parse_args(argv)
    event = sys.stdin.read() if args.event == "-" else Path(args.event).read_text()
    try:
        answer = httpx.post(
            f"{args.url}/_local/invoke", params={"function": args.function}, content=event, timeout=60
        )
    except httpx.TransportError:
        print(f"no local runtime answers at {args.url}: start one with `make up` (or set LOCAL_RUNTIME_URL)")
        return 2
    body = answer.json()
    if answer.status_code != 200:
        print(body.get("message", answer.text))
        return 2
    for line in body["logs"]:
        print(line)
    print(json.dumps(body["error"] or body["result"], indent=2))
    return 1 if body["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
