"""Golden previews: every demo journey, step and channel for four sample customers.

One file per message under ``tests/golden/preview/<customer>/<journey>/<step>.<channel>.txt``:
the ``text`` preview (what the customer reads), then for email the outline of the HTML (title,
language, hidden preheader, headings, links, images) and for app the JSON parts as sent.

Customers: ``jonas`` (German), ``anna`` (Austrian German, falls back to German), ``maria``
(English) and ``tom`` (English, refused personalization). The date is fixed.

Regenerate after an intended change with one command, then review the diff:

    .venv/bin/python -m pytest tests/test_golden_preview.py --update-golden
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from atomic_content.channels.base import outline_html
from atomic_content.preview import PreviewResult, format_text, preview
from conftest import DEMO_CONTENT

GOLDEN = Path(__file__).resolve().parent / "golden" / "preview"
CUSTOMERS = ("jonas", "anna", "maria", "tom")
JOURNEYS = ("cart-recovery", "welcome", "winback")
DATE = dt.date(2026, 12, 1)


def golden_text(result: PreviewResult) -> str:
    """What a golden file holds for one message."""
    lines = [format_text([result]).rstrip("\n")]
    rendered = result.rendered
    if rendered.key.channel == "email":
        page = outline_html(rendered.parts["html"])
        lines += ["", "--- html outline ---", f"lang: {page.lang}", f"title: {page.title}"]
        lines += [f"hidden: {' '.join(text.split())}" for text in page.hidden_text]
        lines += [f"h{level}: {text}" for level, text in page.headings]
        lines += [f"link: {text or '(no text)'} -> {href}" for text, href in page.links]
        lines += [f"image: {alt!r} {src}" for src, alt in page.images]
        lines.append(f"html bytes: {len(rendered.parts['html'].encode())}")
    elif rendered.key.channel == "app":
        for name in ("push.json", "card.json"):
            if name in rendered.parts:
                lines += ["", f"--- {name} ---", rendered.parts[name].rstrip("\n")]
    return "\n".join(lines) + "\n"


def golden_path(result: PreviewResult) -> Path:
    key = result.resolution.key
    return GOLDEN / result.customer_id / key.journey / f"{key.step}.{key.channel}.txt"


@pytest.mark.parametrize("journey", JOURNEYS)
@pytest.mark.parametrize("customer", CUSTOMERS)
def test_golden_preview(customer: str, journey: str, render_update_golden: bool) -> None:
    results = preview(DEMO_CONTENT, customer, journey, on=DATE)
    produced = {golden_path(r): golden_text(r) for r in results}
    folder = GOLDEN / customer / journey
    if render_update_golden:
        for stale in folder.glob("*.txt"):
            if stale not in produced:
                stale.unlink()
        for path, text in produced.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return
    existing = sorted(folder.glob("*.txt"))
    assert existing == sorted(produced), (
        "golden files and messages differ; run pytest tests/test_golden_preview.py --update-golden"
    )
    for path, text in produced.items():
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{path.relative_to(GOLDEN)} changed; review and --update-golden"


def test_goldens_cover_every_step_and_channel() -> None:
    from atomic_content.validate import load_library

    library, _ = load_library(DEMO_CONTENT)
    assert set(JOURNEYS) == set(library.journeys)
    for customer in CUSTOMERS:
        for journey in library.journeys.values():
            for step in journey.steps:
                for channel in step.channels:
                    path = GOLDEN / customer / journey.id / f"{step.id}.{channel}.txt"
                    assert path.is_file(), f"missing golden file {path.relative_to(GOLDEN)}"


def test_previews_are_byte_identical_across_runs() -> None:
    first = [golden_text(r) for r in preview(DEMO_CONTENT, "anna", "winback", on=DATE)]
    second = [golden_text(r) for r in preview(DEMO_CONTENT, "anna", "winback", on=DATE)]
    assert first == second
