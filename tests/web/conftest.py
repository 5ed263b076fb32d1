"""Browser tests: the pages served by the real local runtime (make up's), driven in headless Chromium by
Playwright. Debian's chromium is used as it is (the Makefile installs it), so no browser is downloaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from local_runtime.dynamodb_local import free_port
from local_runtime.runtime import LocalRuntime, RuntimeOptions
from local_runtime.synth import synthesize

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
class Site:
    runtime: LocalRuntime
    session: dict[str, Any]

    def page_url(self, name: str) -> str:
        return self.runtime.pages[name]

    def client(self, service: str, plan: str, token: str | None = None) -> httpx.Client:
        headers = {"x-api-key": self.session["apiKeys"][plan]}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.session["apis"][service], headers=headers, timeout=30)

    def token(self, service: str, subject: str, *groups: str) -> str:
        return self.runtime.token(service, subject, groups)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    synthesize()
    options = RuntimeOptions(
        state_dir=tmp_path_factory.mktemp("web-state"),
        port=free_port(),
        web_port=free_port(),
        persistent=False,
        log=lambda name, line: None,
    )
    with LocalRuntime(options) as runtime:
        yield Site(runtime=runtime, session=runtime.session())


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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: its own sessionStorage, so its own signed-in user."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


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
