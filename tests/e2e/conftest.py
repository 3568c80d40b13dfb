"""Browser tests: one `promptpilot ui` process for the package, one Chromium per person.

The app runs on 127.0.0.1 with the real embedded model, started once (the model
start is paid once) and stopped (SIGTERM) after the last browser test. Each
simulated person gets a Chromium with a fresh temporary profile. Screenshots go
to ``$PROMPTPILOT_ARTIFACTS`` or ``test-artifacts/e2e/`` (git-ignored).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Playwright, sync_playwright

from tests.e2e.app_process import UiApp, start_ui, stop_ui
from tests.e2e.eval_files import write_sentiment_csv
from tests.e2e.pilot_page import PilotPage

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
VIEWPORT = {"width": 1440, "height": 1000}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """Remember whether the test body failed, so fixtures can save what the page showed."""
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """Where screenshots go: ``$PROMPTPILOT_ARTIFACTS`` or ``test-artifacts/e2e/``."""
    path = Path(os.environ.get("PROMPTPILOT_ARTIFACTS") or ROOT / "test-artifacts" / "e2e")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="package")
def chromium() -> Path:
    """Debian's Chromium; missing it fails in CI (skipping would hide the UI tests)."""
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} not found: install it with `make chromium` (apt-get install chromium)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="package")
def ui_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiApp]:
    """`promptpilot ui --port 0 --home TMP` on the embedded model, shared by all browser tests."""
    app = start_ui(tmp_path_factory.mktemp("ui-home"))
    yield app
    if not stop_ui(app):
        warnings.warn(
            "`promptpilot ui` or its children outlived SIGTERM and were killed\n" + app.log_tail(),
            stacklevel=1,
        )


@pytest.fixture(scope="package")
def playwright(chromium: Path) -> Iterator[Playwright]:
    """The Playwright driver, for this package's tests only."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def open_user(
    request: pytest.FixtureRequest,
    playwright: Playwright,
    chromium: Path,
    ui_app: UiApp,
    artifacts: Path,
) -> Iterator[Callable[[str], PilotPage]]:
    """Open the app as a new person: own Chromium, own temporary profile, own session.

    ``open_user(name)`` returns a :class:`PilotPage` on the app's URL. On failure,
    every open page is screenshotted and the app's log tail is printed.
    """
    contexts: list[tuple[BrowserContext, PilotPage]] = []
    profiles: list[tempfile.TemporaryDirectory] = []

    def open_one(name: str) -> PilotPage:
        profile = tempfile.TemporaryDirectory(prefix="pp-chromium-")
        profiles.append(profile)
        context = playwright.chromium.launch_persistent_context(
            profile.name,
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            accept_downloads=True,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(30_000)
        page = PilotPage(context.pages[0] if context.pages else context.new_page(), artifacts, name)
        contexts.append((context, page))
        return page.open(ui_app.url)

    yield open_one
    if request.node.stash.get(FAILED, False):
        for _, page in contexts:
            try:
                print(f"screenshot: {page.screenshot('FAILED')}")
            except Exception as exc:  # the page may be what broke; the log still helps
                print(f"no screenshot of {page.name}: {exc}")
        print(ui_app.log_tail())
    for context, _ in contexts:
        context.close()
    for profile in profiles:
        profile.cleanup()


@pytest.fixture
def sentiment_csv(tmp_path: Path) -> Path:
    """A 40-row sentiment eval set (``text,label``) to upload."""
    return write_sentiment_csv(tmp_path / "sentiment.csv")
