"""Swagger UI on the local runtime (GET /_local/api/{service}) in headless Chromium: every operation of the
OpenAPI document listed, and "Try it out" answered by the gateway with the page's API key."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from local_runtime.api_docs import OPENAPI
from tests.web.conftest import Site

LOADED_MS = 15_000


@pytest.mark.parametrize("service", sorted(OPENAPI))
def test_swagger_ui_lists_every_operation_of_the_document(page: Page, site: Site, service: str) -> None:
    document = json.loads(OPENAPI[service].read_text())
    operations = sum(len(methods) for methods in document["paths"].values())
    page.goto(f"{site.runtime.gateway.config.origin}/_local/api/{service}")
    expect(page.locator(".opblock")).to_have_count(operations, timeout=LOADED_MS)


def test_try_it_out_goes_through_the_gateway_with_the_pages_api_key(page: Page, site: Site) -> None:
    page.goto(f"{site.runtime.gateway.config.origin}/_local/api/orders")
    products = page.locator(".opblock-get").filter(has=page.locator('[data-path="/products"]')).first
    products.locator(".opblock-summary").click()
    products.get_by_role("button", name="Try it out").click()
    products.get_by_role("button", name="Execute").click()
    status = products.locator(".live-responses-table .response .response-col_status").first
    # 200 only if the gateway accepted the key the page filled in (a request without one is a 403)
    expect(status).to_have_text(re.compile(r"^\s*200"), timeout=LOADED_MS)
    expect(products.locator(".live-responses-table .microlight").first).to_contain_text('"productId"')
