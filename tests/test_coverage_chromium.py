"""The HTML coverage report opened in a real headless Chromium.

Skipped when Chromium is missing, unless ``ATOMIC_REQUIRE_CHROMIUM=1`` (as in CI), where a
missing browser fails. Chromium runs offline-ish: no sandbox (root in containers), no GPU, no
background networking, a throw-away profile.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from atomic_content.coverage import compute_coverage
from atomic_content.coverage_report import format_html
from atomic_content.validate import load_library
from test_coverage import LAPSED_NAME, write_coverage_tree

pytestmark = pytest.mark.chromium


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("ATOMIC_REQUIRE_CHROMIUM") == "1":
        pytest.fail("Chromium is required (ATOMIC_REQUIRE_CHROMIUM=1) but not installed")
    pytest.skip("Chromium is not installed")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chromium")
    library, _warnings = load_library(write_coverage_tree(root / "content"))
    report = compute_coverage(library, on=dt.date(2026, 11, 20), horizon_days=14)
    path = root / "coverage.html"
    path.write_text(format_html(report), encoding="utf-8")
    return path


def test_the_report_loads_and_shows_the_heat_map(page: Path, tmp_path: Path) -> None:
    result = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<title>Content coverage on 2026-11-20</title>" in dom
    assert 'id="heatmap-table"' in dom
    assert dom.count('<tr><th class="seg"') == 3
    assert 'class="broken"' in dom and 'class="na"' in dom
    assert "hsl(" in dom
    # The hostile segment name stayed text: the browser made no script element of it.
    assert "<script" not in dom
    assert "Lapsed &lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert LAPSED_NAME.split("<")[0] in dom


def test_screenshot_renders_the_page(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "coverage.png"
    result = run_chromium(
        tmp_path,
        "--hide-scrollbars",
        "--window-size=1200,900",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 900)
    # A blank page compresses to a few kilobytes; the heat map and tables do not.
    assert len(data) > 20_000
