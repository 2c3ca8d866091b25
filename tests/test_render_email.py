"""Email channel: template form, rendered parts, limits and the .eml export.

Uses the demo content (every email of every journey for several sample customers) and small
content trees written into tmp folders for the edge cases.
"""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from atomic_content.channels import get_renderer
from atomic_content.channels.base import outline_html, unescape
from atomic_content.channels.email import build_eml, eml_bytes
from atomic_content.errors import RenderError, Severity
from atomic_content.plan import Router, make_plan
from atomic_content.render import assemble, check_limits, example_customer, render_message
from atomic_content.repository import Library
from conftest import RenderRun, RenderTree, render_run_message
from contentkit import PROFILE

ADA = {
    "id": "C-1",
    "first_name": "Ada",
    "locale": "en",
    "tier": "gold",
    "orders": 4,
    "consent": {"personalization": True},
}
DEMO_CUSTOMERS = ("jonas", "maria", "anna", "tom", "new-signup")
DAY = dt.date(2026, 12, 1)


def demo_emails(library: Library) -> list[tuple[str, str]]:
    return [
        (journey.id, step.id)
        for journey in sorted(library.journeys.values(), key=lambda j: j.id)
        for step in journey.steps
        if "email" in step.channels
    ]


@pytest.fixture(scope="module")
def demo_runs(render_demo_library: Library) -> list[RenderRun]:
    runs = []
    for customer in DEMO_CUSTOMERS:
        attributes = render_demo_library.customers[customer].attributes
        for journey, step in demo_emails(render_demo_library):
            runs.append(
                render_run_message(
                    render_demo_library, attributes, journey, step, "email", customer_id=customer
                )
            )
    return runs


# -- demo content ---------------------------------------------------------------------------


def test_demo_emails_are_complete_documents(demo_runs: list[RenderRun]) -> None:
    assert len(demo_runs) == len(DEMO_CUSTOMERS) * 8
    for run in demo_runs:
        parts = run.rendered.parts
        assert list(parts) == ["subject", "preheader", "html", "text"]
        page = outline_html(parts["html"])
        assert page.lang == run.resolution.key.locale
        assert unescape(page.title) == parts["subject"]
        assert parts["subject"] and "\n" not in parts["subject"]
        # The inbox preview is the hidden preheader div.
        assert parts["preheader"] in [unescape(t) for t in page.hidden_text]
        assert page.images and all(alt is not None for _src, alt in page.images)
        assert not page.scripts
        assert "fonts.googleapis" not in parts["html"]
        assert "{{" not in parts["html"] and "{%" not in parts["html"]
        assert parts["html"].startswith("<!DOCTYPE html>")
        assert len(parts["html"].encode()) < 102_400


def test_demo_emails_pass_their_limits(demo_runs: list[RenderRun]) -> None:
    for run in demo_runs:
        problems = check_limits(run.library.settings, run.rendered)
        assert not [p for p in problems if p.severity is Severity.ERROR], (
            run.rendered.key,
            problems,
        )


def test_german_customer_gets_german_email(render_demo_library: Library) -> None:
    jonas = render_demo_library.customers["jonas"].attributes
    run = render_run_message(render_demo_library, jonas, "welcome", "day-0", "email")
    assert run.resolution.key.locale == "de"
    assert 'lang="de"' in run.rendered.parts["html"]
    assert "Jonas" in run.rendered.parts["html"]
    assert (
        "Abmelden: https://www.northwind.example/preferences/unsubscribe"
        in run.rendered.parts["text"]
    )


def test_template_form_keeps_tokens_and_renders_per_customer(render_demo_library: Library) -> None:
    maria = render_demo_library.customers["maria"].attributes
    run = render_run_message(render_demo_library, maria, "cart-recovery", "reminder-24h", "email")
    template = run.assembled.part("html").source
    assert "{{ customer.cart.top_item" in template
    assert "Fjell 3L Rain Shell" not in template
    assert "Fjell 3L Rain Shell" in run.rendered.parts["html"]
    assert "Fjell 3L Rain Shell" in run.rendered.parts["text"]
    # Another customer, same template form, different value.
    other = {**maria, "cart": {"items": 1, "top_item": "Elbe 28L Daypack"}}
    again = render_message(render_demo_library.profile, run.assembled, other, customer_id="other")
    assert "Elbe 28L Daypack" in again.parts["html"]


def test_offer_code_token_in_body_renders(render_demo_library: Library) -> None:
    maria = render_demo_library.customers["maria"].attributes
    run = render_run_message(render_demo_library, maria, "cart-recovery", "last-call-72h", "email")
    code = run.assembled.slot_data["offer"]["code"]
    assert "{{ slots.offer.code }}" in run.assembled.part("html").source
    assert f"<strong>{code}</strong>" in run.rendered.parts["html"]
    assert f"Your code: {code}" in run.rendered.parts["text"]


def test_text_part_is_written_from_atoms(render_demo_library: Library) -> None:
    maria = render_demo_library.customers["maria"].attributes
    run = render_run_message(render_demo_library, maria, "cart-recovery", "last-call-72h", "email")
    text = run.rendered.parts["text"]
    atoms = run.resolution.atoms
    cta = atoms["cta"].cta
    assert cta is not None
    assert text.startswith(run.assembled.slot_data["headline"]["text"] + "\n\n")
    assert f"{cta.label}: {cta.url}" in text
    assert "Valid until December 31, 2027" in text
    assert "Northwind Outfitters GmbH, Hafenstrasse 12" in text
    assert "Unsubscribe: https://www.northwind.example/preferences/unsubscribe" in text
    assert "<" not in text and "**" not in text
    assert text.endswith("\n")


def test_layout_css_is_inlined_without_loading_anything(render_demo_library: Library) -> None:
    jonas = render_demo_library.customers["jonas"].attributes
    html = render_run_message(render_demo_library, jonas, "welcome", "day-0", "email").rendered
    document = html.parts["html"]
    # `a { color: ... }` from the layout's <mj-style> is on the links themselves ...
    assert re.search(
        r'<a href="https://www\.northwind\.example/[^"]*"[^>]*style="[^"]*color', document
    )
    # ... and still in <head> for clients that read it.
    assert "a { color: #1f5f4a; }" in document
    assert "<link" not in document


def test_assembly_and_rendering_are_deterministic(render_demo_library: Library) -> None:
    anna = render_demo_library.customers["anna"].attributes
    first = render_run_message(render_demo_library, anna, "winback", "comeback-offer", "email")
    second = render_run_message(render_demo_library, anna, "winback", "comeback-offer", "email")
    assert first.assembled == second.assembled
    assert first.rendered == second.rendered


# -- template form: static text is never Jinja ----------------------------------------------


def test_static_jinja_syntax_is_escaped(render_tree: RenderTree) -> None:
    content = render_tree(
        {
            "atomic.yaml": _settings().replace(
                "name: Acme Outdoor", 'name: "Acme {{ 7*7 }} {% x %} {# y #}"'
            ),
            "layouts/email/basic.mjml": _mjml(
                footer="<mj-text>{{ brand.name }} {{ '{%' }}</mj-text>"
            ),
        }
    )
    run = render_run_message(content, ADA)
    html = run.rendered.parts["html"]
    assert "Acme {{ 7*7 }} {% x %} {# y #} {%" in html
    assert "49" not in html
    assert "Acme {{ 7*7 }} {% x %} {# y #}" in run.rendered.parts["text"]
    assert '{{ "{" }}{ 7*7 }}' in run.assembled.part("html").source


def test_unclosed_token_in_unvalidated_atom_stays_text(render_tree: RenderTree) -> None:
    # Validation refuses an unclosed tag; content that skipped it still renders it as text.
    content = render_tree(
        {"atoms/headline.yaml": "slot: headline\nstatus: approved\ntext: 'Curly {{ braces'\n"}
    )
    run = render_run_message(content, {**ADA, "tier": "silver"}, validate=False)
    assert "<h1>Curly {{ braces</h1>" in run.rendered.parts["html"]
    assert run.rendered.parts["text"].startswith("Curly {{ braces\n")


def test_missing_title_and_preview_are_added(render_tree: RenderTree) -> None:
    bare = "<mjml><mj-body><mj-section><mj-column><mj-text>{{ slots.body }}</mj-text>"
    bare += "</mj-column></mj-section></mj-body></mjml>\n"
    content = render_tree(
        {
            "layouts/email/basic.mjml": bare,
            "layouts/email/basic.yaml": "template: basic.mjml\nslots:\n  subject: required\n"
            "  preheader: optional\n  body: required\n",
            "atoms/pre.yaml": "slot: preheader\nstatus: approved\ntext: A preheader & more\n",
        }
    )
    html = render_run_message(content, ADA).rendered.parts["html"]
    page = outline_html(html)
    assert page.title == "Welcome to Acme, Ada"
    assert next(unescape(t) for t in page.hidden_text) == "A preheader & more"


def test_layout_lang_is_replaced_by_message_locale(render_tree: RenderTree) -> None:
    content = render_tree(
        {"layouts/email/basic.mjml": _mjml().replace("<mjml>", '<mjml lang="fr">')}
    )
    bob = {"id": "C-2", "locale": "de-AT", "tier": "silver", "orders": 0}
    run = render_run_message(content, bob)
    html = run.rendered.parts["html"]
    # The journey supports en and de, so de-AT falls back to de; the tree has no German body,
    # so the whole message is in English: lang is the message language, not the locale.
    assert run.resolution.key.locale == "de" and run.resolution.language == "en"
    assert outline_html(html).lang == "en"
    assert 'lang="fr"' not in html
    german = render_tree(
        {
            "layouts/email/basic.mjml": _mjml().replace("<mjml>", '<mjml lang="fr">'),
            "atoms/headline-de.yaml": "slot: headline\nstatus: approved\nlocale: de\ntext: Hallo\n",
            "atoms/body-de.yaml": "slot: body\nstatus: approved\nlocale: de\ntext: Willkommen.\n",
        }
    )
    assert outline_html(render_run_message(german, bob).rendered.parts["html"]).lang == "de"


def test_invalid_mjml_is_a_render_error(render_tree: RenderTree) -> None:
    content = render_tree(
        {"layouts/email/basic.mjml": "<mjml><mj-body><mj-section>{{ slots.body }}"}
    )
    with pytest.raises(RenderError) as caught:
        render_run_message(content, ADA)
    assert caught.value.code == "render.mjml_invalid"
    assert "basic.mjml" in str(caught.value)


# -- rendering per customer -----------------------------------------------------------------


def test_missing_required_attribute_names_customer_atom_and_attribute(
    render_tree: RenderTree,
) -> None:
    content = render_tree(
        {
            "atoms/headline.yaml": "slot: headline\n"
            "status: approved\ntext: 'Hello {{ customer.tier }} member'\n",
            # tier needs no consent here, so validate lets the token go without a default
            "profile.yaml": PROFILE.replace(
                "tier: {type: string, example: gold}",
                "tier: {type: string, example: gold, purposes: []}",
            ),
        }
    )
    without_tier = {k: v for k, v in ADA.items() if k != "tier"}
    with pytest.raises(RenderError) as caught:
        render_run_message(content, without_tier, customer_id="C-1")
    error = caught.value
    assert (error.code, error.customer_id, error.atom_id, error.attribute) == (
        "render.missing_value",
        "C-1",
        "headline",
        "tier",
    )
    assert "C-1" in str(error) and "'headline'" in str(error) and "'tier'" in str(error)


def test_customer_id_defaults_to_the_profile_id_attribute(render_tree: RenderTree) -> None:
    content = render_tree()
    run = render_run_message(content, ADA, customer_id=None)
    assert run.rendered.customer_id == "C-1"


def test_optional_attribute_uses_default(render_tree: RenderTree) -> None:
    content = render_tree()
    anonymous = {k: v for k, v in ADA.items() if k != "first_name"}
    run = render_run_message(content, anonymous)
    assert run.rendered.parts["subject"] == "Welcome to Acme, friend"


def test_example_customer_is_the_nested_profile_examples(render_demo_library: Library) -> None:
    example = example_customer(render_demo_library)
    assert example["id"] == "NW-100234"
    assert example["address"] == {"country": "AT", "city": "Wien"}
    assert example["orders"] == {
        "count": 14,
        "last_date": render_demo_library.profile.attributes["orders.last_date"].example,
    }
    assert example["consent"] == {
        "personalization": True,
        "email_marketing": True,
        "profiling": True,
    }
    run = render_run_message(render_demo_library, example, "welcome", "day-0", "email")
    assert run.rendered.customer_id == "test-customer"
    assert check_limits(run.library.settings, run.rendered) == []


# -- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "preheader", "expected"),
    [
        ("Short and sweet", "p" * 60, []),
        ("S" * 61, "p" * 60, [("warning", "email.subject_long")]),
        ("S" * 151, "p" * 60, [("error", "email.subject_too_long")]),
        ("Short", "p" * 39, [("warning", "email.preheader_short")]),
        ("Short", "p" * 111, [("warning", "email.preheader_long")]),
    ],
)
def test_subject_and_preheader_limits(
    render_tree: RenderTree, subject: str, preheader: str, expected: list[tuple[str, str]]
) -> None:
    content = render_tree(
        {
            "atoms/subject.yaml": f"slot: subject\n"
            f"channels: [email]\nstatus: approved\ntext: {subject}\n",
            "atoms/pre.yaml": f"slot: preheader\nstatus: approved\ntext: {preheader}\n",
        }
    )
    run = render_run_message(content, ADA)
    problems = check_limits(run.library.settings, run.rendered)
    assert [(p.severity.value, p.code) for p in problems] == expected


def test_html_size_limit(render_tree: RenderTree) -> None:
    settings = _settings().replace("  email: {}", "  email: {limits: {html_bytes_hard: 2000}}")
    content = render_tree({"atomic.yaml": settings})
    run = render_run_message(content, ADA)
    problems = check_limits(run.library.settings, run.rendered)
    assert ("error", "email.html_too_large") in [(p.severity.value, p.code) for p in problems]


# -- .eml -----------------------------------------------------------------------------------


def _eml(run: RenderRun, **kwargs: Any) -> EmailMessage:
    assert run.library.settings is not None
    return build_eml(run.rendered, run.library.settings.brand, **kwargs)


def test_eml_is_multipart_alternative_with_unsubscribe_headers(
    render_demo_library: Library,
) -> None:
    anna = render_demo_library.customers["anna"].attributes
    run = render_run_message(render_demo_library, anna, "welcome", "day-0", "email")
    data = eml_bytes(_eml(run))
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in parsed.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    plain, html = list(parsed.iter_parts())
    # The MIME layer ends each body with a line break; the content is otherwise unchanged.
    assert plain.get_content().replace("\r\n", "\n") == run.rendered.parts["text"]
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == run.rendered.parts["html"]
    assert parsed["Subject"] == run.rendered.parts["subject"]
    assert parsed["From"] == "Northwind Outfitters <hello@mail.northwind.example>"
    assert parsed["Reply-To"] == "care@northwind.example"
    assert parsed["List-Unsubscribe"] == (
        "<mailto:unsubscribe@mail.northwind.example>, "
        "<https://www.northwind.example/preferences/unsubscribe>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # No date asked for: no Date; the Message-ID is derived from content and customer.
    assert parsed["Date"] is None
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.northwind\.example>", parsed["Message-ID"])
    # To is the profile's email_attribute of the customer; MIME-Version only at the top.
    assert parsed["To"] == anna["email"]
    assert [part["MIME-Version"] for part in parsed.iter_parts()] == [None, None]
    assert data.count(b"MIME-Version:") == 1
    assert b"\r\n" in data and all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert data.isascii()


def test_eml_is_deterministic_and_dated_on_request(render_demo_library: Library) -> None:
    tom = render_demo_library.customers["tom"].attributes
    run = render_run_message(render_demo_library, tom, "welcome", "day-3", "email")
    assert eml_bytes(_eml(run)) == eml_bytes(_eml(run))
    boundary = _eml(run).get_boundary()
    assert boundary is not None and boundary.startswith("=_atomic_")
    dated = email.message_from_bytes(eml_bytes(_eml(run, date=DAY)), policy=policy.default)
    assert dated["Date"] == "Tue, 01 Dec 2026 00:00:00 +0000"
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.northwind\.example>", dated["Message-ID"])
    # The Message-ID is stable for one content, customer and date, and differs otherwise.
    undated = email.message_from_bytes(eml_bytes(_eml(run)), policy=policy.default)
    assert undated["Message-ID"] != dated["Message-ID"]
    other = render_run_message(
        render_demo_library, tom, "welcome", "day-3", "email", customer_id="someone-else"
    )
    assert _eml(other)["Message-ID"] != _eml(run)["Message-ID"]


def test_eml_refuses_other_channels(render_demo_library: Library) -> None:
    tom = render_demo_library.customers["tom"].attributes
    run = render_run_message(render_demo_library, tom, "welcome", "day-0", "app")
    with pytest.raises(RenderError):
        _eml(run)


# -- terminal preview -----------------------------------------------------------------------


def test_preview_text_shows_subject_preheader_and_text(render_tree: RenderTree) -> None:
    content = render_tree()
    run = render_run_message(content, ADA)
    shown = get_renderer("email").preview_text(run.rendered)
    assert shown.splitlines()[0] == "Subject:   Welcome to Acme, Ada"
    assert "Thanks for joining." in shown


def test_assemble_dispatches_by_channel(render_tree: RenderTree) -> None:
    content = render_tree()
    run = render_run_message(content, ADA)
    day = dt.date(2026, 12, 1)
    plan = make_plan(run.library, day)
    route = Router.for_plan(run.library, plan).route(
        dict(ADA), journey="welcome", step="day-0", channel="email", on=day
    )
    resolution = plan.variant(route.variant_id).resolution
    assert resolution.key.channel == "email"
    assert assemble(run.library, resolution).parts[2].filename == "email.html"


# -- helpers --------------------------------------------------------------------------------


def _settings() -> str:
    from contentkit import SETTINGS

    return SETTINGS


def _mjml(footer: str = "") -> str:
    from contentkit import MJML

    return MJML.replace("</mj-column></mj-section>", f"{footer}</mj-column></mj-section>")


def _unused(path: Path) -> None:  # pragma: no cover - keeps Path imported for type hints
    del path


# -- plain text: every slot the HTML shows, in layout order ---------------------------------


def test_plain_text_has_every_slot_of_the_layout_in_layout_order(render_tree: Any) -> None:
    from contentkit import MJML, SETTINGS

    settings = SETTINGS.replace(
        "  push_body: {kind: line}\n", "  push_body: {kind: line}\n  legal: {kind: markdown}\n"
    )
    # The layout shows a custom `legal` slot first, then the CTA above the body.
    mjml = MJML.replace(
        "<mj-text><h1>", "<mj-text>{{ slots.legal }}</mj-text>\n      <mj-text><h1>"
    ).replace(
        '      <mj-text>{{ slots.body }}</mj-text>\n      {% if slots.cta %}<mj-button href="{{ slots.cta.url }}">{{ slots.cta.label }}</mj-button>{% endif %}',
        '      {% if slots.cta %}<mj-button href="{{ slots.cta.url }}">{{ slots.cta.label }}</mj-button>{% endif %}\n      <mj-text>{{ slots.body }}</mj-text>',
    )
    layout = "template: basic.mjml\nslots:\n  subject: required\n  preheader: optional\n  legal: required\n  headline: required\n  body: required\n  cta: optional\n"
    content = render_tree(
        {
            "atomic.yaml": settings,
            "layouts/email/basic.yaml": layout,
            "layouts/email/basic.mjml": mjml,
            "atoms/legal.yaml": "slot: legal\nstatus: approved\ntext: Prices include VAT.\n",
            "atoms/cta.yaml": "slot: cta\nstatus: approved\ncta: {label: Shop now, url: 'https://www.acme.example/shop'}\n",
        }
    )
    run = render_run_message(content, ADA, "welcome", "day-0", "email")
    text = run.rendered.parts["text"]
    assert "Prices include VAT." in run.rendered.parts["html"]
    headline = run.assembled.slot_data["headline"]["text"]
    body = run.assembled.slot_data["body"]["text"]
    order = [
        text.index(s)
        for s in (
            "Prices include VAT.",
            headline,
            "Shop now: https://www.acme.example/shop",
            body[:20],
            "-- \n",
        )
    ]
    assert order == sorted(order), text
    assert set(run.assembled.part("text").atom_ids) == set(run.assembled.atoms.values()) - {
        run.assembled.atoms["subject"],
        *([run.assembled.atoms["preheader"]] if "preheader" in run.assembled.atoms else []),
    }


def test_remembered_sender_and_atom_hash_follow_their_input(tmp_path: Path) -> None:
    """The sender line is remembered by the sender's JSON and an atom's hash by its library:
    a different sender, or a changed atom in another library, never gets a remembered one."""
    from atomic_content.manifest import atom_hash, canonical_json, sha256_hex
    from atomic_content.models import Atom
    from atomic_content.render import _sender
    from atomic_content.repository import Library

    first = {"sender": {"name": "Northwind", "email": "news@northwind.example"}}
    other = {"sender": {"name": "Southwind", "email": "news@southwind.example"}}
    for _ in range(2):
        assert _sender(first) == "Northwind <news@northwind.example>"
        assert _sender(other) == "Southwind <news@southwind.example>"
    assert _sender({"sender": {"name": "N", "email": "not an address"}}) == ""
    assert _sender({}) == ""
    assert _sender({"sender": object()}) == ""
    atom = Atom.model_validate({"id": "a", "slot": "body", "text": "Hello", "priority": 1})
    changed = atom.model_copy(update={"priority": 2})
    fresh = sha256_hex(canonical_json(atom.model_dump(mode="json")))[:16]
    assert atom_hash(atom) == fresh
    before, after = Library(tmp_path, atoms={"a": atom}), Library(tmp_path, atoms={"a": changed})
    assert before.atom_hash(atom) == before.atom_hash(atom) == fresh
    assert after.atom_hash(changed) == atom_hash(changed) != fresh
