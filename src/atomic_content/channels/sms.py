"""The SMS channel: one text message, ``sms.json`` = ``{"from"?, "text"}``.

Layout contract (``layouts/sms/<id>.yaml``, no template): the slots ``sms_text`` (required; a
``line`` or ``markdown`` slot) and ``cta`` (optional). The engine writes the text, one item a
line:

* ``sms_text`` flattened to one line; a Markdown link is written ``label url`` (phones link
  bare addresses) when its target is https, else it becomes its label;
* the call to action as ``label url`` (its url must be https);
* the opt-out text of the message locale (``channels.sms.opt_out``, else the built-in text of
  the locale's language, else English), e.g. "Reply STOP to opt out".

``from`` is the alphanumeric sender id of ``channels.sms.sender`` (absent: the sending
platform's number). The part is json mode: customer values are JSON-escaped at render time.

Size: a text is GSM-7 when every character is in the GSM 03.38 alphabet (the characters of its
extension table, ``^{}\\[~]|€`` and form feed, take two septets), else UCS-2 (UTF-16 code
units). One SMS holds 160 septets or 70 units; a longer text is sent in segments of 153 or 67
(the rest carries the concatenation header) and a segment never splits an escape pair or a
surrogate pair. Limits (``channels.sms.limits``): more segments than ``max_segments_hard``
(error) or ``max_segments_recommended`` (warning), and UCS-2 (warning: a segment holds less
than half as much).
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, model_validator

from ..errors import RenderError, Severity
from ..markdown import flatten
from ..models import ChannelSettings, LocaleCode, Model, NonEmpty, Settings, Strings
from ..repository import LayoutEntry
from ..resolver import Resolution
from ..strings import BUILTIN
from .base import (
    AssembledMessage,
    AssemblyContext,
    ChannelView,
    Export,
    LayoutProblem,
    LimitAdvice,
    LimitProblem,
    Measure,
    Part,
    RenderedMessage,
    base_message,
    channel_settings,
    checked_url,
    json_object,
    layout_entry,
    length_problems,
    new_vault,
    text_of,
)
from .review import other_files

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet (one septet each; the escape code itself is left out)."""
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
"""The GSM 03.38 extension table: an escape septet plus one, so two septets each."""

DEFAULT_OPT_OUT: Final[Mapping[str, str]] = {
    language: texts["opt_out"] for language, texts in BUILTIN.items()
}
"""The built-in opt-out line by language (the strings catalogue's ``opt_out``)."""

_LINK_SCHEMES: Final = frozenset({"https"})
_SENDER_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ")
_BOX_WIDTH = 46


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def _sender_id(value: str) -> str:
    letters = any(char.isascii() and char.isalpha() for char in value)
    if (
        not 1 <= len(value) <= 11
        or not set(value) <= _SENDER_CHARS
        or value != value.strip()
        or not letters
    ):
        raise ValueError(
            "a sender id is 1 to 11 letters (A-Z, a-z), digits or inner spaces, "
            "with at least one letter"
        )
    return value


SenderId = Annotated[
    str,
    AfterValidator(_sender_id),
    Field(
        description="Alphanumeric sender id: 1 to 11 letters, digits or inner spaces, at least "
        "one letter.",
        json_schema_extra={"pattern": "^[A-Za-z0-9]([A-Za-z0-9 ]{0,9}[A-Za-z0-9])?$"},
    ),
]


class SmsLimits(Model):
    max_segments_recommended: int = Field(default=1, ge=1)
    max_segments_hard: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> SmsLimits:
        if self.max_segments_recommended > self.max_segments_hard:
            raise ValueError("max_segments_recommended is above max_segments_hard")
        return self


class SmsChannel(ChannelSettings):
    """``channels.sms`` in atomic.yaml."""

    sender: SenderId | None = Field(
        default=None, description="The sender id; absent: the sending platform's number."
    )
    opt_out: dict[LocaleCode, NonEmpty] = Field(
        default_factory=dict,
        description="Locale -> the opt-out line that ends every text (default: built-in "
        "English, German and French texts).",
    )
    limits: SmsLimits = SmsLimits()


def opt_out_text(
    settings: SmsChannel,
    locale_chain: list[str],
    catalogue: Mapping[str, Strings] | None = None,
) -> str:
    """The opt-out line for a message whose locale falls back along ``locale_chain``.

    Per locale of the chain, then per its language: the configured text
    (``channels.sms.opt_out``), then the content's strings catalogue (``opt_out`` of
    ``strings/<locale>.yaml``), then the built-in one; English when nothing matches.
    """
    catalogue = catalogue or {}
    for code in locale_chain:
        for candidate in (code, code.split("-")[0]):
            item = catalogue.get(candidate)
            text = (
                settings.opt_out.get(candidate)
                or (item.opt_out if item is not None else None)
                or DEFAULT_OPT_OUT.get(candidate)
            )
            if text:
                return text
    return DEFAULT_OPT_OUT["en"]


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsSize:
    """How a text travels: ``encoding``, its length in ``units`` (GSM-7 septets or UCS-2 code
    units) and the number of ``segments`` (0 for an empty text)."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int


def sms_size(text: str) -> SmsSize:
    """The encoding, length and segment count of ``text`` (see the module docs)."""
    widths: list[int]
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
        widths = [2 if char in GSM7_EXTENSION else 1 for char in text]
        single, part = 160, 153
    else:
        encoding = "UCS-2"
        widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, part = 70, 67
    units = sum(widths)
    if units <= single:
        return SmsSize(encoding, units, 1 if units else 0)
    segments, used = 1, 0
    for width in widths:
        # A two-unit character that does not fit moves whole to the next segment.
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return SmsSize(encoding, units, segments)


# --------------------------------------------------------------------------------------------
# The renderer
# --------------------------------------------------------------------------------------------

_SLOTS: Final = ("sms_text", "cta")


class SmsRenderer:
    """The ``sms`` channel."""

    name = "sms"
    message_fields: frozenset[str] = frozenset()
    limit_advice: Mapping[str, LimitAdvice] = {
        "sms.ucs2": LimitAdvice(
            "use plain characters: no emoji, and straight quotes and dashes (' \" -) instead "
            "of typographic ones"
        ),
        "sms.too_many_segments": LimitAdvice(
            "shorten the text, or raise `channels.sms.limits.max_segments_hard` in atomic.yaml"
        ),
    }
    settings_model = SmsChannel
    layout_template = None

    @property
    def exports(self) -> Mapping[str, Export]:
        return {}

    def check_layout(self, entry: LayoutEntry) -> list[LayoutProblem]:
        problems: list[LayoutProblem] = []
        slots = entry.layout.slots
        if "sms_text" not in slots:
            problems.append(
                LayoutProblem(
                    "layout.missing_slot",
                    "an sms layout needs the slot sms_text",
                    "add `sms_text: required` under `slots:`",
                    loc=("slots",),
                )
            )
        for slot in slots:
            if slot not in _SLOTS:
                problems.append(
                    LayoutProblem(
                        "layout.slot_not_shown",
                        f"an sms layout shows only sms_text and cta, not {slot}",
                        "remove the slot: a text message is one short text and a link",
                        loc=("slots", slot),
                    )
                )
        if entry.layout.template is not None:
            problems.append(
                LayoutProblem(
                    "layout.template_unused",
                    "sms layouts have no template; the text is written from the slots",
                    "remove `template:`",
                    loc=("template",),
                    severity=Severity.WARNING,
                )
            )
        return problems

    # -- assembly ----------------------------------------------------------------------------
    def assemble(self, ctx: AssemblyContext, resolution: Resolution) -> AssembledMessage:
        entry = layout_entry(ctx, resolution)
        atoms = resolution.atoms
        settings = channel_settings(ctx.settings, self.name, SmsChannel)
        opt_out = opt_out_text(
            settings, ctx.library.locale_chain(resolution.key.locale), ctx.library.strings
        )
        sender = settings.sender or ""
        vault = new_vault(ctx, entry, atoms, extra=(opt_out, sender))
        lines: list[str] = []
        text_atom = atoms.get("sms_text")
        if text_atom is not None:
            lines.append(vault.protect(flatten(text_of(text_atom), link_schemes=_LINK_SCHEMES)))
        cta = atoms.get("cta")
        if cta is not None and cta.cta is not None:
            url = checked_url(cta.cta.url, _LINK_SCHEMES, atom_id=cta.id, what="cta.url")
            lines.append(f"{vault.protect(flatten(cta.cta.label))} {vault.protect(url)}")
        lines.append(opt_out)
        payload: dict[str, str] = {"from": sender} if sender else {}
        payload["text"] = "\n".join(line for line in lines if line)
        part = Part(
            "sms.json",
            "json",
            vault.finish(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", part="sms"),
            "application/json",
            "sms.json",
            atom_ids=tuple(atoms[s].id for s in _SLOTS if s in atoms),
        )
        return base_message(ctx, resolution, [part])

    # -- limits ------------------------------------------------------------------------------
    def check_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits = channel_settings(settings, self.name, SmsChannel).limits
        size = sms_size(_text(rendered))
        problems: list[LimitProblem] = []
        if size.encoding == "UCS-2":
            # The characters are not named: they may come from a customer record.
            problems.append(
                LimitProblem(
                    Severity.WARNING,
                    "sms.ucs2",
                    "the text has characters outside GSM-7 (emoji, typographic quotes ...), "
                    "so a segment holds 70 characters instead of 160",
                )
            )
        problems += length_problems(
            size.segments,
            what="the text",
            code="sms.segments",
            unit=f"{size.encoding} segments",
            hard=limits.max_segments_hard,
            recommended=limits.max_segments_recommended,
            shown="each segment is billed; aim for",
            hard_code="sms.too_many_segments",
        )
        return problems

    def send_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        # Counting segments is the whole cost of the check, warnings included.
        return [p for p in self.check_limits(rendered, settings) if p.severity is Severity.ERROR]

    # -- previews ----------------------------------------------------------------------------
    # -- the studio --------------------------------------------------------------------------
    def studio_view(self, rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
        payload = json_object(rendered.parts.get("sms.json"))
        text = "" if payload.get("text") is None else str(payload["text"])
        size = sms_size(text)
        sender = payload.get("from")
        return ChannelView(
            "bubble",
            {
                "sender": str(sender) if sender else "(platform number)",
                "text": text,
                "encoding": size.encoding,
                "segments": str(size.segments),
                "characters": str(len(text)),
            },
            {},
        )

    def measures(self, rendered: RenderedMessage, settings: Settings | None) -> list[Measure]:
        if "sms.json" not in rendered.parts:
            return []
        limits = channel_settings(settings, self.name, SmsChannel).limits
        text = json_object(rendered.parts["sms.json"]).get("text")
        size = sms_size("" if text is None else str(text))
        return [
            Measure(
                "Text segments",
                f"{size.segments} ({size.encoding})",
                f"{limits.max_segments_recommended} aimed, {limits.max_segments_hard} max",
                ("sms.",),
            )
        ]

    def preview_text(self, rendered: RenderedMessage) -> str:
        payload = json_object(rendered.parts.get("sms.json", ""))
        text = str(payload.get("text", ""))
        inner = _BOX_WIDTH - 4
        body = [line for paragraph in text.split("\n") for line in _wrap(paragraph, inner)]
        lines = [f"SMS from {payload.get('from') or '(platform number)'}"]
        lines.append("╭" + "─" * (_BOX_WIDTH - 2) + "╮")
        lines.extend(f"│ {line:<{inner}} │" for line in body)
        lines.append("╰" + "─" * (_BOX_WIDTH - 2) + "╯")
        lines.append(_size_line(text))
        return "\n".join(lines)

    def preview_html(self, rendered: RenderedMessage) -> str:
        e = html.escape
        payload = json_object(rendered.parts.get("sms.json", ""))
        text = str(payload.get("text", ""))
        title = e(f"{rendered.key} — sms preview")
        return (
            f'<!doctype html>\n<html lang="{e(rendered.key.locale)}">\n<head>\n'
            '<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_PREVIEW_CSS}</style>\n</head>\n<body>\n<main>\n"
            f'<p class="from">{e(str(payload.get("from") or "(platform number)"))}</p>\n'
            f'<p class="bubble">{e(text).replace(chr(10), "<br>")}</p>\n'
            f'<p class="size">{e(_size_line(text))}</p>\n</main>\n</body>\n</html>\n'
        )

    # -- review ------------------------------------------------------------------------------
    def review_lines(self, files: Mapping[str, bytes]) -> list[str]:
        """Sender, size (encoding and segments) and the text as the phone shows it."""
        if "sms.json" not in files:
            return other_files(files, (), [])
        payload = json_object(files["sms.json"].decode("utf-8", "replace"))
        text = str(payload.get("text", ""))
        lines = [
            f"From: {payload.get('from') or '(platform number)'}",
            f"Size: {_size_line(text)}",
            "─" * 40,
            *text.split("\n"),
        ]
        return other_files(files, ("sms.json",), lines)


_PREVIEW_CSS = (
    "body{margin:0;background:#e9e9ee;font:16px/1.45 -apple-system,'Segoe UI',Roboto,Arial,"
    "sans-serif;color:#1d1d1b}main{max-width:390px;margin:24px auto;padding:0 12px}"
    ".from{text-align:center;font-size:13px;color:#6b6b66}.bubble{background:#fff;"
    "border-radius:18px;padding:10px 14px;max-width:80%;overflow-wrap:anywhere}"
    ".size{font-size:12px;color:#6b6b66}"
)


def _text(rendered: RenderedMessage) -> str:
    payload = rendered.parts.get("sms.json")
    if payload is None:
        raise RenderError("render.invalid_json", f"{rendered.key} has no sms.json")
    value = json_object(payload)
    if "text" not in value:
        raise RenderError("render.invalid_json", "sms.json is not an object with a text")
    return str(value["text"])


def _size_line(text: str) -> str:
    size = sms_size(text)
    plural = "" if size.segments == 1 else "s"
    return f"{size.encoding}, {size.segments} segment{plural}, {len(text)} characters"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]
