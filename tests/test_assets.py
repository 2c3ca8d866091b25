"""Images shipped with the content (assets/): validated, sent by their production URL, shown
from the local file in previews and builds (no network)."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from atomic_content.assets import asset_url, is_asset
from atomic_content.build import build
from atomic_content.cli import main
from atomic_content.errors import Diagnostic
from atomic_content.repository import Library
from atomic_content.validate import check_content
from conftest import DEMO_CONTENT, RenderTree, render_run_message

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


@pytest.mark.parametrize(
    ("src", "asset"),
    [
        ("assets/logo.png", True),
        ("assets/hero/elbe-1200.JPG", True),
        ("assets/../atomic.yaml", False),
        ("assets/.hidden.png", False),
        ("assets/logo.svg", False),
        ("https://cdn.example/logo.png", False),
        ("logo.png", False),
    ],
)
def test_asset_paths(src: str, asset: bool) -> None:
    assert is_asset(src) is asset


def test_demo_assets_are_small_pngs() -> None:
    files = sorted((DEMO_CONTENT / "assets").iterdir())
    assert files
    for path in files:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), path.name
        assert len(data) < 20_000, path.name


def test_production_urls_in_the_sent_message(render_demo_library: Library) -> None:
    assert render_demo_library.settings is not None
    brand = render_demo_library.settings.brand
    assert asset_url(brand, "assets/logo.png") == "https://cdn.northwind.example/email/logo.png"
    tom = render_demo_library.customers["tom"].attributes
    run = render_run_message(render_demo_library, tom, "welcome", "day-0", "email")
    html = run.rendered.parts["html"]
    assert 'src="https://cdn.northwind.example/email/logo.png"' in html
    assert 'src="https://cdn.northwind.example/email/hero-elbe.png"' in html
    assert "assets/" not in html
    default = brand.model_copy(update={"asset_base_url": None})
    assert asset_url(default, "assets/a/b.png") == "https://www.northwind.example/assets/a/b.png"


def test_unknown_asset_is_a_positioned_error(render_tree: RenderTree) -> None:
    atom = "slot: image\nstatus: approved\nimage: {src: assets/hero.png, alt: A hero}\n"
    tree = render_tree({"atoms/image.yaml": atom, "assets/heroes.png": PNG})
    _library, diagnostics = check_content(tree)
    found = [fmt(d) for d in diagnostics if d.code == "ref.unknown_asset"]
    assert found == [
        "atoms/image.yaml:3:14: error[ref.unknown_asset]: unknown asset 'assets/hero.png'"
    ]
    assert "assets/heroes.png" in next(d.hint for d in diagnostics if d.code == "ref.unknown_asset")


def test_preview_html_inlines_assets_and_build_copies_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["preview", "--content", str(DEMO_CONTENT), "--customer", "tom", "--journey", "welcome",
         "--step", "day-0", "--channel", "email", "--format", "html", "--date", "2026-12-01"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    logo = base64.b64encode((DEMO_CONTENT / "assets" / "logo.png").read_bytes()).decode()
    # The inbox view holds the email in its frames (srcdoc, escaped): images inlined.
    assert f"src=&quot;data:image/png;base64,{logo}&quot;" in result.stdout
    assert "cdn.northwind.example/email/" not in result.stdout

    out = tmp_path / "dist"
    build(DEMO_CONTENT, out, on=dt.date(2026, 12, 1), use_cache=False)
    for name in ("logo.png", "hero-elbe.png"):
        assert (out / "assets" / name).read_bytes() == (DEMO_CONTENT / "assets" / name).read_bytes()
    page = out / "welcome/day-0/email/en/generic/preview/email.html"
    html = page.read_text(encoding="utf-8")
    assert 'src="../../../../../../assets/logo.png"' in html
    assert (page.parent / "../../../../../../assets/logo.png").resolve().is_file()
    template = (out / "welcome/day-0/email/en/generic/template/email.html").read_text()
    assert 'src="https://cdn.northwind.example/email/logo.png"' in template
