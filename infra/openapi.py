"""The OpenAPI documents of both services, generated from the code (Powertools' resolvers with
validation on; a service with several API functions gets one document, merged by Powertools'
OpenAPIMerge) and committed under docs/api/. A test fails when code and documents disagree.

    python -m infra.openapi          # rewrite docs/api/*.json
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

REPO_ROOT = Path(__file__).resolve().parents[1]
API_DOCS = REPO_ROOT / "docs" / "api"
SERVICES = {
    "orders": (("orders.handlers.api",), "Orders and payments", {"ORDERS_TABLE_NAME": "orders"}),
    "telemetry": (
        ("telemetry.handlers.api", "telemetry.handlers.ingest"),
        "Telemetry",
        {"TELEMETRY_TABLE_NAME": "telemetry"},
    ),
}


def document(service: str) -> str:
    module_names, title, environment = SERVICES[service]
    # The module reads its settings and creates its DynamoDB client at import, as at cold start, where
    # Lambda always sets the region; the client never calls anything here.
    for name, value in {**environment, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    for path in (str(REPO_ROOT / "shared" / "python"), str(REPO_ROOT / "services" / service)):
        if path not in sys.path:
            sys.path.append(path)
    merged = OpenAPIMerge(title=f"{title} API", version="1.0.0", on_conflict="error")
    for module_name in module_names:
        merged.add_schema(importlib.import_module(module_name).app.get_openapi_schema())
    return json.dumps(json.loads(merged.get_openapi_json_schema()), indent=2, sort_keys=True) + "\n"


def main() -> None:
    API_DOCS.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (API_DOCS / f"{service}.json").write_text(document(service))
        print(f"wrote docs/api/{service}.json")


if __name__ == "__main__":
    main()
