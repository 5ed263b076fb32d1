"""The committed OpenAPI documents are what the code generates, and the APIs in the templates
serve exactly the routes the code declares."""

from __future__ import annotations

import json

import pytest

from infra.openapi import API_DOCS, document
from infra.templates import api_routes

# Served by its own lean function (not the resolver), so it is documented in docs/telemetry.md.
ROUTES_OUTSIDE_THE_RESOLVER = {"telemetry": {("POST", "/devices/{deviceId}/telemetry")}}
STACKS = {"orders": "Orders", "telemetry": "Telemetry"}


@pytest.mark.parametrize("service", ["orders", "telemetry"])
def test_committed_openapi_document_matches_the_code(service):
    committed = (API_DOCS / f"{service}.json").read_text()
    assert committed == document(service), f"docs/api/{service}.json is stale: run `make openapi`"


@pytest.mark.parametrize("service", ["orders", "telemetry"])
def test_template_routes_are_the_routes_the_code_serves(dev, service):
    spec = json.loads(document(service))
    in_code = {(method.upper(), path) for path, methods in spec["paths"].items() for method in methods}
    in_code |= ROUTES_OUTSIDE_THE_RESOLVER.get(service, set())
    in_template = {
        (route.method, route.path)
        for route in api_routes(dev.templates[STACKS[service]])
        if not route.is_preflight
    }
    assert in_code == in_template
