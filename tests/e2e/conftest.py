"""Real-browser fixtures: Debian's Chromium driven by Playwright's sync API against ``live_server``.

- One browser per test session (``_chromium``); each test gets a fresh context and page
  (``browser_page``, logged out). ``admin_login(page, live_server, username)`` signs a factory
  user in through the admin login form (factory users' password is ``FACTORY_PASSWORD``).
- Without /usr/bin/chromium (or the playwright package) the browser tests skip and say why;
  under ``CI=true`` that is a failure instead (``.ci/run`` installs Chromium because
  ``tests/e2e/REQUIRES_CHROMIUM`` exists).
- Playwright's sync API runs an event loop in the test thread, so Django's ORM refuses to run
  there unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set; it is set while the browser is up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("OMNI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
FACTORY_PASSWORD = "pw-12345-omni"  # tests/inventory/factories.py UserFactory
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(os.environ.get("OMNI_E2E_SCREENSHOTS", "/tmp"))


def _unavailable_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="session")
def _chromium():
    reason = _unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_page(_chromium, live_server) -> Iterator:
    """A logged-out page in a fresh browser context (own cookies), 1280 px wide."""
    context = _chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def admin_login(page, live_server, username: str, password: str = FACTORY_PASSWORD) -> None:
    """Sign in through the admin login form, as a person would."""
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[type=submit]")
    page.wait_for_load_state("domcontentloaded")


@pytest.fixture
def merchandiser(db):
    from tests.inventory.factories import MerchandiserFactory

    return MerchandiserFactory(username="mira")


@pytest.fixture
def merchandiser_page(browser_page, live_server, merchandiser):
    """``browser_page`` signed in to the admin as the merchandiser ``mira``."""
    admin_login(browser_page, live_server, merchandiser.username)
    assert browser_page.url.rstrip("/").endswith("/admin"), f"login failed, landed on {browser_page.url}"
    return browser_page


def shot(page, name: str) -> Path:
    """Full-page screenshot to <SCREENSHOTS>/e2e-<name>.png, to look at when changing a page."""
    path = SCREENSHOTS / f"e2e-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


VIEWPORTS = {"handheld": {"width": 390, "height": 844}, "tablet": {"width": 1280, "height": 800}}


@pytest.fixture(params=sorted(VIEWPORTS))
def device(request) -> str:
    """Run a store test on a handheld scanner (390 px) and on a tablet (1280 px)."""
    return request.param


@pytest.fixture
def store_page(_chromium, live_server, device) -> Iterator:
    """A logged-out page of the device's width (``device``), for the store app."""
    context = _chromium.new_context(viewport=VIEWPORTS[device], locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.device = device  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def store_login(page, live_server, username: str, password: str = FACTORY_PASSWORD) -> None:
    """Sign in through the store's sign-in form at the site root, as staff would."""
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_load_state("domcontentloaded")


def assert_accessible(page, name: str) -> None:
    """axe-core (shipped inside axe-playwright-python) finds no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
           for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert bad == [], f"{name}: " + "; ".join(bad)
