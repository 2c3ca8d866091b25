"""App channel: push.json and card.json (valid JSON for any customer), limits and previews."""

from __future__ import annotations

import json

import pytest

from atomic_content.channels import get_renderer
from atomic_content.errors import Severity
from atomic_content.render import check_limits, render_message
from atomic_content.repository import Library
from conftest import RenderTree, render_run_message

DAY_CUSTOMERS = ("jonas", "maria", "anna", "tom", "lea")
APP_LAYOUT = """\
slots:
  push_title: required
  push_body: required
  headline: optional
  body: optional
  image: optional
  cta: required
"""
ADA = {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "silver", "orders": 4}


def _app_tree(
    render_tree: RenderTree, extra: dict[str, str | bytes | None] | None = None
) -> object:
    return render_tree({"layouts/app/push.yaml": APP_LAYOUT, **(extra or {})})


def demo_app_messages(library: Library) -> list[tuple[str, str]]:
    return [
        (journey.id, step.id)
        for journey in sorted(library.journeys.values(), key=lambda j: j.id)
        for step in journey.steps
        if "app" in step.channels
    ]


def test_demo_app_messages_are_valid_json(render_demo_library: Library) -> None:
    checked = 0
    for customer in DAY_CUSTOMERS:
        attributes = render_demo_library.customers[customer].attributes
        for journey, step in demo_app_messages(render_demo_library):
            run = render_run_message(render_demo_library, attributes, journey, step, "app")
            layout = render_demo_library.layouts[("app", run.resolution.layout)].layout
            push = json.loads(run.rendered.parts["push.json"])
            assert list(push)[:3] == ["title", "body", "deep_link"]
            assert push["title"] and push["body"]
            assert push["deep_link"].startswith(("northwind://", "https://"))
            if "headline" in layout.slots:
                card = json.loads(run.rendered.parts["card.json"])
                assert card["title"] and card["body"]
                assert card["body_html"].startswith("<p>")
                assert card["body_html"] == run.rendered.parts["card_body.html"]
                assert card["cta"]["url"] == push["deep_link"]
                if "image" in card:
                    assert card["image"]["alt"] and card["image"]["src"].startswith("https://")
            else:
                assert "card.json" not in run.rendered.parts
            errors = [
                p for p in check_limits(render_demo_library.settings, run.rendered)
                if p.severity is Severity.ERROR
            ]  # fmt: skip
            assert not errors, (run.rendered.key, errors)
            checked += 1
    assert checked == len(DAY_CUSTOMERS) * 4


def test_template_form_is_json_with_tokens(render_demo_library: Library) -> None:
    maria = render_demo_library.customers["maria"].attributes
    run = render_run_message(render_demo_library, maria, "cart-recovery", "nudge-1h", "app")
    template = run.assembled.part("push.json").source
    assert "{{ customer.cart.top_item" in template
    assert "Fjell 3L Rain Shell" in json.loads(run.rendered.parts["push.json"])["body"]


def test_card_body_html_is_html_escaped_then_json_escaped(render_tree: RenderTree) -> None:
    content = _app_tree(
        render_tree,
        {
            "atoms/body.yaml": "slot: body\nstatus: approved\ntext: |\n"
            '  Hi **{{ customer.first_name | default("you") }}**, see [the shop](https://www.acme.example/shop).\n',
            "atoms/cta.yaml": "slot: cta\nstatus: approved\ncta: {label: Open, url: 'acme://shop'}\n",
        },
    )
    hostile = {**ADA, "first_name": '<img src=x onerror="alert(1)"> \\ "quoted"\n'}
    run = render_run_message(content, hostile, channel="app")
    card = json.loads(run.rendered.parts["card.json"])
    assert card["body_html"] == (
        "<p>Hi <strong>&lt;img src=x onerror=&#34;alert(1)&#34;&gt; \\ &#34;quoted&#34;\n"
        '</strong>, see <a href="https://www.acme.example/shop">the shop</a>.</p>\n'
    )
    # The plain-text body carries the value as it is: JSON keeps it intact.
    assert card["body"].startswith('Hi <img src=x onerror="alert(1)"> \\ "quoted"\n')
    assert card["cta"] == {"label": "Open", "url": "acme://shop"}


def test_push_only_layout_has_no_card(render_tree: RenderTree) -> None:
    content = render_tree(
        {
            "layouts/app/push.yaml": "slots:\n"
            "  push_title: required\n  push_body: required\n  cta: required\n"
        }
    )
    run = render_run_message(content, ADA, channel="app")
    assert list(run.rendered.parts) == ["push.json"]
    assert json.loads(run.rendered.parts["push.json"]) == {
        "title": "Welcome!",
        "body": "Your first trail awaits.",
        "deep_link": "https://www.acme.example/shop",
    }


def test_push_body_is_flattened(render_tree: RenderTree) -> None:
    content = _app_tree(
        render_tree,
        {
            "atoms/push-body.yaml": "slot: push_body\nchannels: [app]\nstatus: approved\n"
            "text: 'Your **first** trail [awaits](https://www.acme.example/trail).'\n"
        },
    )
    push = json.loads(render_run_message(content, ADA, channel="app").rendered.parts["push.json"])
    assert push["body"] == "Your first trail awaits."


@pytest.mark.parametrize(
    ("title", "body", "url", "expected"),
    [
        ("Short", "A body.", "https://www.acme.example/x", []),
        ("T" * 41, "A body.", "acme://x", [("warning", "app.push_title_long")]),
        ("Short", "b" * 121, "acme://x", [("warning", "app.push_body_long")]),
        ("Short", "b" * 179, "acme://x", [("error", "app.push_body_too_long")]),
        ("Short", "A body.", "mailto:hello@acme.example", [("error", "app.deep_link_scheme")] * 2),
    ],
)
def test_push_limits(
    render_tree: RenderTree, title: str, body: str, url: str, expected: list[tuple[str, str]]
) -> None:
    content = _app_tree(
        render_tree,
        {
            "atoms/push-title.yaml": f"slot: push_title\n"
            f"channels: [app]\nstatus: approved\ntext: {title}\n",
            "atoms/push-body.yaml": f"slot: push_body\n"
            f"channels: [app]\nstatus: approved\ntext: {body}\n",
            "atoms/cta.yaml": f"slot: cta\nstatus: approved\ncta: {{label: Go, url: '{url}'}}\n",
        },
    )
    run = render_run_message(content, ADA, channel="app")
    problems = check_limits(run.library.settings, run.rendered)
    assert sorted((p.severity.value, p.code) for p in problems) == sorted(expected)


def test_push_payload_limit_counts_customer_values(render_tree: RenderTree) -> None:
    content = _app_tree(
        render_tree,
        {
            "atoms/push-body.yaml": "slot: push_body\nchannels: [app]\nstatus: approved\n"
            "text: 'Hi {{ customer.first_name | default(\"you\") }}'\n"
        },
    )
    run = render_run_message(content, {**ADA, "first_name": "ü" * 2100}, channel="app")
    codes = {p.code for p in check_limits(run.library.settings, run.rendered)}
    assert {"app.push_payload_too_large", "app.push_body_too_long"} <= codes


def test_preview_text_shows_a_phone_box_and_the_card(render_demo_library: Library) -> None:
    anna = render_demo_library.customers["anna"].attributes
    run = render_run_message(render_demo_library, anna, "welcome", "day-0", "app")
    shown = get_renderer("app").preview_text(run.rendered)
    lines = shown.splitlines()
    assert lines[0] == "Push notification"
    assert lines[1].startswith("╭") and lines[2].startswith("│ NORTHWIND OUTFITTERS")
    box = lines[1 : lines.index(next(line for line in lines if line.startswith("╰"))) + 1]
    assert len({len(line) for line in box}) == 1  # a closed rectangle
    assert "In-app card" in lines
    title = json.loads(run.rendered.parts["card.json"])["title"]
    assert title.split()[0] in shown


def test_preview_html_is_a_document_with_the_card(render_demo_library: Library) -> None:
    lea = render_demo_library.customers["lea"].attributes
    run = render_run_message(render_demo_library, lea, "welcome", "day-0", "app")
    page = get_renderer("app").preview_html(run.rendered)
    assert page.startswith("<!doctype html>") and '<html lang="de">' in page
    assert run.rendered.parts["card_body.html"] in page
    assert "<script" not in page


def test_render_is_reusable_across_customers(render_demo_library: Library) -> None:
    jonas = render_demo_library.customers["jonas"].attributes
    run = render_run_message(render_demo_library, jonas, "welcome", "day-0", "app")
    other = render_message(
        render_demo_library.profile, run.assembled, {**jonas, "first_name": "Jo"}
    )
    assert "Jo" in json.loads(other.parts["card.json"])["title"]
    assert other.customer_id == "NW-104417"


def test_template_form_json_is_what_asdict_gives(render_demo_library: Library) -> None:
    """``AssembledMessage.to_json`` converts without ``dataclasses.asdict`` (its deep copy
    was a tenth of a variant's render): the bytes must be those asdict gives, for every
    variant of the demo on every channel and for nested dataclasses, tuples and lists."""
    import dataclasses
    import datetime as dt

    from atomic_content.channels.base import AssembledMessage, Part
    from atomic_content.manifest import canonical_json
    from atomic_content.plan import make_plan
    from atomic_content.render import assemble
    from atomic_content.resolver import MessageKey

    def by_asdict(message: AssembledMessage) -> bytes:
        return canonical_json(
            dataclasses.asdict(message)
            | {"required_paths": {k: sorted(v) for k, v in message.required_paths.items()}}
        )

    plan = make_plan(render_demo_library, dt.date(2026, 11, 22))
    channels = set()
    for variant in plan.variants:
        message = assemble(render_demo_library, variant.resolution)
        assert message.to_json() == by_asdict(message), variant.id
        channels.add(variant.channel)
    assert {"email", "app", "microsite"} <= channels
    nested = AssembledMessage(
        key=MessageKey("j", "s", "email", "en"),
        audience_label="vip",
        layout="default",
        atoms={"body": "a"},
        atom_hashes={"a": "0" * 16},
        parts=(Part("html", "html", "{{ customer.x }}", "text/html", "x.html", (("a", "b"),)),),
        required_paths={"a": frozenset({"x", "b"})},
        brand={"name": "N", "colors": ("#fff", ["#000"]), "logo": Part("l", "text", "", "", "")},
        slot_data={"cta": {"label": "Go", "tags": ("a", ("b", 1, 2.5, True, None))}},
    )
    assert nested.to_json() == by_asdict(nested)
