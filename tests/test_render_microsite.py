"""Microsite channel: a complete, responsive landing page; checks and the outline preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomic_content.channels import get_renderer
from atomic_content.channels.base import outline_html, unescape
from atomic_content.errors import Severity
from atomic_content.render import check_limits
from atomic_content.repository import Library
from conftest import RenderTree, render_run_message

ADA = {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "silver", "orders": 4}

PAGE = """\
<!doctype html>
<html lang="{{ message.lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ message.title }}</title>
<meta name="description" content="{{ message.description }}">
<meta property="og:title" content="{{ message.title }}">
</head>
<body>
<main>
<section><h1>{{ slots.headline }}</h1><p>{{ slots.summary }}</p></section>
<section>{{ slots.body }}</section>
{%- if slots.image %}<img src="{{ slots.image.src }}" alt="{{ slots.image.alt }}">{% endif %}
<section><a href="{{ slots.cta.url }}">{{ slots.cta.label }}</a></section>
</main>
</body>
</html>
"""


def _tree(render_tree: RenderTree, extra: dict[str, str | bytes | None] | None = None) -> Path:
    from contentkit import JOURNEY, SETTINGS

    files: dict[str, str | bytes | None] = {
        "atomic.yaml": SETTINGS.replace("  app: {}\n", "  app: {}\n  microsite: {}\n").replace(
            "  body: {kind: markdown}\n", "  body: {kind: markdown}\n  summary: {kind: line}\n"
        ),
        "journeys/welcome.yaml": JOURNEY.replace(
            "channels: {email: basic, app: push}",
            "channels: {email: basic, app: push, microsite: page}",
        ),
        "layouts/microsite/page.yaml": "template: page.html.j2\nslots:\n  headline: required\n"
        "  summary: required\n  body: required\n  image: optional\n  cta: required\n",
        "layouts/microsite/page.html.j2": PAGE,
        "atoms/headline.yaml": "slot: headline\nstatus: approved\n"
        "text: 'Gear for *every* trail, {{ customer.first_name | default(\"friend\") }}'\n",
        "atoms/summary.yaml": "slot: summary\nstatus: approved\ntext: Boots & jackets that last.\n",
    }
    files.update(extra or {})
    return render_tree(files)


def test_demo_pages_are_complete(render_demo_library: Library) -> None:
    steps = [
        (journey.id, step.id)
        for journey in sorted(render_demo_library.journeys.values(), key=lambda j: j.id)
        for step in journey.steps
        if "microsite" in step.channels
    ]
    assert len(steps) == 3
    for customer in ("jonas", "maria", "tom", "anna"):
        attributes = render_demo_library.customers[customer].attributes
        for journey, step in steps:
            run = render_run_message(render_demo_library, attributes, journey, step, "microsite")
            document = run.rendered.parts["index.html"]
            page = outline_html(document)
            assert page.lang == run.resolution.key.locale
            assert page.title and page.meta["description"]
            assert page.meta["viewport"].startswith("width=device-width")
            assert page.meta["og:title"] and page.meta["og:description"]
            assert page.headings[0][0] == 1
            assert all(alt for _src, alt in page.images)
            assert not page.scripts
            assert document.lstrip().lower().startswith("<!doctype html>")
            for tag in ("<main", "<section", "<header", "<footer"):
                assert tag in document
            problems = check_limits(render_demo_library.settings, run.rendered)
            assert not [p for p in problems if p.severity is Severity.ERROR]


def test_title_and_description_are_plain_text(render_tree: RenderTree) -> None:
    run = render_run_message(_tree(render_tree), ADA, channel="microsite")
    page = outline_html(run.rendered.parts["index.html"])
    assert page.title == "Gear for every trail, Ada"
    assert page.meta["og:title"] == "Gear for every trail, Ada"
    assert page.meta["description"] == "Boots & jackets that last."
    assert 'content="Boots &amp; jackets that last."' in run.rendered.parts["index.html"]
    # The headline itself keeps its emphasis.
    assert "<h1>Gear for <em>every</em> trail, Ada</h1>" in run.rendered.parts["index.html"]


def test_customer_value_in_attribute_is_escaped(render_tree: RenderTree) -> None:
    hostile = {**ADA, "first_name": '"><script>alert(1)</script>'}
    run = render_run_message(_tree(render_tree), hostile, channel="microsite")
    document = run.rendered.parts["index.html"]
    assert "<script" not in document
    assert 'content="Gear for every trail, &#34;&gt;&lt;script&gt;' in document
    assert (
        unescape(outline_html(document).title)
        == 'Gear for every trail, "><script>alert(1)</script>'
    )


@pytest.mark.parametrize(
    ("headline", "summary", "expected"),
    [
        ("Short", "A summary.", []),
        ("H" * 61, "A summary.", ["microsite.title_long"]),
        ("Short", "S" * 161, ["microsite.description_long"]),
    ],
)
def test_length_recommendations(
    render_tree: RenderTree, headline: str, summary: str, expected: list[str]
) -> None:
    content = _tree(
        render_tree,
        {
            "atoms/headline.yaml": f"slot: headline\nstatus: approved\ntext: {headline}\n",
            "atoms/summary.yaml": f"slot: summary\nstatus: approved\ntext: {summary}\n",
        },
    )
    run = render_run_message(content, ADA, channel="microsite")
    problems = check_limits(run.library.settings, run.rendered)
    assert [p.code for p in problems] == expected
    assert all(p.severity is Severity.WARNING for p in problems)


def test_incomplete_page_and_external_script_are_reported(render_tree: RenderTree) -> None:
    bare = "<html><body><h1>{{ slots.headline }}</h1><img src='https://x.example/a.png'>"
    bare += "<script src='https://evil.example/x.js'></script></body></html>"
    content = _tree(render_tree, {"layouts/microsite/page.html.j2": bare})
    run = render_run_message(content, ADA, channel="microsite")
    found = {(p.severity.value, p.code) for p in check_limits(run.library.settings, run.rendered)}
    assert found == {
        ("warning", "microsite.no_title"),
        ("warning", "microsite.no_description"),
        ("warning", "microsite.no_lang"),
        ("warning", "microsite.no_viewport"),
        ("warning", "microsite.image_alt"),
        ("error", "microsite.external_script"),
    }


def test_preview_text_is_the_page_outline(render_demo_library: Library) -> None:
    maria = render_demo_library.customers["maria"].attributes
    run = render_run_message(
        render_demo_library, maria, "cart-recovery", "last-call-72h", "microsite"
    )
    shown = get_renderer("microsite").preview_text(run.rendered)
    lines = shown.splitlines()
    assert lines[0].startswith("Title:       ")
    assert lines[1].startswith("Description: ")
    assert lines[2] == "Language:    en"
    assert "Headings:" in lines and "Links:" in lines
    assert "  Repair Promise → https://www.northwind.example/repair" in lines
    assert get_renderer("microsite").preview_html(run.rendered) == run.rendered.parts["index.html"]
