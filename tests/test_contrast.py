"""Brand colour contrast (WCAG 2 AA) as a validate check: ``a11y.contrast``."""

from __future__ import annotations

import pytest

from atomic_content.contrast import PAIRS, contrast_problems, contrast_ratio, passing_colour
from atomic_content.errors import Diagnostic
from atomic_content.models import Colors
from atomic_content.validate import check_content
from conftest import DEMO_CONTENT, RenderTree
from contentkit import SETTINGS


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}\n  hint: {d.hint}"


@pytest.mark.parametrize(
    ("fg", "bg", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#fff", "#000", 21.0),
        ("#ffffff", "#e07a2f", 3.0),  # the white on orange
        ("#767676", "#ffffff", 4.54),  # the classic lightest AA grey on white
        ("#1f5f4a", "#ffffff", 7.52),
    ],
)
def test_contrast_ratio(fg: str, bg: str, ratio: float) -> None:
    assert round(contrast_ratio(fg, bg), 2) == ratio
    assert contrast_ratio(fg, bg) == contrast_ratio(bg, fg)


@pytest.mark.parametrize(
    ("fg", "bg", "minimum"),
    [("#ffffff", "#e07a2f", 4.5), ("#999999", "#ffffff", 4.5), ("#444444", "#161816", 3.0)],
)
def test_passing_colour_reaches_the_minimum(fg: str, bg: str, minimum: float) -> None:
    better = passing_colour(fg, bg, minimum)
    assert contrast_ratio(better, bg) >= minimum


def test_default_and_demo_colours_pass() -> None:
    assert contrast_problems(Colors()) == []
    library, diagnostics = check_content(DEMO_CONTENT)
    assert [d for d in diagnostics if d.code == "a11y.contrast"] == []
    assert library.settings is not None
    for pair in PAIRS:
        for colours in (library.settings.brand.colors, library.settings.brand.colors.dark):
            fg, bg = getattr(colours, pair.foreground), getattr(colours, pair.background)
            assert contrast_ratio(fg, bg) >= pair.minimum, pair


def colours(block: str) -> dict[str, str | bytes | None]:
    assert "  address:" in SETTINGS
    return {"atomic.yaml": SETTINGS.replace("  address:", block + "\n  address:", 1)}


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            '  colors: {accent: "#e07a2f"}',
            "atomic.yaml:6:20: error[a11y.contrast]: brand.colors.on_accent #ffffff on "
            "brand.colors.accent #e07a2f has a contrast of 3.00:1 (offer text on the accent "
            "colour); WCAG AA needs 4.5:1\n"
            '  hint: use colours with at least 4.5:1, e.g. accent: "#b16025" (4.59:1), or change '
            "on_accent",
        ),
        (
            '  colors:\n    dark: {muted: "#555555"}',
            "atomic.yaml:7:19: error[a11y.contrast]: brand.colors.dark.muted #555555 on "
            "brand.colors.dark.background #161816 has a contrast of 2.39:1 (footer text on the "
            "page background); WCAG AA needs 4.5:1\n  hint: use colours with at least 4.5:1, e.g. "
            'muted: "#808080" (4.52:1), or change background',
        ),
    ],
    ids=["accent-light", "dark-muted"],
)
def test_low_contrast_is_a_positioned_error(
    render_tree: RenderTree, block: str, expected: str
) -> None:
    _library, diagnostics = check_content(render_tree(colours(block)))
    found = [fmt(d) for d in diagnostics if d.code == "a11y.contrast"]
    assert found[0] == expected


def test_contrast_rule_level_from_governance(render_tree: RenderTree) -> None:
    text = str(colours('  colors: {text: "#aaaaaa"}')["atomic.yaml"])
    rules = 'governance: {owner_required: "off"}'
    assert rules in text
    for level, expected in (("warning", {"warning"}), ('"off"', set())):
        tree = render_tree(
            {
                "atomic.yaml": text.replace(
                    rules, f'governance: {{owner_required: "off", contrast: {level}}}'
                )
            }
        )
        _library, diagnostics = check_content(tree)
        assert {d.severity.value for d in diagnostics if d.code == "a11y.contrast"} == expected
    _library, diagnostics = check_content(render_tree({"atomic.yaml": text}))
    assert {d.severity.value for d in diagnostics if d.code == "a11y.contrast"} == {"error"}
