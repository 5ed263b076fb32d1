"""The local console (GET /_local/console on the gateway's origin) in headless Chromium: both stacks'
dashboards drawn from their templates, charts with a summary in words, the alarms list, and axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from local_runtime.console import load_dashboards
from tests.web.conftest import Site, serious_accessibility_violations

LOADED_MS = 15_000


def open_console(page: Page, site: Site) -> list[str]:
    """Some traffic for the charts, then the page; the dashboards' names."""
    with site.client("orders", "storefront") as shop:
        for _ in range(3):
            assert shop.get("/products").status_code == 200
    names = [d.name for d in load_dashboards(site.runtime.options.outdir)]
    page.goto(f"{site.runtime.gateway.config.origin}/_local/console")
    expect(page.get_by_role("heading", name="Local console", level=1)).to_be_visible(timeout=LOADED_MS)
    return names


def test_the_console_draws_both_dashboards_charts_and_the_alarms(page: Page, site: Site) -> None:
    names = open_console(page, site)
    assert len(names) >= 2
    for name in names:
        expect(page.get_by_role("heading", name=name, level=2)).to_be_visible(timeout=LOADED_MS)
    orders = page.get_by_role("region", name=next(n for n in names if n.startswith("orders")))
    expect(orders.get_by_role("heading", name="API requests")).to_be_visible()
    expect(orders.locator("canvas").first).to_be_visible(timeout=LOADED_MS)
    # each chart says what it shows in words; the requests above are in the orders API's chart
    chart = orders.get_by_role("group", name="API requests").get_by_role("img")
    expect(chart).to_have_attribute(
        "aria-label", re.compile(re.escape("Count (SampleCount per minute)")), timeout=LOADED_MS
    )
    expect(chart).not_to_have_attribute(
        "aria-label", re.compile(re.escape("Count (SampleCount per minute): no data"))
    )

    alarms = page.get_by_role("region", name="Alarms").first
    expect(alarms.get_by_role("heading", name="Alarms", level=2)).to_be_visible()
    rows = alarms.get_by_role("row")
    expect(rows).to_have_count(len(site.runtime.alarms.alarms) + 1, timeout=LOADED_MS)
    expect(alarms.get_by_role("rowheader", name="Orders-dev MonitoringApi5xx")).to_be_visible()
    # every alarm was evaluated once (the first evaluation runs at start): none is left unchecked
    expect(alarms.get_by_text("Unchecked")).to_have_count(0, timeout=LOADED_MS)
    # the alarm status widget lists the dashboard's alarms with their states
    widget = orders.get_by_role("list", name="Alarms")
    expect(widget.get_by_role("listitem")).to_have_count(
        sum(1 for a in site.runtime.alarms.alarms if a.stack.startswith("Orders")), timeout=LOADED_MS
    )


def test_no_serious_accessibility_violations(page: Page, site: Site) -> None:
    open_console(page, site)
    expect(page.locator("canvas").first).to_be_visible(timeout=LOADED_MS)
    assert serious_accessibility_violations(page) == []
