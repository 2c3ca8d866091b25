"""The email channel: subject, preheader, HTML (MJML) and plain text, plus ``.eml`` export.

Parts (all templates; see :mod:`atomic_content.channels.base`):

* ``subject`` (header mode, ``subject.txt``): the subject atom flattened to one line; customer
  values that could inject or spoof a header are refused at render time;
* ``preheader`` (text mode, ``preheader.txt``): the preheader atom flattened;
* ``html`` (html mode, ``email.html``): the MJML layout rendered in the layout sandbox, given
  ``lang`` = the message locale, compiled by mrml (no includes, no web fonts, no comments) and
  the layout's own ``<mj-style>`` rules inlined by css-inline (no stylesheet is loaded from the
  network or the disk). A complete document: ``lang``, ``<title>`` (the subject), a hidden
  preheader and ``alt`` on every image;
* ``text`` (text mode, ``email.txt``): plain text written from the same atoms — headline, body,
  offer, ``label: url`` for the call to action, and a footer with the postal address and the
  unsubscribe address. Never scraped from the HTML.

Limits (``channels.email.limits``): subject over the recommended length (warning) or the hard
limit (error), preheader outside the recommended range (warning), HTML over ``html_bytes_hard``
(error: Gmail clips the message).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from collections.abc import Mapping
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from typing import Any, Final

import css_inline
import mrml

from ..errors import RenderError, Severity
from ..markdown import flatten
from ..models import (
    Atom,
    Brand,
    ChannelSettings,
    Model,
    Settings,
    SlotKind,
    address_problem,
    https_url_problem,
)
from ..repository import LayoutEntry
from ..resolver import Resolution
from ..tokens import check_header_value
from .base import (
    EMPTY_FOR_CUSTOMER,
    AssembledMessage,
    AssemblyContext,
    ChannelView,
    Export,
    ExportOptions,
    LayoutProblem,
    LimitAdvice,
    LimitProblem,
    Measure,
    Part,
    RenderedMessage,
    TokenVault,
    base_message,
    block_text,
    channel_settings,
    checked_url,
    layout_slots,
    layout_template,
    length_problems,
    locale_date,
    message_strings,
    message_vars,
    new_vault,
    render_layout,
    text_of,
)
from .review import other_files, text_lines

_MJML_ROOT: Final = re.compile(r"<mjml\b([^>]*)>")
_LANG_ATTR: Final = re.compile(r"""\s(?:lang|dir)\s*=\s*("[^"]*"|'[^']*'|[^\s>]*)""")
_MJ_STYLE: Final = re.compile(r"<mj-style\b([^>]*)>(.*?)</mj-style>", re.DOTALL)
_IMG_WITHOUT_ALT: Final = re.compile(r"<img\b(?![^>]*\balt\s*=)")

_PARSER_OPTIONS: Final = mrml.ParserOptions(include_loader=mrml.noop_loader())
# No web fonts (privacy, and nothing loaded from elsewhere); no comments from the layout.
_RENDER_OPTIONS: Final = mrml.RenderOptions(disable_comments=True, fonts={})


class EmailLimits(Model):
    subject_recommended: int = 60
    subject_hard: int = 150
    preheader_min: int = 40
    preheader_recommended: int = 110
    html_bytes_hard: int = 102_400


class EmailChannel(ChannelSettings):
    """``channels.email`` in atomic.yaml."""

    limits: EmailLimits = EmailLimits()


class EmailRenderer:
    """The ``email`` channel."""

    name = "email"
    message_fields: frozenset[str] = frozenset()
    limit_advice: Mapping[str, LimitAdvice] = {
        "email.subject_empty": LimitAdvice(
            "give the message a subject: a `subject` atom with text for this audience and locale",
            at_send=EMPTY_FOR_CUSTOMER.format(what="subject"),
        ),
        "email.preheader_short": LimitAdvice(
            "write a longer preheader: lengthen its atom, or add a `preheader` atom where the "
            "message has none"
        ),
        "email.html_too_large": LimitAdvice(
            "make the email smaller: shorter atoms, or fewer and simpler sections in its layout"
        ),
    }
    settings_model = EmailChannel
    layout_template = "<name>.mjml"

    @property
    def exports(self) -> Mapping[str, Export]:
        return {"eml": Export(".eml", "for mail apps", _write_eml)}

    def check_layout(self, entry: LayoutEntry) -> list[LayoutProblem]:
        if entry.template_source is None or "<mjml" in entry.template_source:
            return []
        return [
            LayoutProblem(
                "layout.not_mjml",
                "an email layout must be an MJML document (<mjml>...</mjml>)",
                "wrap the layout in <mjml><mj-body>...</mj-body></mjml>",
                where="template",
            )
        ]

    # -- assembly ----------------------------------------------------------------------------
    def assemble(self, ctx: AssemblyContext, resolution: Resolution) -> AssembledMessage:
        entry, template = layout_template(ctx, resolution)
        atoms = resolution.atoms
        locale = resolution.language  # the message language, not the customer's locale
        vault = new_vault(ctx, entry, atoms)
        name = entry.template_path or f"layouts/email/{resolution.layout}"
        slots = layout_slots(ctx, atoms, vault, locale, plain=frozenset({"subject", "preheader"}))
        texts = message_strings(ctx, resolution)
        mjml_source = render_layout(
            template,
            name=name,
            variables={
                "slots": slots,
                "brand": ctx.brand,
                "message": message_vars(ctx, resolution),
                "strings": texts,
            },
        )
        mjml_source = _complete_head(mjml_source, slots)
        document = compile_mjml(mjml_source, lang=locale, name=name)

        def ids(*slot_names: str) -> tuple[str, ...]:
            return tuple(atoms[s].id for s in slot_names if s in atoms)

        plain, plain_atoms = _plain_text(ctx, resolution, vault, template, texts)
        subject = vault.protect(_subject_text(atoms["subject"])) if "subject" in atoms else ""
        preheader = (
            vault.protect(flatten(text_of(atoms["preheader"]))) if "preheader" in atoms else ""
        )
        parts = [
            Part(
                "subject",
                "header",
                vault.finish(subject, part="subject"),
                "text/plain",
                "subject.txt",
                atom_ids=ids("subject"),
            ),
            Part(
                "preheader",
                "text",
                vault.finish(preheader, part="preheader"),
                "text/plain",
                "preheader.txt",
                atom_ids=ids("preheader"),
            ),
            Part(
                "html",
                "html",
                vault.finish(document, part="email html"),
                "text/html",
                "email.html",
                atom_ids=tuple(sorted({a.id for a in atoms.values()})),
            ),
            Part(
                "text",
                "text",
                vault.finish(plain, part="email text"),
                "text/plain",
                "email.txt",
                atom_ids=plain_atoms,
            ),
        ]
        return base_message(ctx, resolution, parts)

    # -- limits ------------------------------------------------------------------------------
    def check_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits = channel_settings(settings, self.name, EmailChannel).limits
        problems = self.send_limits(rendered, settings)
        subject = rendered.parts.get("subject", "")
        preheader = rendered.parts.get("preheader", "")
        problems += [
            p
            for p in length_problems(
                len(subject),
                what="subject",
                code="email.subject",
                slot="subject",
                recommended=limits.subject_recommended,
                shown="inboxes show",
            )
            if len(subject) <= limits.subject_hard
        ]
        if len(preheader) < limits.preheader_min:
            problems.append(
                LimitProblem(
                    Severity.WARNING,
                    "email.preheader_short",
                    f"preheader is {len(preheader)} characters; at least "
                    f"{limits.preheader_min} keep the inbox from filling it with body text",
                    "preheader",
                )
            )
        else:
            problems += length_problems(
                len(preheader),
                what="preheader",
                code="email.preheader",
                slot="preheader",
                recommended=limits.preheader_recommended,
                shown="inboxes show",
            )
        return problems

    def send_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits = channel_settings(settings, self.name, EmailChannel).limits
        problems: list[LimitProblem] = []
        subject = rendered.parts.get("subject", "")
        if not subject.strip():
            problems.append(
                LimitProblem(
                    Severity.ERROR, "email.subject_empty", "the subject is empty", "subject"
                )
            )
        if len(subject) > limits.subject_hard:
            problems += length_problems(
                len(subject),
                what="subject",
                code="email.subject",
                slot="subject",
                hard=limits.subject_hard,
                shown="inboxes show",
            )
        document = rendered.parts.get("html", "")
        # UTF-8 takes at most 4 bytes a character: most documents need no encoding to tell.
        if len(document) * 4 > limits.html_bytes_hard:
            size = len(document.encode("utf-8"))
            if size > limits.html_bytes_hard:
                problems.append(
                    LimitProblem(
                        Severity.ERROR,
                        "email.html_too_large",
                        f"HTML is {size} bytes; above {limits.html_bytes_hard} Gmail clips "
                        "the message",
                    )
                )
        return problems

    # -- previews ----------------------------------------------------------------------------
    # -- the studio --------------------------------------------------------------------------
    def studio_view(self, rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
        parts = rendered.parts
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

    def measures(self, rendered: RenderedMessage, settings: Settings | None) -> list[Measure]:
        parts = rendered.parts
        limits = channel_settings(settings, self.name, EmailChannel).limits
        html_bytes = len(parts.get("html", "").encode("utf-8"))
        return [
            Measure(
                "HTML (Gmail clipping)",
                f"{html_bytes / 1024:.1f} KB",
                f"{limits.html_bytes_hard / 1024:.0f} KB",
                ("email.html",),
            ),
            Measure(
                "Subject",
                f"{len(parts.get('subject', ''))} chars",
                f"{limits.subject_recommended} shown, {limits.subject_hard} max",
                ("email.subject",),
            ),
            Measure(
                "Preheader",
                f"{len(parts.get('preheader', ''))} chars",
                f"{limits.preheader_min}–{limits.preheader_recommended}",
                ("email.preheader",),
            ),
        ]

    def preview_text(self, rendered: RenderedMessage) -> str:
        parts = rendered.parts
        rule = "─" * 72
        return "\n".join(
            [
                f"Subject:   {parts.get('subject', '')}",
                f"Preheader: {parts.get('preheader', '')}",
                f"{rule}",
                parts.get("text", "").rstrip("\n"),
                f"{rule}",
            ]
        )

    def preview_html(self, rendered: RenderedMessage) -> str:
        """The email as an editor checks it: an inbox header (sender, recipient, subject,
        preheader) above the message at a desktop and a mobile width, side by side."""
        return inbox_view(rendered)

    # -- review ------------------------------------------------------------------------------
    def review_lines(self, files: Mapping[str, bytes]) -> list[str]:
        """Subject, preheader and the plain-text body; the HTML says what email.txt says, less
        readably, so it is not shown."""
        lines: list[str] = []
        for name, title in (("subject.txt", "Subject:   "), ("preheader.txt", "Preheader: ")):
            if name in files:
                lines.append(title + " ".join(files[name].decode("utf-8", "replace").split()))
        if "email.txt" in files:
            lines.append("─" * 40)
            lines.extend(text_lines(files["email.txt"]))
        return other_files(
            files, ("subject.txt", "preheader.txt", "email.txt", "email.html"), lines
        )


# --------------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------------

PREVIEW_WIDTHS: Final = (("Desktop", 700), ("Mobile", 390))
"""The widths of the email preview: a desktop reading pane and a phone (CSS pixels)."""

_INBOX_STYLE: Final = (
    "body{margin:0;background:#e9e7e2;color:#1d1d1b;font:14px/1.45 -apple-system,"
    "BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "main{padding:16px}"
    ".inbox{max-width:1120px;margin:0 auto 16px;padding:12px 16px;background:#fff;"
    "border:1px solid #cfccc4;border-radius:8px}"
    ".inbox dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}"
    ".inbox dt{color:#595955}.inbox dd{margin:0;overflow-wrap:anywhere}"
    ".subject{font-weight:700;font-size:16px}.preheader{color:#595955}"
    ".frames{display:flex;flex-wrap:wrap;gap:16px;justify-content:center;align-items:flex-start}"
    "figure{margin:0}figcaption{margin:0 0 6px;color:#595955;font-weight:600}"
    "iframe{display:block;height:1500px;border:1px solid #cfccc4;border-radius:6px;"
    "background:#fff}"
)


def inbox_view(rendered: RenderedMessage) -> str:
    """One HTML page: what an inbox list shows of the message (From, To, Subject and the
    preheader), then the message in frames at :data:`PREVIEW_WIDTHS`. The message runs in
    sandboxed frames (no scripts, no same-origin access)."""
    parts = rendered.parts
    document = parts.get("html", "")
    lang = rendered.key.locale

    def e(text: str) -> str:
        return html.escape(text, quote=True)

    rows = [
        ("From", rendered.sender, ""),
        ("To", rendered.recipient or "", ""),
        ("Subject", parts.get("subject", ""), "subject"),
        ("Preheader", parts.get("preheader", ""), "preheader"),
    ]
    header = "".join(
        f"<dt>{name}</dt><dd{f' class={chr(34)}{css}{chr(34)}' if css else ''}>{e(value)}</dd>"
        for name, value, css in rows
        if value
    )
    frames = "".join(
        f"<figure><figcaption>{name} · {width} px</figcaption>"
        f'<iframe title="{name} ({width} px): {e(parts.get("subject", ""))}" '
        f'style="width:{width}px" sandbox srcdoc="{e(document)}"></iframe></figure>'
        for name, width in PREVIEW_WIDTHS
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(parts.get('subject', ''))}</title>\n<style>{_INBOX_STYLE}</style>\n"
        f'</head>\n<body>\n<main>\n<section class="inbox" aria-label="Inbox">'
        f"<dl>{header}</dl></section>\n"
        f'<div class="frames">{frames}</div>\n</main>\n</body>\n</html>\n'
    )


# --------------------------------------------------------------------------------------------
# MJML
# --------------------------------------------------------------------------------------------


def _complete_head(mjml_source: str, slots: dict[str, Any]) -> str:
    """Add ``<mj-title>`` / ``<mj-preview>`` from the subject and preheader when the layout
    forgot them, so that every email has a title and an inbox preview."""
    additions = ""
    if "<mj-title" not in mjml_source and "subject" in slots:
        additions += f"<mj-title>{slots['subject']}</mj-title>"
    if "<mj-preview" not in mjml_source and "preheader" in slots:
        additions += f"<mj-preview>{slots['preheader']}</mj-preview>"
    if not additions:
        return mjml_source
    if "<mj-head>" in mjml_source:
        return mjml_source.replace("<mj-head>", "<mj-head>" + additions, 1)
    match = _MJML_ROOT.search(mjml_source)
    if match is None:
        return mjml_source
    return (
        mjml_source[: match.end()] + f"<mj-head>{additions}</mj-head>" + mjml_source[match.end() :]
    )


def compile_mjml(mjml_source: str, *, lang: str, name: str) -> str:
    """MJML -> a complete HTML document in ``lang``.

    The root gets ``lang``/``dir`` (the layout's own values are replaced); mrml runs without
    an include loader and without web fonts; the CSS of ``<mj-style>`` blocks without
    ``inline`` is then inlined into the elements by css-inline (kept in ``<head>`` too, for the
    clients that read it), with remote and local stylesheet loading off; images without ``alt``
    get ``alt=""``. Raises RenderError ``render.mjml_invalid``.
    """
    match = _MJML_ROOT.search(mjml_source)
    if match is None:
        raise RenderError(
            "render.mjml_invalid",
            f"{name}: the layout did not produce an <mjml> document",
            hint="wrap the layout in <mjml><mj-body>...</mj-body></mjml>",
        )
    attributes = _LANG_ATTR.sub("", match.group(1))
    root = f'<mjml lang="{lang}" dir="ltr"{attributes}>'
    mjml_source = mjml_source[: match.start()] + root + mjml_source[match.end() :]
    try:
        output = mrml.to_html(
            mjml_source, parser_options=_PARSER_OPTIONS, render_options=_RENDER_OPTIONS
        )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RenderError(
            "render.mjml_invalid",
            f"{name}: MJML does not compile: {first[:200]}",
            hint="check the MJML tags of the layout (https://documentation.mjml.io)",
        ) from None
    document = str(output.content)
    css = "\n".join(
        body for attrs, body in _MJ_STYLE.findall(mjml_source) if "inline" not in attrs
    ).strip()
    if css:
        inliner = css_inline.CSSInliner(
            inline_style_tags=False,
            keep_style_tags=True,
            keep_link_tags=True,
            load_remote_stylesheets=False,
            extra_css=css,
        )
        try:
            document = inliner.inline(document)
        except Exception as exc:
            raise RenderError(
                "render.css_invalid", f"{name}: the layout's CSS cannot be inlined ({exc})"
            ) from None
    return _finish_document(_IMG_WITHOUT_ALT.sub('<img alt=""', document))


# mrml's hidden inbox preview: white text, which spam filters read as text hidden in the
# background colour (SpamAssassin HTML_FONT_LOW_CONTRAST).
_MRML_PREVIEW: Final = re.compile(
    r'(<body\b[^>]*>)<div style="display:none;[^"]*">(.*?)</div>', re.S
)
_BODY_END: Final = "</body>"
_HIDDEN: Final = (
    "display:none;font-size:1px;line-height:1px;max-height:0px;max-width:0px;opacity:0;"
    "overflow:hidden;mso-hide:all;"
)
PREHEADER_FILLER: Final = "&zwnj;&nbsp;" * 90
"""After the preheader: invisible characters that keep the inbox from showing the start of
the body after a short preheader."""


def _finish_document(document: str) -> str:
    """The hidden preheader without a colour of its own, followed by the filler; the
    content in a ``main`` landmark (the message is the page's main content)."""
    match = _MRML_PREVIEW.search(document)
    if match is not None:
        body, preheader = match.group(1), match.group(2)
        document = (
            document[: match.start()]
            + f'{body}<div style="{_HIDDEN}">{preheader}</div>'
            + f'<div style="{_HIDDEN}" aria-hidden="true">{PREHEADER_FILLER}</div>'
            + '<div role="main">'
            + document[match.end() :]
        )
    else:
        start = re.search(r"<body\b[^>]*>", document)
        if start is None:
            return document
        document = document[: start.end()] + '<div role="main">' + document[start.end() :]
    end = document.rfind(_BODY_END)
    return document[:end] + "</div>" + document[end:] if end >= 0 else document + "</div>"


def _subject_text(atom: Atom) -> str:
    """The subject atom flattened to one line; RenderError ``render.header_injection`` when
    its own text could not go into a header.

    Customer values are checked by the header render mode and the whole subject once more by
    :func:`build_eml`; this catches the atom's text before any customer, when the message is
    assembled. ``=?`` is refused, not neutralized: no real subject needs it, and changing the
    editor's words silently would hide the problem (see docs/format.md).
    """
    text = flatten(text_of(atom))
    reason = check_header_value(text)
    if reason is not None:
        raise RenderError(
            "render.header_injection",
            f"the subject atom {reason}",
            atom_id=atom.id,
            hint="write the subject as plain text on one line, without '=?'",
        )
    return text


# --------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------


_SLOT_USE: Final = re.compile(r"\bslots\.([A-Za-z0-9_]+)")
_HEAD_SLOTS: Final = frozenset({"subject", "preheader"})


def text_slots(
    template: str, atoms: Mapping[str, Atom], kinds: Mapping[str, SlotKind]
) -> list[str]:
    """The slots the plain text shows, in layout order: every filled slot the layout template
    uses (first use of ``slots.<name>``), except the subject and preheader (they are headers)
    and image slots (pictures; their alt text is for the HTML). Filled slots the template never
    names come last, in name order."""
    order: list[str] = []
    for match in _SLOT_USE.finditer(template):
        name = match.group(1)
        if name not in order:
            order.append(name)
    order += sorted(name for name in atoms if name not in order)
    return [
        name
        for name in order
        if name in atoms and name not in _HEAD_SLOTS and kinds.get(name) is not SlotKind.IMAGE
    ]


def _plain_text(
    ctx: AssemblyContext,
    resolution: Resolution,
    vault: TokenVault,
    template: str,
    texts: Mapping[str, str],
) -> tuple[str, tuple[str, ...]]:
    """The text/plain alternative, written from the atoms (tokens as placeholders): each slot of
    :func:`text_slots` as a block, then the footer. Returns the text and the atom ids used."""
    atoms = resolution.atoms
    locale = resolution.language
    kinds = {slot: ctx.slot_kind(slot) for slot in atoms}
    blocks: list[str] = []
    used: list[str] = []
    for slot in text_slots(template, atoms, kinds):
        atom = atoms[slot]
        kind = kinds[slot]
        block = ""
        if kind is SlotKind.LINE:
            block = vault.protect(flatten(text_of(atom)))
        elif kind is SlotKind.MARKDOWN:
            block = vault.protect(block_text(text_of(atom), ctx.link_schemes))
        elif kind is SlotKind.OFFER and atom.offer is not None:
            offer = atom.offer
            lines = [
                vault.protect(flatten(offer.headline)),
                f"{texts['your_code']}: {vault.protect(offer.code)}",
            ]
            if offer.expires is not None:
                lines.append(f"{texts['valid_until']} {locale_date(offer.expires, locale)}")
            if offer.terms:
                lines.append(vault.protect(flatten(offer.terms)))
            block = "\n".join(lines)
        elif kind is SlotKind.CTA and atom.cta is not None:
            url = checked_url(atom.cta.url, ctx.link_schemes, atom_id=atom.id, what="cta.url")
            block = f"{vault.protect(atom.cta.label)}: {vault.protect(url)}"
        if block:
            blocks.append(block)
            used.append(atom.id)
    brand = ctx.settings.brand
    footer = ["-- ", texts["why_email"]]
    if brand.address:
        footer.append(brand.address)
    footer.append(f"{texts['unsubscribe']}: {brand.unsubscribe.url}")
    blocks.append("\n".join(footer))
    return "\n\n".join(block for block in blocks if block) + "\n", tuple(used)


# --------------------------------------------------------------------------------------------
# .eml export
# --------------------------------------------------------------------------------------------


# Header names build_eml writes itself; the MIME layer adds these two.
_MIME_HEADERS: Final = ("MIME-Version", "Content-Type")
_ADDRESS_HEADERS: Final = frozenset({"from", "to", "reply-to"})
# List-Unsubscribe read back without white space: "<uri>" entries separated by commas.
_ENTRY: Final = re.compile(r"<([^<>,]*)>")
_ENTRY_LIST: Final = re.compile(r"<[^<>,]*>(?:,<[^<>,]*>)*")


def build_eml(
    rendered: RenderedMessage,
    brand: Brand,
    *,
    to: str | None = None,
    date: dt.date | dt.datetime | None = None,
) -> EmailMessage:
    """A real ``multipart/alternative`` message of a rendered email.

    ``text/plain`` first and ``text/html`` last (clients show the last one they can); From is the
    brand sender, To the customer's address (``to``, else :attr:`RenderedMessage.recipient`,
    the profile's ``email_attribute``), Reply-To the brand's; ``List-Unsubscribe`` carries the
    mailto and https addresses and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
    (RFC 8058). ``to`` is one bare address. The MIME-Version header is written once, on the
    message, never on its parts.

    Headers are safe whatever Python runs (the email package before 3.11.10/3.12.5 lets a
    value inject headers, CVE-2024-6923): every value is checked before it is set (control
    characters, ``=?`` encoded-word starts, a display name, list separators or angle brackets
    in an address or a List-Unsubscribe URL), and the serialized header block is parsed back
    and must hold exactly the expected header names with the values as written (white space
    aside: Python's folding may move a space). Any problem is a RenderError
    ``render.header_injection`` naming the header and the field, never the value.

    Deterministic: ``Date`` only when ``date`` is given (a date means midnight UTC); the
    ``Message-ID`` and the MIME boundary are derived from a hash of the content, the customer,
    the recipient and the date, so the same inputs give the same bytes. Raises RenderError
    ``render.not_email`` when the message is not an email.
    """
    if rendered.key.channel != "email":
        raise RenderError("render.not_email", f"{rendered.key} is not an email message")
    subject = rendered.parts.get("subject", "")
    text = rendered.parts.get("text", "")
    body_html = rendered.parts.get("html", "")
    recipient = to if to is not None else rendered.recipient
    when: dt.datetime | None = None
    if date is not None:
        when = (
            date
            if isinstance(date, dt.datetime)
            else dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
        )
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    digest = hashlib.sha256(
        "\x00".join(
            (
                subject,
                text,
                body_html,
                str(rendered.key),
                rendered.customer_id or "",
                recipient or "",
                when.isoformat() if when else "",
            )
        ).encode("utf-8")
    ).hexdigest()
    headers, targets = _header_values(rendered, brand, subject, recipient)
    at = next(i for i, (name, _) in enumerate(headers) if name == "Subject") + 1
    domain = brand.sender.email.rsplit("@", 1)[-1]
    dated = [("Date", format_datetime(when))] if when is not None else []
    headers[at:at] = [*dated, ("Message-ID", f"<{digest[:32]}@{domain}>")]
    message = EmailMessage(policy=policy.SMTP)
    for name, value in headers:
        try:
            if name == "From":
                message[name] = Address(
                    display_name=brand.sender.name, addr_spec=brand.sender.email
                )
            else:
                message[name] = value
        except (ValueError, TypeError, IndexError, HeaderParseError):
            raise _header_error(rendered, name, f"the {name} header could not be written") from None
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(body_html, subtype="html", charset="utf-8", cte="quoted-printable")
    # The email package copies MIME-Version into the part it moves into the multipart; a
    # part needs none (RFC 2045: the header belongs to the top level).
    for part in message.iter_parts():
        del part["MIME-Version"]
    # Quoted-printable writes "=" as "=3D", so a boundary starting with "=_" cannot occur in
    # the bodies.
    message.set_boundary(f"=_atomic_{digest[:32]}")
    _verify_headers(message, headers, targets, rendered, brand)
    return message


def _header_values(
    rendered: RenderedMessage, brand: Brand, subject: str, to: str | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, value) of every header build_eml sets, in order, each checked before it is set,
    and the List-Unsubscribe entries (the URIs without their angle brackets).

    From's value is the bare address; its display name (``brand.sender.name``) is checked
    here and set through :class:`email.headerregistry.Address`.
    """
    checks: list[tuple[str, str, str | None]] = [
        ("From", "brand.sender.name", check_header_value(brand.sender.name)),
        ("From", "brand.sender.email", address_problem(brand.sender.email)),
        ("Subject", "the subject", check_header_value(subject)),
    ]
    headers: list[tuple[str, str]] = [("From", brand.sender.email)]
    if to:
        checks.append(("To", "the recipient address", address_problem(to)))
        headers.append(("To", to))
    if brand.reply_to:
        checks.append(("Reply-To", "brand.reply_to", address_problem(brand.reply_to)))
        headers.append(("Reply-To", brand.reply_to))
    headers.append(("Subject", subject))
    targets = []
    if brand.unsubscribe.mailto:
        mailto = brand.unsubscribe.mailto
        checks.append(("List-Unsubscribe", "brand.unsubscribe.mailto", address_problem(mailto)))
        targets.append(f"mailto:{mailto}")
    url = brand.unsubscribe.url
    checks.append(
        ("List-Unsubscribe", "brand.unsubscribe.url", https_url_problem(url, in_header=True))
    )
    targets.append(url)
    headers.append(("List-Unsubscribe", ", ".join(f"<{target}>" for target in targets)))
    headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, field_name, reason in checks:
        if reason is not None:
            raise _header_error(rendered, name, f"the {name} header value ({field_name}) {reason}")
    return headers, targets


def _verify_headers(
    message: EmailMessage,
    headers: list[tuple[str, str]],
    targets: list[str],
    rendered: RenderedMessage,
    brand: Brand,
) -> None:
    """Parse the serialized header block back; it must hold exactly the expected header
    names, once each, and every value must read back as it was written (an encoded word or
    a line break that slipped through would add a header or change a value). The address
    headers must hold exactly the one expected address, List-Unsubscribe exactly the
    expected ``<...>`` entries (a ``>, <`` inside an entry would add one)."""
    data = message.as_bytes(policy=policy.SMTP)
    block = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    parsed = BytesHeaderParser(policy=policy.SMTP).parsebytes(block)
    expected = sorted(name.lower() for name, _ in headers) + [h.lower() for h in _MIME_HEADERS]
    found = [name.lower() for name in parsed]  # every header line, repeats included
    if sorted(found) != sorted(expected):
        raise _header_error(
            rendered, "", "the written headers do not parse back to the expected header names"
        )
    for name, value in headers:
        header = parsed[name]
        if name.lower() in _ADDRESS_HEADERS:
            display = brand.sender.name if name == "From" else ""
            ok = isinstance(header, AddressHeader) and [
                (_squeezed(a.display_name), a.addr_spec) for a in header.addresses
            ] == [(_squeezed(display), value)]
        elif name == "List-Unsubscribe":
            read = _squeezed(str(header))
            ok = _ENTRY_LIST.fullmatch(read) is not None and _ENTRY.findall(read) == [
                _squeezed(target) for target in targets
            ]
        else:
            ok = _squeezed(str(header)) == _squeezed(value)
        if not ok:
            raise _header_error(
                rendered, name, f"the {name} header does not read back as it was written"
            )


def _squeezed(text: str) -> str:
    # Python's header folder may add or drop a space where it splits encoded words (3.11:
    # "Ünïcöd é"), so values are compared without white space; an injected header or a
    # decoded encoded word still changes the rest.
    return "".join(text.split())


def _header_error(rendered: RenderedMessage, name: str, message: str) -> RenderError:
    """RenderError ``render.header_injection`` about header ``name`` ("" for the whole block);
    ``message`` never holds a value."""
    subject = name == "Subject"
    return RenderError(
        "render.header_injection",
        message,
        customer_id=rendered.customer_id,
        atom_id=rendered.atoms.get("subject") if subject else None,
        hint=_HEADER_HINTS.get(name, _HEADER_HINTS["From"]),
    )


_HEADER_HINTS: Final = {
    "Subject": "remove '=?' and control characters from the subject atom or the customer data",
    "To": "pass one bare recipient address such as ada@example.com",
    "": "check the subject and the brand settings in atomic.yaml (atomic validate)",
    "From": "fix the brand settings in atomic.yaml (atomic validate shows where)",
}


def eml_bytes(message: EmailMessage) -> bytes:
    """The message as bytes with CRLF line ends (what an .eml file holds)."""
    return message.as_bytes(policy=policy.SMTP)


def _write_eml(rendered: RenderedMessage, settings: Settings, options: ExportOptions) -> bytes:
    return eml_bytes(build_eml(rendered, settings.brand, to=options.to, date=options.sent))
