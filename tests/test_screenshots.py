"""Screenshots of a demo email at desktop and phone widths, light and dark, as artefacts.

The promo email of the welcome journey (maria: offer panel, hero image, button) is rendered
with its images inlined from content/assets (what ``atomic preview --format html`` shows), then
photographed by headless Chromium's ``--screenshot`` at 1200 and 390 px wide, in the light and
the dark colour scheme. The PNGs land in ``build/artifacts/screenshots/`` (or
``$ATOMIC_ARTIFACTS/screenshots``) for a person or a CI job to look at. In the browser over
DevTools the test also checks what a screenshot cannot prove by itself: every image loaded
(a real picture, not a broken-image icon) and the dark scheme really switches the colours.

Skipped when Chromium is missing, unless ``ATOMIC_REQUIRE_CHROMIUM=1`` (CI).
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from atomic_content.assets import asset_files, inline_assets
from atomic_content.contrast import _rgb
from atomic_content.repository import Library
from conftest import REPO, render_run_message
from test_chromium import Browser, chromium_path, launch

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    yield from launch(tmp_path_factory)


WIDTHS = (1200, 390)
SCHEMES = ("light", "dark")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]  # fmt: skip

PAGE_CHECK = """
(() => {
  const images = [...document.images].map(img => ({
    src: img.src.slice(0, 30), complete: img.complete, width: img.naturalWidth,
  }));
  return {images, background: getComputedStyle(document.body).backgroundColor,
          headline: getComputedStyle(document.querySelector('h1')).color};
})()
"""


def artifacts() -> Path:
    base = os.environ.get("ATOMIC_ARTIFACTS")
    folder = (Path(base) if base else REPO / "build" / "artifacts") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def css_rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*_rgb(colour))


@pytest.fixture(scope="module")
def demo_email(render_demo_library: Library, tmp_path_factory: pytest.TempPathFactory) -> Path:
    library = render_demo_library
    assert library.settings is not None
    maria = library.customers["maria"].attributes
    run = render_run_message(library, maria, "welcome", "day-7", "email")
    document = inline_assets(
        run.rendered.parts["html"], library.settings.brand, asset_files(library.root)
    )
    assert "https://" not in "".join(part.split('href="')[0] for part in document.split("<img")[1:])
    page = tmp_path_factory.mktemp("email") / "email.html"
    page.write_text(document, encoding="utf-8")
    return page


def test_images_load_and_dark_mode_switches_colours(
    browser: Browser, demo_email: Path, render_demo_library: Library
) -> None:
    assert render_demo_library.settings is not None
    colours = render_demo_library.settings.brand.colors
    for scheme, background, headline in (
        ("light", colours.background, colours.primary),
        ("dark", colours.dark.background, colours.dark.primary),
    ):
        report, value = browser.open(demo_email, PAGE_CHECK, media={"prefers-color-scheme": scheme})
        assert report.loaded and report.errors == [] and report.requests == []
        assert len(value["images"]) == 2  # logo and hero
        assert all(img["complete"] and img["width"] >= 320 for img in value["images"]), value
        assert value["background"] == css_rgb(background), scheme
        assert value["headline"] == css_rgb(headline), scheme


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_screenshot(
    browser: Browser, demo_email: Path, tmp_path: Path, width: int, scheme: str
) -> None:
    executable = chromium_path()  # the browser fixture skips (or fails in CI) without it
    assert executable is not None
    target = artifacts() / f"welcome-day-7-maria-{width}-{scheme}.png"
    target.unlink(missing_ok=True)
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},1500"]
    if scheme == "dark":
        flags.append("--force-dark-mode")
    subprocess.run(
        [executable, *flags, f"--screenshot={target}", demo_email.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
        start_new_session=True,
    )
    data = target.read_bytes()
    assert png_size(data) == (width, 1500)
    assert len(data) > 20_000  # a picture of a page, not an empty canvas
    print(f"screenshot: {target}")
