"""The fleet console (web/fleet/) in Chromium against the local runtime: an operator registers a device and
copies its token, the project's device client posts readings with that token while the page charts them,
rules raise alerts, the API's 422, 403 and 429 read as words, the list pages, axe finds nothing serious, and
the console fits a phone.

Devices get uuid ids, so tests share the session's runtime without seeing each other's data.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from clients.config import Endpoint
from clients.devices import DeviceClient, Reading
from tests.web.conftest import Site, page_without_errors, serious_accessibility_violations, sign_in

OPERATOR = "olivia"
# A page's first calls can each start a new Lambda environment locally (the page sends several at once, and a
# busy machine makes a cold start take seconds), so the first answer of each kind gets longer than 5 s.
FIRST = 20_000


def new_device_id() -> str:
    return f"web-{uuid.uuid4().hex[:12]}"


def open_console(page: Page, site: Site, user: str = OPERATOR, *, admin: bool = True) -> None:
    page.goto(site.page_url("fleet"))
    sign_in(page, user, admin=admin)


def device_button(page: Page, device_id: str) -> Locator:
    """The device's button in the list, paging with "More devices" until it shows (the list is by id, and
    other tests' devices share it)."""
    button = page.get_by_role("button", name=device_id, exact=True)
    more = page.get_by_role("button", name="More devices")
    expect(page.get_by_role("table", name=re.compile("Registered devices"))).to_be_visible(timeout=FIRST)
    deadline = time.monotonic() + FIRST / 1000
    while not button.is_visible():
        assert time.monotonic() < deadline, f"{device_id} is not in the list"
        if more.is_visible():
            more.click()
        page.wait_for_timeout(300)
    return button


def device_row(page: Page, device_id: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("button", name=device_id, exact=True))


def register_on_page(page: Page, device_id: str, name: str = "Boiler room") -> str:
    """Registers through the form and returns the token the page shows once."""
    page.get_by_label("Device id").fill(device_id)
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Register device").click()
    token = page.get_by_label("Device token")
    expect(token).to_have_value(re.compile(rf"^{device_id}\..+"), timeout=FIRST)
    return token.input_value()


def device_client(site: Site, token: str) -> DeviceClient:
    endpoint = Endpoint(site.session["apis"]["telemetry"], site.session["apiKeys"]["fleet"], token)
    return DeviceClient.connect(endpoint)


def add_rule(page: Page, number: int, metric: str, op: str, threshold: str) -> None:
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label(f"Metric of rule {number}").fill(metric)
    page.get_by_label(f"Condition of rule {number}").select_option(op)
    page.get_by_label(f"Threshold of rule {number}").fill(threshold)


def table_rows(page: Page, name: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("table", name=name).locator("tbody tr")


def readings_in_chart_table(page: Page) -> int:
    """The sum of the data table's Readings column (the first cell after the minute's row header)."""
    counts = table_rows(page, re.compile("per minute")).locator("td:first-of-type").all_inner_texts()
    return sum(int(count) for count in counts if count.isdigit())


@pytest.fixture
def clipboard_page(browser: Browser) -> Iterator[Page]:
    """Like conftest's ``page``, with the clipboard granted so the copied token can be read back."""
    yield from page_without_errors(browser, permissions=["clipboard-read", "clipboard-write"])


def test_an_operator_registers_a_device_and_copies_its_token_once(clipboard_page: Page, site: Site) -> None:
    page = clipboard_page
    open_console(page, site)
    device_id = new_device_id()
    token = register_on_page(page, device_id)

    expect(page.get_by_role("heading", name=f"Token for {device_id}")).to_be_focused()
    expect(page.get_by_text("It won't be shown again")).to_be_visible()
    page.get_by_role("button", name="Copy token").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Token copied")).to_have_count(1)
    assert page.evaluate("navigator.clipboard.readText()") == token

    expect(device_button(page, device_id)).to_be_visible()
    expect(device_row(page, device_id)).to_contain_text("Boiler room")
    expect(device_row(page, device_id)).to_contain_text("never")
    # The new device is selected, so its panel is there at once.
    expect(page.get_by_role("heading", name=f"Device {device_id} (Boiler room)")).to_be_visible(timeout=FIRST)

    page.get_by_role("button", name="Done, hide the token").click()
    expect(page.get_by_label("Device token")).to_have_count(0)
    expect(page.get_by_label("Device id")).to_be_focused()
    assert token not in page.content()


def post_rising_temperature(
    site: Site, token: str, samples: int, interval_s: float
) -> tuple[threading.Thread, list[BaseException]]:
    """The device, as the fleet simulator runs it: readings at the current time, temperature rising 0.5 a
    sample from 20, humidity beside it; in a background thread so the page can be watched meanwhile."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with device_client(site, token) as device:
                for i in range(samples):
                    now = int(time.time() * 1000)
                    device.post_readings(
                        [
                            Reading(ts=now, metric="temperature", value=20 + 0.5 * i),
                            Reading(ts=now, metric="humidity", value=40 + 0.1 * i),
                        ]
                    )
                    time.sleep(interval_s)
        except BaseException as error:
            failures.append(error)
            raise

    thread = threading.Thread(target=run, name="device", daemon=True)
    thread.start()
    return thread, failures


def test_the_chart_list_and_alerts_follow_the_simulated_device(page: Page, site: Site) -> None:
    open_console(page, site)
    device_id = new_device_id()
    token = register_on_page(page, device_id)
    page.get_by_role("button", name="Done, hide the token").click()
    expect(page.get_by_text("No readings yet: the chart starts")).to_be_visible(timeout=FIRST)

    add_rule(page, 1, "temperature", "gt", "24")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_role("status").filter(has_text="Rules saved: 1 rule.")).to_be_visible(timeout=FIRST)

    samples = 20  # 20 → 29.5: the 11 readings above 24 alert
    device, failures = post_rising_temperature(site, token, samples, interval_s=0.5)

    metric = page.get_by_label("Metric", exact=True)
    expect(metric).to_be_visible(timeout=FIRST)
    metric.select_option("temperature")
    chart = page.get_by_role("img", name=re.compile(r"^temperature per minute"))
    expect(chart).to_have_attribute("aria-label", re.compile(r": [1-9]\d* readings? in"), timeout=10_000)
    page.get_by_text("Chart data as a table").click()
    first = readings_in_chart_table(page)
    assert first > 0
    # Still rising while the device posts: the page refreshes every 2 s without being asked.
    page.wait_for_function(
        """first => [...document.querySelectorAll("details table tbody tr td:first-of-type")]
             .reduce((sum, cell) => sum + (Number(cell.textContent) || 0), 0) > first""",
        arg=first,
        timeout=10_000,
    )
    device.join(timeout=30)
    assert not failures, failures

    expect(chart).to_have_attribute("aria-label", re.compile(rf": {samples} readings in"), timeout=10_000)
    assert readings_in_chart_table(page) == samples
    expect(page.locator(".chart canvas").first).to_be_visible()

    row = device_row(page, device_id)
    expect(row).to_contain_text("temperature: 29.5", timeout=10_000)
    expect(row).not_to_contain_text("never")
    expect(page.get_by_text(re.compile(r"^Last seen: "))).not_to_contain_text("never")

    alerts = table_rows(page, re.compile("Alerts of"))
    expect(alerts).to_have_count(11, timeout=10_000)
    newest = alerts.first
    expect(newest).to_contain_text("29.5")
    expect(newest).to_contain_text("temperature > 24")
    expect(alerts.last).to_contain_text("24.5")


def test_the_rules_editor_words_a_422_per_field(page: Page, site: Site) -> None:
    open_console(page, site)
    device_id = new_device_id()
    register_on_page(page, device_id)

    add_rule(page, 1, "room temperature", "gte", "30")
    page.get_by_role("button", name="Add rule").click()  # rule 2: metric and threshold left blank
    page.get_by_role("button", name="Save rules").click()

    problem = page.get_by_role("alert").filter(has_text="The rules were not saved")
    expect(problem).to_be_visible(timeout=FIRST)
    expect(problem.get_by_role("listitem")).to_have_count(3)
    expect(problem).to_contain_text("Rule 1, metric: a metric name starts with a letter")
    expect(problem).to_contain_text("Rule 2, metric")
    expect(problem).to_contain_text("Rule 2, threshold")
    expect(page.get_by_label("Metric of rule 1")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Threshold of rule 1")).not_to_have_attribute("aria-invalid", "true")

    # Fixed, the same editor saves; removing a row renumbers the rest.
    page.get_by_role("button", name="Remove rule 2").click()
    expect(page.get_by_role("button", name="Add rule")).to_be_focused()
    page.get_by_label("Metric of rule 1").fill("room_temperature")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_role("status").filter(has_text="Rules saved: 1 rule.")).to_be_visible(timeout=FIRST)
    expect(problem).to_have_count(0)


def test_a_non_administrator_reads_why_the_console_refuses(page: Page, site: Site) -> None:
    open_console(page, site, "casey", admin=False)
    expect(page.get_by_role("heading", name="Administrators only")).to_be_visible(timeout=FIRST)
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("casey is not an administrator")
    expect(refusal).to_contain_text("403")
    expect(page.get_by_role("button", name="Register device")).to_have_count(0)


def test_throttling_reads_as_words_and_the_list_recovers(page: Page, site: Site) -> None:
    """API Gateway's 429, every time: the shared client retries with backoff, then the page says so and
    keeps everything else on screen; once the API answers again the next refresh clears the message."""
    open_console(page, site)
    expect(page.get_by_role("table", name=re.compile("Registered devices"))).to_be_visible(timeout=FIRST)
    throttled = {"count": 0}

    def too_many(route: Route) -> None:
        throttled["count"] += 1
        route.fulfill(
            status=429,
            headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"},
            body=json.dumps({"message": "Too Many Requests"}),
        )

    listing = re.compile(r"/devices\?")
    page.route(listing, too_many)
    problem = page.get_by_role("alert").filter(has_text="The device list could not be refreshed")
    expect(problem).to_contain_text("Too many requests right now", timeout=15_000)
    assert throttled["count"] >= 5  # retried before it was shown
    expect(page.get_by_role("table", name=re.compile("Registered devices"))).to_be_visible()
    expect(page.get_by_role("button", name="Register device")).to_be_enabled()

    page.unroute(listing)
    expect(problem).to_have_count(0, timeout=10_000)


def test_more_devices_pages_through_the_fleet(page: Page, site: Site) -> None:
    """More than a page of devices (20 a page): the list shows one page, "More devices" the next."""
    token = site.token("telemetry", "seeder", "admin")
    with site.client("telemetry", "operator", token) as admin:
        for _ in range(21):
            admin.post("/devices", json={"deviceId": new_device_id()}).raise_for_status()
            time.sleep(0.1)  # within the operator plan's 10 requests a second
    open_console(page, site)
    rows = table_rows(page, re.compile("Registered devices"))
    expect(rows).to_have_count(20, timeout=FIRST)
    page.get_by_role("button", name="More devices").click()
    expect(rows).not_to_have_count(20)
    assert rows.count() > 20
    page.wait_for_timeout(2500)  # a refresh walks both pages again: the second stays
    assert rows.count() > 20


def seed_device(site: Site, minutes: int = 6) -> str:
    """A device with a rule and a few minutes of readings up to now (some alerting), registered and fed
    through the APIs; returns once the processor has caught up, so a page shows all of it at once."""
    admin = site.client("telemetry", "operator", site.token("telemetry", "seeder", "admin"))
    with admin:
        device_id = new_device_id()
        created = admin.post("/devices", json={"deviceId": device_id, "name": "Cold store"})
        created.raise_for_status()
        rule = {"metric": "temperature", "op": "gt", "threshold": 23}
        admin.put(f"/devices/{device_id}/rules", json={"rules": [rule]}).raise_for_status()
        now = int(time.time() * 1000)
        start = now - minutes * 60_000
        readings = [
            Reading(ts=start + i * 10_000, metric=metric, value=round(value, 2))
            for i in range(minutes * 6 + 1)
            for metric, value in (("temperature", 21 + 0.1 * i + (i % 5) * 0.3), ("humidity", 45 - 0.2 * i))
        ]
        with device_client(site, created.json()["token"]) as device:
            device.post_readings(readings)
        newest = max(r.ts for r in readings)
        deadline = time.monotonic() + 30
        while admin.get(f"/devices/{device_id}").json().get("lastSeen") != newest:
            assert time.monotonic() < deadline, "the processor did not catch up"
            time.sleep(0.2)
    return device_id


def show_device(page: Page, device_id: str) -> None:
    device_button(page, device_id).click()
    expect(page.get_by_role("heading", name=re.compile(f"^Device {device_id}"))).to_be_focused()
    expect(page.get_by_role("img", name=re.compile(r"readings in \d+ minutes"))).to_be_visible(timeout=FIRST)
    expect(table_rows(page, re.compile("Alerts of")).first).to_be_visible(timeout=FIRST)


@pytest.fixture(scope="module")
def seeded(site: Site) -> str:
    return seed_device(site)


def test_axe_finds_nothing_serious_on_the_console(page: Page, site: Site, seeded: str) -> None:
    device_id = seeded
    open_console(page, site)
    show_device(page, device_id)
    page.get_by_text("Chart data as a table").click()
    page.get_by_role("button", name="Add rule").click()

    assert serious_accessibility_violations(page) == []


def test_the_console_fits_a_phone(phone: Page, site: Site, seeded: str) -> None:
    device_id = seeded
    open_console(phone, site)
    show_device(phone, device_id)
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    chart = phone.locator(".chart canvas").first.bounding_box()
    assert chart is not None
    assert chart["width"] <= 390
