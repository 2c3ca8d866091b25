"""What the studio's pages show, as typed data: made from the pipeline's results, shown by the
templates (which only escape and lay out).

* :func:`channel_view` — the rendered message as the studio draws it: email inbox line and
  HTML/text parts, push lock screen, in-app card, microsite page, SMS bubble; any other channel
  falls back to its renderer's own HTML preview in a frame;
* :func:`badges` — measured sizes against the channel limits (Gmail clipping, push payload,
  subject length, SMS segments), coloured by the limit problems ``check_limits`` reported;
* :func:`slot_views` — per slot the winner, the losers and rejections with reasons, each atom
  with its file and line and an editor link;
* :func:`attribute_fields` / :func:`record_from_form` — the customer form generated from
  ``profile.yaml`` and its way back into a record (checked by ``records.check_record``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from ..channels.app import AppChannel
from ..channels.base import LimitProblem, RenderedMessage, channel_settings
from ..channels.email import EmailChannel
from ..channels.sms import SmsChannel, sms_size
from ..errors import Severity
from ..models import AttributeType, Profile, Settings
from ..preview import PreviewResult
from ..records import csv_cell
from ..repository import Library
from ..resolver import Resolution

State = Literal["ok", "warn", "error"]

GMAIL_CLIP_BYTES = 102_400
"""Gmail clips a message whose HTML is larger (shown when the settings do not say)."""


# --------------------------------------------------------------------------------------------
# The message itself
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelView:
    """How one rendered message is drawn. ``kind`` picks the template block: ``email``,
    ``app``, ``page``, ``sms`` or ``frame`` (the renderer's preview in a frame).

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
            "email",
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
        return ChannelView("app", fields, frames)
    if "sms.json" in parts:
        payload = _json_object(parts["sms.json"])
        text = _str(payload.get("text"))
        size = sms_size(text)
        return ChannelView(
            "sms",
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


def badges(result: PreviewResult) -> list[Badge]:
    """The sizes the channel limits measure, each with the state its limit problems give."""
    rendered, problems, settings = result.rendered, result.problems, result.settings
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
            "SMS segments",
            f"{sms_text.segments} ({sms_text.encoding})",
            f"{sms.max_segments_recommended} aimed, {sms.max_segments_hard} max",
            ["sms."],
        )
    return found


# --------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtomRef:
    """An atom with where it is written: ``path:line``, an editor link and a studio link."""

    id: str
    path: str
    line: int
    editor_href: str
    file_href: str


@dataclass(frozen=True)
class CandidateView:
    atom: AtomRef
    verdict: str
    reason: str


@dataclass(frozen=True)
class SlotView:
    slot: str
    required: bool
    winner: AtomRef | None
    reason: str
    candidates: tuple[CandidateView, ...]


def editor_href(template: str, absolute_path: str, line: int, col: int) -> str:
    """An editor link from ``template`` (``{path}``, ``{line}``, ``{col}`` filled; the path
    URL-quoted). An empty template gives no link."""
    if not template:
        return ""
    return template.format(path=quote(absolute_path), line=max(line, 1), col=max(col, 1))


def atom_ref(library: Library, atom_id: str, link_template: str, *, exact: bool = False) -> AtomRef:
    """Where an atom is written. ``exact``: the line of its content (``text:``, ``cta:`` ...),
    which parses the file for positions (a few ms); else the file's first line."""
    path, line, col = library.paths.get(("atom", atom_id), ""), 1, 1
    atom = library.atoms.get(atom_id)
    if exact and atom is not None:
        field = next(
            (name for name in ("text", "cta", "image", "offer") if getattr(atom, name, None)),
            "slot",
        )
        path, line, col = library.position("atom", atom_id, (field,))
    absolute = (library.root / path).as_posix() if path else ""
    return AtomRef(
        atom_id,
        path,
        line,
        editor_href(link_template, absolute, line, col) if path else "",
        f"/files/content/{quote(path)}" if path else "",
    )


def slot_views(library: Library, resolution: Resolution, link_template: str) -> list[SlotView]:
    """Every slot of the resolution with its winner and the other candidates."""
    views = []
    for name, choice in resolution.slots.items():
        winner = (
            atom_ref(library, choice.winner.id, link_template, exact=True)
            if choice.winner
            else None
        )
        others = tuple(
            CandidateView(atom_ref(library, c.atom_id, link_template), c.verdict.value, c.reason)
            for c in choice.candidates
            if choice.winner is None or c.atom_id != choice.winner.id
        )
        views.append(SlotView(name, choice.required, winner, choice.reason, others))
    return views


# --------------------------------------------------------------------------------------------
# The customer form
# --------------------------------------------------------------------------------------------

FIELD_PREFIX = "a."
"""Form field names are ``a.<attribute path>``."""


@dataclass(frozen=True)
class AttributeField:
    """One input of the customer form, generated from a profile attribute."""

    path: str
    name: str
    kind: str
    input_type: str
    value: str
    optional: bool
    description: str
    choices: tuple[str, ...] = ()


def _lookup(record: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(str(item) for item in value)
    return str(value)


_INPUTS = {
    AttributeType.DATE: "date",
    AttributeType.INTEGER: "number",
}


def attribute_fields(profile: Profile, record: Mapping[str, Any]) -> list[AttributeField]:
    """One field per declared attribute, holding the record's value (empty when absent)."""
    fields = []
    for path, spec in sorted(profile.attributes.items()):
        found, value = _lookup(record, path)
        kind = spec.type
        choices: tuple[str, ...] = ()
        if kind is AttributeType.BOOLEAN:
            choices = ("true", "false")
        fields.append(
            AttributeField(
                path,
                FIELD_PREFIX + path,
                kind.value,
                _INPUTS.get(kind, "text"),
                _shown(value) if found else "",
                spec.optional,
                spec.description or "",
                choices,
            )
        )
    return fields


def record_from_form(profile: Profile, form: Mapping[str, str]) -> dict[str, Any]:
    """The flat record a submitted customer form describes (``a.<path>`` fields): empty fields
    are left out, the rest typed as CSV cells are (:func:`~atomic_content.records.csv_cell`).
    Not checked: pass it to ``records.check_record``."""
    record: dict[str, Any] = {}
    for name, text in form.items():
        if not name.startswith(FIELD_PREFIX) or text == "":
            continue
        path = name[len(FIELD_PREFIX) :]
        spec = profile.attributes.get(path)
        record[path] = csv_cell(spec.type if spec is not None else None, text)
    return record


__all__ = [
    "AtomRef",
    "AttributeField",
    "Badge",
    "ChannelView",
    "SlotView",
    "atom_ref",
    "attribute_fields",
    "badges",
    "channel_view",
    "editor_href",
    "record_from_form",
    "slot_views",
]
