"""Tests for atomic_content.tokens: lint rules, token protection, filters, modes and errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from atomic_content.errors import RenderError, UsageError
from atomic_content.tokens import (
    ALLOWED_FILTERS,
    ROOTS,
    AttributeInfo,
    TokenEnvironment,
    build_customer_context,
    check_header_value,
    customer_paths,
    lint_template,
    protect_tokens,
    required_customer_paths,
    restore_tokens,
)

ATTRIBUTES = {
    "first_name": AttributeInfo("string", optional=False),
    "nickname": AttributeInfo("string", optional=True),
    "points": AttributeInfo("integer", optional=False),
    "birthday": AttributeInfo("date", optional=True),
    "tags": AttributeInfo("list", optional=True),
    "address.country": AttributeInfo("string", optional=False),
    "address.city": AttributeInfo("string", optional=True),
}
BRAND_FIELDS = frozenset({"name", "support_email"})
SLOT_FIELDS = {"hero": frozenset({"title", "image"}), "offer": frozenset({"code"})}


def lint(source: str) -> list[tuple[int, int, str]]:
    problems = lint_template(source, ATTRIBUTES, brand_fields=BRAND_FIELDS, slot_fields=SLOT_FIELDS)
    return [(p.line, p.col, p.code) for p in problems]


# ------------------------------------------------------------------------------------------
# lint_template
# ------------------------------------------------------------------------------------------

CLEAN = [
    pytest.param("Hello there, no tokens at all.", id="plain-text"),
    pytest.param('Hi {{ customer.first_name | default("there") }}!', id="default"),
    pytest.param('{{ customer.first_name | d("there") }}', id="default-alias-d"),
    pytest.param('{{ customer.nickname | default("friend") | upper }}', id="optional-with-default"),
    pytest.param(
        "{% if customer.nickname is defined %}{{ customer.nickname }}{% endif %}",
        id="is-defined-guard",
    ),
    pytest.param(
        '{{ customer.nickname if customer.nickname is defined else "friend" }}',
        id="inline-if-guard",
    ),
    pytest.param(
        '{% if customer.nickname is defined and customer.nickname == "Bo" %}x{% endif %}',
        id="and-guard",
    ),
    pytest.param("{% if customer.nickname is not none %}x{% endif %}", id="is-not-none"),
    pytest.param(
        '{{ customer["first_name"] }} {{ customer["address"]["country"] }}', id="subscript"
    ),
    pytest.param(
        "{{ brand.name }} {{ slots.hero.title }} {{ slots.offer.code }}", id="brand-slots"
    ),
    pytest.param(
        '{% if customer.points > 100 and not customer.first_name == "x" %}a'
        "{% elif customer.points >= 10 or customer.points < 0 %}b{% else %}c{% endif %}",
        id="if-elif-else-compare",
    ),
    pytest.param('{% if "vip" in customer.tags | default("") %}x{% endif %}', id="in-operator"),
    pytest.param(
        '{{ customer.points | number }} {{ customer.points | currency("EUR") }} '
        "{{ customer.points | percent }} {{ customer.first_name | trim | title | truncate(20) }}"
        " {{ customer.first_name | lower | capitalize | urlencode }}",
        id="filters",
    ),
    pytest.param('{{ customer.birthday | default("") | date("long") }}', id="date-filter"),
    pytest.param("{% if customer.address is defined %}x{% endif %}", id="group-in-test"),
    pytest.param("{# a note for editors #}Hi", id="comment"),
    pytest.param("{{ true }} {{ 42 }} {{ 1.5 }} {{ none }}", id="constants"),
    pytest.param("{%- if customer.points -%} x {%- endif -%}", id="whitespace-control"),
]


@pytest.mark.parametrize("source", CLEAN)
def test_lint_accepts_the_token_subset(source: str) -> None:
    assert lint(source) == []


LINT_CASES = [
    # syntax
    pytest.param("{{ customer.first_name | }}", [(1, 1, "token.syntax")], id="syntax"),
    pytest.param(
        "Hi {{ customer.first_name }}, {{ customer.points | }}",
        [(1, 31, "token.syntax")],
        id="syntax-second-tag-on-line",
    ),
    pytest.param("one\n{% if customer.points %}x", [(2, 1, "token.syntax")], id="syntax-no-endif"),
    pytest.param("{% for %}", [(1, 1, "token.syntax")], id="syntax-empty-for"),
    pytest.param("{{ customer.first_name", [(1, 1, "token.syntax")], id="syntax-unclosed"),
    # missing default
    pytest.param(
        "Hi {{ customer.nickname }}!", [(1, 7, "token.missing_default")], id="missing-default"
    ),
    pytest.param(
        "{{ customer.nickname }} {{ customer.nickname }}",
        [(1, 4, "token.missing_default"), (1, 28, "token.missing_default")],
        id="missing-default-twice-on-a-line",
    ),
    pytest.param(
        '{% if customer.nickname == "x" %}{% endif %}',
        [(1, 7, "token.missing_default")],
        id="missing-default-in-if",
    ),
    pytest.param(
        '{{ customer.nickname | upper | default("x") }}',
        [(1, 4, "token.missing_default")],
        id="default-applied-too-late",
    ),
    pytest.param(
        "{% if customer.first_name is defined %}{{ customer.nickname }}{% endif %}",
        [(1, 43, "token.missing_default")],
        id="guard-for-another-attribute",
    ),
    pytest.param(
        "Hello\n\n  {{ customer.nickname }}\n{{ customer.address.city }}",
        [(3, 6, "token.missing_default"), (4, 4, "token.missing_default")],
        id="multi-line-positions",
    ),
    pytest.param(
        "a\r\n{{ customer.nickname }}", [(2, 4, "token.missing_default")], id="crlf-newlines"
    ),
    # names
    pytest.param(
        "{{ customer.frist_name }}", [(1, 4, "token.unknown_attribute")], id="unknown-attribute"
    ),
    pytest.param(
        "{{ customer.address }}", [(1, 4, "token.unknown_attribute")], id="group-as-value"
    ),
    pytest.param("{{ customer }}", [(1, 4, "token.unknown_attribute")], id="bare-customer"),
    pytest.param(
        "{{ custmer.first_name }}", [(1, 4, "token.unknown_variable")], id="unknown-variable"
    ),
    pytest.param("{{ first_name }}", [(1, 4, "token.unknown_variable")], id="missing-root"),
    pytest.param(
        "{{ brand.colour }}", [(1, 4, "token.unknown_brand_field")], id="unknown-brand-field"
    ),
    pytest.param("{{ slots.hedline.title }}", [(1, 4, "token.unknown_slot")], id="unknown-slot"),
    pytest.param(
        "{{ slots.hero.tilte }}", [(1, 4, "token.unknown_slot_field")], id="unknown-slot-field"
    ),
    pytest.param("{{ slots.hero }}", [(1, 4, "token.unknown_slot_field")], id="slot-without-field"),
    pytest.param(
        "{{ customer._secret }}", [(1, 13, "token.private_attribute")], id="private-attribute"
    ),
    pytest.param(
        '{{ customer["__dict__"] }}', [(1, 13, "token.private_attribute")], id="private-key"
    ),
    # filters and tests
    pytest.param(
        "{{ customer.first_name | safe }}", [(1, 26, "token.filter_not_allowed")], id="filter-safe"
    ),
    pytest.param(
        "{{ customer.first_name | default('x') | format(1) }}",
        [(1, 41, "token.filter_not_allowed")],
        id="filter-format",
    ),
    pytest.param(
        "{% if customer.points is odd %}{% endif %}", [(1, 26, "token.not_allowed")], id="test-odd"
    ),
    # expressions
    pytest.param(
        # one problem, at the method: the value before it is a known attribute
        "{{ customer.first_name.upper() }}",
        [(1, 24, "token.call_not_allowed")],
        id="method-call",
    ),
    pytest.param("{{ customer.points * 2 }}", [(1, 20, "token.not_allowed")], id="multiplication"),
    pytest.param("{{ customer.points + 1 }}", [(1, 20, "token.not_allowed")], id="addition"),
    pytest.param("{{ 2 ** 8 }}", [(1, 6, "token.not_allowed")], id="power"),
    pytest.param("{{ -1 }}", [(1, 4, "token.not_allowed")], id="negation"),
    pytest.param('{{ customer.first_name ~ "!" }}', [(1, 24, "token.not_allowed")], id="concat"),
    pytest.param('{{ ["a"] }}', [(1, 4, "token.not_allowed")], id="list-literal"),
    pytest.param('{{ {"a": 1} }}', [(1, 4, "token.not_allowed")], id="dict-literal"),
    pytest.param(
        "{{ customer.tags[0] }}",
        [(1, 4, "token.missing_default"), (1, 17, "token.not_allowed")],
        id="index",
    ),
    pytest.param(
        '{{ "VIP" if customer.points }}', [(1, 10, "token.not_allowed")], id="if-without-else"
    ),
    pytest.param('{{ "x".upper }}', [(1, 8, "token.not_allowed")], id="attribute-of-constant"),
    # statements
    pytest.param(
        "{% for t in customer.tags %}{{ t }}{% endfor %}", [(1, 1, "token.not_allowed")], id="for"
    ),
    pytest.param("x {% set a = 1 %}", [(1, 3, "token.not_allowed")], id="set"),
    pytest.param("{% include 'footer.html' %}", [(1, 1, "token.not_allowed")], id="include"),
    pytest.param("{% import 'm.html' as m %}", [(1, 1, "token.not_allowed")], id="import"),
    pytest.param("{% from 'm.html' import a %}", [(1, 1, "token.not_allowed")], id="from-import"),
    pytest.param("{% extends 'base.html' %}", [(1, 1, "token.not_allowed")], id="extends"),
    pytest.param("{% macro m() %}x{% endmacro %}", [(1, 1, "token.not_allowed")], id="macro"),
    pytest.param("{% block b %}x{% endblock %}", [(1, 1, "token.not_allowed")], id="block"),
    pytest.param("{% with a = 1 %}x{% endwith %}", [(1, 1, "token.not_allowed")], id="with"),
    pytest.param(
        "{% filter upper %}x{% endfilter %}", [(1, 1, "token.not_allowed")], id="filter-block"
    ),
    pytest.param(
        "{% autoescape false %}x{% endautoescape %}", [(1, 1, "token.not_allowed")], id="autoescape"
    ),
    pytest.param("a {% raw %}{{ x }}{% endraw %}", [(1, 3, "token.not_allowed")], id="raw"),
    # integer literals too large to use: Jinja's parser raises ValueError for a decimal one
    # past Python's digit limit, its compiler for a hexadecimal one it cannot print
    pytest.param("{{ 0x" + "f" * 5000 + " }}", [(1, 4, "token.number_too_large")], id="huge-hex"),
    pytest.param(
        "Hi\n{{ customer.nickname | default(" + "9" * 4301 + ") }}",
        [(2, 32, "token.number_too_large")],
        id="huge-decimal-default",
    ),
    pytest.param(
        "{{ customer.points }}{{ 0o" + "7" * 5000 + " }}",
        [(1, 25, "token.number_too_large")],
        id="huge-octal-second-tag",
    ),
    pytest.param("{{ " + "9" * 4300 + " }}", [], id="4300-digits"),
    pytest.param("{{ 0x" + "f" * 500 + " }}", [], id="500-hex-digits"),
]


@pytest.mark.parametrize(("source", "expected"), LINT_CASES)
def test_lint_reports_code_and_position(source: str, expected: list[tuple[int, int, str]]) -> None:
    assert lint(source) == expected


def test_lint_problems_carry_message_and_hint() -> None:
    for param in LINT_CASES:
        source = param.values[0]
        assert isinstance(source, str)
        for problem in lint_template(
            source, ATTRIBUTES, brand_fields=BRAND_FIELDS, slot_fields=SLOT_FIELDS
        ):
            assert problem.message.strip(), param.id
            assert problem.hint.strip(), param.id


HINT_CASES = [
    pytest.param(
        "{{ customer.nickname }}",
        '{{ customer.nickname | default("...") }}',
        id="missing-default-shows-fixed-token",
    ),
    pytest.param(
        "{{ customer.frist_name }}", "did you mean 'first_name'?", id="attribute-did-you-mean"
    ),
    pytest.param("{{ custmer.first_name }}", "did you mean 'customer'?", id="root-did-you-mean"),
    pytest.param("{{ first_name }}", "customer.first_name", id="root-forgotten"),
    pytest.param("{{ brand.nam }}", "did you mean 'name'?", id="brand-did-you-mean"),
    pytest.param("{{ slots.hero.titel }}", "did you mean 'title'?", id="slot-field-did-you-mean"),
    pytest.param(
        "{{ customer.first_name | uper }}", "did you mean 'upper'?", id="filter-did-you-mean"
    ),
    pytest.param("{{ customer.address }}", "customer.address.country", id="group-lists-fields"),
]


@pytest.mark.parametrize(("source", "fragment"), HINT_CASES)
def test_lint_hints(source: str, fragment: str) -> None:
    problems = lint_template(source, ATTRIBUTES, brand_fields=BRAND_FIELDS, slot_fields=SLOT_FIELDS)
    assert len(problems) == 1
    assert fragment in problems[0].hint


PATH_CASES = [
    pytest.param("Hi", frozenset(), frozenset(), id="none"),
    pytest.param(
        '{{ customer.first_name }} {{ customer.nickname | default("x") }}',
        frozenset({"first_name", "nickname"}),
        frozenset({"first_name"}),
        id="default-is-not-required",
    ),
    pytest.param(
        "{{ customer.address.country }} {{ customer['address']['city'] | d('') }}",
        frozenset({"address.country", "address.city"}),
        frozenset({"address.country"}),
        id="dotted-paths",
    ),
    pytest.param(
        "{% if customer.nickname is defined %}{{ customer.nickname }}{% endif %}",
        frozenset({"nickname"}),
        frozenset(),
        id="guarded",
    ),
    pytest.param(
        "{% if customer.vip %}{{ brand.name }}{% endif %}",
        frozenset({"vip"}),
        frozenset({"vip"}),
        id="condition-is-required",
    ),
    pytest.param("{{ customer.x | }}", frozenset(), frozenset(), id="syntax-error"),
]


@pytest.mark.parametrize(("source", "used", "required"), PATH_CASES)
def test_customer_paths(source: str, used: frozenset[str], required: frozenset[str]) -> None:
    assert customer_paths(source) == used
    assert required_customer_paths(source) == required


# ------------------------------------------------------------------------------------------
# protect / restore
# ------------------------------------------------------------------------------------------

PLACEHOLDER_RE = re.compile(r"atmtkq*\d{6}z")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param("no tokens", [], id="none"),
        pytest.param(
            'Hi {{ customer.first_name | default("there") }}!',
            ['{{ customer.first_name | default("there") }}'],
            id="expression",
        ),
        pytest.param(
            "{% if customer.vip %}*VIP*{% endif %}",
            ["{% if customer.vip %}", "{% endif %}"],
            id="statements",
        ),
        pytest.param(
            '{{ customer.x | default("}}") }}',
            ['{{ customer.x | default("}}") }}'],
            id="closer-in-string",
        ),
        pytest.param("{# note #}", ["{# note #}"], id="comment"),
        pytest.param("{{ a\n | default('x') }}", ["{{ a\n | default('x') }}"], id="multi-line"),
        pytest.param("ok {{ a }} then {{ unclosed", ["{{ a }}"], id="unclosed-left-alone"),
    ],
)
def test_protect_tokens(text: str, tokens: list[str]) -> None:
    protected, mapping = protect_tokens(text)
    assert list(mapping.values()) == tokens
    for placeholder in mapping:
        assert PLACEHOLDER_RE.fullmatch(placeholder)
        assert placeholder.isascii() and placeholder.isalnum()
        assert placeholder in protected
    assert "{{ customer" not in protected or "unclosed" in text
    assert restore_tokens(protected, mapping) == text


def test_placeholders_avoid_text_that_already_has_the_prefix() -> None:
    text = "literal atmtk000000z and ATMTKQ000001Z then {{ customer.first_name }}"
    protected, mapping = protect_tokens(text)
    (placeholder,) = mapping
    assert placeholder.startswith("atmtkqq")
    assert placeholder not in text
    assert restore_tokens(protected, mapping) == text


TOKEN_TEXT = st.text(alphabet=st.sampled_from(list("{}%#\"'\\ atmkqzAT0123456789\n|")), max_size=80)


@given(st.one_of(TOKEN_TEXT, st.text(max_size=200)))
def test_restore_inverts_protect(text: str) -> None:
    protected, mapping = protect_tokens(text)
    assert restore_tokens(protected, mapping) == text
    for placeholder, token in mapping.items():
        assert PLACEHOLDER_RE.fullmatch(placeholder)
        assert placeholder.lower() not in text.lower()
        assert token in text


# ------------------------------------------------------------------------------------------
# filters per locale
# ------------------------------------------------------------------------------------------

VALUES: dict[str, Any] = {
    "v": 1234.5,
    "s_num": "1234.5",
    "big": 1234567,
    "dec": Decimal("0.5"),
    "d": "2024-03-05",
    "dd": dt.date(2024, 3, 5),
    "dtime": "2024-03-05T23:30:00Z",
    "p": 0.25,
    "s": "  hello wide world & more  ",
}

FILTER_CASES = [
    ("en", "{{ customer.v | number }}", "1,234.5"),
    ("de", "{{ customer.v | number }}", "1.234,5"),
    ("de", "{{ customer.s_num | number }}", "1.234,5"),
    ("en", "{{ customer.big | number }}", "1,234,567"),
    ("de", "{{ customer.big | number }}", "1.234.567"),
    ("en", "{{ customer.dec | percent }}", "50%"),
    ("en", '{{ customer.v | currency("EUR") }}', "€1,234.50"),
    ("de", '{{ customer.v | currency("EUR") }}', "1.234,50\xa0€"),
    ("en", '{{ customer.v | currency("USD") }}', "$1,234.50"),
    ("en", "{{ customer.d | date }}", "Mar 5, 2024"),
    ("de", "{{ customer.d | date }}", "05.03.2024"),
    ("de", '{{ customer.d | date("long") }}', "5. März 2024"),
    ("en", '{{ customer.dd | date("short") }}', "3/5/24"),
    ("de", '{{ customer.d | date("d MMM yyyy") }}', "5 März 2024"),
    ("en", "{{ customer.dtime | date }}", "Mar 5, 2024"),
    ("en", "{{ customer.p | percent }}", "25%"),
    ("de", "{{ customer.p | percent }}", "25\xa0%"),
    ("en", "{{ customer.s | trim | upper }}", "HELLO WIDE WORLD & MORE"),
    ("en", "{{ customer.s | trim | title }}", "Hello Wide World & More"),
    ("en", "{{ customer.s | lower | trim | capitalize }}", "Hello wide world & more"),
    ("en", "{{ customer.s | trim | truncate(9) }}", "hello..."),
    ("en", "{{ customer.s | trim | urlencode }}", "hello%20wide%20world%20%26%20more"),
    ("en", '{{ customer.missing | default("there") }}', "there"),
    ("en", '{{ customer.missing | d("there") }}', "there"),
    ("en", "{{ customer.missing.deeper | default('x') }}", "x"),
]


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        pytest.param("   ", "text", "Hello there", id="spaces"),
        pytest.param("", "text", "Hello there", id="empty"),
        pytest.param("\t\n\u3000", "text", "Hello there", id="tab-newline-ideographic-space"),
        pytest.param("   ", "html", "Hello there", id="spaces-html"),
        pytest.param("   ", "json", "Hello there", id="spaces-json"),
        pytest.param(" Ada ", "text", "Hello  Ada ", id="padded-name-kept-as-is"),
        pytest.param("Ada", "html", "Hello Ada", id="name"),
        pytest.param(0, "text", "Hello 0", id="zero-is-a-value"),
        pytest.param(False, "text", "Hello False", id="false-is-a-value"),
    ],
)
def test_whitespace_only_value_takes_the_default(value: object, mode: str, expected: str) -> None:
    for source in (
        "Hello {{ customer.first_name | default('there') }}",
        "Hello {{ customer.first_name | d('there') }}",
    ):
        env = TokenEnvironment(locale="en", mode=mode)
        assert env.compile(source).render({"customer": {"first_name": value}}) == expected


def test_whitespace_only_value_with_boolean_default() -> None:
    env = TokenEnvironment(locale="en", mode="text")
    source = "{{ customer.n | default('none', true) }}|{{ customer.s | default('x', true) }}"
    assert env.compile(source).render({"customer": {"n": 0, "s": "  "}}) == "none|x"


@pytest.mark.parametrize(
    ("locale", "source", "expected"),
    [pytest.param(*case, id=f"{case[0]}-{case[1][12:-3].strip()}") for case in FILTER_CASES],
)
def test_filters_per_locale(locale: str, source: str, expected: str) -> None:
    env = TokenEnvironment(locale=locale, mode="text")
    assert env.compile(source).render({"customer": VALUES}) == expected


@pytest.mark.parametrize(
    ("source", "value", "fragment"),
    [
        pytest.param("{{ customer.x | number }}", "not a number 4711", "number", id="number-text"),
        pytest.param("{{ customer.x | number }}", True, "number", id="number-bool"),
        pytest.param("{{ customer.x | currency }}", 5, "currency code", id="currency-no-code"),
        pytest.param(
            '{{ customer.x | currency("euro") }}', 5, "currency code", id="currency-bad-code"
        ),
        pytest.param("{{ customer.x | date }}", "5th of March 4711", "date", id="date-text"),
        pytest.param("{{ customer.x | percent }}", [1], "percent", id="percent-list"),
    ],
)
def test_filter_bad_values(source: str, value: Any, fragment: str) -> None:
    env = TokenEnvironment(locale="en", mode="text")
    with pytest.raises(RenderError) as info:
        env.compile(source).render({"customer": {"x": value}}, customer_id="c-1")
    assert info.value.code == "render.bad_value"
    assert info.value.customer_id == "c-1"
    assert fragment in info.value.message
    assert "4711" not in str(info.value)


MAX_FLOAT = 1.7976931348623157e308


def _digits(count: int) -> str:
    """``count`` digits grouped in threes as English writes them: 1,000,000 for 7."""
    head = count % 3 or 3
    return "1" + "0" * (head - 1) + ",000" * ((count - head) // 3)


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        # Every finite float, formatted digit for digit (Babel's default 28-digit decimal
        # context used to refuse a currency amount from 1e26 on with InvalidOperation).
        pytest.param('{{ customer.x | currency("EUR") }}', 1e22, "€" + _digits(23) + ".00"),
        pytest.param('{{ customer.x | currency("EUR") }}', 1e26, "€" + _digits(27) + ".00"),
        pytest.param('{{ customer.x | currency("EUR") }}', 1e30, "€" + _digits(31) + ".00"),
        pytest.param('{{ customer.x | currency("EUR") }}', 1e308, "€" + _digits(309) + ".00"),
        pytest.param('{{ customer.x | currency("JPY") }}', 1e30, "¥" + _digits(31)),
        pytest.param("{{ customer.x | number }}", 1e30, _digits(31)),
        pytest.param("{{ customer.x | number }}", 1e308, _digits(309)),
        pytest.param("{{ customer.x | number }}", -1e308, "-" + _digits(309)),
        pytest.param("{{ customer.x | percent }}", 1e30, _digits(33) + "%"),
        pytest.param("{{ customer.x | percent }}", 1e308, _digits(311) + "%"),
        pytest.param("{{ customer.x | number }}", 2**63 - 1, "9,223,372,036,854,775,807"),
        pytest.param('{{ customer.x | currency("EUR") }}', -(2**63), "-€9,223,372,036,854,775,808.00"),
        pytest.param("{{ customer.x | number }}", MAX_FLOAT, "179,769,313,486,231,570" + ",000" * 97),
        pytest.param("{{ customer.x | number }}", 5e-324, "0"),
        pytest.param('{{ customer.x | currency("EUR") }}', "1e-999999", "€0.00"),
        pytest.param("{{ customer.x | number }}", "1e308", _digits(309)),
        pytest.param("{{ customer.x | number }}", "0e500", "0"),
        pytest.param("{{ customer.x | number }}", Decimal("1234.5"), "1,234.5"),
        # the date filter at the ends of the calendar
        pytest.param("{{ customer.x | date }}", dt.date.max, "Dec 31, 9999"),
        pytest.param("{{ customer.x | date }}", "0001-01-01", "Jan 1, 1"),
        pytest.param('{{ customer.x | date("full") }}', "9999-12-31T23:59:59+14:00", "Friday, December 31, 9999"),
    ],
)  # fmt: skip
def test_filters_format_extreme_values(source: str, value: Any, expected: str) -> None:
    env = TokenEnvironment(locale="en", mode="text")
    assert env.compile(source).render({"customer": {"x": value}}) == expected


@pytest.mark.parametrize("filter_", ["number", 'currency("EUR")', "percent"])
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("1e309", "more than 309 digits", id="text-1e309"),
        pytest.param("1e400", "more than 309 digits", id="text-1e400"),
        pytest.param("-1e999999", "more than 309 digits", id="text-huge-negative"),
        pytest.param("1" * 5000, "more than 309 digits", id="text-5000-digits"),
        pytest.param(Decimal("1e400"), "more than 309 digits", id="decimal-1e400"),
        pytest.param("NaN", "finite number", id="text-nan"),
        pytest.param("sNaN", "finite number", id="text-snan"),
        pytest.param("Infinity", "finite number", id="text-infinity"),
        pytest.param("-inf", "finite number", id="text-minus-inf"),
        pytest.param(float("nan"), "finite number", id="float-nan"),
        pytest.param(float("inf"), "finite number", id="float-inf"),
        pytest.param("4711 apples", "needs a number", id="text"),
    ],
)
def test_number_filters_name_the_attribute_of_a_value_they_cannot_format(
    filter_: str, value: Any, fragment: str
) -> None:
    """Never ``render.failed (InvalidOperation)``: the filter, the reason and the attribute,
    without the value."""
    env = TokenEnvironment(locale="en", mode="text")
    source = "{{ customer.name }} spent {{ customer.ltv | " + filter_ + " }}"
    with pytest.raises(RenderError) as info:
        env.compile(source).render({"customer": {"name": "4711", "ltv": value}}, customer_id="c-1")
    error = info.value
    assert error.code == "render.bad_value"
    assert error.attribute == "ltv"
    assert error.message.startswith(f"the {filter_.split('(')[0]} filter ")
    assert fragment in error.message
    assert "4711" not in str(error) and "1e" not in str(error)


@pytest.mark.parametrize(
    ("source", "customer", "attribute"),
    [
        pytest.param(
            "{{ customer.a | number }} {{ customer.b | number }}",
            {"a": 1, "b": "NaN"},
            "b",
            id="second-of-two",
        ),
        pytest.param(
            "{{ customer.a | default(customer.b) | number }}",
            {"b": "x"},
            "b",
            id="through-default",
        ),
        pytest.param(
            '{{ customer.address.city | default("x") | date }}',
            {"address": {"city": "Wien"}},
            "address.city",
            id="nested",
        ),
        pytest.param(
            '{{ customer.a | number }} {{ customer.b | currency("EUR") }}',
            {"a": "x", "b": 1},
            "a",
            id="filter-by-name",
        ),
        pytest.param('{{ customer.a | default("x") | number }}', {}, None, id="literal"),
    ],
)
def test_bad_value_names_the_attribute_that_held_it(
    source: str, customer: dict[str, Any], attribute: str | None
) -> None:
    env = TokenEnvironment(locale="en", mode="html")
    with pytest.raises(RenderError) as info:
        env.compile(source).render({"customer": customer}, customer_id="c-1")
    assert info.value.code == "render.bad_value"
    assert info.value.attribute == attribute


@pytest.mark.parametrize(
    "source",
    ["{{ 0x" + "f" * 5000 + " }}", "{{ customer.points | default(" + "9" * 5000 + ") }}"],
    ids=["hex", "decimal"],
)
def test_a_number_too_large_never_reaches_jinja(source: str) -> None:
    """Compiling is a RenderError, reading the paths an empty answer: never a ValueError."""
    env = TokenEnvironment(locale="en", mode="text")
    with pytest.raises(RenderError) as info:
        env.compile(source)
    assert info.value.code == "render.template_invalid"
    assert "[token.number_too_large]" in info.value.message
    assert customer_paths(source) == frozenset()
    with pytest.raises(RenderError) as unchecked:
        env._compile_unchecked(source)
    assert unchecked.value.code == "render.template_invalid"


def test_only_allowed_filters_are_installed() -> None:
    env = TokenEnvironment(locale="en", mode="text")
    assert set(env._env.filters) == set(ALLOWED_FILTERS)
    assert env._env.globals == {}
    assert {"customer", "brand", "slots"} == ROOTS


# ------------------------------------------------------------------------------------------
# modes
# ------------------------------------------------------------------------------------------

GREETING = 'Hi {{ customer.first_name | default("there") }}!'

MODE_CASES = [
    ("html", "Anna", "Hi Anna!"),
    ("html", "<b>A&B</b>", "Hi &lt;b&gt;A&amp;B&lt;/b&gt;!"),
    ("html", 'O\'Neil "x"', "Hi O&#39;Neil &#34;x&#34;!"),
    ("text", "<b>A&B</b>", "Hi <b>A&B</b>!"),
    ("json", 'say "hi"\n', 'Hi say \\"hi\\"\\n!'),
    ("json", "back\\slash", "Hi back\\\\slash!"),
    ("header", "Anna Grüße 🎉", "Hi Anna Grüße 🎉!"),
]


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(MODE_CASES)],
)
def test_modes_escape_values(mode: Any, value: str, expected: str) -> None:
    env = TokenEnvironment(locale="en", mode=mode)
    assert env.compile(GREETING).render({"customer": {"first_name": value}}) == expected


def test_html_mode_does_not_trust_markup_from_customers() -> None:
    env = TokenEnvironment(locale="en", mode="html")
    out = env.compile("{{ customer.first_name }}").render(
        {"customer": {"first_name": Markup("<b>trusted?</b>")}}
    )
    assert out == "&lt;b&gt;trusted?&lt;/b&gt;"


def test_template_text_is_not_escaped_and_trailing_newline_is_kept() -> None:
    env = TokenEnvironment(locale="en", mode="html")
    assert env.compile("<p>{{ brand.name }}</p>\n").render({"brand": {"name": "A&B"}}) == (
        "<p>A&amp;B</p>\n"
    )


def test_json_mode_output_embeds_in_json() -> None:
    env = TokenEnvironment(locale="en", mode="json")
    template = env.compile('{"greeting": "Hello {{ customer.first_name }}"}')
    for value in ['"}, "admin": true, "x": "', "\u2028\x00\x1f", "\\u0041"]:
        assert json.loads(template.render({"customer": {"first_name": value}})) == {
            "greeting": "Hello " + value
        }


def test_header_mode_rejects_injection_without_naming_the_value() -> None:
    env = TokenEnvironment(locale="en", mode="header")
    with pytest.raises(RenderError) as info:
        env.compile(GREETING).render(
            {"customer": {"first_name": "Anna\r\nBcc: victim@example.com"}}, customer_id="c-9"
        )
    assert info.value.code == "render.header_injection"
    assert info.value.customer_id == "c-9"
    assert "carriage return" in info.value.message
    assert "victim" not in str(info.value)


def test_none_renders_empty() -> None:
    env = TokenEnvironment(locale="en", mode="text")
    assert env.compile("[{{ brand.tagline }}]").render({"brand": {"tagline": None}}) == "[]"


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------

MISSING_CASES = [
    pytest.param("Hi {{ customer.nickname }}", {}, "nickname", "customer.nickname", id="plain"),
    pytest.param(
        "{{ customer.address.country }}",
        {"address": {}},
        "address.country",
        "customer.address.country",
        id="nested",
    ),
    pytest.param(
        "{{ customer.address.country }}",
        {},
        "address.country",
        "customer.address.country",
        id="nested-parent-missing",
    ),
    pytest.param(
        '{{ customer.nickname | default("x") }}{{ customer.first_name | upper }}',
        {"nickname": "Secret Value"},
        "first_name",
        "customer.first_name",
        id="inside-filter-after-defaulted-path",
    ),
    pytest.param("{% if customer.vip %}x{% endif %}", {}, "vip", "customer.vip", id="condition"),
    pytest.param(
        "{{ brand.name }}", {"first_name": "Secret Value"}, "brand.name", "brand.name", id="brand"
    ),
]


@pytest.mark.parametrize(("source", "customer", "attribute", "written"), MISSING_CASES)
def test_missing_value_names_the_attribute(
    source: str, customer: dict[str, Any], attribute: str, written: str
) -> None:
    env = TokenEnvironment(locale="en", mode="html")
    with pytest.raises(RenderError) as info:
        env.compile(source).render({"customer": customer, "brand": {}}, customer_id="c-1")
    error = info.value
    assert error.code == "render.missing_value"
    assert error.attribute == attribute
    assert error.customer_id == "c-1"
    assert written in error.message
    assert "Secret Value" not in str(error)


def test_output_cap() -> None:
    env = TokenEnvironment(locale="en", mode="text", max_output_chars=50)
    template = env.compile("{{ customer.first_name }}")
    assert template.render({"customer": {"first_name": "x" * 50}}) == "x" * 50
    with pytest.raises(RenderError) as info:
        template.render({"customer": {"first_name": "x" * 51}}, customer_id="c-2")
    assert info.value.code == "render.output_too_large"
    assert info.value.customer_id == "c-2"


@pytest.mark.parametrize(
    ("source", "code"),
    [
        pytest.param("{{ customer.x | }}", "render.template_invalid", id="syntax"),
        pytest.param(
            "{% for x in customer.tags %}{% endfor %}", "render.template_not_allowed", id="for"
        ),
        pytest.param(
            "{{ customer.first_name | safe }}", "render.template_not_allowed", id="filter"
        ),
    ],
)
def test_compile_refuses_templates_outside_the_subset(source: str, code: str) -> None:
    env = TokenEnvironment(locale="en", mode="html")
    with pytest.raises(RenderError) as info:
        env.compile(source, name="atoms/hero.yaml")
    assert info.value.code == code
    assert "atoms/hero.yaml line 1" in info.value.message


def test_compile_is_cached_and_knows_required_paths() -> None:
    env = TokenEnvironment(locale="en", mode="html")
    source = '{{ customer.first_name }} {{ customer.nickname | default("") }}'
    first = env.compile(source)
    assert env.compile(source) is first
    assert first.required_paths == frozenset({"first_name"})


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"locale": "xx-nowhere", "mode": "html"}, id="locale"),
        pytest.param({"locale": "en", "mode": "pdf"}, id="mode"),
        pytest.param({"locale": "en", "mode": "html", "max_output_chars": 0}, id="limit"),
    ],
)
def test_environment_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        TokenEnvironment(**kwargs)


def test_locale_with_region() -> None:
    env = TokenEnvironment(locale="de-AT", mode="text")
    assert env.compile("{{ customer.v | number }}").render({"customer": {"v": 1234.5}}) == "1.234,5"


# ------------------------------------------------------------------------------------------
# build_customer_context
# ------------------------------------------------------------------------------------------


class _Model:
    first_name = "Model"


CONTEXT_CASES = [
    pytest.param(
        {"first_name": "Anna", "email": "anna@example.com", "password_hash": "x"},
        ["first_name"],
        {"first_name": "Anna"},
        id="drops-undeclared",
    ),
    pytest.param(
        {"address": {"country": "DE", "street": "Secret 1"}},
        ["address.country"],
        {"address": {"country": "DE"}},
        id="nested-keeps-only-declared-leaf",
    ),
    pytest.param(
        {"address.country": "DE", "address.street": "Secret 1"},
        ["address.country"],
        {"address": {"country": "DE"}},
        id="flat-input",
    ),
    pytest.param(
        {"address": {"country": "DE", "street": "Secret 1"}},
        ["address", "address.country"],
        {"address": {"country": "DE"}},
        id="group-declared",
    ),
    pytest.param({"nickname": None}, ["nickname"], {}, id="none-is-absent"),
    pytest.param({}, ["nickname", "address.country"], {}, id="absent"),
    pytest.param({"_private": "x"}, ["_private"], {}, id="private-never"),
    pytest.param({"obj": _Model()}, ["obj"], {}, id="objects-dropped"),
    pytest.param(
        {"tags": ("a", {"k": "v"}, 2), "points": 5, "vip": True, "d": dt.date(2024, 1, 2)},
        ["tags", "points", "vip", "d"],
        {"tags": ["a", 2], "points": 5, "vip": True, "d": dt.date(2024, 1, 2)},
        id="plain-values",
    ),
]


@pytest.mark.parametrize(("attributes", "declared", "expected"), CONTEXT_CASES)
def test_build_customer_context(
    attributes: dict[str, Any], declared: list[str], expected: dict[str, Any]
) -> None:
    assert build_customer_context(attributes, declared) == expected


def test_build_customer_context_makes_markup_plain() -> None:
    context = build_customer_context({"first_name": Markup("<b>x</b>")}, ["first_name"])
    assert type(context["first_name"]) is str


# ------------------------------------------------------------------------------------------
# check_header_value
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("Your order from Northwind", None, id="ok"),
        pytest.param("Grüße, Anna 🎉", None, id="ok-unicode"),
        pytest.param("Family 👩\u200d👩\u200d👧", None, id="ok-zwj-emoji"),
        pytest.param("a\rb", "carriage return", id="cr"),
        pytest.param("a\nb", "line feed", id="lf"),
        pytest.param("a\u2028b", "U+2028", id="line-separator"),
        pytest.param("a\u2029b", "U+2029", id="paragraph-separator"),
        pytest.param("a\x00b", "NUL", id="nul"),
        pytest.param("a\tb", "control character", id="tab"),
        pytest.param("a\x1bb", "control character", id="escape"),
        pytest.param("a\x85b", "next-line", id="nel"),
        pytest.param("a\u202eb", "direction", id="rlo"),
        pytest.param("a\u2066b", "direction", id="lri"),
        pytest.param("a\u200fb", "direction", id="rlm"),
        pytest.param("a\u061cb", "direction", id="alm"),
        pytest.param("a\u200bb", "invisible", id="zero-width-space"),
        pytest.param("=?utf-8?q?x?=", "encoded word", id="encoded-word"),
        pytest.param("x" * 999, "longer than 998", id="too-long"),
    ],
)
def test_check_header_value(value: str, reason: str | None) -> None:
    result = check_header_value(value)
    if reason is None:
        assert result is None
    else:
        assert result is not None and reason in result


@given(
    st.lists(
        st.sampled_from([*"ab }%#\n\r\t-|.:'\"\\", "customer.x", "}}", "%}", "#}", "é"]),
        max_size=30,
    ).map("".join)
)
def test_text_without_an_opening_brace_analyses_like_the_parser_says(source: str) -> None:
    # _structure skips the Jinja parse for text without "{": the shortcut must give exactly
    # what the parser and the walker give for that text.
    from atomic_content.tokens import _analyse, _structure

    assert "{" not in source
    assert _structure(source) == _analyse(source, None)
    assert customer_paths(source) == frozenset()
    assert required_customer_paths(source) == frozenset()


def test_structure_parses_text_with_tokens() -> None:
    # The shortcut must not swallow real tokens: text with "{" is still analysed.
    assert customer_paths("Hi {{ customer.first_name }}") == {"first_name"}
    assert customer_paths("{{ customer.address.city | default('') }}") == {"address.city"}


@given(
    st.lists(
        st.sampled_from([*"ab {}%#-", "{{", "{%", "{#", "}}", "%}", "\r", "\n", "\r\n", "é"]),
        max_size=40,
    ).map("".join),
    st.sampled_from(["html", "text", "json", "header"]),
    st.integers(min_value=1, max_value=30),
)
def test_text_without_template_syntax_renders_as_jinja_renders_it(
    source: str, mode: str, limit: int
) -> None:
    """Text with no Jinja opener is not compiled (tokens.LiteralTemplate): what it gives every
    customer, and when it is too long, must be what the compiled template gives."""
    from atomic_content.tokens import LiteralTemplate, TokenEnvironment, has_template_syntax

    env = TokenEnvironment(locale="en", mode=mode, max_output_chars=limit)  # type: ignore[arg-type]
    try:
        env._env.parse(source)
        parsed = True
    except Exception:
        parsed = False
    if has_template_syntax(source):
        return
    assert parsed  # Jinja finds nothing to parse in it
    quick = env.compile(source)
    assert isinstance(quick, LiteralTemplate)
    compiled = env._compile_unchecked(source)

    def outcome(template: Any) -> str:
        try:
            return template.render({"customer": {}, "brand": {}, "slots": {}}, customer_id="c")
        except RenderError as exc:
            return f"{exc.code}: {exc.message}"

    assert outcome(quick) == outcome(compiled)


def test_template_syntax_is_any_jinja_opener() -> None:
    from atomic_content.tokens import has_template_syntax

    assert not has_template_syntax('{"a": {"b": 1}} body { color: red }')
    assert all(has_template_syntax(f"x {opener} y") for opener in ("{{", "{%", "{#", "{%-"))
