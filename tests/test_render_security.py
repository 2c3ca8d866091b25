"""Hostile input never becomes markup, JSON structure, a header or code.

* hostile customer values: literal (escaped) text in HTML, intact strings in valid JSON, refused
  in the subject header;
* hostile atoms (content that skipped validation): raw HTML is text, unsafe links are dropped
  or refused, tokens outside the subset do not run;
* hostile layouts: sandbox escapes, huge loops, memory bombs and token forgery fail with a
  RenderError, quickly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from markupsafe import Markup, escape

from atomic_content.channels.base import render_layout
from atomic_content.errors import ContentError, RenderError
from atomic_content.validate import load_library
from conftest import RenderTree, render_run_message

SILVER = {"id": "C-9", "locale": "en", "tier": "silver", "orders": 4}
NAME = '{{ customer.first_name | default("friend") }}'

# The subject stays free of customer values here, so every value reaches every other part.
PERSONAL = {
    "atoms/subject.yaml": "slot: subject\nchannels: [email]\nstatus: approved\ntext: Welcome\n",
    "atoms/headline.yaml": f"slot: headline\nstatus: approved\ntext: 'Hello {NAME}'\n",
    "atoms/body.yaml": f"slot: body\n"
    f"status: approved\ntext: |\n  Dear *{NAME}*, thanks for joining.\n",
    "atoms/cta.yaml": "slot: cta\nstatus: approved\n"
    f"cta: {{label: 'Go, {NAME}', url: 'https://www.acme.example/shop'}}\n",
    "atoms/push-title.yaml": f"slot: push_title\n"
    f"channels: [app]\nstatus: approved\ntext: 'Hi {NAME}'\n",
    "layouts/app/push.yaml": "slots:\n  push_title: required\n  push_body: required\n"
    "  headline: required\n  body: required\n  cta: required\n",
}

HOSTILE_VALUES = {
    "markup": "<script>alert(1)</script><b>bold</b>",
    "attribute": '" onmouseover="alert(1)" x=\'',
    "crlf": "Ada\r\nBcc: victim@example.com",
    "encoded-word": "=?utf-8?q?=48=69?=",
    "bidi": "\u202eevil\u202c",
    "zero-width": "A\u200bda",
    "template": "{{ 7*7 }}{% if true %}x{% endif %}",
    "markdown-link": "[Refund](https://x.example)",
    "json-breaker": '"}, "evil": {"x": "\\',
    "long": "x" * 5000,
}


@pytest.fixture
def personal_tree(render_tree: RenderTree) -> Path:
    return render_tree(PERSONAL)


@pytest.mark.parametrize("value", list(HOSTILE_VALUES.values()), ids=list(HOSTILE_VALUES))
def test_hostile_value_is_literal_text_in_html(personal_tree: Path, value: str) -> None:
    run = render_run_message(personal_tree, {**SILVER, "first_name": value})
    html = run.rendered.parts["html"]
    escaped = str(escape(value))
    assert f"<h1>Hello {escaped}</h1>" in html
    assert f"<em>{escaped}</em>" in html
    assert f"Go, {escaped}" in html
    assert "<script" not in html and 'onmouseover="' not in html
    assert '<a href="https://x.example">' not in html
    assert ">49<" not in html and "Hello 49" not in html
    # text/plain carries the value as it is: it is never interpreted.
    assert f"Hello {value}" in run.rendered.parts["text"]


@pytest.mark.parametrize("value", list(HOSTILE_VALUES.values()), ids=list(HOSTILE_VALUES))
def test_hostile_value_keeps_app_json_valid(personal_tree: Path, value: str) -> None:
    run = render_run_message(personal_tree, {**SILVER, "first_name": value}, channel="app")
    push = json.loads(run.rendered.parts["push.json"])
    card = json.loads(run.rendered.parts["card.json"])
    assert set(push) == {"title", "body", "deep_link"}
    assert push["title"] == f"Hi {value}"
    assert card["title"] == f"Hello {value}"
    assert card["cta"]["label"] == f"Go, {value}"
    assert f"<em>{escape(value)}</em>" in card["body_html"]
    assert "<script" not in card["body_html"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Ada\r\nBcc: victim@example.com", "carriage return"),
        ("Ada\nBcc: victim@example.com", "line feed"),
        ("Ada\u2028x", "U+2028"),
        ("Ada\u2029x", "U+2029"),
        ("Ada\x00", "NUL"),
        ("\u202eada", "direction"),
        ("A\u200bda", "invisible"),
        ("=?utf-8?b?QWRh?=", "encoded word"),
        ("x" * 2000, "longer than 998"),
    ],
)
def test_subject_refuses_header_injection(render_tree: RenderTree, value: str, reason: str) -> None:
    content = render_tree()  # the base subject is "Welcome to Acme, {{ customer.first_name ... }}"
    with pytest.raises(RenderError) as caught:
        render_run_message(content, {**SILVER, "first_name": value}, customer_id="C-9")
    error = caught.value
    assert error.code == "render.header_injection"
    assert (error.customer_id, error.atom_id) == ("C-9", "subject")
    assert reason in str(error)
    assert value not in str(error) and "Ada" not in str(error)


@pytest.mark.parametrize(
    "value", ["<b>bold</b> \"quoted\" 'single'", "{{ 7*7 }}", "[Refund](https://x.example)"]
)
def test_subject_keeps_harmless_values_verbatim(render_tree: RenderTree, value: str) -> None:
    run = render_run_message(render_tree(), {**SILVER, "first_name": value})
    assert run.rendered.parts["subject"] == f"Welcome to Acme, {value}"
    assert f"<title>Welcome to Acme, {escape(value)}</title>" in run.rendered.parts["html"]


def test_very_long_value_stops_rendering_without_quoting_it(personal_tree: Path) -> None:
    value = "y" * 300_000
    with pytest.raises(RenderError) as caught:
        render_run_message(personal_tree, {**SILVER, "first_name": value}, customer_id="C-9")
    assert caught.value.code == "render.output_too_large"
    assert "yyyy" not in str(caught.value)


def test_markup_typed_value_is_still_escaped(personal_tree: Path) -> None:
    run = render_run_message(personal_tree, {**SILVER, "first_name": Markup("<b>trusted?</b>")})
    assert "&lt;b&gt;trusted?&lt;/b&gt;" in run.rendered.parts["html"]


def test_undeclared_attributes_never_reach_templates(render_tree: RenderTree) -> None:
    content = render_tree(
        {"atoms/headline.yaml": "slot: headline\nstatus: approved\ntext: '{{ customer.secret }}'\n"}
    )
    with pytest.raises(ContentError):
        load_library(content)  # validation refuses the undeclared attribute ...
    with pytest.raises(RenderError) as caught:  # ... and rendering never shows it
        render_run_message(content, {**SILVER, "secret": "s3cr3t"}, validate=False)
    assert caught.value.code == "render.missing_value"
    assert "s3cr3t" not in str(caught.value)


# -- hostile atoms --------------------------------------------------------------------------

RAW_HTML_BODY = (
    "slot: body\nstatus: approved\ntext: |\n  <script>alert(1)</script>\n\n"
    '  Hi <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a>\n'
)
BAD_LINKS_BODY = (
    "slot: body\nstatus: approved\ntext: |\n"
    "  [click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n"
    "  ![img](data:image/png;base64,AAAA) [host](https://{{ customer.first_name }}.evil.example)\n"
    "  [vb](vbscript:msgbox) [rel](/relative) [proto](//evil.example)\n"
)


@pytest.mark.parametrize("body", [RAW_HTML_BODY, BAD_LINKS_BODY], ids=["raw-html", "bad-links"])
@pytest.mark.parametrize("channel", ["email", "app"])
def test_hostile_atom_markdown_is_neutralised(
    render_tree: RenderTree, body: str, channel: str
) -> None:
    content = render_tree({**PERSONAL, "atoms/body.yaml": body})
    with pytest.raises(ContentError):
        load_library(content)
    run = render_run_message(
        content, {**SILVER, "first_name": "Ada"}, channel=channel, validate=False
    )
    # Markup lives in the HTML parts and in the card's body_html; plain-text parts and fields
    # may show the atom's text as text, which is harmless.
    markup = [
        text for name, text in run.rendered.parts.items() if name in ("html", "card_body.html")
    ]
    if "card.json" in run.rendered.parts:
        markup.append(json.loads(run.rendered.parts["card.json"])["body_html"])
    everything = "\n".join(markup)
    lowered = everything.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered
    for scheme in ("javascript:", "data:", "vbscript:"):
        assert f'href="{scheme}' not in lowered and f'src="{scheme}' not in lowered
    assert 'href="/relative"' not in lowered and 'href="//evil' not in lowered
    assert '.evil.example"' not in lowered
    if body is RAW_HTML_BODY:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everything


@pytest.mark.parametrize(
    ("field", "atom", "validation_refuses"),
    [
        (
            "cta",
            "slot: cta\nstatus: approved\ncta: {label: Go, url: 'javascript:alert(1)'}\n",
            True,
        ),
        (
            "cta",
            "slot: cta\nstatus: approved\ncta: {label: Go, url: '{{ customer.first_name }}'}\n",
            True,
        ),
        # Validation checks the scheme only; the renderer also refuses a token in the host.
        (
            "cta",
            "slot: cta\n"
            "status: approved\ncta: {label: Go, url: 'https://{{ customer.id }}.x.example'}\n",
            False,
        ),
        (
            "image",
            "slot: image\nstatus: approved\nimage: {src: 'data:image/png;base64,AAAA', alt: A}\n",
            True,
        ),
    ],
)
def test_hostile_atom_urls_are_refused(
    render_tree: RenderTree, field: str, atom: str, validation_refuses: bool
) -> None:
    content = render_tree(
        {
            f"atoms/{field}.yaml": atom,
            "layouts/email/basic.yaml": "template: basic.mjml\nslots:\n  subject: required\n"
            "  headline: required\n  body: required\n  cta: optional\n  image: optional\n",
        }
    )
    if validation_refuses:
        with pytest.raises(ContentError):
            load_library(content)
    with pytest.raises(RenderError) as caught:
        render_run_message(content, {**SILVER, "first_name": "Ada"}, validate=False)
    assert caught.value.code == "render.link_not_allowed"
    assert caught.value.atom_id == field


@pytest.mark.parametrize(
    "token",
    [
        "{{ customer.__class__ }}",
        "{{ brand.name.__class__.__mro__ }}",
        "{{ brand.__init__.__globals__ }}",
        "{% for x in brand %}{{ x }}{% endfor %}",
        "{{ brand.name.upper() }}",
        "{{ 'a' * 100000000 }}",
        "{% set x = 1 %}",
        "{% include 'atomic.yaml' %}",
    ],
)
def test_hostile_atom_tokens_do_not_run(render_tree: RenderTree, token: str) -> None:
    content = render_tree(
        {"atoms/headline.yaml": f'slot: headline\nstatus: approved\ntext: "Hi {token}"\n'}
    )
    with pytest.raises(ContentError):
        load_library(content)
    with pytest.raises(RenderError) as caught:
        render_run_message(content, {**SILVER, "first_name": "Ada"}, validate=False)
    assert caught.value.code in {
        "render.template_not_allowed",
        "render.template_invalid",
        "render.missing_value",
        "render.security",
    }


# -- hostile layouts ------------------------------------------------------------------------

HOSTILE_LAYOUTS = {
    "mro": ("{{ ''.__class__.__mro__ }}", "render.layout_security"),
    "subclasses": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "render.layout_security"),
    "globals": ("{{ brand.__init__.__globals__ }}", "render.layout_security"),
    "format": ("{{ '{0.__class__}'.format(brand) }}", "render.layout_security"),
    "range": ("{% for i in range(10**9) %}x{% endfor %}", "render.layout_failed"),
    "silent-loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "render.layout_too_expensive",
    ),
    "output-flood": (
        "{% for i in range(100000) %}{% for j in range(1000) %}xxxxxxxx{% endfor %}{% endfor %}",
        "render.layout_too_expensive",
    ),
    "string-bomb": ("{{ 'x' * 10**9 }}", "render.layout_security"),
    "concat-bomb": (
        "{% set a = 'xxxxxxxxxxxxxxxx' %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}",
        "render.layout_too_expensive",
    ),
    "join-bomb": (
        "{% set a = range(100000)|join %}{% set b = [a, a, a, a, a, a, a, a]|join %}{{ b }}",
        "render.layout_too_expensive",
    ),
    "big-int": ("{{ 2 ** 100000000 }}", "render.layout_security"),
    "big-product": (
        "{% set a = 10 ** 300 %}{{ a * a * a * a * a * a * a * a * a * a * a * a * a * a }}",
        "render.layout_security",
    ),
    "macro": ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "render.layout_not_allowed"),
    "include": ("{% include '/etc/passwd' %}", "render.layout_not_allowed"),
    "customer": ("{{ customer.first_name }}", "render.layout_undefined"),
    "mutation": ("{{ brand.colors.update({'a': 1}) }}", "render.layout_security"),
    "lipsum": ("{{ lipsum(1000) }}", "render.layout_security"),
    "syntax": ("{% if %}", "render.layout_invalid"),
}


@pytest.mark.parametrize(
    ("source", "code"), list(HOSTILE_LAYOUTS.values()), ids=list(HOSTILE_LAYOUTS)
)
@pytest.mark.parametrize("channel", ["email", "microsite"])
def test_hostile_layout_fails_fast(
    render_tree: RenderTree, source: str, code: str, channel: str
) -> None:
    content = render_tree(_with_layout(channel, source))
    started = time.perf_counter()
    # Validation only parses layouts; skipping it shows the renderer stands guard on its own.
    with pytest.raises(RenderError) as caught:
        render_run_message(
            content, {**SILVER, "first_name": "Ada"}, channel=channel, validate=False
        )
    assert caught.value.code == code, caught.value
    assert time.perf_counter() - started < 10


def test_layout_cannot_forge_tokens(render_tree: RenderTree) -> None:
    forged = (
        "<h1>{{ slots.headline }}</h1><p>{{ '{{ customer.first_name }}' }} {{ '{% if 1 %}' }}</p>"
    )
    content = render_tree(_with_layout("microsite", forged))
    run = render_run_message(content, {**SILVER, "first_name": "Ada"}, channel="microsite")
    assert "<p>{{ customer.first_name }} {% if 1 %}</p>" in run.rendered.parts["index.html"]


def test_layout_that_alters_token_placeholders_fails(render_tree: RenderTree) -> None:
    content = render_tree(_with_layout("microsite", "<h1>{{ slots.headline|upper }}</h1>"))
    with pytest.raises(RenderError) as caught:
        render_run_message(content, {**SILVER, "first_name": "Ada"}, channel="microsite")
    assert caught.value.code == "render.placeholder_damaged"


def _with_layout(channel: str, source: str) -> dict[str, str | bytes | None]:
    from contentkit import JOURNEY, SETTINGS

    headline = f"slot: headline\nstatus: approved\ntext: 'Hello {NAME}'\n"
    if channel == "email":
        mjml = f"<mjml><mj-body><mj-section><mj-column><mj-text>{source}</mj-text>"
        mjml += "</mj-column></mj-section></mj-body></mjml>\n"
        return {"layouts/email/basic.mjml": mjml, "atoms/headline.yaml": headline}
    return {
        "atomic.yaml": SETTINGS.replace("  app: {}\n", "  app: {}\n  microsite: {}\n"),
        "journeys/welcome.yaml": JOURNEY.replace(
            "channels: {email: basic, app: push}", "channels: {email: basic, microsite: page}"
        ),
        "layouts/microsite/page.yaml": "template: page.html.j2\nslots:\n  headline: required\n",
        "layouts/microsite/page.html.j2": source,
        "atoms/headline.yaml": headline,
    }


def test_layout_mapping_keys_win_over_dict_methods() -> None:
    source = "{{ slots.items }}|{{ brand.get }}|"
    source += "{% for k, v in brand.colors.items() %}{{ k }}{% endfor %}"
    variables = {"slots": {"items": "ITEMS"}, "brand": {"get": "GET", "colors": {"a": "1"}}}
    assert render_layout(source, name="x", variables=variables) == "ITEMS|GET|a"


def test_layout_error_names_the_first_forbidden_statement() -> None:
    with pytest.raises(RenderError) as caught:
        render_layout(
            "ok\n{% include 'x' %}\n{% macro m() %}{% endmacro %}", name="x", variables={}
        )
    assert str(caught.value).startswith("[render.layout_not_allowed] line 2: {% include %}")


def test_layout_errors_are_reproducible() -> None:
    messages = set()
    for _ in range(2):
        with pytest.raises(RenderError) as caught:
            render_layout("{{ '{0}'.format(1) }}", name="x", variables={})
        messages.add(str(caught.value))
    (message,) = messages
    assert " at 0x" not in message
