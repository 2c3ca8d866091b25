"""Accessibility of every demo email and microsite page, judged by axe-core in Chromium.

Every demo customer's every email and microsite message (8 customers x every step) is opened
in headless Chromium (tests/test_chromium.py's browser: no network, images answered locally),
axe-core (vendored in tests/vendor/axe-core, MPL-2.0) runs its WCAG 2.x A/AA and best-practice
rules, and the test prints the violation counts by impact. Goal: 0 critical, 0 serious and 0
moderate violations. Identical documents are checked once.

Skipped when Chromium is missing, unless ``ATOMIC_REQUIRE_CHROMIUM=1`` (CI).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from atomic_content.repository import Library
from conftest import render_run_message
from test_chromium import Browser, launch

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    yield from launch(tmp_path_factory)


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious", "moderate")

RUN_AXE = """
(async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa',
                                    'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact,
    nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary.split('\\n').slice(0, 2).join(' ')),
  }));
})()
"""


def demo_documents(library: Library, channel: str, part: str) -> dict[str, str]:
    """The ``part`` of every demo customer's every ``channel`` message, deduplicated: a
    content hash -> (first name) -> document."""
    documents: dict[str, tuple[str, str]] = {}
    for customer_id, customer in sorted(library.customers.items()):
        for journey in library.journeys.values():
            for step in journey.steps:
                if channel not in step.channels:
                    continue
                run = render_run_message(
                    library, customer.attributes, journey.id, step.id, channel,
                    customer_id=customer_id,
                )  # fmt: skip
                document = run.rendered.parts[part]
                digest = hashlib.sha256(document.encode()).hexdigest()
                documents.setdefault(digest, (f"{customer_id} {journey.id}/{step.id}", document))
    return dict(documents.values())


def run_axe(browser: Browser, tmp_path: Path, documents: dict[str, str]) -> list[str]:
    """axe on every document; prints the counts by impact; returns the blocking findings."""
    script = AXE.read_text(encoding="utf-8")
    counts: Counter[str] = Counter()
    findings: list[str] = []
    for index, (name, document) in enumerate(sorted(documents.items())):
        page = tmp_path / f"page-{index}.html"
        page.write_text(document, encoding="utf-8")
        report, violations = browser.open(page, script + ";\n" + RUN_AXE, await_promise=True)
        assert report.loaded, name
        assert isinstance(violations, list), (name, violations)
        for violation in violations:
            counts[violation["impact"]] += 1
            if violation["impact"] in BLOCKING:
                findings.append(
                    f"{name}: {violation['id']} ({violation['impact']}) {violation['nodes'][:2]}"
                )
    print(
        f"axe-core on {len(documents)} documents: "
        + ", ".join(
            f"{impact} {counts[impact]}" for impact in ("critical", "serious", "moderate", "minor")
        )
    )
    return findings


def test_every_demo_email_passes_axe(
    browser: Browser, render_demo_library: Library, tmp_path: Path
) -> None:
    documents = demo_documents(render_demo_library, "email", "html")
    assert len(documents) >= 8
    assert run_axe(browser, tmp_path, documents) == []


def test_every_demo_microsite_page_passes_axe(
    browser: Browser, render_demo_library: Library, tmp_path: Path
) -> None:
    documents = demo_documents(render_demo_library, "microsite", "index.html")
    assert len(documents) >= 3
    assert run_axe(browser, tmp_path, documents) == []
