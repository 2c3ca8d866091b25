"""Text hygiene: bidi controls, invisible and control characters, lone surrogates.

Each case writes the valid ``contentkit`` tree with one file changed and expects exactly one
diagnostic, at the character (or at the backslash of the escape that wrote it), naming the code
point. Literal characters and YAML escapes are both covered, in every kind of file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from atomic_content.errors import Diagnostic
from atomic_content.hygiene import check_text_hygiene, code_point_name
from atomic_content.repository import load_files
from atomic_content.validate import check_content
from contentkit import BASE, MJML, SETTINGS, write_tree

HINTS = {
    "text.bidi_control": "delete it (most editors show it only with 'show invisibles'): it makes "
    "text display in another order than it is written; the locale sets the text direction",
    "text.invisible_character": "delete it (most editors show it only with 'show invisibles'): "
    "an invisible character breaks words, codes and links that look fine",
    "text.control_character": "delete it: control characters are not text; they break e-mail "
    "headers and show as boxes or question marks",
    "text.lone_surrogate": "a \\ud800-\\udfff escape is half of a character and cannot be "
    "written out; write the character itself, or \\U0001F600 for one beyond \\uFFFF",
}


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


def atom(slot: str, body: str) -> str:
    return f"slot: {slot}\nstatus: approved\n{body}\n"


CASES = [
    # --- atoms: every text field, literal characters and escapes ----------------------------
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: Gear \u202efor every trail")},
        "atoms/headline.yaml:3:12: error[text.bidi_control]: text contains U+202E RIGHT-TO-LEFT "
        "OVERRIDE, a bidirectional control character",
        id="atom-text-literal-rlo",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear \\u2066for every trail"')},
        "atoms/headline.yaml:3:13: error[text.bidi_control]: text contains U+2066 LEFT-TO-RIGHT "
        "ISOLATE, a bidirectional control character",
        id="atom-text-escaped-lri",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: 'Gear for \u200fevery trail'")},
        "atoms/headline.yaml:3:17: error[text.bidi_control]: text contains U+200F RIGHT-TO-LEFT "
        "MARK, a bidirectional control character",
        id="atom-text-single-quoted-rlm",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear for every\\u061c trail"')},
        "atoms/headline.yaml:3:22: error[text.bidi_control]: text contains U+061C ARABIC LETTER "
        "MARK, a bidirectional control character",
        id="atom-text-alm",
    ),
    pytest.param(
        {
            "atoms/subject.yaml": "slot: subject\nchannels: [email]\nstatus: approved\n"
            "text: Welcome to Ac\u200bme\n"
        },
        "atoms/subject.yaml:4:20: error[text.invisible_character]: text contains U+200B ZERO "
        "WIDTH SPACE, an invisible character",
        id="subject-zero-width-space",
    ),
    pytest.param(
        {
            "atoms/body.yaml": atom(
                "body", "text: |\n  Thanks for joining.\n\n  Browse the\u2060 shop today"
            )
        },
        "atoms/body.yaml:6:13: error[text.invisible_character]: text contains U+2060 WORD "
        "JOINER, an invisible character",
        id="markdown-block-word-joiner",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear\\ufefffor every trail"')},
        "atoms/headline.yaml:3:12: error[text.invisible_character]: text contains U+FEFF ZERO "
        "WIDTH NO-BREAK SPACE, an invisible character",
        id="bom-inside-text",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear for \\0 every trail"')},
        "atoms/headline.yaml:3:17: error[text.control_character]: text contains U+0000 NULL, a "
        "control character",
        id="nul-escape",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear for\\x1b[31m every trail"')},
        "atoms/headline.yaml:3:16: error[text.control_character]: text contains U+001B ESCAPE, a "
        "control character",
        id="escape-character",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear\\r\\nBcc: x@example.com"')},
        "atoms/headline.yaml:3:12: error[text.control_character]: text contains U+000D CARRIAGE "
        "RETURN, a control character",
        id="carriage-return",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear\\u0085 for every trail"')},
        "atoms/headline.yaml:3:12: error[text.control_character]: text contains U+0085 NEXT "
        "LINE, a control character",
        id="c1-control",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear \\ud800 for every trail"')},
        "atoms/headline.yaml:3:13: error[text.lone_surrogate]: text contains U+D800 "
        "<surrogate>, a lone surrogate",
        id="lone-surrogate",
    ),
    pytest.param(
        {
            "atoms/cta.yaml": atom(
                "cta", "cta: {label: Shop \u202enow, url: https://www.acme.example/shop}"
            )
        },
        "atoms/cta.yaml:3:19: error[text.bidi_control]: cta.label contains U+202E RIGHT-TO-LEFT "
        "OVERRIDE, a bidirectional control character",
        id="cta-label-flow-mapping",
    ),
    pytest.param(
        {
            "atoms/cta.yaml": atom(
                "cta", "cta:\n  label: Shop now\n  url: https://www.acme.example/\u200bshop"
            )
        },
        "atoms/cta.yaml:5:33: error[text.invisible_character]: cta.url contains U+200B ZERO "
        "WIDTH SPACE, an invisible character",
        id="cta-url",
    ),
    pytest.param(
        {
            "atoms/offer.yaml": atom(
                "offer", 'offer:\n  code: "VIP\\u200d20"\n  headline: 20% off everything'
            )
        },
        "atoms/offer.yaml:4:13: error[text.invisible_character]: offer.code contains U+200D "
        "ZERO WIDTH JOINER, an invisible character",
        id="offer-code-zwj",
    ),
    pytest.param(
        {
            "atoms/image.yaml": atom(
                "image", "image: {src: 'https://cdn.acme.example/a.png', alt: 'A \u2067tent'}"
            )
        },
        "atoms/image.yaml:3:56: error[text.bidi_control]: image.alt contains U+2067 RIGHT-TO-LEFT "
        "ISOLATE, a bidirectional control character",
        id="image-alt",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: Gear\ntags: [new, tr\u200bail]")},
        "atoms/headline.yaml:4:15: error[text.invisible_character]: tags.1 contains U+200B ZERO "
        "WIDTH SPACE, an invisible character",
        id="list-item",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: Gear\nnotes: \u202dFor Lena")},
        "atoms/headline.yaml:4:8: error[text.bidi_control]: notes contains U+202D LEFT-TO-RIGHT "
        "OVERRIDE, a bidirectional control character",
        id="notes",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: Gear\n\u200bowner: lena")},
        "atoms/headline.yaml:4:1: error[text.invisible_character]: the key '\\u200bowner' contains "
        "U+200B ZERO WIDTH SPACE, an invisible character",
        id="key",
    ),
    # --- the other kinds of file ------------------------------------------------------------
    pytest.param(
        {"atomic.yaml": SETTINGS.replace("name: Acme Outdoor", "name: Acme\u202a Outdoor")},
        "atomic.yaml:2:13: error[text.bidi_control]: brand.name contains U+202A LEFT-TO-RIGHT "
        "EMBEDDING, a bidirectional control character",
        id="settings",
    ),
    pytest.param(
        {"segments/vip.yaml": str(BASE["segments/vip.yaml"]).replace("VIP", '"V\\x07IP"')},
        "segments/vip.yaml:1:9: error[text.control_character]: name contains U+0007 BELL, a "
        "control character",
        id="segment",
    ),
    pytest.param(
        {
            "segments/vip.yaml": str(BASE["segments/vip.yaml"]).replace(
                "[gold, platinum]", "[gold, plat\u200binum]"
            )
        },
        "segments/vip.yaml:2:36: error[text.invisible_character]: condition.tier.$in.1 contains "
        "U+200B ZERO WIDTH SPACE, an invisible character",
        id="segment-condition",
    ),
    pytest.param(
        {
            "journeys/welcome.yaml": str(BASE["journeys/welcome.yaml"]).replace(
                "Sign-up", "Sign\u2069-up"
            )
        },
        "journeys/welcome.yaml:6:18: error[text.bidi_control]: steps.0.trigger contains U+2069 "
        "POP DIRECTIONAL ISOLATE, a bidirectional control character",
        id="journey",
    ),
    pytest.param(
        {
            "layouts/app/push.yaml": 'description: "Push \\u200e"\nslots:\n  push_title: '
            "required\n  push_body: required\n"
        },
        "layouts/app/push.yaml:1:20: error[text.bidi_control]: description contains U+200E "
        "LEFT-TO-RIGHT MARK, a bidirectional control character",
        id="layout-yaml",
    ),
    pytest.param(
        {"customers/bob.yaml": str(BASE["customers/bob.yaml"]).replace("silver", "sil\u202ever")},
        "customers/bob.yaml:4:12: error[text.bidi_control]: attributes.tier contains U+202E "
        "RIGHT-TO-LEFT OVERRIDE, a bidirectional control character",
        id="customer",
    ),
    pytest.param(
        {
            "profile.yaml": str(BASE["profile.yaml"]).replace(
                "example: gold", 'example: "go\\x7fld"'
            )
        },
        "profile.yaml:8:36: error[text.control_character]: attributes.tier.example contains "
        "U+007F DELETE, a control character",
        id="profile",
    ),
    # --- layout templates: scanned as text -------------------------------------------------
    pytest.param(
        {"layouts/email/basic.mjml": MJML.replace("<h1>", "<h1>\u202e")},
        "layouts/email/basic.mjml:5:20: error[text.bidi_control]: this template contains U+202E "
        "RIGHT-TO-LEFT OVERRIDE, a bidirectional control character",
        id="template-bidi",
    ),
    pytest.param(
        {"layouts/email/basic.mjml": MJML.replace("<h1>", "<h1>\x00")},
        "layouts/email/basic.mjml:5:20: error[text.control_character]: this template contains "
        "U+0000 NULL, a control character",
        id="template-nul",
    ),
    pytest.param(
        {"layouts/email/basic.mjml": MJML.replace("<mj-body>", "<mj-body>\u200c")},
        "layouts/email/basic.mjml:3:12: error[text.invisible_character]: this template contains "
        "U+200C ZERO WIDTH NON-JOINER, an invisible character",
        id="template-zwnj",
    ),
    pytest.param(
        {"layouts/email/basic.mjml": MJML.replace("<mj-body>", "<mj-body>\r ")},
        "layouts/email/basic.mjml:3:12: error[text.control_character]: this template contains "
        "U+000D CARRIAGE RETURN, a control character",
        id="template-lone-cr",
    ),
]


@pytest.mark.parametrize(("files", "expected"), CASES)
def test_hygiene_diagnostic(tmp_path: Path, files: dict[str, str | None], expected: str) -> None:
    write_tree(tmp_path, dict(files))
    _library, diagnostics = check_content(tmp_path)
    text_problems = [d for d in diagnostics if d.code.startswith("text.")]
    assert [fmt(d) for d in text_problems] == [expected]
    assert text_problems[0].hint == HINTS[text_problems[0].code]


CLEAN = [
    pytest.param({"atoms/headline.yaml": "\ufeff" + atom("headline", "text: Gear")}, id="bom"),
    pytest.param(
        {"layouts/email/basic.mjml": "\ufeff" + MJML.replace("\n", "\r\n")}, id="template-crlf"
    ),
    pytest.param(
        {
            "atoms/headline.yaml": atom(
                "headline", "text: Coders love 👩\u200d💻 and 🏳\ufe0f\u200d🌈"
            )
        },
        id="emoji-zwj-sequences",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: Family 👩🏽\u200d💻 time")},
        id="emoji-zwj-after-skin-tone",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", 'text: "Gear \\\\u202e\\tfor every trail"')},
        id="escaped-backslash-and-tab",
    ),
    pytest.param(
        {"atoms/headline.yaml": atom("headline", "text: 'Gear \u05e9\u05dc\u05d5\u05dd trail'")},
        id="right-to-left-letters",
    ),
]


@pytest.mark.parametrize("files", CLEAN)
def test_clean_text_passes(tmp_path: Path, files: dict[str, str | None]) -> None:
    write_tree(tmp_path, dict(files))
    _library, diagnostics = check_content(tmp_path)
    assert [fmt(d) for d in diagnostics if d.code.startswith("text.")] == []


def test_zwj_outside_an_emoji_sequence_is_refused(tmp_path: Path) -> None:
    write_tree(tmp_path, {"atoms/headline.yaml": atom("headline", "text: Ge\u200dar 👩")})
    library, _ = load_files(tmp_path)
    assert [fmt(d) for d in check_text_hygiene(library)] == [
        "atoms/headline.yaml:3:9: error[text.invisible_character]: text contains U+200D ZERO "
        "WIDTH JOINER, an invisible character"
    ]


def test_every_occurrence_is_reported_at_its_own_place(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"atoms/headline.yaml": atom("headline", 'text: "a\u202eb \\u202e c\\0"\nnotes: x\u202e')},
    )
    library, _ = load_files(tmp_path)
    assert [(d.line, d.col, d.code) for d in check_text_hygiene(library)] == [
        (3, 9, "text.bidi_control"),
        (3, 12, "text.bidi_control"),
        (3, 20, "text.control_character"),
        (4, 9, "text.bidi_control"),
    ]


def test_customer_values_never_appear_in_messages(tmp_path: Path) -> None:
    secret = "Sil\u202every-Secret-Value"
    write_tree(
        tmp_path,
        {"customers/bob.yaml": str(BASE["customers/bob.yaml"]).replace("silver", secret)},
    )
    _library, diagnostics = check_content(tmp_path)
    assert all("Secret" not in d.message and "Secret" not in d.hint for d in diagnostics)


def test_raw_nul_byte_in_yaml_stays_a_yaml_binary_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"atoms/headline.yaml": b"slot: headline\ntext: Ge\x00ar\n"})
    _library, diagnostics = check_content(tmp_path)
    assert [(d.path, d.code) for d in diagnostics] == [("atoms/headline.yaml", "yaml.binary")]


def test_lone_surrogate_stops_validation_before_the_build(tmp_path: Path) -> None:
    write_tree(tmp_path, {"atoms/headline.yaml": atom("headline", 'text: "Gear \\udc00"')})
    _library, diagnostics = check_content(tmp_path)
    assert diagnostics.has_errors
    assert [d.code for d in diagnostics.errors] == ["text.lone_surrogate"]


@pytest.mark.parametrize(
    ("ch", "name"),
    [
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\x00", "U+0000 NULL"),
        ("\x01", "U+0001 <control>"),
        ("\ud800", "U+D800 <surrogate>"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ],
)
def test_code_point_name(ch: str, name: str) -> None:
    assert code_point_name(ch) == name
