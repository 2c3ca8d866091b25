"""E-mail headers are built safely whatever Python runs (CVE-2024-6923), and preview text cannot
forge GitHub Actions workflow commands.

Three lines of defence, each tested on its own:

* ``atomic validate`` refuses hostile brand settings with a positioned diagnostic;
* assembling refuses a subject atom that could not go into a header, and ``build_eml``
  checks every header value again before it is set (``render.header_injection``);
* ``build_eml`` parses the written header block back: even with the checks before it switched
  off, an injection is a RenderError, never a ``Bcc:`` in the file or an internal error.

The demo emails are parsed back too: exactly the expected header names, no Bcc, no Cc.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
from dataclasses import dataclass
from email import policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import atomic_content.channels.email as email_channel
import atomic_content.cli.preview_cmd  # noqa: F401  (registers `atomic preview` on main)
from atomic_content.channels.email import build_eml, eml_bytes
from atomic_content.cli import main
from atomic_content.errors import Diagnostic, RenderError
from atomic_content.models import Brand
from atomic_content.repository import Library
from atomic_content.validate import check_content
from conftest import DEMO_CONTENT, RenderTree, render_run_message
from contentkit import SETTINGS

ADA = {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "gold", "orders": 4}
EVIL = "evil.example"
ENCODED_BCC = "=?UTF-8?Q?=0A?=Bcc: attacker@evil.example"

# The header names of a demo .eml without a date (Date comes only with a send time; To is the
# customer's address, the profile's email_attribute).
DEMO_HEADERS = [
    "content-type",
    "from",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "message-id",
    "mime-version",
    "reply-to",
    "subject",
    "to",
]


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


def settings(old: str, new: str) -> dict[str, str | bytes | None]:
    """The contentkit settings with one fragment replaced (it must be there)."""
    assert old in SETTINGS
    return {"atomic.yaml": SETTINGS.replace(old, new, 1)}


# -- 1. validate: brand settings ------------------------------------------------------------


@dataclass(frozen=True)
class BrandCase:
    id: str
    files: dict[str, str | bytes | None]
    expected: str  # "path:line:col: severity[code]: message"
    hint: str  # a fragment the hint must contain
    # The text hygiene check (every string of every file) also reports a control character,
    # at the character itself: the header check says why it matters for this field.
    also: tuple[str, ...] = ()


ADDRESS_HINT = "write one plain address such as hello@example.com"
URL_HINT = "write an https:// address without spaces or quotes"
COLOUR_HINT = "write a colour as #rrggbb, e.g. #1f5f4a"
# A deep-link scheme is added to the link schemes content may use (CTAs, Markdown, push).
SCHEME_HINT = "write your app's own scheme without '://'"

BRAND_CASES = [
    BrandCase(
        "sender-name-encoded-word",
        settings("sender: {name: Acme,", f'sender: {{name: "Acme {ENCODED_BCC}",'),
        "atomic.yaml:3:18: error[schema.invalid_format]: brand.sender.name: contains '=?', "
        "which mail programs may decode as an encoded word",
        "it becomes the From header's display name",
    ),
    BrandCase(
        "sender-name-crlf",
        settings("sender: {name: Acme,", 'sender: {name: "Acme\\r\\nBcc: x@evil.example",'),
        "atomic.yaml:3:18: error[schema.invalid_format]: brand.sender.name: contains a carriage "
        "return (CR)",
        "write the name as plain text on one line",
        (
            "atomic.yaml:3:23: error[text.control_character]: brand.sender.name contains U+000D "
            "CARRIAGE RETURN, a control character",
        ),
    ),
    BrandCase(
        "sender-email-display-name",
        settings("email: hello@acme.example}", 'email: "Acme <hello@acme.example>"}'),
        "atomic.yaml:3:31: error[schema.invalid_format]: brand.sender.email: contains an angle "
        "bracket (<)",
        ADDRESS_HINT,
    ),
    BrandCase(
        "reply-to-encoded-word",
        settings("  base_url:", f'  reply_to: "care@acme.example {ENCODED_BCC}"\n  base_url:'),
        "atomic.yaml:4:13: error[schema.invalid_format]: brand.reply_to: contains a colon",
        ADDRESS_HINT,
    ),
    BrandCase(
        "reply-to-crlf",
        settings(
            "  base_url:", '  reply_to: "care@acme.example\\r\\nBcc: x@evil.example"\n  base_url:'
        ),
        "atomic.yaml:4:13: error[schema.invalid_format]: brand.reply_to: contains a carriage "
        "return (CR)",
        ADDRESS_HINT,
        (
            "atomic.yaml:4:31: error[text.control_character]: brand.reply_to contains U+000D "
            "CARRIAGE RETURN, a control character",
        ),
    ),
    BrandCase(
        "reply-to-list",
        settings("  base_url:", '  reply_to: "care@acme.example, x@evil.example"\n  base_url:'),
        "atomic.yaml:4:13: error[schema.invalid_format]: brand.reply_to: contains a comma",
        ADDRESS_HINT,
    ),
    BrandCase(
        "reply-to-not-an-address",
        settings("  base_url:", "  reply_to: care@localhost\n  base_url:"),
        "atomic.yaml:4:13: error[schema.invalid_format]: brand.reply_to: is not an e-mail "
        "address such as hello@example.com",
        ADDRESS_HINT,
    ),
    BrandCase(
        "mailto-breakout",
        settings(
            "mailto: unsubscribe@acme.example}",
            'mailto: "u@x.example>, <https://evil.example/unsub"}',
        ),
        "atomic.yaml:7:68: error[schema.invalid_format]: brand.unsubscribe.mailto: contains an "
        "angle bracket (>)",
        ADDRESS_HINT,
    ),
    BrandCase(
        "unsubscribe-url-comma",
        settings(
            "url: https://www.acme.example/unsubscribe,",
            '"url": "https://www.acme.example/unsubscribe?a=1,2",',
        ),
        "atomic.yaml:7:24: error[schema.invalid_format]: brand.unsubscribe.url: contains a "
        "comma, which would split the List-Unsubscribe header",
        "percent-encode a comma as %2C",
    ),
    BrandCase(
        "unsubscribe-url-encoded-word",
        settings(
            "url: https://www.acme.example/unsubscribe,",
            "url: https://www.acme.example/unsubscribe?t==?utf-8?q?x?=,",
        ),
        "atomic.yaml:7:22: error[schema.invalid_format]: brand.unsubscribe.url: contains '=?', "
        "which mail programs may decode as an encoded word",
        "%3F",
    ),
    BrandCase(
        "unsubscribe-url-http",
        settings("url: https://www.acme.example/unsubscribe,", "url: http://www.acme.example/u,"),
        "atomic.yaml:7:22: error[schema.invalid_format]: brand.unsubscribe.url: must start "
        "with https://",
        "percent-encode a comma",
    ),
    BrandCase(
        "base-url-quote",
        settings(
            "base_url: https://www.acme.example\n",
            "base_url: 'https://www.acme.example/\"onmouseover=x'\n",
        ),
        "atomic.yaml:4:13: error[schema.invalid_format]: brand.base_url: contains a double quote",
        URL_HINT,
    ),
    BrandCase(
        "base-url-newline",
        settings(
            "base_url: https://www.acme.example\n",
            'base_url: "https://www.acme.example/\\nx"\n',
        ),
        "atomic.yaml:4:13: error[schema.invalid_format]: brand.base_url: contains a line feed (LF)",
        URL_HINT,
    ),
    BrandCase(
        "logo-user-before-host",
        settings(
            "  address:",
            "  logo: {src: 'https://acme.example@evil.example/logo.png', alt: Acme}\n  address:",
        ),
        "atomic.yaml:6:15: error[schema.invalid_format]: brand.logo.src: names a user before "
        "the host (an '@' in the address part)",
        "write an asset path such as assets/logo.png or an https:// address without spaces "
        "or quotes",
    ),
    BrandCase(
        "colour-css-tracker",
        settings(
            "  address:",
            '  colors: {primary: "#1f5f4a;background-image:url(https://tracker.evil.example/p)"}'
            "\n  address:",
        ),
        "atomic.yaml:6:21: error[schema.invalid_format]: brand.colors.primary: has text after "
        "the colour, which would become CSS of its own",
        COLOUR_HINT,
    ),
    BrandCase(
        "colour-name",
        settings("  address:", "  colors: {accent: red}\n  address:"),
        "atomic.yaml:6:20: error[schema.invalid_format]: brand.colors.accent: is not a hex "
        "colour such as #1f5f4a",
        COLOUR_HINT,
    ),
    BrandCase(
        "colour-alpha",
        settings("  address:", '  colors: {text: "#1d1d1bff"}\n  address:'),
        "atomic.yaml:6:18: error[schema.invalid_format]: brand.colors.text: has an alpha part, "
        "which several mail clients ignore",
        COLOUR_HINT,
    ),
    BrandCase(
        "deep-link-scheme-javascript",
        settings("deep_link_scheme: acme", "deep_link_scheme: javascript"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is a scheme "
        "browsers or mail programs handle themselves, not an app's own",
        SCHEME_HINT,
    ),
    BrandCase(
        "deep-link-scheme-data",
        settings("deep_link_scheme: acme", "deep_link_scheme: data"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is a scheme "
        "browsers or mail programs handle themselves, not an app's own",
        SCHEME_HINT,
    ),
    BrandCase(
        "deep-link-scheme-vbscript",
        settings("deep_link_scheme: acme", "deep_link_scheme: vbscript"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is a scheme "
        "browsers or mail programs handle themselves, not an app's own",
        SCHEME_HINT,
    ),
    BrandCase(
        "deep-link-scheme-file",
        settings("deep_link_scheme: acme", "deep_link_scheme: file"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is a scheme "
        "browsers or mail programs handle themselves, not an app's own",
        SCHEME_HINT,
    ),
    BrandCase(
        "deep-link-scheme-https",
        settings("deep_link_scheme: acme", "deep_link_scheme: https"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is a scheme "
        "browsers or mail programs handle themselves, not an app's own",
        SCHEME_HINT,
    ),
    BrandCase(
        "deep-link-scheme-mailto",
        settings("deep_link_scheme: acme", "deep_link_scheme: mailto"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is a scheme "
        "browsers or mail programs handle themselves, not an app's own",
        SCHEME_HINT,
    ),
    BrandCase(
        "deep-link-scheme-with-colon",
        settings("deep_link_scheme: acme", "deep_link_scheme: 'acme://'"),
        "atomic.yaml:5:21: error[schema.invalid_format]: brand.deep_link_scheme: is not a URL "
        "scheme: lower-case letters, digits, '+', '-' or '.', a letter first",
        SCHEME_HINT,
    ),
]


@pytest.mark.parametrize("case", BRAND_CASES, ids=[c.id for c in BRAND_CASES])
def test_hostile_brand_settings_are_positioned_errors(
    render_tree: RenderTree, case: BrandCase
) -> None:
    _library, diagnostics = check_content(render_tree(case.files))
    own = [d for d in diagnostics if d.path == "atomic.yaml"]
    assert [fmt(d) for d in own] == [case.expected, *case.also]
    assert case.hint in own[0].hint
    for diagnostic in own:
        assert EVIL not in diagnostic.message + diagnostic.hint  # the value is never echoed


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sender: {name: Acme,", 'sender: {name: "Nordwind Österreich, Inc. (\\"NW\\")",'),
        ("email: hello@acme.example}", "email: news+eu=de@mail.acme-outdoor.example}"),
        ("  base_url:", "  reply_to: Care.Team@ACME.example\n  base_url:"),
        ("  address:", '  colors: {primary: "#03A", accent: "#1F5F4A"}\n  address:'),
        (
            "url: https://www.acme.example/unsubscribe,",
            "url: 'https://www.acme.example:8443/u?id=1&t=%2C#x',",
        ),
    ],
    ids=["name-unicode-quotes", "address-plus-equals", "reply-to-case", "colours", "url-query"],
)
def test_legitimate_brand_settings_pass(render_tree: RenderTree, old: str, new: str) -> None:
    _library, diagnostics = check_content(render_tree(settings(old, new)))
    assert [fmt(d) for d in diagnostics if d.severity.value == "error"] == []


# -- 2. render: the subject atom ------------------------------------------------------------


def subject_atom(text: str) -> dict[str, str | bytes | None]:
    return {
        "atoms/subject.yaml": f"slot: subject\nchannels: [email]\nstatus: approved\ntext: {text}\n"
    }


ENCODED_WORD_REASON = "contains '=?', which mail programs may decode as an encoded word"
ALL_EMAILS = " (in 6 variants, e.g. welcome/day-0/email/de/generic)"


@pytest.mark.parametrize(
    ("text", "reason", "validate_says"),
    [
        (
            f'"Hi {ENCODED_BCC}"',
            ENCODED_WORD_REASON,
            # validate renders every variant: the email channel's refusal is a diagnostic at
            # the subject atom's text, not a crash at send time.
            "atoms/subject.yaml:4:7: error[render.header_injection]: the subject atom "
            + ENCODED_WORD_REASON
            + ALL_EMAILS,
        ),
        (
            '"Hi =?utf-8?b?QWRh?="',
            ENCODED_WORD_REASON,
            "atoms/subject.yaml:4:7: error[render.header_injection]: the subject atom "
            + ENCODED_WORD_REASON
            + ALL_EMAILS,
        ),
        (
            '"Hi \\u202e gnirts"',
            "contains a text direction control (U+202E)",
            # the text hygiene check finds it first, at the escape itself
            "atoms/subject.yaml:4:11: error[text.bidi_control]: text contains U+202E "
            "RIGHT-TO-LEFT OVERRIDE, a bidirectional control character",
        ),
        (
            '"Hi \\u200b there"',
            "contains an invisible character (U+200B)",
            "atoms/subject.yaml:4:11: error[text.invisible_character]: text contains U+200B "
            "ZERO WIDTH SPACE, an invisible character",
        ),
    ],
    ids=["encoded-bcc", "encoded-word", "bidi", "zero-width"],
)
def test_subject_atom_refused_when_assembled(
    render_tree: RenderTree, text: str, reason: str, validate_says: str
) -> None:
    content = render_tree(subject_atom(text))
    _library, diagnostics = check_content(content)
    assert [fmt(d) for d in diagnostics.errors] == [validate_says]
    assert "Bcc" not in validate_says and EVIL not in validate_says
    # The email channel refuses it on its own too (validation skipped).
    with pytest.raises(RenderError) as caught:
        render_run_message(content, ADA, validate=False)
    error = caught.value
    assert (error.code, error.atom_id) == ("render.header_injection", "subject")
    assert error.message == f"the subject atom {reason}"
    assert "Bcc" not in str(error) and EVIL not in str(error)


def test_subject_atom_line_break_is_a_validate_error(render_tree: RenderTree) -> None:
    content = render_tree(subject_atom('"Hi\\nBcc: attacker@evil.example"'))
    _library, diagnostics = check_content(content)
    assert [fmt(d) for d in diagnostics if d.path == "atoms/subject.yaml"] == [
        "atoms/subject.yaml:4:7: error[atom.multiline]: slot 'subject' takes one line of text"
    ]


def test_subject_atom_through_the_cli_exits_1_without_a_bcc(render_tree: RenderTree) -> None:
    content = render_tree(subject_atom(f'"Hi {ENCODED_BCC}"'))
    result = CliRunner().invoke(
        main,
        ["preview", "--content", str(content), "--customer", "ada", "--journey", "welcome",
         "--channel", "email", "--format", "eml"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "render.header_injection" in result.stderr and "atom 'subject'" in result.stderr
    assert "Bcc" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr


# -- 3. build_eml: checks before the headers are set ----------------------------------------


@pytest.fixture(scope="module")
def demo(render_demo_library: Library) -> tuple[Library, Any]:
    anna = render_demo_library.customers["anna"].attributes
    return render_demo_library, render_run_message(render_demo_library, anna)


def brand_with(brand: Brand, change: str, value: str) -> Brand:
    """``brand`` with one hostile value, bypassing validation (as a caller building a Brand
    by hand, or content that skipped ``atomic validate``, could)."""
    if change == "sender.name":
        return brand.model_copy(update={"sender": brand.sender.model_copy(update={"name": value})})
    if change == "sender.email":
        return brand.model_copy(update={"sender": brand.sender.model_copy(update={"email": value})})
    if change in ("unsubscribe.mailto", "unsubscribe.url"):
        field = change.split(".")[1]
        return brand.model_copy(
            update={"unsubscribe": brand.unsubscribe.model_copy(update={field: value})}
        )
    return brand.model_copy(update={change: value})


@dataclass(frozen=True)
class HeaderCase:
    id: str
    change: str  # subject | to | a brand field
    value: str
    message: str  # the RenderError message before the header is set


HEADER_CASES = [
    HeaderCase(
        "subject-encoded-bcc",
        "subject",
        f"Hi {ENCODED_BCC}",
        "the Subject header value (the subject) contains '=?', which mail programs may decode "
        "as an encoded word",
    ),
    HeaderCase(
        "subject-crlf",
        "subject",
        "Hi\r\nBcc: attacker@evil.example",
        "the Subject header value (the subject) contains a carriage return (CR)",
    ),
    HeaderCase(
        "sender-name-encoded-bcc",
        "sender.name",
        f"Acme {ENCODED_BCC}",
        "the From header value (brand.sender.name) contains '=?', which mail programs may "
        "decode as an encoded word",
    ),
    HeaderCase(
        "sender-email-list",
        "sender.email",
        "hello@acme.example, attacker@evil.example",
        "the From header value (brand.sender.email) contains a comma",
    ),
    HeaderCase(
        "reply-to-encoded-bcc",
        "reply_to",
        f"care@acme.example {ENCODED_BCC}",
        "the Reply-To header value (brand.reply_to) contains a colon",
    ),
    HeaderCase(
        "reply-to-crlf",
        "reply_to",
        "care@acme.example\r\nBcc: attacker@evil.example",
        "the Reply-To header value (brand.reply_to) contains a carriage return (CR)",
    ),
    HeaderCase(
        "mailto-breakout",
        "unsubscribe.mailto",
        "u@x.example>, <https://evil.example/unsub",
        "the List-Unsubscribe header value (brand.unsubscribe.mailto) contains an angle "
        "bracket (>)",
    ),
    HeaderCase(
        "url-breakout",
        "unsubscribe.url",
        "https://www.acme.example/u>, <https://evil.example/unsub",
        "the List-Unsubscribe header value (brand.unsubscribe.url) contains an angle bracket (>)",
    ),
    HeaderCase(
        "url-comma",
        "unsubscribe.url",
        "https://www.acme.example/u?a=1,https://evil.example/",
        "the List-Unsubscribe header value (brand.unsubscribe.url) contains a comma, which would "
        "split the List-Unsubscribe header",
    ),
    HeaderCase(
        "url-encoded-word",
        "unsubscribe.url",
        "https://www.acme.example/?a=?utf-8?q?=0A?=Bcc:_x@evil.example?=",
        "the List-Unsubscribe header value (brand.unsubscribe.url) contains '=?', which mail "
        "programs may decode as an encoded word",
    ),
    HeaderCase(
        "to-display-name",
        "to",
        "Ada <ada@evil.example>",
        "the To header value (the recipient address) contains an angle bracket (<)",
    ),
    HeaderCase(
        "to-crlf",
        "to",
        "ada@x.example\r\nBcc: attacker@evil.example",
        "the To header value (the recipient address) contains a carriage return (CR)",
    ),
]


def build_hostile(demo: tuple[Library, Any], case: HeaderCase) -> None:
    library, run = demo
    rendered, brand, to = run.rendered, library.settings.brand, None
    if case.change == "subject":
        rendered = dataclasses.replace(rendered, parts={**rendered.parts, "subject": case.value})
    elif case.change == "to":
        to = case.value
    else:
        brand = brand_with(brand, case.change, case.value)
    eml_bytes(build_eml(rendered, brand, to=to))


@pytest.mark.parametrize("case", HEADER_CASES, ids=[c.id for c in HEADER_CASES])
def test_build_eml_checks_every_value_before_setting_it(
    demo: tuple[Library, Any], case: HeaderCase
) -> None:
    with pytest.raises(RenderError) as caught:
        build_hostile(demo, case)
    error = caught.value
    assert (error.code, error.message) == ("render.header_injection", case.message)
    assert error.customer_id == "test-customer"
    assert error.atom_id == ("welcome-day0-subject-de" if case.change == "subject" else None)
    assert EVIL not in str(error) + error.hint and "Bcc" not in str(error)


# -- 4. build_eml: the written headers are parsed back --------------------------------------


@pytest.mark.parametrize("case", HEADER_CASES, ids=[c.id for c in HEADER_CASES])
def test_parse_back_catches_what_the_checks_would_miss(
    demo: tuple[Library, Any], case: HeaderCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Switch the checks before encoding off: the parse-back alone must refuse every case.
    def allow(value: str, **options: Any) -> None:
        return None

    for name in ("check_header_value", "address_problem", "https_url_problem"):
        monkeypatch.setattr(email_channel, name, allow)
    with pytest.raises(RenderError) as caught:
        build_hostile(demo, case)
    error = caught.value
    assert error.code == "render.header_injection"
    assert error.message in {
        "the written headers do not parse back to the expected header names",
        f"the {header_of(case)} header does not read back as it was written",
        f"the {header_of(case)} header could not be written",
    }
    assert EVIL not in str(error) and "Bcc" not in str(error)


def header_of(case: HeaderCase) -> str:
    return {
        "subject": "Subject",
        "to": "To",
        "reply_to": "Reply-To",
        "sender.name": "From",
        "sender.email": "From",
    }.get(case.change, "List-Unsubscribe")


def test_subject_composed_from_customer_value_and_atom_text(render_tree: RenderTree) -> None:
    # Neither the atom ("...?Q?...") nor the value ("Ada=") holds "=?"; together they do.
    atom = "\"Hi {{ customer.first_name | default('you') }}?Q?=0A?=x\""
    content = render_tree(subject_atom(atom))
    run = render_run_message(content, {**ADA, "first_name": "Ada="}, customer_id="C-7")
    assert "=?" in run.rendered.parts["subject"]
    assert run.library.settings is not None
    with pytest.raises(RenderError) as caught:
        build_eml(run.rendered, run.library.settings.brand)
    assert (caught.value.code, caught.value.customer_id, caught.value.atom_id) == (
        "render.header_injection",
        "C-7",
        "subject",
    )


# -- 5. the demo emails ---------------------------------------------------------------------

EMAIL_STEPS = [
    ("welcome", "day-0"),
    ("welcome", "day-3"),
    ("welcome", "day-7"),
    ("cart-recovery", "reminder-24h"),
    ("cart-recovery", "last-call-72h"),
    ("winback", "miss-you"),
    ("winback", "comeback-offer"),
    ("winback", "last-chance"),
]
DAY = dt.date(2026, 12, 1)
CUSTOMERS = ["anna", "jonas", "lea", "maria", "new-signup", "oliver", "sam", "tom"]


def header_names(data: bytes) -> list[str]:
    parsed = email.message_from_bytes(data, policy=policy.default)
    return sorted(name.lower() for name in parsed)


@pytest.mark.parametrize(
    ("customer", "journey", "step"),
    [(c, j, s) for c, (j, s) in zip(CUSTOMERS, EMAIL_STEPS, strict=True)],
)
def test_demo_eml_from_the_cli_has_exactly_the_expected_headers(
    customer: str, journey: str, step: str, tmp_path: Path
) -> None:
    target = tmp_path / "message.eml"
    result = CliRunner().invoke(
        main,
        ["preview", "--content", str(DEMO_CONTENT), "--customer", customer, "--journey", journey,
         "--step", step, "--channel", "email", "--format", "eml", "--out", str(target)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = target.read_bytes()
    # The CLI always dates an export (now, SOURCE_DATE_EPOCH or --date); each header once:
    # no Bcc, no Cc, nothing injected.
    assert header_names(data) == sorted([*DEMO_HEADERS, "date"])
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["Cc"] is None
    assert parsed["From"] == "Northwind Outfitters <hello@mail.northwind.example>"


def test_every_demo_email_has_exactly_the_expected_headers(render_demo_library: Library) -> None:
    assert render_demo_library.settings is not None
    brand = render_demo_library.settings.brand
    built = 0
    for customer in CUSTOMERS:
        attributes = render_demo_library.customers[customer].attributes
        for journey, step in EMAIL_STEPS:
            run = render_run_message(render_demo_library, attributes, journey, step, "email")
            for kwargs, extra in (
                ({}, []),
                ({"to": "ada@example.com", "date": DAY}, ["date"]),
            ):
                data = eml_bytes(build_eml(run.rendered, brand, **kwargs))
                assert header_names(data) == sorted(DEMO_HEADERS + extra), (customer, step)
                built += 1
    assert built == 2 * len(CUSTOMERS) * len(EMAIL_STEPS)


# -- 6. preview text cannot forge workflow commands -----------------------------------------


@pytest.mark.parametrize(
    "text",
    ['"::error file=README.md,line=1::forged"', '"  ::add-mask::x"', '"a ##[error]b"'],
    ids=["error-annotation", "indented-command", "legacy-prefix"],
)
def test_preview_text_escapes_workflow_commands(render_tree: RenderTree, text: str) -> None:
    content = render_tree(
        {"atoms/headline.yaml": f"slot: headline\nstatus: approved\ntext: {text}\n"}
    )
    result = CliRunner().invoke(
        main,
        ["preview", "--content", str(content), "--customer", "bob", "--journey", "welcome",
         "--channel", "email"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not any(line.lstrip().startswith("::") for line in lines)
    assert "##[" not in result.stdout
    # The text is still there for a reader: only a zero-width space was added.
    assert text.strip('"').strip() in result.stdout.replace("\u200b", "")
