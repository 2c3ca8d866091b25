"""The app channel: a push notification and the in-app card it opens.

Parts (templates; see :mod:`atomic_content.channels.base`):

* ``push.json`` (json mode) when the layout has ``push_title``/``push_body``:
  ``{"title", "body", "deep_link", "image"?}`` — title and body flattened to one line, the
  deep link is the call to action's url, the image its ``src`` where the layout has one;
* ``card_body.html`` (html mode) and ``card.json`` (json mode) when the layout has a
  ``headline`` or ``body``: ``{"title", "body", "body_html", "image"?: {src, alt},
  "cta"?: {label, url}}``. ``body`` is plain text; ``body_html`` is the rendered
  ``card_body.html`` part (customer values HTML-escaped there), JSON-escaped into the card.

JSON is written at assembly with the static text JSON-escaped; tokens are rendered in json
mode, which escapes customer values for the inside of a JSON string, so the output is valid
JSON whatever a customer record holds.

Limits (``channels.app.limits``): push title and body over the recommended length (warning),
body over the hard limit (error), the whole push payload over its byte limit (error), and deep
links that use neither https nor the brand deep-link scheme (error).
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Mapping
from typing import Any

from ..errors import RenderError, Severity
from ..markdown import flatten
from ..models import ChannelSettings, Model, Settings
from ..repository import LayoutEntry
from ..resolver import Resolution
from .base import (
    EMPTY_FOR_CUSTOMER,
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
    block_html,
    block_text,
    channel_settings,
    checked_url,
    image_src_of,
    json_object,
    layout_entry,
    length_problems,
    new_vault,
    text_of,
    url_allowed,
)
from .review import json_lines, other_files

_BOX_WIDTH = 46


class AppLimits(Model):
    push_title_recommended: int = 40
    push_body_recommended: int = 120
    push_body_hard: int = 178
    push_payload_bytes_hard: int = 4096


class AppChannel(ChannelSettings):
    """``channels.app`` in atomic.yaml."""

    limits: AppLimits = AppLimits()


class AppRenderer:
    """The ``app`` channel."""

    name = "app"
    message_fields: frozenset[str] = frozenset()
    limit_advice: Mapping[str, LimitAdvice] = {
        "app.push_title_empty": LimitAdvice(
            "give the message a push title: a `push_title` atom with text for this audience and "
            "locale",
            at_send=EMPTY_FOR_CUSTOMER.format(what="push title"),
        ),
        "app.push_payload_too_large": LimitAdvice(
            "shorten the push title and body: the payload holds both, and the deep link"
        ),
        "app.deep_link_scheme": LimitAdvice(
            "link to an https:// address or to the app's own scheme (`brand.deep_link_scheme` "
            "in atomic.yaml)",
            at_send="the customer's values change the link's scheme: write the link's start "
            "(scheme and host) as fixed text, with tokens only after it",
        ),
    }
    settings_model = AppChannel
    layout_template = None
    exports: Mapping[str, Export] = {}

    def check_layout(self, entry: LayoutEntry) -> list[LayoutProblem]:
        return []

    # -- assembly ----------------------------------------------------------------------------
    def assemble(self, ctx: AssemblyContext, resolution: Resolution) -> AssembledMessage:
        entry = layout_entry(ctx, resolution)
        atoms = resolution.atoms
        vault = new_vault(ctx, entry, atoms)
        schemes = ctx.link_schemes
        declared = entry.layout.slots
        cta = atoms.get("cta")
        image = atoms.get("image")
        cta_url = ""
        if cta is not None and cta.cta is not None:
            cta_url = checked_url(cta.cta.url, schemes, atom_id=cta.id, what="cta.url")
        image_src = ""
        if image is not None and image.image is not None:
            image_src = image_src_of(ctx, image)
        parts: list[Part] = []
        if "push_title" in declared or "push_body" in declared:
            push: dict[str, Any] = {
                "title": vault.protect(flatten(text_of(atoms["push_title"])))
                if "push_title" in atoms
                else "",
                "body": vault.protect(flatten(text_of(atoms["push_body"])))
                if "push_body" in atoms
                else "",
                "deep_link": vault.protect(cta_url),
            }
            if image_src:
                push["image"] = vault.protect(image_src)
            parts.append(
                Part(
                    "push.json",
                    "json",
                    vault.finish(_json(push), part="push.json"),
                    "application/json",
                    "push.json",
                    atom_ids=_ids(atoms, "push_title", "push_body", "cta", "image"),
                )
            )
        if "headline" in declared or "body" in declared:
            body = atoms.get("body")
            card: dict[str, Any] = {
                "title": vault.protect(flatten(text_of(atoms["headline"])))
                if "headline" in atoms
                else "",
                "body": vault.protect(block_text(text_of(body), schemes)) if body else "",
                "body_html": vault.token("{{ slots.body.html }}") if body else "",
            }
            if image is not None and image.image is not None:
                card["image"] = {
                    "src": vault.protect(image_src),
                    "alt": vault.protect(image.image.alt),
                }
            if cta is not None and cta.cta is not None:
                card["cta"] = {"label": vault.protect(cta.cta.label), "url": vault.protect(cta_url)}
            body_html = vault.protect(block_html(text_of(body), schemes)) if body else ""
            parts.append(
                Part(
                    "card_body.html",
                    "html",
                    vault.finish(body_html + "\n" if body_html else "", part="card_body.html"),
                    "text/html",
                    "card_body.html",
                    atom_ids=_ids(atoms, "body"),
                )
            )
            parts.append(
                Part(
                    "card.json",
                    "json",
                    vault.finish(_json(card), part="card.json"),
                    "application/json",
                    "card.json",
                    embeds=(("body.html", "card_body.html"),) if body else (),
                    atom_ids=_ids(atoms, "headline", "body", "image", "cta"),
                )
            )
        if not parts:
            raise RenderError(
                "render.layout_empty",
                f"app layout {resolution.layout!r} declares neither push nor card slots",
                hint="an app layout needs push_title/push_body (push) or headline/body (card)",
            )
        return base_message(ctx, resolution, parts)

    # -- limits ------------------------------------------------------------------------------
    def check_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits = channel_settings(settings, self.name, AppChannel).limits
        problems = self.send_limits(rendered, settings)
        push_text = rendered.parts.get("push.json")
        if push_text is not None:
            push = _load(push_text, "push.json")
            title, body = str(push.get("title", "")), str(push.get("body", ""))
            if title.strip():
                problems += length_problems(
                    len(title),
                    what="push title",
                    code="app.push_title",
                    slot="push_title",
                    recommended=limits.push_title_recommended,
                    shown="phones show",
                )
            if len(body) <= limits.push_body_hard:
                problems += length_problems(
                    len(body),
                    what="push body",
                    code="app.push_body",
                    slot="push_body",
                    recommended=limits.push_body_recommended,
                    shown="phones show",
                )
        return problems

    def send_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits, allowed = _send_rules(settings)
        problems: list[LimitProblem] = []
        push_text = rendered.parts.get("push.json")
        if push_text is not None:
            problems += _push_problems(push_text, limits, allowed)
        card_text = rendered.parts.get("card.json")
        if card_text is not None:
            card = _load(card_text, "card.json")
            cta = card.get("cta")
            if isinstance(cta, dict):
                problems.extend(_deep_link(str(cta.get("url", "")), allowed, "card button link"))
        return problems

    # -- the studio --------------------------------------------------------------------------
    def studio_view(self, rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
        parts = rendered.parts
        push = json_object(parts.get("push.json"))
        card = json_object(parts.get("card.json"))
        cta = card.get("cta") if isinstance(card.get("cta"), dict) else {}
        assert isinstance(cta, dict)
        fields = {
            "has_push": "1" if "push.json" in parts else "",
            "push_title": _shown(push.get("title")),
            "push_body": _shown(push.get("body")),
            "push_link": _shown(push.get("deep_link")),
            "has_card": "1" if "card.json" in parts else "",
            "card_title": _shown(card.get("title")),
            "card_cta": _shown(cta.get("label")),
            "card_cta_url": _shown(cta.get("url")),
            "brand": rendered.brand_name,
        }
        frames = {"card_body.html": "Card body"} if parts.get("card_body.html") else {}
        return ChannelView("phone", fields, frames)

    def measures(self, rendered: RenderedMessage, settings: Settings | None) -> list[Measure]:
        push_text = rendered.parts.get("push.json")
        if push_text is None:
            return []
        limits = channel_settings(settings, self.name, AppChannel).limits
        push = json_object(push_text)
        return [
            Measure(
                "Push payload",
                f"{len(push_text.encode('utf-8'))} bytes",
                f"{limits.push_payload_bytes_hard} bytes",
                ("app.push_payload",),
            ),
            Measure(
                "Push title",
                f"{len(_shown(push.get('title')))} chars",
                f"{limits.push_title_recommended} shown",
                ("app.push_title",),
            ),
            Measure(
                "Push body",
                f"{len(_shown(push.get('body')))} chars",
                f"{limits.push_body_recommended} shown, {limits.push_body_hard} max",
                ("app.push_body",),
            ),
        ]

    # -- previews ----------------------------------------------------------------------------
    def preview_text(self, rendered: RenderedMessage) -> str:
        lines: list[str] = []
        inner = _BOX_WIDTH - 4
        if "push.json" in rendered.parts:
            push = _load(rendered.parts["push.json"], "push.json")
            app_name = (rendered.brand_name or "App").upper()
            body = [f"{app_name[: inner - 6]}  · now"]
            body.extend(_wrap(str(push.get("title", "")), inner))
            body.extend(_wrap(str(push.get("body", "")), inner))
            if push.get("image"):
                body.append("[image]")
            body.append(f"→ {push.get('deep_link', '')}")
            lines.append("Push notification")
            lines.append("╭" + "─" * (_BOX_WIDTH - 2) + "╮")
            lines.extend(f"│ {line:<{inner}} │" for line in body)
            lines.append("╰" + "─" * (_BOX_WIDTH - 2) + "╯")
        if "card.json" in rendered.parts:
            card = _load(rendered.parts["card.json"], "card.json")
            if lines:
                lines.append("")
            lines.append("In-app card")
            lines.append("┌" + "─" * (_BOX_WIDTH - 2) + "┐")
            content: list[str] = []
            image = card.get("image")
            if isinstance(image, dict):
                content.extend(_wrap(f"[image: {image.get('alt', '')}]", inner))
                content.append("")
            content.extend(_wrap(str(card.get("title", "")), inner))
            for paragraph in str(card.get("body", "")).split("\n"):
                content.extend(_wrap(paragraph, inner) if paragraph else [""])
            cta = card.get("cta")
            if isinstance(cta, dict):
                content.append("")
                content.extend(_wrap(f"[ {cta.get('label', '')} ] → {cta.get('url', '')}", inner))
            lines.extend(f"│ {line:<{inner}} │" for line in content)
            lines.append("└" + "─" * (_BOX_WIDTH - 2) + "┘")
        return "\n".join(lines)

    def preview_html(self, rendered: RenderedMessage) -> str:
        e = html.escape
        lang = e(rendered.key.locale)
        sections: list[str] = []
        if "push.json" in rendered.parts:
            push = _load(rendered.parts["push.json"], "push.json")
            sections.append(
                '<section class="push" aria-label="Push notification">'
                f'<p class="app">{e(rendered.brand_name or "App")} · now</p>'
                f"<h2>{e(str(push.get('title', '')))}</h2>"
                f"<p>{e(str(push.get('body', '')))}</p>"
                f'<p class="link">{e(str(push.get("deep_link", "")))}</p></section>'
            )
        if "card.json" in rendered.parts:
            card = _load(rendered.parts["card.json"], "card.json")
            image = card.get("image")
            cta = card.get("cta")
            figure = (
                f'<img src="{e(str(image.get("src", "")))}" alt="{e(str(image.get("alt", "")))}">'
                if isinstance(image, dict)
                else ""
            )
            button = (
                f'<a class="button" href="{e(str(cta.get("url", "")))}">'
                f"{e(str(cta.get('label', '')))}</a>"
                if isinstance(cta, dict)
                else ""
            )
            # body_html is the rendered card_body.html part: customer values escaped there.
            body_html = rendered.parts.get("card_body.html", "")
            sections.append(
                f'<article class="card">{figure}<h1>{e(str(card.get("title", "")))}</h1>'
                f'<div class="body">{body_html}</div>{button}</article>'
            )
        title = e(f"{rendered.key} — app preview")
        return (
            f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_PREVIEW_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(sections)
            + "\n</main>\n</body>\n</html>\n"
        )

    # -- review ------------------------------------------------------------------------------
    def review_lines(self, files: Mapping[str, bytes]) -> list[str]:
        """The push and card JSON, pretty-printed; card_body.html is in card.json already."""
        lines: list[str] = []
        for name, title in (("push.json", "Push notification"), ("card.json", "In-app card")):
            if name in files:
                if lines:
                    lines.append("")
                lines.append(f"{title} ({name}):")
                lines.extend(json_lines(files[name]))
        return other_files(files, ("push.json", "card.json", "card_body.html"), lines)


_PREVIEW_CSS = (
    "body{margin:0;background:#e9e9ee;font:16px/1.45 -apple-system,'Segoe UI',Roboto,Arial,"
    "sans-serif;color:#1d1d1b}main{max-width:390px;margin:24px auto;padding:0 12px}"
    ".push{background:rgba(255,255,255,.92);border-radius:18px;padding:12px 16px;"
    "box-shadow:0 2px 8px rgba(0,0,0,.12);margin-bottom:24px}.push .app{margin:0;font-size:12px;"
    "color:#6b6b66;text-transform:uppercase}.push h2{margin:4px 0 2px;font-size:16px}"
    ".push p{margin:0}.push .link{margin-top:6px;font-size:12px;color:#6b6b66}"
    ".card{background:#fff;border-radius:14px;overflow:hidden;padding-bottom:20px}"
    ".card img{display:block;width:100%;height:auto}.card h1{margin:16px 20px 8px;font-size:22px}"
    ".card .body{margin:0 20px}.button{display:block;margin:16px 20px 0;padding:12px;"
    "border-radius:8px;background:#1f5f4a;color:#fff;text-align:center;text-decoration:none;"
    "font-weight:700}"
)


_RULES: dict[int, tuple[Settings | None, AppLimits, frozenset[str]]] = {}


def _send_rules(settings: Settings | None) -> tuple[AppLimits, frozenset[str]]:
    """The app limits of ``settings`` and the deep-link schemes it allows (https and the
    brand's), worked out once per settings object: the runtime asks for every customer. The
    entry keeps the settings alive, so its id cannot be reused."""
    entry = _RULES.get(id(settings))
    if entry is None or entry[0] is not settings:
        schemes = {"https"}
        if settings is not None and settings.brand.deep_link_scheme:
            schemes.add(settings.brand.deep_link_scheme)
        limits = channel_settings(settings, AppRenderer.name, AppChannel).limits
        entry = (settings, limits, frozenset(schemes))
        if len(_RULES) >= 64:
            _RULES.clear()
        _RULES[id(settings)] = entry
    return entry[1], entry[2]


def _ids(atoms: dict[str, Any], *slots: str) -> tuple[str, ...]:
    return tuple(atoms[s].id for s in slots if s in atoms)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _shown(value: object) -> str:
    """A JSON value as the studio shows it: null as nothing."""
    return "" if value is None else str(value)


def _load(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise RenderError("render.invalid_json", f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise RenderError("render.invalid_json", f"{name} is not a JSON object")
    return value


_ALLOWED: dict[tuple[str, frozenset[str]], bool] = {}
"""url_allowed verdicts by (url, allowed schemes): the check is a pure function of the two."""


def _deep_link(url: str, allowed: frozenset[str], what: str) -> list[LimitProblem]:
    # No link at all is fine (the push opens the app); a link must use an allowed scheme.
    if not url:
        return []
    # A variant's links are mostly the same for every customer: remember the verdicts.
    verdict = _ALLOWED.get((url, allowed))
    if verdict is None:
        verdict = url_allowed(url, allowed)
        if len(_ALLOWED) >= 4096:
            _ALLOWED.clear()
        _ALLOWED[(url, allowed)] = verdict
    if verdict:
        return []
    return [
        LimitProblem(
            Severity.ERROR,
            "app.deep_link_scheme",
            f"{what} must start with one of: " + ", ".join(sorted(f"{s}:" for s in allowed)),
        )
    ]


def _push_errors(
    push_text: str, limits: AppLimits, allowed: frozenset[str]
) -> tuple[LimitProblem, ...]:
    """The send-time errors of one push payload: an empty title, a body or payload over the
    hard limits, a deep link of a scheme that is not allowed."""
    problems: list[LimitProblem] = []
    push = _load(push_text, "push.json")
    title, body = str(push.get("title", "")), str(push.get("body", ""))
    if not title.strip():
        problems.append(LimitProblem(Severity.ERROR, "app.push_title_empty", "push title is empty"))
    if len(body) > limits.push_body_hard:
        problems += length_problems(
            len(body),
            what="push body",
            code="app.push_body",
            slot="push_body",
            hard=limits.push_body_hard,
            shown="phones show",
        )
    # An ASCII payload has as many bytes as characters: no encoding to tell.
    size = len(push_text) if push_text.isascii() else len(push_text.encode("utf-8"))
    if size > limits.push_payload_bytes_hard:
        problems += length_problems(
            size,
            what="push payload",
            code="app.push_payload",
            unit="bytes",
            hard=limits.push_payload_bytes_hard,
            hard_code="app.push_payload_too_large",
        )
    problems.extend(_deep_link(str(push.get("deep_link", "")), allowed, "push deep link"))
    return tuple(problems)


_PUSH_ERRORS: dict[tuple[str, frozenset[str], int, int], tuple[LimitProblem, ...]] = {}
"""_push_errors by payload and the rules it reads: a pure function of the four. A message's
payloads repeat across its customers (one product, one first name), and reading the JSON was
most of a push's send-time check."""


def _push_problems(
    push_text: str, limits: AppLimits, allowed: frozenset[str]
) -> tuple[LimitProblem, ...]:
    """:func:`_push_errors`, remembered (at most 4 096 payloads, then it starts over)."""
    key = (push_text, allowed, limits.push_body_hard, limits.push_payload_bytes_hard)
    found = _PUSH_ERRORS.get(key)
    if found is None:
        found = _push_errors(push_text, limits, allowed)  # raises for a broken payload
        if len(_PUSH_ERRORS) >= 4096:
            _PUSH_ERRORS.clear()
        _PUSH_ERRORS[key] = found
    return found


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]
