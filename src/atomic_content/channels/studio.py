"""How the studio (``atomic serve``) draws and measures each channel's rendered message.

* :func:`channel_view` — the message as the studio shows it, by the parts its channel wrote:
  an inbox line with HTML and text parts, a phone lock screen and an in-app card, a text bubble
  with its encoding and segment count, or a page; any other channel falls back to its
  renderer's own HTML preview in a frame;
* :func:`badges` — measured sizes against the channel limits (Gmail clipping, push payload,
  subject length, text segments), coloured by the limit problems ``check_limits`` reported, so
  a badge agrees with ``validate``.

Kept in the channels package, which alone names channels; a channel this module does not know
is still shown (``frame``) and measured by its limit problems.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import Severity
from ..models import Settings
from .app import AppChannel
from .base import LimitProblem, RenderedMessage, channel_settings
from .email import EmailChannel
from .sms import SmsChannel, sms_size

State = Literal["ok", "warn", "error"]


@dataclass(frozen=True)
class ChannelView:
    """How one rendered message is drawn. ``kind`` picks the template block: ``inbox`` (an
    email's inbox line, HTML and text), ``phone`` (push lock screen and in-app card),
    ``bubble`` (a text message), ``page`` (one HTML page) or ``frame`` (the renderer's preview
    in a frame).

    ``fields`` holds plain text values (escaped by the template); ``frames`` names the parts
    shown in sandboxed frames (part name -> title).
    """

    kind: str
    fields: Mapping[str, str]
    frames: Mapping[str, str]


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return "" if value is None else str(value)


def channel_view(rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
    """The studio's drawing of ``rendered``, by the parts its channel wrote."""
    parts = rendered.parts
    if {"subject", "html"} <= parts.keys():
        sender = settings.brand.sender if settings is not None else None
        return ChannelView(
            "inbox",
            {
                "sender_name": sender.name if sender is not None else rendered.brand_name,
                "sender_email": sender.email if sender is not None else "",
                "subject": parts.get("subject", ""),
                "preheader": parts.get("preheader", ""),
                "text": parts.get("text", ""),
            },
            {"html": "Email"},
        )
    if "push.json" in parts or "card.json" in parts:
        push = _json_object(parts.get("push.json"))
        card = _json_object(parts.get("card.json"))
        cta = card.get("cta") if isinstance(card.get("cta"), dict) else {}
        assert isinstance(cta, dict)
        fields = {
            "has_push": "1" if "push.json" in parts else "",
            "push_title": _str(push.get("title")),
            "push_body": _str(push.get("body")),
            "push_link": _str(push.get("deep_link")),
            "has_card": "1" if "card.json" in parts else "",
            "card_title": _str(card.get("title")),
            "card_cta": _str(cta.get("label")),
            "card_cta_url": _str(cta.get("url")),
            "brand": rendered.brand_name,
        }
        frames = {"card_body.html": "Card body"} if parts.get("card_body.html") else {}
        return ChannelView("phone", fields, frames)
    if "sms.json" in parts:
        payload = _json_object(parts["sms.json"])
        text = _str(payload.get("text"))
        size = sms_size(text)
        return ChannelView(
            "bubble",
            {
                "sender": _str(payload.get("from")) or "(platform number)",
                "text": text,
                "encoding": size.encoding,
                "segments": str(size.segments),
                "characters": str(len(text)),
            },
            {},
        )
    pages = [name for name, kind in rendered.media_types.items() if kind == "text/html"]
    if len(pages) == 1 and len(parts) == 1:
        return ChannelView("page", {}, {pages[0]: "Page"})
    return ChannelView("frame", {}, {"preview": "Preview"})


# --------------------------------------------------------------------------------------------
# Size and limit badges
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    """One measured size against its limit; ``state`` is the worst limit problem of its codes."""

    label: str
    value: str
    limit: str
    state: State
    note: str = ""


def _state(problems: Iterable[LimitProblem], prefixes: Sequence[str]) -> tuple[State, str]:
    worst: State = "ok"
    note = ""
    for problem in problems:
        if not problem.code.startswith(tuple(prefixes)):
            continue
        if problem.severity is Severity.ERROR:
            return "error", problem.message
        worst, note = "warn", problem.message
    return worst, note


def badges(
    rendered: RenderedMessage, problems: Iterable[LimitProblem], settings: Settings | None
) -> list[Badge]:
    """The sizes the channel limits measure, each with the state its limit problems give."""
    problems = list(problems)
    parts = rendered.parts
    found: list[Badge] = []

    def add(label: str, value: str, limit: str, prefixes: Sequence[str]) -> None:
        state, note = _state(problems, prefixes)
        found.append(Badge(label, value, limit, state, note))

    if {"subject", "html"} <= parts.keys():
        email = channel_settings(settings, "email", EmailChannel).limits
        size = len(parts["html"].encode("utf-8"))
        add(
            "HTML (Gmail clipping)",
            f"{size / 1024:.1f} KB",
            f"{email.html_bytes_hard / 1024:.0f} KB",
            ["email.html"],
        )
        add(
            "Subject",
            f"{len(parts['subject'])} chars",
            f"{email.subject_recommended} shown, {email.subject_hard} max",
            ["email.subject"],
        )
        add(
            "Preheader",
            f"{len(parts.get('preheader', ''))} chars",
            f"{email.preheader_min}–{email.preheader_recommended}",
            ["email.preheader"],
        )
    if "push.json" in parts:
        app = channel_settings(settings, "app", AppChannel).limits
        push = _json_object(parts["push.json"])
        add(
            "Push payload",
            f"{len(parts['push.json'].encode('utf-8'))} bytes",
            f"{app.push_payload_bytes_hard} bytes",
            ["app.push_payload"],
        )
        add(
            "Push title",
            f"{len(_str(push.get('title')))} chars",
            f"{app.push_title_recommended} shown",
            ["app.push_title"],
        )
        add(
            "Push body",
            f"{len(_str(push.get('body')))} chars",
            f"{app.push_body_recommended} shown, {app.push_body_hard} max",
            ["app.push_body"],
        )
    if "sms.json" in parts:
        sms = channel_settings(settings, "sms", SmsChannel).limits
        sms_text = sms_size(_str(_json_object(parts["sms.json"]).get("text")))
        add(
            "Text segments",
            f"{sms_text.segments} ({sms_text.encoding})",
            f"{sms.max_segments_recommended} aimed, {sms.max_segments_hard} max",
            ["sms."],
        )
    return found


__all__ = ["Badge", "ChannelView", "badges", "channel_view"]
