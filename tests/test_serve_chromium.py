"""The studio in a real browser: Playwright for Python driving Debian's Chromium.

Each test serves a copy of the demo content (uvicorn in a thread, the watcher on) and drives
the pages as an editor would: pick a customer, edit and break atoms on disk, compare segments.
Every https request of a rendered message (images) is answered locally with a 1x1 PNG, so no
test needs the network. Screenshots of every page go to the test's artefact folder
(``$ATOMIC_ARTEFACTS`` when set, else a pytest temporary folder); with ``--update-golden`` the
message page is also written to docs/img/serve.png for the README.

Skipped when Chromium (or Playwright) is missing, unless ``ATOMIC_REQUIRE_CHROMIUM=1`` (CI),
where that fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atomic_content.plan import journey_audiences
from atomic_content.segments import SegmentIndex
from atomic_content.serve import StudioConfig
from atomic_content.serve.server import Running, serve_in_thread
from atomic_content.validate import load_library
from conftest import DEMO_CONTENT, REPO

pytestmark = pytest.mark.chromium

DAY = dt.date(2026, 11, 22)
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_1X1 = base64.b64decode(  # a light grey 3:1 picture: a stand-in for every remote image
    "iVBORw0KGgoAAAANSUhEUgAAAAMAAAABCAIAAACUgoPjAAAADklEQVR4nGO4cecKBAEAJg4HmcIXPI8AAAAASUVORK5CYII="
)
EMAIL = "/message?journey=welcome&step=day-0&channel=email&customer=anna"
HEADLINE = Path("atoms/welcome/welcome-day0-headline-de-at.yaml")


def _missing(reason: str) -> None:
    if os.environ.get("ATOMIC_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"{reason} (ATOMIC_REQUIRE_CHROMIUM=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing("Chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("ATOMIC_ARTEFACTS")
    if folder:
        path = Path(folder) / "serve"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("serve-screenshots")


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[Running, Path]]:
    """A studio on a fresh copy of the demo content, for tests that edit files."""
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    with serve_in_thread(StudioConfig(content, start=DAY)) as running:
        yield running, content


@pytest.fixture(scope="module")
def shared_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    """One studio for the tests that only look."""
    content = tmp_path_factory.mktemp("serve-shared") / "content"
    shutil.copytree(DEMO_CONTENT, content)
    with serve_in_thread(StudioConfig(content, start=DAY)) as running:
        yield running, content


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    the_page = context.new_page()
    the_page.route(
        "https://**/*",
        lambda route: route.fulfill(status=200, content_type="image/png", body=PNG_1X1),
    )
    the_page.on("pageerror", lambda exc: errors.append(str(exc)))
    the_page.errors = errors
    try:
        yield the_page
    finally:
        context.close()


def email_text(page: Any) -> str:
    """The text of the desktop email frame."""
    return str(page.frame_locator("iframe.desktop").locator("body").inner_text(timeout=30_000))


def wait_until(predicate: Any, timeout: float = 20.0) -> float:
    """Seconds until ``predicate()`` held (AssertionError after ``timeout``)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if predicate():
                return time.monotonic() - began
        except Exception:  # the page is reloading: try again
            pass
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def test_picking_a_customer_changes_the_headline(
    shared_studio: tuple[Running, Path], page: Any, artefacts: Path, request: pytest.FixtureRequest
) -> None:
    running, _content = shared_studio
    page.goto(running.url + EMAIL)
    assert "Servus Anna" in email_text(page)
    assert page.get_by_test_id("audience").inner_text() == "dach"
    page.screenshot(path=artefacts / "message-email.png")
    if request.config.getoption("--update-golden"):
        (REPO / "docs" / "img").mkdir(exist_ok=True)
        page.set_viewport_size({"width": 1500, "height": 1250})
        page.screenshot(path=REPO / "docs" / "img" / "serve.png")
        page.set_viewport_size({"width": 1500, "height": 1000})
    with page.expect_navigation():
        page.select_option("#customer", "oliver")
    assert "customer=oliver" in page.url
    text = email_text(page)
    assert "Servus Anna" not in text
    assert "Oliver" in text
    assert page.get_by_test_id("variant").inner_text().startswith("welcome/day-0/email/en/")
    # Dark mode and the plain text are on the same page.
    with page.expect_navigation():
        page.select_option("select[name=scheme]", "dark")
    assert "scheme=dark" in page.frame_locator("iframe.mobile").locator(":root").evaluate(
        "() => location.href"
    )
    assert "Oliver" in page.get_by_test_id("plain-text").inner_text()
    page.screenshot(path=artefacts / "message-email-dark.png")
    assert page.errors == []


def test_every_channel_view(
    shared_studio: tuple[Running, Path], page: Any, artefacts: Path
) -> None:
    running, _content = shared_studio
    page.goto(running.url + "/message?journey=cart-recovery&step=nudge-1h&customer=tom")
    assert page.get_by_test_id("push-title").inner_text().strip()
    assert page.locator(".badge", has_text="Push payload").count() == 1
    page.screenshot(path=artefacts / "message-push.png")
    page.goto(running.url + "/message?journey=welcome&step=day-0&channel=app&customer=anna")
    assert page.get_by_test_id("app-card").is_visible()
    page.screenshot(path=artefacts / "message-card.png")
    page.goto(running.url + "/message?journey=welcome&step=day-3&channel=microsite&customer=lea")
    assert page.locator("iframe.page").count() == 1
    page.screenshot(path=artefacts / "message-microsite.png")
    page.goto(running.url + "/coverage")
    cells = page.locator("#heatmap td.cov a")
    assert cells.count() > 0
    with page.expect_navigation():
        cells.first.click()
    assert "audience=" in page.url
    assert page.get_by_test_id("variant").inner_text()
    page.goto(running.url + "/coverage")
    page.screenshot(path=artefacts / "coverage.png")
    assert page.errors == []


def test_a_save_reloads_the_page(studio: tuple[Running, Path], page: Any, artefacts: Path) -> None:
    running, content = studio
    page.goto(running.url + EMAIL)
    assert "Servus Anna" in email_text(page)
    atom = content / HEADLINE
    original = atom.read_text(encoding="utf-8")
    atom.write_text(original.replace("Servus", "Grüß Gott"), encoding="utf-8")
    seconds = wait_until(lambda: "Grüß Gott Anna" in email_text(page))
    (artefacts / "save-to-browser-seconds.txt").write_text(f"{seconds:.3f}\n", encoding="utf-8")
    page.screenshot(path=artefacts / "message-after-save.png")

    # Break the atom: the page shows the positioned diagnostic instead of the message.
    atom.write_text(original.replace("slot: headline", "slot: headline\nslot: twice"), "utf-8")
    wait_until(lambda: page.locator("#content-errors").count() == 1)
    diagnostic = page.locator("#diagnostics li").first
    assert HEADLINE.as_posix() in diagnostic.inner_text()
    page.screenshot(path=artefacts / "diagnostics.png")

    # Fix it: the message comes back without a manual reload.
    atom.write_text(original, encoding="utf-8")
    wait_until(
        lambda: page.locator("#content-errors").count() == 0 and "Servus Anna" in email_text(page)
    )
    assert page.errors == []


def test_segment_grid_shows_every_segment(
    shared_studio: tuple[Running, Path], page: Any, artefacts: Path
) -> None:
    running, content = shared_studio
    library, _warnings = load_library(content, DAY)
    journey = library.journeys["welcome"]
    expected = journey_audiences(SegmentIndex(library.segments, library.profile), journey)
    page.goto(running.url + "/grid?journey=welcome&step=day-0&channel=email&locale=de")
    shown = page.locator("#segment-grid .grid-cell").evaluate_all(
        "cells => cells.map(c => c.dataset.audience)"
    )
    assert sorted(shown) == sorted(expected)
    assert "generic" in shown and len(shown) == len(journey.segments or []) + 1
    for audience in expected:
        cell = page.locator(f'.grid-cell[data-audience="{audience}"]')
        assert cell.locator("iframe[sandbox='']").count() == 1
        assert cell.locator(".variant").inner_text().endswith(f"/{audience}")
    page.screenshot(path=artefacts / "segment-grid.png", full_page=True)


def test_frames_cannot_run_script(studio: tuple[Running, Path], page: Any, artefacts: Path) -> None:
    running, content = studio
    attack = (
        "<script>document.body.dataset.ran = '1'; try { parent.document.title = 'pwned' }"
        " catch (e) {}</script><p>attack</p>"
    )
    # Control: without the studio's sandbox and CSP this document does run its script.
    page.set_content(f"<html><body>{attack}</body></html>")
    assert page.evaluate("() => document.body.dataset.ran") == "1"

    # An atom cannot carry the script: validate refuses raw HTML, and the studio says so.
    page.goto(running.url + EMAIL)
    atom = content / HEADLINE
    original = atom.read_text(encoding="utf-8")
    hostile = 'text: "Servus <script>parent.document.title=`pwned`</script>"'
    atom.write_text(
        "\n".join(hostile if line.startswith("text:") else line for line in original.splitlines())
        + "\n",
        encoding="utf-8",
    )
    wait_until(lambda: page.locator('li[data-code="markdown.raw_html"]').count() == 1)
    assert page.title() != "pwned"

    # A document with a live script under the content folder (the studio serves files there).
    (content / "evil.html").write_text(
        f"<!doctype html><html><body>{attack}</body></html>", encoding="utf-8"
    )
    atom.write_text(original, encoding="utf-8")
    wait_until(lambda: "Servus Anna" in email_text(page))
    time.sleep(0.5)  # both files are in the last check: no reload comes while we look
    # The served document with a live script, in a sandboxed frame: blocked.
    for selector in ("iframe.desktop", "iframe.mobile"):
        assert page.locator(selector).get_attribute("sandbox") == ""
    page.evaluate(
        """() => new Promise(done => {
            const frame = document.createElement('iframe');
            frame.setAttribute('sandbox', '');
            frame.id = 'attack';
            frame.onload = () => done();
            frame.src = '/files/content/evil.html';
            document.body.appendChild(frame);
        })"""
    )
    attacked = page.frame_locator("#attack").locator("body")
    assert attacked.inner_text() == "attack"
    assert attacked.evaluate("body => body.dataset.ran === undefined")
    assert page.title() != "pwned"
    # Even opened on its own (no frame), the served file runs nothing: its CSP sandboxes it.
    page.goto(running.url + "/files/content/evil.html")
    assert page.evaluate("() => document.body.dataset.ran") is None
