"""SMS channel: encoding and segments, settings, layout contract, text, limits, previews, and
the proof that a channel is one module (validate -> build -> diff with no code outside
``atomic_content.channels`` naming it)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from atomic_content.build import build
from atomic_content.channels import RENDERERS, get_renderer
from atomic_content.channels.base import LimitProblem
from atomic_content.channels.sms import SmsChannel, opt_out_text, sms_size
from atomic_content.diff import preview_lines
from atomic_content.errors import Diagnostic, RenderError, Severity
from atomic_content.render import check_limits
from atomic_content.validate import check_content
from conftest import RenderTree, render_run_message
from contentkit import JOURNEY, SETTINGS
from test_diff import make_project

REPO = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 11, 22)
ADA = {"id": "C-1", "first_name": "Ada", "locale": "en", "tier": "gold", "orders": 4}
BOB = {"id": "C-2", "locale": "de-AT", "tier": "silver", "orders": 0}

SMS_BLOCK = "  sms: {sender: Acme, limits: {max_segments_recommended: 1, max_segments_hard: 2}}\n"


def sms_settings(block: str = SMS_BLOCK) -> str:
    """The contentkit settings with an sms block (line 16) and the sms_text slot."""
    return SETTINGS.replace("  app: {}\n", "  app: {}\n" + block).replace(
        "  push_body: {kind: line}\n", "  push_body: {kind: line}\n  sms_text: {kind: line}\n"
    )


SMS_TEXT = (
    "slot: sms_text\nchannels: [sms]\nstatus: approved\n"
    "text: \"Hi {{ customer.first_name | default('there') }}, your "
    '[trail kit](https://www.acme.example/kit) is ready."\n'
)
SMS_FILES: dict[str, str | bytes | None] = {
    "atomic.yaml": sms_settings(),
    "journeys/welcome.yaml": JOURNEY.replace(
        "{email: basic, app: push}", "{email: basic, app: push, sms: text}"
    ),
    "layouts/sms/text.yaml": "slots:\n  sms_text: required\n  cta: optional\n",
    "atoms/sms-text.yaml": SMS_TEXT,
    "atoms/sms-text-de.yaml": "slot: sms_text\nchannels: [sms]\nstatus: approved\nlocale: de\n"
    "text: Hallo, dein Paket ist da.\n",
}
EN_TEXT = (
    "Hi Ada, your trail kit https://www.acme.example/kit is ready.\n"
    "Shop now https://www.acme.example/shop\n"
    "Reply STOP to opt out"
)


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


def sms_tree(render_tree: RenderTree, extra: dict[str, str | bytes | None] | None = None) -> Path:
    return render_tree({**SMS_FILES, **(extra or {})})


def sms_json(text: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(text)
    return value


# -- encoding and segments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        pytest.param("", "GSM-7", 0, 0, id="empty"),
        pytest.param("Hello", "GSM-7", 5, 1, id="ascii"),
        pytest.param("Grüße, Ça va? à 5€", "GSM-7", 19, 1, id="gsm-accents-and-euro"),
        pytest.param("{}[]~^|\\\f", "GSM-7", 18, 1, id="extension-table-counts-two"),
        pytest.param("a" * 160, "GSM-7", 160, 1, id="gsm-160-one"),
        pytest.param("a" * 161, "GSM-7", 161, 2, id="gsm-161-two"),
        pytest.param("a" * 306, "GSM-7", 306, 2, id="gsm-306-two"),
        pytest.param("a" * 307, "GSM-7", 307, 3, id="gsm-307-three"),
        pytest.param("€" * 80, "GSM-7", 160, 1, id="gsm-80-euro-one"),
        pytest.param("€" * 81, "GSM-7", 162, 2, id="gsm-81-euro-two"),
        pytest.param("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3, id="gsm-escape-moves-whole"),
        pytest.param("garçon", "UCS-2", 6, 1, id="lower-c-cedilla-is-not-gsm"),
        pytest.param("It’s", "UCS-2", 4, 1, id="typographic-apostrophe"),
        pytest.param("ж" * 70, "UCS-2", 70, 1, id="ucs2-70-one"),
        pytest.param("ж" * 71, "UCS-2", 71, 2, id="ucs2-71-two"),
        pytest.param("ж" * 134, "UCS-2", 134, 2, id="ucs2-134-two"),
        pytest.param("ж" * 135, "UCS-2", 135, 3, id="ucs2-135-three"),
        pytest.param("😀" * 35, "UCS-2", 70, 1, id="emoji-are-two-units"),
        pytest.param("ж" * 66 + "😀" + "ж" * 66, "UCS-2", 134, 3, id="surrogates-never-split"),
    ],
)
def test_sms_size(text: str, encoding: str, units: int, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


# -- settings ----------------------------------------------------------------------------------

SENDER_ERROR = (
    "channels.sms.sender: a sender id is 1 to 11 letters (A-Z, a-z), digits or inner spaces, "
    "with at least one letter"
)


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        pytest.param("Acme", [], id="letters"),
        pytest.param("Acme Shop 1", [], id="eleven-with-spaces-and-digits"),
        pytest.param("A1", [], id="letter-and-digit"),
        pytest.param(
            "AcmeOutdoors",
            [f"atomic.yaml:16:17: error[schema.invalid_value]: {SENDER_ERROR}"],
            id="twelve",
        ),
        pytest.param(
            "'12345'",
            [f"atomic.yaml:16:17: error[schema.invalid_value]: {SENDER_ERROR}"],
            id="digits-only",
        ),
        pytest.param(
            "Acme!",
            [f"atomic.yaml:16:17: error[schema.invalid_value]: {SENDER_ERROR}"],
            id="punctuation",
        ),
        pytest.param(
            "Acmé",
            [f"atomic.yaml:16:17: error[schema.invalid_value]: {SENDER_ERROR}"],
            id="not-ascii",
        ),
        pytest.param(
            "' Acme'",
            [f"atomic.yaml:16:17: error[schema.invalid_value]: {SENDER_ERROR}"],
            id="leading-space",
        ),
    ],
)
def test_sender_id_is_validated(render_tree: RenderTree, sender: str, expected: list[str]) -> None:
    root = sms_tree(render_tree, {"atomic.yaml": sms_settings(f"  sms: {{sender: {sender}}}\n")})
    _library, diagnostics = check_content(root, DAY)
    assert [fmt(d) for d in diagnostics.sorted() if d.path == "atomic.yaml"] == expected


@pytest.mark.parametrize(
    ("block", "expected", "hint"),
    [
        pytest.param(
            "  sms: {limits: {max_segments_recommended: 3, max_segments_hard: 2}}\n",
            "atomic.yaml:16:17: error[schema.invalid_value]: channels.sms.limits: "
            "max_segments_recommended is above max_segments_hard",
            "see docs/format.md",
            id="recommended-above-hard",
        ),
        pytest.param(
            "  sms: {limits: {max_segments_hard: 0}}\n",
            "atomic.yaml:16:37: error[schema.invalid_value]: channels.sms.limits.max_segments_hard: "
            "input should be greater than or equal to 1",
            "",
            id="hard-below-one",
        ),
        pytest.param(
            "  sms: {opt_out: {en: ''}}\n",
            "atomic.yaml:16:23: error[schema.empty]: channels.sms.opt_out.en: string should have "
            "at least 1 character",
            "",
            id="empty-opt-out",
        ),
        pytest.param(
            "  smss: {}\n",
            "atomic.yaml:16:3: error[schema.unknown_field]: unknown field 'smss'",
            "did you mean 'sms'? (allowed: app, email, microsite, sms)",
            id="unknown-channel-suggests-the-registry",
        ),
    ],
)
def test_settings_block_diagnostics(
    render_tree: RenderTree, block: str, expected: str, hint: str
) -> None:
    root = sms_tree(render_tree, {"atomic.yaml": sms_settings(block)})
    _library, diagnostics = check_content(root, DAY)
    found = [d for d in diagnostics.sorted() if d.path == "atomic.yaml"]
    assert [fmt(d) for d in found] == [expected]
    assert hint in found[0].hint


def test_enabled_channels_follow_the_registry(render_tree: RenderTree) -> None:
    library, diagnostics = check_content(sms_tree(render_tree), DAY)
    assert not diagnostics.errors
    assert library.settings is not None
    assert list(RENDERERS)[-1] == "sms"
    assert library.settings.channels.enabled() == ["email", "app", "sms"]
    block = library.settings.channels.block("sms")
    assert isinstance(block, SmsChannel) and block.sender == "Acme"
    assert block.limits.max_segments_hard == 2


@pytest.mark.parametrize(
    ("configured", "chain", "expected"),
    [
        pytest.param({}, ["en"], "Reply STOP to opt out", id="english-default"),
        pytest.param({}, ["de-AT", "de", "en"], "Antworte STOP zum Abbestellen", id="german"),
        pytest.param({}, ["fr-CH"], "Répondez STOP pour vous désabonner", id="french-language"),
        pytest.param({}, ["it"], "Reply STOP to opt out", id="unknown-falls-back-to-english"),
        pytest.param({"de": "STOP an 12345"}, ["de-AT", "de"], "STOP an 12345", id="configured"),
        pytest.param(
            {"en": "Text STOP"}, ["de", "en"], "Antworte STOP zum Abbestellen",
            id="built-in-language-beats-configured-fallback",
        ),
    ],
)  # fmt: skip
def test_opt_out_text(configured: dict[str, str], chain: list[str], expected: str) -> None:
    assert opt_out_text(SmsChannel(opt_out=configured), chain) == expected


# -- layout contract ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "extra", "expected"),
    [
        pytest.param(
            "slots:\n  cta: required\n",
            {},
            ["layouts/sms/text.yaml:2:3: error[layout.missing_slot]: an sms layout needs the "
             "slot sms_text"],
            id="no-text-slot",
        ),
        pytest.param(
            "slots:\n  sms_text: required\n  body: optional\n",
            {},
            ["layouts/sms/text.yaml:3:9: error[layout.slot_not_shown]: an sms layout shows "
             "only sms_text and cta, not body"],
            id="slot-not-shown",
        ),
        pytest.param(
            "template: text.txt\nslots:\n  sms_text: required\n",
            {"layouts/sms/text.txt": "{{ slots.sms_text }}\n"},
            ["layouts/sms/text.yaml:1:11: warning[layout.template_unused]: sms layouts have no "
             "template; the text is written from the slots"],
            id="template-unused",
        ),
    ],
)  # fmt: skip
def test_layout_contract(
    render_tree: RenderTree, layout: str, extra: dict[str, str], expected: list[str]
) -> None:
    root = sms_tree(render_tree, {"layouts/sms/text.yaml": layout, **extra})
    _library, diagnostics = check_content(root, DAY)
    found = [fmt(d) for d in diagnostics.sorted() if d.path.startswith("layouts/sms/")]
    assert found == expected


# -- text --------------------------------------------------------------------------------------


def test_text_template_form_and_rendered(render_tree: RenderTree) -> None:
    run = render_run_message(sms_tree(render_tree), ADA, channel="sms")
    part = run.assembled.part("sms.json")
    assert (part.mode, part.filename, part.atom_ids) == ("json", "sms.json", ("sms-text", "cta"))
    assert sms_json(part.source)["text"].startswith(
        "Hi {{ customer.first_name | default('there') }}, your trail kit "
    )
    assert sms_json(run.rendered.parts["sms.json"]) == {"from": "Acme", "text": EN_TEXT}
    assert check_limits(run.library.settings, run.rendered) == []


def test_german_customer_gets_the_german_opt_out(render_tree: RenderTree) -> None:
    run = render_run_message(sms_tree(render_tree), BOB, channel="sms")
    # One message, one language: the English-only cta (an optional slot) stays out of the
    # German text instead of mixing "Shop now" into it.
    assert run.resolution.language == "de"
    assert sms_json(run.rendered.parts["sms.json"])["text"] == (
        "Hallo, dein Paket ist da.\nAntworte STOP zum Abbestellen"
    )


def test_links_are_plain_https_urls(render_tree: RenderTree) -> None:
    text = (
        "slot: sms_text\nchannels: [sms]\nstatus: approved\n"
        "text: 'See <https://a.example/x>, [mail us](mailto:hi@acme.example) or "
        "[the app](acme://home)'\n"
    )
    root = sms_tree(
        render_tree,
        {
            "atomic.yaml": sms_settings("  sms: {opt_out: {en: Text STOP to quit}}\n"),
            "atoms/sms-text.yaml": text,
        },
    )
    run = render_run_message(root, ADA, channel="sms")
    assert sms_json(run.rendered.parts["sms.json"]) == {
        "text": "See https://a.example/x, mail us or the app\n"
        "Shop now https://www.acme.example/shop\nText STOP to quit"
    }


def test_a_cta_that_is_not_https_is_refused(render_tree: RenderTree) -> None:
    cta = "slot: cta\nstatus: approved\ncta: {label: Open, url: 'acme://home'}\n"
    root = sms_tree(render_tree, {"atoms/cta.yaml": cta})
    with pytest.raises(RenderError) as caught:
        render_run_message(root, ADA, channel="sms")
    assert caught.value.code == "render.link_not_allowed"
    assert "cta.url must start with one of: https:" in str(caught.value)


def test_customer_values_cannot_break_the_json(render_tree: RenderTree) -> None:
    hostile = {**ADA, "first_name": 'A"\n}{\\ {{ x }}'}
    run = render_run_message(sms_tree(render_tree), hostile, channel="sms")
    text = sms_json(run.rendered.parts["sms.json"])["text"]
    assert text.startswith('Hi A"\n}{\\ {{ x }}, your trail kit')


# -- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param("a" * 20, [], id="one-segment"),
        pytest.param(
            "a" * 150,
            [LimitProblem(Severity.WARNING, "sms.segments_long",
                          "the text is 2 GSM-7 segments; each segment is billed; aim for about 1")],
            id="two-segments-warn",
        ),
        pytest.param(
            "a" * 300,
            [LimitProblem(Severity.ERROR, "sms.too_many_segments",
                          "the text is 3 GSM-7 segments; the limit is 2")],
            id="three-segments-error",
        ),
        pytest.param(
            "Привет",
            [LimitProblem(Severity.WARNING, "sms.ucs2",
                          "the text has characters outside GSM-7 (emoji, typographic quotes ...), "
                          "so a segment holds 70 characters instead of 160")],
            id="ucs2-warns",
        ),
    ],
)  # fmt: skip
def test_limits(render_tree: RenderTree, words: str, expected: list[LimitProblem]) -> None:
    atom = f"slot: sms_text\nchannels: [sms]\nstatus: approved\ntext: {words}\n"
    root = sms_tree(render_tree, {"atoms/sms-text.yaml": atom, "atoms/cta.yaml": None})
    run = render_run_message(root, ADA, channel="sms")
    assert check_limits(run.library.settings, run.rendered) == expected


# -- previews and review -----------------------------------------------------------------------


def test_previews_and_review_lines(render_tree: RenderTree) -> None:
    run = render_run_message(sms_tree(render_tree), ADA, channel="sms")
    renderer = get_renderer("sms")
    assert renderer.preview_text(run.rendered).splitlines() == [
        "SMS from Acme",
        "╭────────────────────────────────────────────╮",
        "│ Hi Ada, your trail kit                     │",
        "│ https://www.acme.example/kit is ready.     │",
        "│ Shop now https://www.acme.example/shop     │",
        "│ Reply STOP to opt out                      │",
        "╰────────────────────────────────────────────╯",
        "GSM-7, 1 segment, 122 characters",
    ]
    page = renderer.preview_html(run.rendered)
    assert page.startswith('<!doctype html>\n<html lang="en">')
    assert "Hi Ada, your trail kit https://www.acme.example/kit is ready.<br>Shop now" in page
    files = {"sms.json": run.rendered.parts["sms.json"].encode(), "notes.txt": b"x\x07"}
    assert preview_lines("sms", files) == [
        "From: Acme",
        "Size: GSM-7, 1 segment, 122 characters",
        "─" * 40,
        *EN_TEXT.split("\n"),
        "",
        "notes.txt:",
        "x\\x07",
    ]


def test_studio_bubble_and_segment_badge(render_tree: RenderTree) -> None:
    """``atomic serve`` draws an SMS as a bubble with its encoding and segment count, and
    its segment badge takes its state from the sms.* limit problems."""
    from atomic_content.channels.studio import badges, channel_view

    run = render_run_message(sms_tree(render_tree), ADA, channel="sms")
    view = channel_view(run.rendered, None)
    assert view.kind == "bubble"
    assert dict(view.fields) == {
        "sender": "Acme",
        "text": EN_TEXT,
        "encoding": "GSM-7",
        "segments": "1",
        "characters": "122",
    }
    warning = LimitProblem(Severity.WARNING, "sms.segments", "2 segments")
    [badge] = badges(run.rendered, [warning], None)
    assert (badge.label, badge.value, badge.state, badge.note) == (
        "Text segments",
        "1 (GSM-7)",
        "warn",
        "2 segments",
    )
    assert [b.state for b in badges(run.rendered, [], None)] == ["ok"]


# -- a channel is one module -------------------------------------------------------------------


def test_validate_build_and_diff_an_sms_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path / "repo", monkeypatch, **SMS_FILES)  # type: ignore[arg-type]
    _library, diagnostics = check_content(project.content, DAY)
    assert [fmt(d) for d in diagnostics.errors] == []

    out = tmp_path / "dist"
    build(project.content, out, on=DAY, jobs=1, use_cache=False)
    manifest = json.loads((out / "manifest.json").read_text())
    sms = {v["id"]: v for v in manifest["variants"] if v["channel"] == "sms"}
    assert sorted(sms) == [
        "welcome/day-0/sms/de/generic",
        "welcome/day-0/sms/de/new",
        "welcome/day-0/sms/de/vip",
        "welcome/day-0/sms/en/generic",
        "welcome/day-0/sms/en/new",
        "welcome/day-0/sms/en/vip",
    ]
    variant = sms["welcome/day-0/sms/en/vip"]
    assert sorted(variant["files"]) == ["preview/sms.json", "template/sms.json"]
    preview = out / variant["files"]["preview/sms.json"]["path"]
    assert sms_json(preview.read_text())["text"].endswith("\nReply STOP to opt out")

    project.commit(
        "shorter sms", {"atoms/sms-text.yaml": SMS_TEXT.replace(" is ready", " ships today")}
    )
    run = project.diff("HEAD~1", "HEAD")
    assert run.exit_code == 0, run.output
    changed = {v["id"]: v for v in run.data["variants"]}
    assert sorted(changed) == [
        "welcome/day-0/sms/en/generic",
        "welcome/day-0/sms/en/new",
        "welcome/day-0/sms/en/vip",
    ]
    first = changed["welcome/day-0/sms/en/generic"]
    assert first["files"] == ["preview/sms.json", "template/sms.json"]
    assert first["preview_diff"].splitlines() == [
        "@@ -1,6 +1,6 @@",
        " From: Acme",
        "-Size: GSM-7, 1 segment, 122 characters",
        "+Size: GSM-7, 1 segment, 125 characters",
        " ────────────────────────────────────────",
        "-Hi Ada, your trail kit https://www.acme.example/kit is ready.",
        "+Hi Ada, your trail kit https://www.acme.example/kit ships today.",
        " Shop now https://www.acme.example/shop",
        " Reply STOP to opt out",
    ]


_CHANNEL_WORDS = re.compile(
    "|".join(
        [
            *(rf"[\"']{re.escape(name)}[\"']" for name in RENDERERS),
            *(rf"\b{name.capitalize()}(Channel|Limits|Renderer)\b" for name in RENDERERS),
            r"(?i:\bsms)",  # the channel added as one module: not even in prose
        ]
    )
)


def test_no_channel_is_named_outside_the_channels_package() -> None:
    src = REPO / "src" / "atomic_content"
    found = [
        f"{path.relative_to(REPO).as_posix()}:{number}: {line.strip()}"
        for path in sorted(src.rglob("*.py"))
        if "channels" not in path.relative_to(src).parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _CHANNEL_WORDS.search(line)
    ]
    assert found == []
