"""Tests for atomic_content.markdown: HTML, plain text, flatten, links, lint, tokens verbatim."""

from __future__ import annotations

import pytest

from atomic_content.markdown import flatten, lint_markdown, render_markdown

GREETING = 'Hi {{ customer.first_name | default("there") }}'
TRACKED = "https://x.example/?c={{ customer.id | urlencode }}"

HTML_CASES = [
    pytest.param("Hello *world*", "<p>Hello <em>world</em></p>\n", id="emphasis"),
    pytest.param(
        "**bold** and _em_", "<p><strong>bold</strong> and <em>em</em></p>\n", id="strong"
    ),
    pytest.param("# Title", "<h1>Title</h1>\n", id="heading"),
    pytest.param("One\n\nTwo", "<p>One</p>\n<p>Two</p>\n", id="paragraphs"),
    pytest.param("a  \nb", "<p>a<br />\nb</p>\n", id="hard-break"),
    pytest.param("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n", id="bullets"),
    pytest.param("3. a\n4. b", '<ol start="3">\n<li>a</li>\n<li>b</li>\n</ol>\n', id="ordered"),
    pytest.param("Fish & chips < 5", "<p>Fish &amp; chips &lt; 5</p>\n", id="escaping"),
    pytest.param("<b>x</b>", "<p>&lt;b&gt;x&lt;/b&gt;</p>\n", id="raw-html-escaped"),
    pytest.param(
        "[Shop](https://x.example/shop)",
        '<p><a href="https://x.example/shop">Shop</a></p>\n',
        id="link",
    ),
    pytest.param(
        '[Shop](https://x.example "Title")',
        '<p><a href="https://x.example">Shop</a></p>\n',
        id="title-dropped",
    ),
    pytest.param(
        "[a&b](https://x.example/?a=1&b=2)",
        '<p><a href="https://x.example/?a=1&amp;b=2">a&amp;b</a></p>\n',
        id="href-escaped",
    ),
    pytest.param(
        "<help@x.example>",
        '<p><a href="mailto:help@x.example">help@x.example</a></p>\n',
        id="email-autolink",
    ),
    pytest.param(
        "![Logo](https://cdn.example/logo.png)",
        '<p><img src="https://cdn.example/logo.png" alt="Logo" /></p>\n',
        id="image",
    ),
    pytest.param("![Logo](http://cdn.example/logo.png)", "<p>Logo</p>\n", id="image-refused"),
    pytest.param("[x](javascript:alert(1))", "<p>x</p>\n", id="link-refused-shows-label"),
    pytest.param("[*x*](/relative)", "<p><em>x</em></p>\n", id="link-refused-keeps-markup"),
    # tokens verbatim
    pytest.param(GREETING, f"<p>{GREETING}</p>\n", id="token"),
    pytest.param(
        '{{ customer.x | default("*a* & <b>") }}',
        '<p>{{ customer.x | default("*a* & <b>") }}</p>\n',
        id="token-not-markdown",
    ),
    pytest.param(
        "{% if customer.vip %}*VIP*{% endif %}",
        "<p>{% if customer.vip %}<em>VIP</em>{% endif %}</p>\n",
        id="statement-tokens",
    ),
    pytest.param(
        "{{ customer.first_name }}_{{ customer.last_name }}_",
        "<p>{{ customer.first_name }}_{{ customer.last_name }}_</p>\n",
        id="underscores-between-tokens",
    ),
    pytest.param(
        f"[Shop]({TRACKED})",
        f'<p><a href="{TRACKED}">Shop</a></p>\n',
        id="token-in-link-url",
    ),
    pytest.param(
        '[Hi {{ customer.first_name | default("you") }}](https://x.example)',
        '<p><a href="https://x.example">Hi {{ customer.first_name | default("you") }}</a></p>\n',
        id="token-in-link-label",
    ),
    pytest.param(
        "`{{ customer.id }}`", "<p><code>{{ customer.id }}</code></p>\n", id="token-in-code"
    ),
    pytest.param(
        "atmtk000000z {{ customer.id }}",
        "<p>atmtk000000z {{ customer.id }}</p>\n",
        id="placeholder-lookalike-text",
    ),
]


@pytest.mark.parametrize(("source", "expected"), HTML_CASES)
def test_html(source: str, expected: str) -> None:
    assert render_markdown(source).html == expected


TEXT_CASES = [
    pytest.param("One\n\nTwo", "One\n\nTwo", id="paragraphs"),
    pytest.param("Hello *world* and **bold**", "Hello world and bold", id="emphasis-dropped"),
    pytest.param("# Title\n\nBody", "Title\n\nBody", id="heading"),
    pytest.param("[Shop](https://x.example)", "Shop (https://x.example)", id="link"),
    pytest.param("<https://x.example>", "https://x.example", id="link-is-own-label"),
    pytest.param("<help@x.example>", "help@x.example", id="email-autolink"),
    pytest.param("[x](javascript:alert(1))", "x", id="refused-link"),
    pytest.param("- a\n- b", "- a\n- b", id="bullets"),
    pytest.param("* a\n* b", "- a\n- b", id="bullets-star"),
    pytest.param("1. a\n2. b", "1. a\n2. b", id="ordered"),
    pytest.param("3) a\n4) b", "3. a\n4. b", id="ordered-start"),
    pytest.param("- a\n  - b\n- c", "- a\n  - b\n- c", id="nested"),
    pytest.param("- a\n\n- b", "- a\n\n- b", id="loose-list"),
    pytest.param("- one\n  two", "- one\n  two", id="item-continuation"),
    pytest.param("a  \nb", "a\nb", id="hard-break-spaces"),
    pytest.param("a\\\nb", "a\nb", id="hard-break-backslash"),
    pytest.param("a\nb", "a\nb", id="soft-break"),
    pytest.param("> quoted\n>\n> more", "> quoted\n>\n> more", id="blockquote"),
    pytest.param("`x`", "x", id="code-span"),
    pytest.param("```\ncode\n```", "code", id="fence"),
    pytest.param("a\n\n---\n\nb", "a\n\n---\n\nb", id="rule"),
    pytest.param("Fish &amp; chips", "Fish & chips", id="entity"),
    pytest.param("<b>x</b>", "<b>x</b>", id="raw-html-as-text"),
    pytest.param("![Logo](https://cdn.example/l.png)", "Logo", id="image-alt"),
    pytest.param(GREETING, GREETING, id="token"),
    pytest.param(f"[Shop]({TRACKED})", f"Shop ({TRACKED})", id="token-in-link-url"),
    pytest.param(
        "{% if customer.vip %}**VIP**{% endif %}",
        "{% if customer.vip %}VIP{% endif %}",
        id="statement-tokens",
    ),
]


@pytest.mark.parametrize(("source", "expected"), TEXT_CASES)
def test_text(source: str, expected: str) -> None:
    assert render_markdown(source).text == expected


FLATTEN_CASES = [
    pytest.param("# Title\n\nHello *world*.\n\n- a\n- b", "Title Hello world. a b", id="blocks"),
    pytest.param("[Shop now](https://x.example) today", "Shop now today", id="link-label"),
    pytest.param("[x](javascript:alert(1))", "x", id="refused-link-label"),
    pytest.param("a  \nb\nc", "a b c", id="breaks"),
    pytest.param("  lots   of\t space  ", "lots of space", id="whitespace"),
    pytest.param("![Logo](https://x.example/l.png) Sale", "Logo Sale", id="image"),
    pytest.param("25\u00a0%", "25\u00a0%", id="no-break-space-kept"),
    pytest.param(GREETING + ",\n\nwelcome", GREETING + ", welcome", id="token"),
    pytest.param(
        "{{ customer.a\n | default('x') }}  !",
        "{{ customer.a\n | default('x') }} !",
        id="token-kept",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FLATTEN_CASES)
def test_flatten(source: str, expected: str) -> None:
    assert flatten(source) == expected


INLINE_CASES = [
    pytest.param(
        "Hello *{{ customer.first_name }}*",
        "Hello <em>{{ customer.first_name }}</em>",
        "Hello {{ customer.first_name }}",
        id="emphasis-token",
    ),
    pytest.param("# not a heading", "# not a heading", "# not a heading", id="no-blocks"),
    pytest.param(
        "Save [now](https://x.example)",
        'Save <a href="https://x.example">now</a>',
        "Save now (https://x.example)",
        id="link",
    ),
]


@pytest.mark.parametrize(("source", "html", "text"), INLINE_CASES)
def test_inline(source: str, html: str, text: str) -> None:
    rendered = render_markdown(source, inline=True)
    assert (rendered.html, rendered.text) == (html, text)


def test_links_in_document_order_with_tokens_restored() -> None:
    source = (
        f"[a]({TRACKED}) [bad](javascript:x) <mailto:help@x.example>\n\n"
        "- [b](https://b.example)\n- ![img](https://img.example/i.png)"
    )
    assert render_markdown(source).links == (TRACKED, "mailto:help@x.example", "https://b.example")


def test_rendering_is_deterministic() -> None:
    source = f"# {GREETING}\n\n- [Shop]({TRACKED})\n- *b*"
    assert render_markdown(source) == render_markdown(source)
    assert flatten(source) == flatten(source)


def test_extra_scheme() -> None:
    rendered = render_markdown(
        "[App](northwind://offers/42)", link_schemes=frozenset({"https", "northwind"})
    )
    assert rendered.links == ("northwind://offers/42",)
    assert rendered.html == '<p><a href="northwind://offers/42">App</a></p>\n'


LINT_CASES = [
    pytest.param("fine [x](https://ok.example) <help@x.example>", [], id="clean"),
    pytest.param(f"[Shop]({TRACKED})", [], id="token-after-scheme"),
    pytest.param("Hi [x](javascript:alert(1))", [(1, 4, "markdown.link_not_allowed")], id="link"),
    pytest.param("a\n\n> see [x](/rel)", [(3, 7, "markdown.link_not_allowed")], id="in-quote"),
    pytest.param(
        "- one\n- two ![a](data:image/png;base64,AA==)",
        [(2, 7, "markdown.link_not_allowed")],
        id="image-in-list",
    ),
    pytest.param(
        "{{ customer.a\n | default('x') }} [x](//e.example)",
        [(2, 20, "markdown.link_not_allowed")],
        id="after-multi-line-token",
    ),
    pytest.param(
        "[x]({{ brand.url }}) and [y]({{ customer.url }})",
        [(1, 1, "markdown.link_not_allowed"), (1, 26, "markdown.link_not_allowed")],
        id="token-first",
    ),
    pytest.param("<javascript:alert(1)>", [(1, 1, "markdown.link_not_allowed")], id="autolink"),
    pytest.param("<b>x</b> y", [(1, 1, "markdown.raw_html")], id="inline-tag"),
    pytest.param("text <img src=x onerror=alert(1)>", [(1, 6, "markdown.raw_html")], id="img"),
    pytest.param("- item <span>x</span>", [(1, 8, "markdown.raw_html")], id="tag-in-list"),
    pytest.param("<div>\nhi\n</div>", [(1, 1, "markdown.raw_html")], id="html-block"),
    pytest.param("para\n\n  <!-- c -->", [(3, 3, "markdown.raw_html")], id="comment-block"),
    pytest.param("`<b>` is code", [], id="code-span-is-not-html"),
]


@pytest.mark.parametrize(("source", "expected"), LINT_CASES)
def test_lint_markdown(source: str, expected: list[tuple[int, int, str]]) -> None:
    problems = lint_markdown(source, link_schemes=frozenset({"https", "mailto"}))
    assert [(p.line, p.col, p.code) for p in problems] == expected
    for problem in problems:
        assert problem.message and problem.hint


def test_lint_markdown_respects_schemes() -> None:
    source = "[App](northwind://offers/42)"
    assert lint_markdown(source, link_schemes=frozenset({"https", "northwind"})) == []
    (problem,) = lint_markdown(source, link_schemes=frozenset({"https"}))
    assert "northwind://offers/42" in problem.message
    assert "https:" in problem.hint


SOURCES = [
    "plain",
    "**bold** and [link](https://example.com) {{ customer.first_name }}",
    "- one\n- two\n\n1. a\n2. b",
    "[app](northwind://cart) and [bad](javascript:alert(1)) <b>raw</b>",
    "# Heading\n\nText with `code`\n\n    block",
    "",
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("inline", [False, True])
@pytest.mark.parametrize("schemes", [None, ["https"], {"https", "northwind"}])
def test_remembered_results_are_those_computed_now(
    source: str, inline: bool, schemes: list[str] | set[str] | None
) -> None:
    """render_markdown and flatten remember their results (an atom's text is rendered for
    every variant it wins in): a remembered result equals one computed now, for the same
    source and options only, whatever collection the schemes come in."""
    from atomic_content import markdown

    given = {} if schemes is None else {"link_schemes": schemes}
    first = render_markdown(source, inline=inline, **given)
    again = render_markdown(source, inline=inline, **given)
    wanted = frozenset(schemes) if schemes is not None else markdown._DEFAULT_SCHEMES
    fresh = markdown._render_markdown.__wrapped__(source, inline, wanted)
    assert first == again == fresh
    if schemes is not None:
        assert flatten(source, link_schemes=schemes) == markdown._flatten.__wrapped__(
            source, frozenset(schemes)
        )
    assert flatten(source) == markdown._flatten.__wrapped__(source, None)
    assert render_markdown(source + " x", inline=inline).html != first.html or not source
