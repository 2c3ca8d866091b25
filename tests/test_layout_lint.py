"""The static layout lint (issues 10 and 17): validate reports, at the template's line and
column, what build would reject or silently drop.

Every case writes the contentkit tree with one changed layout template and checks the exact
errors of ``check_content``; valid layouts (no errors expected) must then also build. The
demo layouts lint clean, and the lint's names agree with what the renderer hands layouts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from atomic_content.build import build
from atomic_content.channels import RENDERERS
from atomic_content.channels.base import (
    AssemblyContext,
    TokenVault,
    layout_slots,
    message_vars,
    render_layout,
)
from atomic_content.errors import Diagnostic, RenderError
from atomic_content.layout_lint import (
    MESSAGE_FIELDS,
    lint_layout,
    lint_layout_source,
)
from atomic_content.models import SlotKind
from atomic_content.pipeline import DateRange, check
from atomic_content.repository import Library, load_files
from atomic_content.validate import SLOT_FIELDS, check_content
from conftest import DEMO_CONTENT, RenderTree, render_run_message
from contentkit import JOURNEY, MJML, SETTINGS, write_tree

DAY = dt.date(2026, 11, 22)
EMAIL = "layouts/email/basic.mjml"
PAGE = "layouts/microsite/page.html.j2"
FILTERS = (
    "abs, capitalize, count, d, default, e, escape, first, float, int, join, last, length, "
    "lower, round, string, striptags, title, tojson, trim, truncate, upper, urlencode, wordcount"
)
NOT_ALLOWED = "layouts may use {% if %}, {% for %} and {% set x = ... %}; write the markup out"
NAMES = "layouts see slots, brand and message, and the names they set with {% set %} or {% for %}"
DECLARED = "body, cta, headline, legal, preheader, subject"
ADD_SLOT = "a new slot must be added under `slots:` in the layout's YAML"


def email(snippet: str) -> dict[str, str | bytes | None]:
    """The base tree with an optional ``legal`` slot and ``snippet`` on line 7 of the email
    layout, starting at column 16."""
    lines = MJML.splitlines(keepends=True)
    lines.insert(6, f"      <mj-text>{snippet}</mj-text>\n")
    return {
        "atomic.yaml": SETTINGS.replace(
            "  cta: {kind: cta}\n", "  cta: {kind: cta}\n  legal: {kind: line}\n"
        ),
        "layouts/email/basic.yaml": "template: basic.mjml\nslots:\n  subject: required\n"
        "  preheader: optional\n  headline: required\n  body: required\n  cta: optional\n"
        "  legal: optional\n",
        EMAIL: "".join(lines),
    }


def page(source: str) -> dict[str, str | bytes | None]:
    """The base tree with a microsite layout ``source`` (slot headline)."""
    return {
        "atomic.yaml": SETTINGS.replace("  app: {}\n", "  app: {}\n  microsite: {}\n"),
        "journeys/welcome.yaml": JOURNEY.replace(
            "channels: {email: basic, app: push}", "channels: {email: basic, microsite: page}"
        ),
        "layouts/microsite/page.yaml": "template: page.html.j2\nslots:\n  headline: required\n",
        PAGE: source,
    }


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes | None]
    expected: list[tuple[str, str]] = field(default_factory=list)  # (diagnostic, hint)


CASES = [
    # -- issue 10: a slot typo silently disappears -------------------------------------------
    Case(
        "slot-typo",
        email("{{ slots.legl }}"),
        [
            (
                f"{EMAIL}:7:25: error[layout.unknown_slot]: the layout does not declare slot 'legl'",
                f"did you mean 'legal'? this layout declares: {DECLARED}; {ADD_SLOT}",
            )
        ],
    ),
    Case(
        "huge-hex-number",  # Jinja reads it, the compiler cannot print it: was exit 70
        email("{{ 0x" + "f" * 5000 + " }}"),
        [
            (
                f"{EMAIL}:7:19: error[layout.number_too_large]: this number is too large: "
                "written out, it has more than 4,300 digits",
                "write a smaller number, or text in quotes",
            )
        ],
    ),
    Case(
        "huge-decimal-number",  # Jinja's parser raised ValueError: was exit 70
        email("{{ slots.legal | default(" + "9" * 5000 + ") }}"),
        [
            (
                f"{EMAIL}:7:41: error[layout.number_too_large]: this number is too large: "
                "written out, it has more than 4,300 digits",
                "write a smaller number, or text in quotes",
            )
        ],
    ),
    Case("largest-number-that-prints", email("{{ " + "9" * 4300 + " }}")),
    Case(
        "slot-typo-in-if",
        email("{% if slots.legl %}{{ slots.legal }}{% endif %}"),
        [
            (
                f"{EMAIL}:7:28: error[layout.unknown_slot]: the layout does not declare slot 'legl'",
                f"did you mean 'legal'? this layout declares: {DECLARED}; {ADD_SLOT}",
            )
        ],
    ),
    Case(
        "slot-in-settings-but-not-in-layout",
        email("{% if slots.offer is defined %}x{% endif %}"),
        [
            (
                f"{EMAIL}:7:28: error[layout.unknown_slot]: the layout does not declare slot 'offer'",
                f"this layout declares: {DECLARED}; {ADD_SLOT}",
            )
        ],
    ),
    Case(
        "slot-subscript",
        email("{{ slots['headlin'] }}"),
        [
            (
                f"{EMAIL}:7:26: error[layout.unknown_slot]: the layout does not declare slot 'headlin'",
                f"did you mean 'headline'? this layout declares: {DECLARED}; {ADD_SLOT}",
            )
        ],
    ),
    Case(
        "cta-field",
        email("{% if slots.cta %}{{ slots.cta.lable }}{% endif %}"),
        [
            (
                f"{EMAIL}:7:47: error[layout.unknown_field]: slots.cta has no field 'lable'",
                "did you mean 'label'? slots.cta is a cta slot with the fields label, url",
            )
        ],
    ),
    Case(
        "line-slot-has-no-fields",
        email("{{ slots.headline.text }}"),
        [
            (
                f"{EMAIL}:7:34: error[layout.unknown_field]: slots.headline has no field 'text'",
                "slots.headline is a line slot: insert it as it is, {{ slots.headline }}",
            )
        ],
    ),
    # -- issue 17: brand and message typos fail the build (render.layout_undefined) ---------
    Case(
        "brand-typo",
        email("{{ brand.adress }}"),
        [
            (
                f"{EMAIL}:7:25: error[layout.unknown_brand_field]: brand has no field 'adress'",
                "did you mean 'address'? fields of brand: address, asset_base_url, base_url, "
                "colors, deep_link_scheme, logo, name, reply_to, sender, unsubscribe",
            )
        ],
    ),
    Case(
        "brand-nested-typo",
        email('<span style="color:{{ brand.colors.primay }}">x</span>'),
        [
            (
                f"{EMAIL}:7:51: error[layout.unknown_brand_field]: brand.colors has no field "
                "'primay'",
                "did you mean 'primary'? fields of brand.colors: accent, background, dark, muted, "
                "on_accent, on_primary, primary, surface, text",
            )
        ],
    ),
    Case(
        "message-typo",
        email("{{ message.jouney }}"),
        [
            (
                f"{EMAIL}:7:27: error[layout.unknown_message_field]: message has no field 'jouney'",
                "did you mean 'journey'? fields of message: channel, journey, journey_name, lang, "
                "locale, step, step_name",
            )
        ],
    ),
    Case(
        "message-title-is-for-pages",
        email("{{ message.title }}"),
        [
            (
                f"{EMAIL}:7:27: error[layout.unknown_message_field]: message has no field 'title'",
                "fields of message: channel, journey, journey_name, lang, locale, step, step_name",
            )
        ],
    ),
    Case(
        "unknown-name",
        email("message {{ mesage.step }}"),
        [
            (
                f"{EMAIL}:7:27: error[layout.unknown_name]: unknown name 'mesage'",
                f"did you mean 'message'? {NAMES}",
            )
        ],
    ),
    Case(
        "customer-in-layout",
        email("{{ customer.first_name }}"),
        [(f"{EMAIL}:7:19: error[layout.unknown_name]: unknown name 'customer'", NAMES)],
    ),
    Case(
        "set-name-used-outside-its-loop",
        email("{% for c in brand.colors %}{% set n = c %}{% endfor %}\n{{ n }}{{ c }}"),
        [
            (f"{EMAIL}:8:4: error[layout.unknown_name]: unknown name 'n'", NAMES),
            (f"{EMAIL}:8:11: error[layout.unknown_name]: unknown name 'c'", NAMES),
        ],
    ),
    Case(
        "loop-field",
        email("{% for c in brand.colors %}{{ loop.indx }}{% endfor %}"),
        [
            (
                f"{EMAIL}:7:51: error[layout.unknown_field]: loop has no field 'indx'",
                "did you mean 'index'? fields of loop: depth, depth0, first, index, index0, last, "
                "length, nextitem, previtem, revindex, revindex0",
            )
        ],
    ),
    # -- filters and tests: exit 70 in build and preview before -------------------------------
    Case(
        "unknown-filter",
        email("{{ slots.headline | nosuchfilter }}"),
        [
            (
                f"{EMAIL}:7:36: error[layout.unknown_filter]: unknown filter 'nosuchfilter'",
                f"filters layouts may use: {FILTERS}",
            )
        ],
    ),
    Case(
        "attr-filter",
        email("{{ brand|attr('name') }}"),
        [
            (
                f"{EMAIL}:7:25: error[layout.unknown_filter]: unknown filter 'attr'",
                f"filters layouts may use: {FILTERS}",
            )
        ],
    ),
    Case(
        "filter-typo",
        email("{{ brand.name|uper }}"),
        [
            (
                f"{EMAIL}:7:30: error[layout.unknown_filter]: unknown filter 'uper'",
                f"did you mean 'upper'? filters layouts may use: {FILTERS}",
            )
        ],
    ),
    Case(
        "unknown-test",
        email("{% if brand.logo is not nosuch %}x{% endif %}"),
        [
            (
                f"{EMAIL}:7:40: error[layout.unknown_test]: unknown test 'nosuch'",
                "tests layouts may use: defined, even, mapping, none, number, odd, string, "
                "undefined",
            )
        ],
    ),
    # -- statements and calls the sandbox refuses ---------------------------------------------
    Case(
        "include",
        email("{%- include 'footer.mjml' %}"),
        [
            (
                f"{EMAIL}:7:20: error[layout.not_allowed]: {{% include %}} is not allowed in layouts",
                NOT_ALLOWED,
            )
        ],
    ),
    Case(
        "macro-and-set-block",
        email("{% macro m() %}{{ nothing }}{% endmacro %}\n{% set x %}x{% endset %}"),
        [
            (
                f"{EMAIL}:7:19: error[layout.not_allowed]: {{% macro %}} is not allowed in layouts",
                NOT_ALLOWED,
            ),
            (
                f"{EMAIL}:8:4: error[layout.not_allowed]: {{% set ... endset %}} is not allowed "
                "in layouts",
                NOT_ALLOWED,
            ),
        ],
    ),
    Case(
        "format-call",
        email("{{ '{0}'.format(brand) }}"),
        [
            (
                f"{EMAIL}:7:25: error[layout.not_allowed]: calling 'format' is not allowed in layouts",
                "layouts may call range(), the text methods endswith, lower, lstrip, rstrip, "
                "split, startswith, strip, title, upper, the mapping methods get, items, keys, "
                "values and loop.cycle/loop.changed",
            )
        ],
    ),
    Case(
        "underscore-attribute",
        email("{{ brand.name.__class__ }}"),
        [
            (
                f"{EMAIL}:7:30: error[layout.not_allowed]: attribute '__class__' is not allowed "
                "in layouts",
                "names starting with an underscore are internal; layouts may only show slots, "
                "brand and message values",
            )
        ],
    ),
    Case(
        "syntax",
        email("{% if %}x{% endif %}"),
        [
            (
                f"{EMAIL}:7:1: error[layout.syntax]: template syntax error: expected an "
                "expression, got 'end of statement block'",
                "fix the Jinja tag on this line",
            )
        ],
    ),
    Case(
        "page-message-field-typo",
        page("<title>{{ message.titel }}</title>\n<h1>{{ slots.headline }}</h1>\n"),
        [
            (
                f"{PAGE}:1:19: error[layout.unknown_message_field]: message has no field 'titel'",
                "did you mean 'title'? fields of message: channel, description, journey, "
                "journey_name, lang, locale, step, step_name, title",
            )
        ],
    ),
    # -- valid layouts: nothing to report, and they build ------------------------------------
    Case(
        "guarded-optional-slots",
        email(
            "{% if slots.legal %}{{ slots.legal }}{% endif %}"
            "{% if slots.cta is defined %}{{ slots.cta['url'] }}{% endif %}"
        ),
    ),
    Case(
        "names-the-layout-sets",
        email(
            "{% set de = (message.lang or message.locale)[:2] == 'de' %}{% if de %}Hallo{% endif %}"
            "{% for name, value in brand.colors.items() %}{{ loop.index }}{{ name }}={{ value }}"
            "{{ loop.cycle('a', 'b') }}{% endfor %}"
            "{% with n = brand.name %}{{ n|upper }}{% endwith %}"
            "{% for i in range(2) if i is odd %}{{ i }}{% endfor %}"
        ),
    ),
    Case(
        "methods-the-sandbox-allows",
        email(
            "{{ brand.name.upper() }}{{ brand.colors.get('primary') }}"
            "{% for s in slots.keys() %}{{ s }}{% endfor %}{{ brand.sender.email.split('@')[0] }}"
        ),
    ),
    Case(
        "page-message-fields",
        page(
            '<html lang="{{ message.lang }}"><title>{{ message.title }}</title>'
            '<meta name="description" content="{{ message.description }}">'
            "<h1>{{ slots.headline }}</h1></html>\n"
        ),
    ),
]


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layout_lint(tmp_path: Path, case: Case) -> None:
    _library, diagnostics = check_content(write_tree(tmp_path / "content", case.files), DAY)
    assert [(fmt(d), d.hint) for d in diagnostics.errors] == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_layout_validate_accepts_builds(tmp_path: Path, case: Case) -> None:
    """Validate catches everything build rejects in layouts: no errors -> the build succeeds."""
    content = write_tree(tmp_path / "content", case.files)
    _library, diagnostics = check_content(content, DAY)
    if diagnostics.has_errors:
        assert case.expected
        return
    checked = check(content, DateRange.of(DAY), jobs=1)
    assert list(checked.diagnostics) == list(diagnostics)  # validate is the build's pipeline
    result = build(content, tmp_path / "dist", on=DAY, jobs=1, use_cache=False, checked=checked)
    assert result.variants


def test_every_demo_layout_lints_clean() -> None:
    library, _diagnostics = load_files(DEMO_CONTENT)
    assert library.settings is not None
    kinds = {slot: spec.kind for slot, spec in library.settings.slots.items()}
    templates = [entry for entry in library.layouts.values() if entry.template_source]
    assert len(templates) >= 3
    for entry in templates:
        assert lint_layout(entry, kinds) == [], entry.template_path


def test_all_problems_of_one_template_are_reported_in_order() -> None:
    source = "{{ slots.x }}\n{{ brand.y }} {{ z }}\n{% include 'a' %}{{ 1|w }}"
    found = lint_layout_source(source, path="t.j2", channel="email", slots={})
    assert [(d.line, d.col, d.code) for d in found] == [
        (1, 10, "layout.unknown_slot"),
        (2, 10, "layout.unknown_brand_field"),
        (2, 18, "layout.unknown_name"),
        (3, 4, "layout.not_allowed"),
        (3, 23, "layout.unknown_filter"),
    ]


def test_fields_of_a_slot_unknown_to_settings_are_not_guessed() -> None:
    # atomic.yaml does not know the slot: validate reports ref.unknown_slot on the YAML.
    found = lint_layout_source(
        "{{ slots.promo.anything }}", path="t.j2", channel="email", slots={"promo": None}
    )
    assert found == []


# -- the lint's vocabulary is the renderer's ---------------------------------------------------


def test_message_fields_are_what_layouts_receive(render_tree: RenderTree) -> None:
    run = render_run_message(
        render_tree(), {"id": "C-1", "locale": "en", "tier": "gold", "orders": 1}
    )
    ctx = AssemblyContext.from_library(run.library)
    assert set(message_vars(ctx, run.resolution)) == MESSAGE_FIELDS
    # A channel's own message fields (the renderer's) add to the common ones, never rename them.
    for renderer in RENDERERS.values():
        assert not MESSAGE_FIELDS & renderer.message_fields, renderer.name
    assert any(renderer.message_fields for renderer in RENDERERS.values())


def test_slot_fields_are_what_layouts_receive(render_demo_library: Library) -> None:
    ctx = AssemblyContext.from_library(render_demo_library)
    kinds = {slot: spec.kind for slot, spec in ctx.settings.slots.items()}
    seen: set[SlotKind] = set()
    for atom in render_demo_library.atoms.values():
        kind = kinds[atom.slot]
        if kind in seen or kind in (SlotKind.LINE, SlotKind.MARKDOWN):
            continue
        seen.add(kind)
        slots = layout_slots(ctx, {atom.slot: atom}, TokenVault([]), "en")
        assert set(slots[atom.slot]) == SLOT_FIELDS[kind], atom.id
    assert seen == {SlotKind.CTA, SlotKind.IMAGE, SlotKind.OFFER}


# -- the renderer names the line of a layout error it can position ------------------------------


@pytest.mark.parametrize(
    "source",
    ["x\n{{ brand.name|nosuchfilter }}", "x\n{{ brand.name is nosuch }}"],
    ids=["filter", "test"],
)
def test_unknown_filter_or_test_is_a_render_error_with_its_line(source: str) -> None:
    with pytest.raises(RenderError) as caught:
        render_layout(source, name="x", variables={"brand": {"name": "Acme"}})
    assert caught.value.code == "render.layout_invalid"
    assert caught.value.message.startswith("line 2: No ")


def test_arithmetic_error_is_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        render_layout("{{ 1 / 0 }}", name="x", variables={})
    assert caught.value.code == "render.layout_failed"


@pytest.mark.parametrize(
    "number", ["0x" + "f" * 5000, "9" * 5000, "0o" + "7" * 5000], ids=["hex", "decimal", "octal"]
)
def test_a_number_too_large_is_a_render_error_with_its_line(number: str) -> None:
    with pytest.raises(RenderError) as caught:
        render_layout("x\n{{ " + number + " }}", name="x", variables={})
    assert caught.value.code == "render.layout_invalid"
    assert caught.value.message == (
        "line 2: this number is too large: written out, it has more than 4,300 digits"
    )
