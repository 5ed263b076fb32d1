"""Browser tests: the pages served by the real local runtime (make up's), driven in headless Chromium by
Playwright. Debian's chromium is used as it is (the Makefile installs it), so no browser is downloaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from local_runtime.dynamodb_local import free_port
from tests.e2e.conftest import System, running_system

# Headless, and quiet: this machine's network is closed, and Chromium's background services would try it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@dataclass
class Site(System):
    """The running system, with the pages it serves on their own origin."""

    def page_url(self, name: str) -> str:
        return self.runtime.pages[name]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_system(tmp_path_factory.mktemp("web-state"), web_port=free_port()) as started:
        yield Site(runtime=started.runtime, session=started.session, logs=started.logs)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which(os.environ.get("CHROMIUM", "chromium"))
    if executable is None:
        pytest.fail("chromium is not installed: `make test` and `make web-test` install Debian's chromium")
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def page_without_errors(browser: Browser, **context_options: Any) -> Iterator[Page]:
    """A page in a browser context of its own, failing the test if the page throws an uncaught error."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: its own sessionStorage, so its own signed-in user."""
    yield from page_without_errors(browser)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, user: str, *, admin: bool = False) -> None:
    """On a page showing a "Sign in" button: go through the managed login and come back signed in."""
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("User name").fill(user)
    if admin:
        page.get_by_label("Administrator").check()
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {user}").wait_for()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's run on the page as it is: every finding printed, the serious and critical ones returned."""
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("axe.run()")
    review = sorted(rule["id"] for rule in results["incomplete"])
    print(
        f"axe: {len(results['passes'])} rules pass, {len(results['violations'])} fail, to review by hand: {review}"
    )
    for violation in results["violations"]:
        nodes = [node["target"] for node in violation["nodes"]]
        print(f"axe: {violation['impact']} {violation['id']}: {violation['help']} {nodes}")
    return [v["id"] for v in results["violations"] if v["impact"] in ("serious", "critical")]
