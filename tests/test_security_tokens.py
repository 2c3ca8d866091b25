"""Hostile atom text, hostile customer values and hostile Markdown: every outcome is safe.

Three lines of defence are exercised separately:

1. ``lint_template`` / ``lint_markdown`` reject hostile content at build time, with a position;
2. ``TokenEnvironment.compile`` refuses anything outside the token subset again;
3. the sandbox alone (``_compile_unchecked``, i.e. without the subset check) still blocks every
   escape: SecurityError becomes RenderError, or the output cap stops the render.
"""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from typing import Any

import pytest

from atomic_content.errors import RenderError
from atomic_content.markdown import lint_markdown, render_markdown
from atomic_content.tokens import AttributeInfo, TokenEnvironment, lint_template

ATTRIBUTES = {
    "first_name": AttributeInfo("string", optional=False),
    "tags": AttributeInfo("list", optional=True),
}
SCHEMES = frozenset({"https", "mailto"})

# (source, a code lint must report, the code the bare sandbox raises)
SANDBOX_ESCAPES = [
    pytest.param(
        "{{ ''.__class__.__mro__ }}", "token.private_attribute", "render.security", id="mro"
    ),
    pytest.param(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "token.private_attribute",
        "render.security",
        id="subclasses",
    ),
    pytest.param(
        "{{ cycler.__init__.__globals__ }}",
        "token.private_attribute",
        "render.missing_value",
        id="cycler-globals",
    ),
    pytest.param(
        "{{ self._TemplateReference__context }}",
        "token.private_attribute",
        "render.security",
        id="template-reference",
    ),
    pytest.param(
        "{{ lipsum.__globals__ }}", "token.private_attribute", "render.missing_value", id="lipsum"
    ),
    pytest.param(
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "token.call_not_allowed",
        "render.security",
        id="lipsum-os",
    ),
    pytest.param("{{ range(10**9) }}", "token.call_not_allowed", "render.security", id="range"),
    pytest.param(
        "{{ range(10**9) | list }}",
        "token.filter_not_allowed",
        "render.template_invalid",
        id="range-list",
    ),
    pytest.param("{{ 'a' * 10**9 }}", "token.not_allowed", "render.security", id="string-times"),
    pytest.param("{{ 9**9**9 }}", "token.not_allowed", "render.security", id="huge-power"),
    pytest.param(
        "{{ '%s' % customer }}", "token.not_allowed", "render.security", id="percent-format"
    ),
    pytest.param("{% for %}", "token.syntax", "render.template_invalid", id="for-empty"),
    pytest.param(
        "{% for a in customer.s %}{% for b in customer.s %}{{ customer.s }}"
        "{% endfor %}{% endfor %}",
        "token.not_allowed",
        "render.output_too_large",
        id="for-bomb",
    ),
    pytest.param("{% include 'secret.txt' %}", "token.not_allowed", "render.failed", id="include"),
    pytest.param(
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "token.not_allowed",
        "render.security",
        id="macro-recursion",
    ),
    pytest.param(
        "{{ customer|attr('__class__') }}",
        "token.filter_not_allowed",
        "render.template_invalid",
        id="attr-filter",
    ),
    pytest.param(
        '{{ "{0.__class__}".format(customer) }}',
        "token.call_not_allowed",
        "render.security",
        id="str-format",
    ),
    pytest.param(
        "{{ customer.s.format_map(customer) }}",
        "token.call_not_allowed",
        "render.security",
        id="format-map",
    ),
    pytest.param(
        "{{ customer.items() }}", "token.call_not_allowed", "render.security", id="dict-method"
    ),
    pytest.param(
        "{{ customer.s.__class__ }}",
        "token.private_attribute",
        "render.security",
        id="value-dunder",
    ),
    pytest.param(
        "{% set x = customer.__class__ %}{{ x }}", "token.not_allowed", "render.security", id="set"
    ),
    pytest.param(
        "{% raw %}{{ customer.s }}{% endraw %}", "token.not_allowed", None, id="raw-block"
    ),
]


@pytest.mark.parametrize(("source", "lint_code", "sandbox_code"), SANDBOX_ESCAPES)
def test_lint_rejects_sandbox_escapes_with_a_position(
    source: str, lint_code: str, sandbox_code: str | None
) -> None:
    problems = lint_template(source, ATTRIBUTES, brand_fields=frozenset(), slot_fields={})
    assert lint_code in {p.code for p in problems}
    for problem in problems:
        assert problem.line == 1
        assert 1 <= problem.col <= len(source)


@pytest.mark.parametrize(("source", "lint_code", "sandbox_code"), SANDBOX_ESCAPES)
def test_compile_refuses_sandbox_escapes(
    source: str, lint_code: str, sandbox_code: str | None
) -> None:
    env = TokenEnvironment(locale="en", mode="html")
    with pytest.raises(RenderError) as info:
        env.compile(source)
    assert info.value.code in {"render.template_not_allowed", "render.template_invalid"}


@pytest.mark.parametrize(("source", "lint_code", "sandbox_code"), SANDBOX_ESCAPES)
def test_sandbox_alone_blocks_escapes(
    source: str, lint_code: str, sandbox_code: str | None
) -> None:
    env = TokenEnvironment(locale="en", mode="html")
    context = {"customer": {"s": "x" * 1000, "first_name": "Anna"}}
    if sandbox_code is None:
        # A raw block only prints its body as text: harmless, the token is not evaluated.
        assert env._compile_unchecked(source).render(context) == "{{ customer.s }}"
        return
    with pytest.raises(RenderError) as info:
        env._compile_unchecked(source).render(context, customer_id="c-1")
    assert info.value.code == sandbox_code
    assert info.value.customer_id == ("c-1" if sandbox_code != "render.template_invalid" else None)


# ------------------------------------------------------------------------------------------
# hostile customer values
# ------------------------------------------------------------------------------------------

HOSTILE_VALUES = [
    pytest.param("<script>alert(1)</script>", False, id="script"),
    pytest.param('"><img src=x onerror=alert(1)>', False, id="attribute-breakout"),
    pytest.param("[Refund](https://x.example)", False, id="markdown-link"),
    pytest.param("{{ 7*7 }}", False, id="template-expression"),
    pytest.param("{% raw %}{{ customer }}{% endraw %}", False, id="template-raw"),
    pytest.param("Anna\r\nBcc: all@example.com", True, id="crlf"),
    pytest.param("Anna\nX-Injected: 1", True, id="lf"),
    pytest.param("=?utf-8?q?=41nna?=", True, id="encoded-word"),
    pytest.param("Anna\u202egnp.exe", True, id="bidi-override"),
    pytest.param("An\u200bna", True, id="zero-width-space"),
    pytest.param("A" * 100_000, True, id="100k-chars"),
]

ATOM = "Hi {{ customer.first_name }}!"


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _TagCollector()
    collector.feed(markup)
    collector.close()
    return collector.tags


@pytest.mark.parametrize(("value", "header_unsafe"), HOSTILE_VALUES)
def test_hostile_value_is_escaped_text_in_html(value: str, header_unsafe: bool) -> None:
    env = TokenEnvironment(locale="en", mode="html")
    out = env.compile("<p>" + ATOM + "</p>").render({"customer": {"first_name": value}})
    assert _tags(out) == [("p", {})]
    assert html.unescape(out) == "<p>Hi " + value + "!</p>"


@pytest.mark.parametrize(("value", "header_unsafe"), HOSTILE_VALUES)
def test_hostile_value_through_markdown_stays_literal(value: str, header_unsafe: bool) -> None:
    # The real pipeline: atom Markdown -> HTML template (build time) -> customer render.
    template_html = render_markdown(ATOM).html
    env = TokenEnvironment(locale="en", mode="html")
    out = env.compile(template_html).render({"customer": {"first_name": value}})
    assert _tags(out) == [("p", {})]
    assert html.unescape(out) == "<p>Hi " + value + "!</p>\n"

    template_text = render_markdown(ATOM).text
    text_env = TokenEnvironment(locale="en", mode="text")
    assert text_env.compile(template_text).render({"customer": {"first_name": value}}) == (
        "Hi " + value + "!"
    )


@pytest.mark.parametrize(("value", "header_unsafe"), HOSTILE_VALUES)
def test_hostile_value_is_json_safe(value: str, header_unsafe: bool) -> None:
    env = TokenEnvironment(locale="en", mode="json")
    out = env.compile('{"title": "' + ATOM + '", "n": 1}').render(
        {"customer": {"first_name": value}}
    )
    assert json.loads(out) == {"title": "Hi " + value + "!", "n": 1}


@pytest.mark.parametrize(("value", "header_unsafe"), HOSTILE_VALUES)
def test_hostile_value_in_header_mode(value: str, header_unsafe: bool) -> None:
    env = TokenEnvironment(locale="en", mode="header")
    template = env.compile(ATOM)
    context: dict[str, Any] = {"customer": {"first_name": value}}
    if not header_unsafe:
        # Markup or template syntax in a subject is just text: mail clients show it as is.
        assert template.render(context) == "Hi " + value + "!"
        return
    with pytest.raises(RenderError) as info:
        template.render(context, customer_id="c-7")
    assert info.value.code == "render.header_injection"
    assert info.value.customer_id == "c-7"
    assert value not in str(info.value)
    assert "Anna" not in str(info.value)


def test_long_values_hit_the_output_cap() -> None:
    env = TokenEnvironment(locale="en", mode="html")
    template = env.compile(ATOM + ATOM + ATOM)
    with pytest.raises(RenderError) as info:
        template.render({"customer": {"first_name": "A" * 100_000}}, customer_id="c-3")
    assert info.value.code == "render.output_too_large"


def test_values_are_never_evaluated() -> None:
    env = TokenEnvironment(locale="en", mode="text")
    out = env.compile(ATOM).render({"customer": {"first_name": "{{ 7*7 }}{% if 1 %}x{% endif %}"}})
    assert out == "Hi {{ 7*7 }}{% if 1 %}x{% endif %}!"


# ------------------------------------------------------------------------------------------
# hostile Markdown
# ------------------------------------------------------------------------------------------

SAFE_TAGS = {
    "p", "a", "em", "strong", "img", "code", "pre", "ul", "ol", "li", "blockquote", "br", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


def _assert_safe_html(markup: str) -> None:
    assert "<script" not in markup.lower()
    for tag, attrs in _tags(markup):
        assert tag in SAFE_TAGS, tag
        for name, value in attrs.items():
            assert name in {"href", "src", "alt", "start"}, name
            if name in {"href", "src"}:
                assert value is not None
                assert value.lower().startswith(("https://", "mailto:")), value


HOSTILE_LINKS = [
    pytest.param("[x](javascript:alert(1))", 1, id="javascript"),
    pytest.param("[x](JaVaScRiPt:alert(1))", 1, id="javascript-mixed-case"),
    pytest.param("[x]( javascript:alert(1) )", 1, id="javascript-spaces"),
    pytest.param("[x](java&#115;cript:alert(1))", 1, id="javascript-entity"),
    pytest.param("[x](<javascript:alert(1)>)", 1, id="javascript-angle"),
    pytest.param("[x](vbscript:msgbox(1))", 1, id="vbscript"),
    pytest.param("[x](data:text/html,<script>alert(1)</script>)", 1, id="data"),
    pytest.param("[x](file:///etc/passwd)", 1, id="file"),
    pytest.param("[x](//evil.example)", 1, id="protocol-relative"),
    pytest.param("[x](/account)", 1, id="relative"),
    pytest.param("[x](https:evil.example)", 1, id="https-without-host"),
    pytest.param("[x]({{ customer.url }})", 1, id="token-first"),
    pytest.param("[x](https://{{ customer.host }}/)", 1, id="token-host"),
    pytest.param("[x](https://x.example{{ customer.suffix }})", 1, id="token-in-host"),
    pytest.param("![x](javascript:alert(1))", 1, id="image-javascript"),
    pytest.param("![x](data:image/svg+xml;base64,PHN2Zz4=)", 1, id="image-data"),
    pytest.param("<javascript:alert(1)>", 1, id="autolink-javascript"),
    pytest.param("[x][r]\n\n[r]: javascript:alert(1)", 1, id="reference"),
]

HOSTILE_HTML = [
    pytest.param("<script>alert(1)</script>", 1, id="script-block"),
    pytest.param("Hello <script>alert(1)</script>", 1, id="script-inline"),
    pytest.param("Hi <img src=x onerror=alert(1)>", 1, id="img-onerror"),
    pytest.param('<a href="javascript:alert(1)">x</a>', 1, id="raw-anchor"),
    pytest.param("x <!-- comment -->", 1, id="comment"),
]

HARMLESS_AFTER_RENDERING = [
    pytest.param('[x](https://ok.example "t\\" onmouseover=\\"alert(1)")', id="title-breakout"),
    pytest.param('[x](https://ok.example/"onmouseover="alert(1))', id="href-quote"),
    pytest.param("[<img src=x onerror=alert(1)>](https://ok.example)", id="html-in-label"),
    pytest.param("`<script>alert(1)</script>`", id="code-span"),
    # Not an HTML tag for CommonMark (so not linted), and shown escaped like any text.
    pytest.param("x <svg/onload=alert(1)>", id="svg-slash"),
    pytest.param("    <script>alert(1)</script>", id="code-block"),
]


ALL_HOSTILE_MARKDOWN = [
    pytest.param(param.values[0], id=param.id)
    for param in [*HOSTILE_LINKS, *HOSTILE_HTML, *HARMLESS_AFTER_RENDERING]
]


@pytest.mark.parametrize("source", ALL_HOSTILE_MARKDOWN)
@pytest.mark.parametrize("inline", [False, True], ids=["block", "inline"])
def test_hostile_markdown_renders_safely(source: str, inline: bool) -> None:
    rendered = render_markdown(source, inline=inline)
    _assert_safe_html(rendered.html)
    for link in rendered.links:
        assert link.startswith(("https://", "mailto:"))


@pytest.mark.parametrize(("source", "count"), HOSTILE_LINKS)
def test_hostile_links_become_labels_and_are_linted(source: str, count: int) -> None:
    rendered = render_markdown(source)
    assert rendered.links == ()
    assert "<a " not in rendered.html and "<img" not in rendered.html
    problems = lint_markdown(source, link_schemes=SCHEMES)
    assert [p.code for p in problems] == ["markdown.link_not_allowed"] * count
    assert all(p.line >= 1 and p.col >= 1 for p in problems)


@pytest.mark.parametrize(("source", "count"), HOSTILE_HTML)
def test_raw_html_is_escaped_and_linted(source: str, count: int) -> None:
    rendered = render_markdown(source)
    assert "&lt;" in rendered.html
    problems = lint_markdown(source, link_schemes=SCHEMES)
    assert [p.code for p in problems] == ["markdown.raw_html"] * count
    assert all(p.line >= 1 and p.col >= 1 for p in problems)


def test_brand_deep_link_scheme_is_opt_in() -> None:
    source = "[Open the app](northwind://offers/{{ customer.offer_id | urlencode }})"
    assert render_markdown(source).links == ()
    with_brand = render_markdown(source, link_schemes=frozenset({"https", "northwind"}))
    assert with_brand.links == ("northwind://offers/{{ customer.offer_id | urlencode }}",)
