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
import re
from collections.abc import Mapping
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final

import css_inline
import mrml

from ..errors import RenderError, Severity
from ..markdown import flatten
from ..models import Brand, Model, Settings
from ..repository import LayoutEntry
from ..resolver import Resolution
from .base import (
    AssembledMessage,
    AssemblyContext,
    Export,
    LayoutProblem,
    LimitProblem,
    Part,
    RenderedMessage,
    TokenVault,
    base_message,
    block_text,
    channel_settings,
    checked_url,
    label,
    layout_slots,
    layout_template,
    length_problems,
    locale_date,
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


class EmailChannel(Model):
    """``channels.email`` in atomic.yaml."""

    limits: EmailLimits = EmailLimits()


class EmailRenderer:
    """The ``email`` channel."""

    name = "email"
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
        locale = resolution.key.locale
        vault = new_vault(ctx, entry, atoms)
        name = entry.template_path or f"layouts/email/{resolution.layout}"
        slots = layout_slots(ctx, atoms, vault, locale, plain=frozenset({"subject", "preheader"}))
        mjml_source = render_layout(
            template,
            name=name,
            variables={
                "slots": slots,
                "brand": ctx.brand,
                "message": message_vars(ctx, resolution),
            },
        )
        mjml_source = _complete_head(mjml_source, slots)
        document = compile_mjml(mjml_source, lang=locale, name=name)

        def ids(*slot_names: str) -> tuple[str, ...]:
            return tuple(atoms[s].id for s in slot_names if s in atoms)

        subject = vault.protect(flatten(text_of(atoms["subject"]))) if "subject" in atoms else ""
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
                vault.finish(_plain_text(ctx, resolution, vault), part="email text"),
                "text/plain",
                "email.txt",
                atom_ids=ids("headline", "body", "offer", "cta"),
            ),
        ]
        return base_message(ctx, resolution, parts)

    # -- limits ------------------------------------------------------------------------------
    def check_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        limits = channel_settings(settings, self.name, EmailChannel).limits
        problems: list[LimitProblem] = []
        subject = rendered.parts.get("subject", "")
        preheader = rendered.parts.get("preheader", "")
        document = rendered.parts.get("html", "")
        if not subject.strip():
            problems.append(
                LimitProblem(Severity.ERROR, "email.subject_empty", "the subject is empty")
            )
        problems += length_problems(
            len(subject),
            what="subject",
            code="email.subject",
            hard=limits.subject_hard,
            recommended=limits.subject_recommended,
            shown="inboxes show",
        )
        if len(preheader) < limits.preheader_min:
            problems.append(
                LimitProblem(
                    Severity.WARNING,
                    "email.preheader_short",
                    f"preheader is {len(preheader)} characters; at least "
                    f"{limits.preheader_min} keep the inbox from filling it with body text",
                )
            )
        else:
            problems += length_problems(
                len(preheader),
                what="preheader",
                code="email.preheader",
                recommended=limits.preheader_recommended,
                shown="inboxes show",
            )
        size = len(document.encode("utf-8"))
        if size > limits.html_bytes_hard:
            problems.append(
                LimitProblem(
                    Severity.ERROR,
                    "email.html_too_large",
                    f"HTML is {size} bytes; above {limits.html_bytes_hard} Gmail clips the message",
                )
            )
        return problems

    # -- previews ----------------------------------------------------------------------------
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
        return rendered.parts.get("html", "")

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
            hint="Wrap the layout in <mjml><mj-body>...</mj-body></mjml>.",
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
            hint="Check the MJML tags of the layout (https://documentation.mjml.io).",
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
    return _IMG_WITHOUT_ALT.sub('<img alt=""', document)


# --------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------


def _plain_text(ctx: AssemblyContext, resolution: Resolution, vault: TokenVault) -> str:
    """The text/plain alternative, written from the atoms (tokens as placeholders)."""
    atoms = resolution.atoms
    locale = resolution.key.locale
    blocks: list[str] = []
    if "headline" in atoms:
        blocks.append(vault.protect(flatten(text_of(atoms["headline"]))))
    if "body" in atoms:
        blocks.append(vault.protect(block_text(text_of(atoms["body"]), ctx.link_schemes)))
    offer_atom = atoms.get("offer")
    if offer_atom is not None and offer_atom.offer is not None:
        offer = offer_atom.offer
        lines = [
            vault.protect(flatten(offer.headline)),
            f"{label(locale, 'code')}: {vault.protect(offer.code)}",
        ]
        if offer.expires is not None:
            lines.append(f"{label(locale, 'valid_until')} {locale_date(offer.expires, locale)}")
        if offer.terms:
            lines.append(vault.protect(flatten(offer.terms)))
        blocks.append("\n".join(lines))
    cta_atom = atoms.get("cta")
    if cta_atom is not None and cta_atom.cta is not None:
        url = checked_url(cta_atom.cta.url, ctx.link_schemes, atom_id=cta_atom.id, what="cta.url")
        blocks.append(f"{vault.protect(cta_atom.cta.label)}: {vault.protect(url)}")
    brand = ctx.settings.brand
    footer = ["-- ", label(locale, "why").format(brand=brand.name)]
    if brand.address:
        footer.append(brand.address)
    footer.append(f"{label(locale, 'unsubscribe')}: {brand.unsubscribe.url}")
    blocks.append("\n".join(footer))
    return "\n\n".join(block for block in blocks if block) + "\n"


# --------------------------------------------------------------------------------------------
# .eml export
# --------------------------------------------------------------------------------------------


def build_eml(
    rendered: RenderedMessage,
    brand: Brand,
    *,
    to: str | None = None,
    date: dt.date | dt.datetime | None = None,
) -> EmailMessage:
    """A real ``multipart/alternative`` message of a rendered email.

    ``text/plain`` first and ``text/html`` last (clients show the last one they can); From is the
    brand sender, Reply-To the brand's; ``List-Unsubscribe`` carries the mailto and https
    addresses and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058).

    Deterministic: no Date and no Message-ID unless ``date`` is given (a date means midnight
    UTC); the MIME boundary is derived from a hash of the content. Raises RenderError when
    the message is not an email.
    """
    if rendered.key.channel != "email":
        raise RenderError("render.not_email", f"{rendered.key} is not an email message")
    subject = rendered.parts.get("subject", "")
    text = rendered.parts.get("text", "")
    body_html = rendered.parts.get("html", "")
    digest = hashlib.sha256(
        "\x00".join((subject, text, body_html, str(rendered.key))).encode("utf-8")
    ).hexdigest()
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=brand.sender.name, addr_spec=brand.sender.email)
    if to:
        message["To"] = to
    if brand.reply_to:
        message["Reply-To"] = brand.reply_to
    message["Subject"] = subject
    if date is not None:
        when = (
            date
            if isinstance(date, dt.datetime)
            else dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
        )
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        message["Date"] = format_datetime(when)
        domain = brand.sender.email.rsplit("@", 1)[-1]
        message["Message-ID"] = f"<{digest[:32]}@{domain}>"
    targets = []
    if brand.unsubscribe.mailto:
        targets.append(f"<mailto:{brand.unsubscribe.mailto}>")
    targets.append(f"<{brand.unsubscribe.url}>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(body_html, subtype="html", charset="utf-8", cte="quoted-printable")
    # Quoted-printable writes "=" as "=3D", so a boundary starting with "=_" cannot occur in
    # the bodies.
    message.set_boundary(f"=_atomic_{digest[:32]}")
    return message


def eml_bytes(message: EmailMessage) -> bytes:
    """The message as bytes with CRLF line ends (what an .eml file holds)."""
    return message.as_bytes(policy=policy.SMTP)


def _write_eml(rendered: RenderedMessage, settings: Settings, date: dt.date | None) -> bytes:
    return eml_bytes(build_eml(rendered, settings.brand, date=date))
