"""Count what DynamoDB bills: every call asks for ``ReturnConsumedCapacity=TOTAL`` and the answers
are added up, by item kind (writes) and by operation (reads). The code under measurement runs
unchanged.

Two ways in, one ledger:

- :class:`CapacityMeter` hooks botocore's event system on a client in this process (the integration
  tests, which call handlers directly);
- :class:`MeteringProxy` stands between the local runtime's function processes and DynamoDB Local
  (the benchmarks): each function gets its own endpoint path, so units are attributed to functions.

DynamoDB Local computes units from item sizes as DynamoDB does (1 KB per write unit, the larger of
the item before and after; 4 KB per read unit, half for eventually consistent reads; index writes
included), with two exceptions:

- it prices a transaction by the total size of its items (2 units per started KB of all of them,
  per table and index), where DynamoDB prices each item as twice its own write (2 units per started
  KB of that item, for the table and for each index the item is in). The proxy re-prices each
  successful transaction item by item: it writes each item as written (a Put's item, an Update's
  item read back) alone to a scratch copy of its table (same keys and indexes, no stream) and
  doubles what DynamoDB Local charges for that;
- it reports nothing for a failed conditional write, which AWS bills as a write: those are counted
  apart, in ``failed_writes``;
- it bills a ``BatchGetItem`` only for the items it found, where DynamoDB reads each requested key
  as its own ``GetItem`` and bills a key with no item the minimum (half a unit, one if consistent),
  as DynamoDB Local itself does for ``GetItem``: :func:`billed_consumption` adds those.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


def item_kind(params: Mapping[str, Any]) -> str:
    """What a call is about: for one item, its sort key's kind (``readings``, ``rollups``,
    ``alerts``, else the sort key in lower case: ``device``, ``order``, ``product``...), or for a
    table without a sort key the table's short name (``payments``); else ``transaction``/``batch``."""
    if "TransactItems" in params:
        return "transaction"
    if "RequestItems" in params:
        return "batch"
    key = params.get("Key") or params.get("Item") or {}
    sort_key = str(key.get("sk", {}).get("S", "")) if isinstance(key, Mapping) else ""
    if sort_key.startswith("R#"):
        return "readings"
    if sort_key.startswith("H#"):
        return "rollups"
    if sort_key.startswith("A#"):
        return "alerts"
    if sort_key:
        return sort_key.lower()
    return _table_short_name(str(params.get("TableName", ""))) or "other"


def _table_short_name(table_name: str) -> str:
    """``Orders-dev-PaymentsTable48A42630`` -> ``payments``."""
    logical = table_name.rsplit("-", 1)[-1]
    return re.sub(r"(Table)?[0-9A-F]{8}$", "", logical).lower()


def _units(consumed: Any) -> float:
    entries = [consumed] if isinstance(consumed, Mapping) else (consumed or [])
    return float(sum(entry.get("CapacityUnits", 0.0) for entry in entries))


def billed_consumption(operation: str, params: Mapping[str, Any], answer: Mapping[str, Any]) -> Any:
    """``answer``'s ``ConsumedCapacity``, with what DynamoDB Local leaves out of a ``BatchGetItem``
    added: the minimum read for each requested key that is neither answered nor left unprocessed."""
    consumed = answer.get("ConsumedCapacity")
    if operation != "BatchGetItem":
        return consumed
    missing_units = 0.0
    for table, request in params.get("RequestItems", {}).items():
        found = len(answer.get("Responses", {}).get(table, []))
        unprocessed = len(answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
        missing = len(request.get("Keys", [])) - found - unprocessed
        missing_units += max(missing, 0) * (1.0 if request.get("ConsistentRead") else 0.5)
    return {"CapacityUnits": _units(consumed) + missing_units}


class CapacityLedger:
    """Units and calls, added up; thread-safe."""

    def __init__(self) -> None:
        self.write_units: defaultdict[str, float] = defaultdict(float)  # by item kind
        self.read_units: defaultdict[str, float] = defaultdict(float)  # by operation
        self.calls: Counter[str] = Counter()  # "<operation>:<item kind>"
        self.failed_writes: Counter[str] = Counter()  # "<operation>:<item kind>", units not reported
        self._lock = threading.Lock()

    def record(
        self, operation: str, params: Mapping[str, Any], consumed: Any, *, failed: bool = False
    ) -> None:
        kind = item_kind(params)
        units = _units(consumed)
        with self._lock:
            self.calls[f"{operation}:{kind}"] += 1
            if operation in WRITES:
                self.write_units[kind] += units
                if failed:
                    self.failed_writes[f"{operation}:{kind}"] += 1
            elif operation in READS:
                self.read_units[operation] += units

    @property
    def total_write_units(self) -> float:
        return float(sum(self.write_units.values()))

    @property
    def total_read_units(self) -> float:
        return float(sum(self.read_units.values()))

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "writeUnits": round(self.total_write_units, 3),
                "readUnits": round(self.total_read_units, 3),
                "writeUnitsByItem": dict(sorted(self.write_units.items())),
                "readUnitsByCall": dict(sorted(self.read_units.items())),
                "calls": dict(sorted(self.calls.items())),
                "failedConditionalWrites": dict(sorted(self.failed_writes.items())),
            }


class CapacityMeter(CapacityLedger):
    """``with CapacityMeter(client) as meter:`` counts every call made through ``client``."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client

    def __enter__(self) -> CapacityMeter:
        events = self.client.meta.events
        events.register("before-parameter-build.dynamodb", self._before, unique_id="capacity-meter-before")
        events.register("after-call.dynamodb", self._after, unique_id="capacity-meter-after")
        events.register("after-call-error.dynamodb", self._error, unique_id="capacity-meter-error")
        return self

    def __exit__(self, *_: object) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.dynamodb", unique_id="capacity-meter-before")
        events.unregister("after-call.dynamodb", unique_id="capacity-meter-after")
        events.unregister("after-call-error.dynamodb", unique_id="capacity-meter-error")

    # A call's parameters travel in its own request context (one per call), so calls made from several
    # threads through one client are each booked with their own parameters.
    _PARAMS = "capacity_meter_params"

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name in WRITES | READS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        context[self._PARAMS] = params

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get(self._PARAMS, {})
        error = parsed.get("Error", {}).get("Code")
        failed = error == "ConditionalCheckFailedException"
        # Another refused call (a missing table, a validation error) is not billed.
        consumed = None if error else billed_consumption(model.name, params, parsed)
        self.record(model.name, params, consumed, failed=failed)

    def _error(self, **_: Any) -> None:
        """A call that never got an answer (connection error): nothing was consumed."""


class MeteringProxy:
    """An HTTP proxy in front of DynamoDB Local that adds ``ReturnConsumedCapacity=TOTAL`` to every
    read and write and books the units on a ledger per endpoint path: point a function at
    ``proxy.endpoint("<name>")`` and its calls land in ``proxy.ledgers["<name>"]``.

    Responses pass through byte for byte (DynamoDB's CRC32 header stays valid); the only change a
    function can see is the extra ``ConsumedCapacity`` member, which no code here reads. Requests
    are re-serialised, so their SigV4 signature no longer matches: DynamoDB Local does not check it.
    """

    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 80
        self.ledgers: dict[str, CapacityLedger] = {}
        self.repriced_transactions = 0
        self._scratch: dict[str, str] = {}  # table -> its scratch copy for pricing transaction items
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metering-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def endpoint(self, source: str) -> str:
        return f"http://127.0.0.1:{self.port}/{source}"

    def ledger(self, source: str) -> CapacityLedger:
        with self._lock:
            return self.ledgers.setdefault(source, CapacityLedger())

    def reset(self) -> None:
        with self._lock:
            self.ledgers = {}

    def start(self) -> MeteringProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MeteringProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                return

            def _upstream(self) -> http.client.HTTPConnection:
                connection: http.client.HTTPConnection | None = getattr(local, "connection", None)
                if connection is None:
                    connection = http.client.HTTPConnection(
                        proxy.upstream_host, proxy.upstream_port, timeout=30
                    )
                    local.connection = connection
                return connection

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
                source = self.path.strip("/").split("/")[0] or "-"
                params: dict[str, Any] = json.loads(body) if body else {}
                if operation in WRITES | READS and "ReturnConsumedCapacity" not in params:
                    params["ReturnConsumedCapacity"] = "TOTAL"
                    body = json.dumps(params).encode()
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in {"host", "content-length", "connection"}
                }
                status, answer_headers, answer = self._forward(body, headers)
                try:
                    parsed = json.loads(answer) if answer else {}
                except ValueError:
                    parsed = {}
                failed = str(parsed.get("__type", "")).endswith("ConditionalCheckFailedException")
                consumed = billed_consumption(operation, params, parsed)
                if status == 200 and operation == "TransactWriteItems":
                    consumed = {"CapacityUnits": self._transaction_units(params["TransactItems"], headers)}
                    with proxy._lock:
                        proxy.repriced_transactions += 1
                if status == 200 or failed:
                    proxy.ledger(source).record(operation, params, consumed, failed=failed)
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in {
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "server",
                        "date",
                    }:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _call(
                self, operation: str, params: dict[str, Any], headers: dict[str, str]
            ) -> dict[str, Any]:
                """A call of the proxy's own, straight to DynamoDB Local and not metered."""
                target = {name: value for name, value in headers.items() if name.lower() != "x-amz-target"}
                target["X-Amz-Target"] = f"DynamoDB_20120810.{operation}"
                status, _, answer = self._forward(json.dumps(params).encode(), target)
                if status != 200:
                    raise RuntimeError(f"{operation} failed in the metering proxy: {answer[:200]!r}")
                return dict(json.loads(answer))

            def _scratch_table(self, table: str, headers: dict[str, str]) -> str:
                with proxy._lock:
                    known = proxy._scratch.get(table)
                if known is None:
                    description = self._call("DescribeTable", {"TableName": table}, headers)["Table"]
                    known = f"{table}-pricing"
                    request: dict[str, Any] = {
                        "TableName": known,
                        "KeySchema": description["KeySchema"],
                        "AttributeDefinitions": description["AttributeDefinitions"],
                        "BillingMode": "PAY_PER_REQUEST",
                    }
                    indexes = [
                        {
                            "IndexName": index["IndexName"],
                            "KeySchema": index["KeySchema"],
                            "Projection": index["Projection"],
                        }
                        for index in description.get("GlobalSecondaryIndexes", [])
                    ]
                    if indexes:
                        request["GlobalSecondaryIndexes"] = indexes
                    try:
                        self._call("CreateTable", request, headers)
                    except RuntimeError as error:  # another thread created it first
                        if "ResourceInUseException" not in str(error):
                            raise
                    with proxy._lock:
                        proxy._scratch[table] = known
                return known

            def _transaction_units(self, items: list[dict[str, Any]], headers: dict[str, str]) -> float:
                """Twice what each item costs written alone (the item as the transaction left it)."""
                units = 0.0
                for entry in items:
                    (action, request), *_ = entry.items()
                    table = request["TableName"]
                    if action not in ("Put", "Update"):  # Delete, ConditionCheck: the minimum
                        units += 2.0
                        continue
                    item = request.get("Item")
                    if action == "Update":
                        read = {"TableName": table, "Key": request["Key"], "ConsistentRead": True}
                        item = self._call("GetItem", read, headers).get("Item")
                    if not item:
                        units += 2.0
                        continue
                    scratch = self._scratch_table(table, headers)
                    written = self._call(
                        "PutItem",
                        {"TableName": scratch, "Item": item, "ReturnConsumedCapacity": "TOTAL"},
                        headers,
                    )
                    units += 2.0 * _units(written.get("ConsumedCapacity"))
                return units

            def _forward(
                self, body: bytes, headers: dict[str, str]
            ) -> tuple[int, list[tuple[str, str]], bytes]:
                for attempt in range(2):
                    connection = self._upstream()
                    try:
                        connection.request("POST", "/", body, headers)
                        response = connection.getresponse()
                        return response.status, response.getheaders(), response.read()
                    except (http.client.HTTPException, OSError):
                        connection.close()
                        local.connection = None
                        if attempt:
                            raise
                raise AssertionError("unreachable")

        return Handler
