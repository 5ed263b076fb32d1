"""The committed OpenAPI documents are what the code generates, and the APIs in the templates
serve exactly the routes the code declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra.openapi import API_DOCS, REPO_ROOT, document
from infra.templates import api_routes

# Served by its own lean function (not the resolver), so it is documented in docs/telemetry.md.
STACKS = {"orders": "Orders", "telemetry": "Telemetry"}


@pytest.mark.parametrize("service", ["orders", "telemetry"])
def test_committed_openapi_document_matches_the_code(service):
    committed = (API_DOCS / f"{service}.json").read_text()
    assert committed == document(service), f"docs/api/{service}.json is stale: run `make openapi`"


@pytest.mark.parametrize("service", ["orders", "telemetry"])
def test_every_object_schema_names_its_fields(service):
    """A model whose schema lost its fields (as a model serializer's does: its schema is its return
    type's, a free-form object or, unannotated, nothing at all) documents nothing a client can rely on."""
    schemas = json.loads(document(service))["components"]["schemas"]
    shapes = ("properties", "enum", "$ref", "anyOf", "oneOf", "allOf")
    shapeless = [
        name
        for name, schema in schemas.items()
        if schema.get("type", "object") == "object" and not any(schema.get(key) for key in shapes)
    ]
    assert not shapeless, f"schemas without properties: {shapeless}"


def test_the_documents_are_generated_on_a_machine_with_no_aws_settings(tmp_path):
    """The API modules create their client at import (cold start); the generator must not need a region."""
    bare = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    bare.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"))
    code = "from infra.openapi import document; print(len(document('orders')), len(document('telemetry')))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=bare, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [int(size) for size in done.stdout.split()] == [
        len((API_DOCS / f"{service}.json").read_text()) for service in ("orders", "telemetry")
    ]


@pytest.mark.parametrize("service", ["orders", "telemetry"])
def test_template_routes_are_the_routes_the_code_serves(dev, service):
    spec = json.loads(document(service))
    in_code = {(method.upper(), path) for path, methods in spec["paths"].items() for method in methods}
    in_template = {
        (route.method, route.path)
        for route in api_routes(dev.templates[STACKS[service]])
        if not route.is_preflight
    }
    assert in_code == in_template


@pytest.mark.parametrize("service", ["orders", "telemetry"])
def test_every_documented_error_is_the_problem_document_the_api_answers(service):
    """Regression: Powertools documents a 422 on every validated route as application/json with its own
    HTTPValidationError, where the API answers application/problem+json with our Problem body."""
    spec = json.loads((API_DOCS / f"{service}.json").read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            assert "422" in operation["responses"], (method, path)
    # Powertools still lists its HTTPValidationError among the components; no response may point at it.
    assert "schemas/HTTPValidationError" not in json.dumps(spec["paths"])
