"""Screenshots of the pages as people see them: `make screenshots` keeps them in docs/screenshots
(SCREENSHOTS_DIR); otherwise they go to a temporary directory, and each test still checks it wrote a real image."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web import test_console
from tests.web.conftest import PHONE, Site
from tests.web.test_fleet import FIRST, open_console, seed_device, show_device
from tests.web.test_storefront import FILTERS, add_to_cart, buy, new_user, open_storefront

DESKTOP = {"width": 1280, "height": 800}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    configured = os.environ.get("SCREENSHOTS_DIR")
    directory = Path(configured) if configured else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def assert_png(path: Path, viewport: dict[str, int]) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (viewport["width"], viewport["height"]), (width, height)
    assert len(data) > 20_000, f"{path} is {len(data)} bytes: a blank page?"


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


def storefront_with_an_order_and_a_cart(page: Page, site: Site) -> None:
    open_storefront(page, site, new_user("ada"))
    buy(page)
    add_to_cart(page, FILTERS)
    expect(page.get_by_label(f"Quantity of {FILTERS}")).to_be_visible()


def test_storefront_screenshot(desktop: Page, site: Site, screenshots: Path) -> None:
    storefront_with_an_order_and_a_cart(desktop, site)
    desktop.evaluate("window.scrollTo(0, 0)")  # clicking scrolled the page down to the buttons
    desktop.screenshot(path=screenshots / "storefront.png")
    assert_png(screenshots / "storefront.png", DESKTOP)


def test_storefront_phone_screenshot(phone: Page, site: Site, screenshots: Path) -> None:
    storefront_with_an_order_and_a_cart(phone, site)
    # The cart and the paid order, rather than the top of the catalogue, are what differs on a phone.
    phone.get_by_role("heading", name="Cart").evaluate("(heading) => heading.scrollIntoView()")
    phone.screenshot(path=screenshots / "storefront-phone.png")
    assert_png(screenshots / "storefront-phone.png", PHONE)


def test_fleet_screenshot(desktop: Page, site: Site, screenshots: Path) -> None:
    """The device list beside a selected device: its chart of a few minutes of readings, and its alerts."""
    device_id = seed_device(site)
    open_console(desktop, site)
    show_device(desktop, device_id)
    desktop.get_by_label("Metric", exact=True).select_option("temperature")
    chart = desktop.get_by_role("img", name=re.compile(r"^temperature per minute"))
    expect(chart).to_be_visible(timeout=FIRST)
    desktop.evaluate("window.scrollTo(0, 0)")
    desktop.screenshot(path=screenshots / "fleet.png")
    assert_png(screenshots / "fleet.png", DESKTOP)


def test_console_screenshot(desktop: Page, site: Site, screenshots: Path) -> None:
    """The local console: the orders dashboard's charts with the requests just made, and the alarms."""
    names = test_console.open_console(desktop, site)
    orders = desktop.get_by_role("region", name=next(n for n in names if n.startswith("orders")))
    expect(orders.locator("canvas").first).to_be_visible(timeout=test_console.LOADED_MS)
    orders.get_by_role("heading", level=2).first.evaluate("(heading) => heading.scrollIntoView()")
    desktop.screenshot(path=screenshots / "console.png")
    assert_png(screenshots / "console.png", DESKTOP)
