"""What every channel shares: the data of the two render stages and the helpers to build it.

Stage 1, *assembly* (no customer data): a :class:`ChannelRenderer` turns a resolution (the
chosen atoms) and the layout into an :class:`AssembledMessage`, whose :class:`Part` sources are
Jinja templates in which the atoms' customer tokens (``{{ customer.first_name }}``,
``{% if %}`` ...) are still present — the *template form* of a variant.

While Markdown is converted, the layout is rendered and MJML is compiled, every token hides
behind a placeholder of a :class:`TokenVault` (ASCII letters and digits, which no converter
touches). :meth:`TokenVault.finish` then escapes every literal ``{{``, ``{%`` and ``{#`` of the
static text (layout, brand settings, atom text outside tokens) and puts the tokens back, so that
the only Jinja a part contains is the atoms' tokens.

Stage 2, *rendering* (per customer), lives in :mod:`atomic_content.render`: each part is compiled
once in a :class:`~atomic_content.tokens.TokenEnvironment` of the part's ``mode`` and rendered
with ``customer``, ``brand`` and ``slots``.

Layouts are Jinja2 templates run at assembly time in :func:`render_layout`: an immutable sandbox
with autoescape, a small set of filters and callables, bounded output, bounded string building
and a step budget, so that a hostile layout fails with a :class:`RenderError` instead of
escaping the sandbox, exhausting memory or hanging.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import html
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import FrameType
from typing import Any, Final, Literal, Protocol, TypeVar

import babel
import babel.dates
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import LoopContext, StrictUndefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape
from pydantic import BaseModel

from ..assets import asset_url, is_asset
from ..errors import RenderError, Severity
from ..hashing import canonical_json
from ..markdown import flatten, render_markdown
from ..models import Atom, Model, Settings, SlotKind
from ..repository import LayoutEntry, Library
from ..resolver import MessageKey, Resolution
from ..strings import strings_for
from ..tokens import (
    NUMBER_TOO_LARGE_HINT,
    number_too_large_message,
    protect_tokens,
    required_customer_paths,
    too_large_integer,
)
from ..validate import link_schemes
from ..yamlio import Loc

Mode = Literal["html", "text", "json", "header"]
"""How a part's customer values are escaped at render time (see TokenEnvironment)."""

# --------------------------------------------------------------------------------------------
# Stage data
# --------------------------------------------------------------------------------------------


def _as_fields(value: Any) -> dict[str, Any]:
    """A dataclass instance met in a template form's values, as ``dataclasses.asdict`` writes
    it (for ``json.dumps``'s ``default``: plain values never come here)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} is not JSON data")


@dataclass(frozen=True)
class Part:
    """One output of a message: a template rendered per customer.

    ``source`` is a Jinja template whose only tags are the atoms' tokens (and, in a part with
    ``embeds``, the ``{{ slots.<path> }}`` tokens that insert them). ``mode`` decides how
    customer values are escaped. ``embeds`` pairs a dotted ``slots`` path with the name of an
    earlier part: before this part is rendered, ``slots.<path>`` is set to that part's rendered
    text (the app card embeds its HTML body this way: customer values HTML-escaped first, then
    JSON-escaped). ``atom_ids`` are the atoms whose text the part carries, for error messages.
    """

    name: str
    mode: Mode
    source: str
    media_type: str
    filename: str
    embeds: tuple[tuple[str, str], ...] = ()
    atom_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssembledMessage:
    """A message in template form: the same for every customer of one variant.

    ``atoms`` maps slot -> atom id and ``atom_hashes`` atom id -> content hash (what a cache
    needs); ``required_paths`` lists per atom the customer attributes it uses without a default;
    ``brand`` and ``slot_data`` are the plain ``brand`` and ``slots`` values of the render
    context.
    """

    key: MessageKey
    audience_label: str
    layout: str
    atoms: dict[str, str]
    atom_hashes: dict[str, str]
    parts: tuple[Part, ...]
    required_paths: dict[str, frozenset[str]]
    brand: dict[str, Any] = field(default_factory=dict)
    slot_data: dict[str, Any] = field(default_factory=dict)

    def part(self, name: str) -> Part:
        """The part called ``name`` (KeyError if the message has none)."""
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    def to_json(self) -> bytes:
        """The template form as canonical JSON: what the runtime bundle stores per variant
        (``dataclasses.asdict``'s JSON, made without copying every value first: that copy
        was a tenth of rendering a variant; the encoder meets dataclasses only here)."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        fields["required_paths"] = {k: sorted(v) for k, v in self.required_paths.items()}
        return canonical_json(fields, default=_as_fields)

    @classmethod
    def from_json(cls, data: bytes) -> AssembledMessage:
        """The inverse of :meth:`to_json` (KeyError/TypeError/ValueError for other data)."""
        raw = json.loads(data)
        return cls(
            key=MessageKey(**raw["key"]),
            audience_label=raw["audience_label"],
            layout=raw["layout"],
            atoms=raw["atoms"],
            atom_hashes=raw["atom_hashes"],
            parts=tuple(
                Part(
                    **{
                        **p,
                        "embeds": tuple(tuple(e) for e in p["embeds"]),
                        "atom_ids": tuple(p["atom_ids"]),
                    }
                )
                for p in raw["parts"]
            ),
            required_paths={k: frozenset(v) for k, v in raw["required_paths"].items()},
            brand=raw["brand"],
            slot_data=raw["slot_data"],
        )


@dataclass(frozen=True)
class RenderedMessage:
    """A message rendered for one customer: part name -> text, plus what formatters need."""

    key: MessageKey
    customer_id: str | None
    parts: dict[str, str]
    layout: str = ""
    audience_label: str = ""
    atoms: dict[str, str] = field(default_factory=dict)
    media_types: dict[str, str] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)
    brand_name: str = ""
    recipient: str | None = None
    """The customer's address (the profile's ``email_attribute``), for the ``To`` header."""
    sender: str = ""
    """The brand's sender as ``Name <address>`` (what an inbox shows as From)."""


@dataclass(frozen=True)
class LimitProblem:
    """A channel limit a rendered message breaks: an error (must fix) or a warning.

    ``slot`` names the slot whose atom decides the measured length (``subject`` for the subject
    length), so that validate can point at that atom's file and line; None for a limit of the
    whole message (HTML size, payload bytes).
    """

    severity: Severity
    code: str
    message: str
    slot: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "slot": self.slot,
        }


EMPTY_FOR_CUSTOMER: Final = (
    "the customer's values leave the {what} empty: give its tokens a default, e.g. "
    '`{{{{ customer.first_name | default("there") }}}}`'
)
"""The send-time fix of a required part a customer's values leave empty
(:attr:`LimitAdvice.at_send`)."""


@dataclass(frozen=True)
class LimitAdvice:
    """What an editor does about one kind of :class:`LimitProblem` (see
    :attr:`ChannelRenderer.limit_advice`)."""

    hint: str
    """The fix in the editor's words, true wherever the problem is reported (at an atom, a
    journey step or a layout; in the build's diagnostics and in a preview)."""

    in_layout: bool = False
    """Only the layout can cause it (a page without a viewport: atoms cannot add one). It is
    reported once at the layout's template, not at every message that uses the layout."""

    at_send: str = ""
    """The fix when a customer's values cause it, as the runtime reports it for one customer
    (an empty first name leaving a subject of only that token empty); empty when the
    runtime's general "too long" fix holds (see :func:`atomic_content.channels.send_hint`)."""


@dataclass(frozen=True)
class AssemblyContext:
    """What assembly needs from a library, computed once: settings, the plain brand dict, the
    allowed link schemes and the declared customer attributes."""

    library: Library
    settings: Settings
    brand: dict[str, Any]
    link_schemes: frozenset[str]
    declared: frozenset[str]

    @classmethod
    def from_library(cls, library: Library) -> AssemblyContext:
        if library.settings is None:
            raise ValueError("the library has no settings; validate it first")
        declared = frozenset(library.profile.attributes) if library.profile else frozenset()
        brand = library.settings.brand
        plain = brand.model_dump(mode="json")
        if brand.logo is not None:  # an asset path becomes its production URL
            plain["logo"]["src"] = asset_url(brand, brand.logo.src)
        return cls(
            library=library,
            settings=library.settings,
            brand=plain,
            link_schemes=link_schemes(library),
            declared=declared,
        )

    def slot_kind(self, slot: str) -> SlotKind:
        spec = self.settings.slots.get(slot)
        if spec is None:
            raise RenderError("render.unknown_slot", f"slot {slot!r} is not in atomic.yaml")
        return spec.kind


@dataclass(frozen=True)
class LayoutProblem:
    """A layout that breaks its channel's contract (found by ``check_layout`` at validation).

    ``where`` says which file to blame: ``"layout"`` (the layout's YAML file, at the YAML path
    ``loc``, e.g. ``("slots", "body")``; ``()`` is the top of the file) or ``"template"`` (its
    template file, at line ``line``). ``code``/``message``/``hint`` follow the diagnostics rules.
    """

    code: str
    message: str
    hint: str
    where: Literal["layout", "template"] = "layout"
    loc: Loc = ()
    line: int = 1
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class ExportOptions:
    """What an export needs beyond the message: the send time and an address override.

    ``sent`` is when the message is sent (``--date`` at midnight UTC, SOURCE_DATE_EPOCH, or
    now; see :func:`send_time`); None writes no date, so the output does not depend on the
    clock. ``to`` replaces the recipient the profile names (``--to``)."""

    sent: dt.datetime | None = None
    to: str | None = None


def send_time(date: dt.date | None) -> dt.datetime:
    """The send time of an export: ``date`` at midnight UTC, else SOURCE_DATE_EPOCH (a
    reproducible run), else now (UTC, whole seconds)."""
    if date is not None:
        return dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0)


ExportWriter = Callable[[RenderedMessage, Settings, ExportOptions], bytes]
"""Writes one rendered message in an export format: (message, settings, options) -> bytes."""


@dataclass(frozen=True)
class Export:
    """An extra output format of a channel: ``atomic preview --format <name>``.

    ``suffix`` is the file name suffix (``.eml``), ``help`` completes the ``--format`` help
    ("<name> for mail apps"); ``write`` turns one rendered message into the file's bytes and
    raises RenderError when it cannot.
    """

    suffix: str
    help: str
    write: ExportWriter


@dataclass(frozen=True)
class ChannelView:
    """How the studio (``atomic serve``) draws one rendered message. ``kind`` picks the
    template block: ``inbox`` (an email's inbox line, HTML and text), ``phone`` (push lock
    screen and in-app card), ``bubble`` (a text message), ``page`` (one HTML page) or
    ``frame`` (the renderer's own HTML preview in a frame).

    ``fields`` holds plain text values (escaped by the template); ``frames`` names the parts
    shown in sandboxed frames (part name -> title).
    """

    kind: str
    fields: Mapping[str, str]
    frames: Mapping[str, str]


@dataclass(frozen=True)
class Measure:
    """One size of a rendered message the channel limits measure, for the studio's badges:
    ``value`` against ``limit`` (as shown), judged by the limit problems whose code starts
    with one of ``codes``."""

    label: str
    value: str
    limit: str
    codes: tuple[str, ...]


def json_object(text: str | None) -> dict[str, Any]:
    """A rendered JSON part as an object; ``{}`` when it is not one (for showing a message,
    never for checking it: the limit checks raise instead)."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class ChannelRenderer(Protocol):
    """A channel: everything the engine knows about it, in one object.

    Registered in :data:`atomic_content.channels.RENDERERS`; no module outside
    :mod:`atomic_content.channels` names a channel. The registry drives:

    * settings: ``channels.<name>`` in atomic.yaml is validated by :attr:`settings_model`
      (also its JSON Schema); a present block enables the channel;
    * loading: layouts live in ``layouts/<name>/``; :attr:`layout_template` says whether a
      layout needs a template file;
    * validation: :meth:`check_layout` checks a layout against the channel's contract;
    * rendering: :meth:`assemble` (template form) and :meth:`check_limits` (rendered form;
      :meth:`send_limits` is its errors only, fast, for the runtime);
    * previews: :meth:`preview_text`, :meth:`preview_html` and the extra formats of
      :attr:`exports`;
    * review: :meth:`review_lines` is what ``atomic diff`` shows a reviewer;
    * the studio: :meth:`studio_view` and :meth:`measures` (``atomic serve``).
    """

    name: str
    """The channel name: the key under ``channels:``, the layout folder, ``message.channel``."""

    message_fields: frozenset[str]
    """``message.*`` names this channel's layouts receive beyond the ones every layout gets
    (:data:`atomic_content.layout_lint.MESSAGE_FIELDS`); the layout lint accepts exactly
    these. Empty for most channels."""

    limit_advice: Mapping[str, LimitAdvice]
    """How to fix each problem code :meth:`check_limits` can report, other than the lengths
    :func:`length_problems` measures under its own ``<code>_too_long`` and ``<code>_long``
    codes (their fix is to shorten; see :func:`atomic_content.channels.limit_hint`).
    tests/test_limit_hints.py holds every code a channel reports to having a fix."""

    @property
    def settings_model(self) -> type[Model]:
        """The model of the ``channels.<name>`` block of atomic.yaml (with its ``limits``).

        Every field must have a default: ``<name>: {}`` enables the channel with defaults.
        """
        ...

    @property
    def layout_template(self) -> str | None:
        """The template file a layout of this channel needs, as the hint shows it
        (``<name>.mjml``); None when its layouts have no template (the engine writes the
        message from the slots)."""
        ...

    @property
    def exports(self) -> Mapping[str, Export]:
        """Extra ``atomic preview`` formats by name (``eml``); a name belongs to one channel."""
        ...

    def check_layout(self, entry: LayoutEntry) -> list[LayoutProblem]:
        """What the layout breaks of the channel's layout contract (beyond what every layout
        is checked for: known slots, template syntax). Never raises."""
        ...

    def assemble(self, ctx: AssemblyContext, resolution: Resolution) -> AssembledMessage:
        """The template form of a resolved message. Raises RenderError for a broken layout."""
        ...

    def check_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        """Channel limits (lengths, sizes, link schemes) the rendered message breaks."""
        ...

    def send_limits(
        self, rendered: RenderedMessage, settings: Settings | None
    ) -> list[LimitProblem]:
        """Exactly the errors of :meth:`check_limits`, as cheaply as the channel can tell.

        The runtime asks this for every customer (the build measured the warnings once per
        variant). A channel skips what customer data cannot change: values are escaped into
        HTML, so they cannot add a ``<script>`` element. tests/test_runtime_guarantee.py
        holds it equal to the errors of :meth:`check_limits`.
        """
        ...

    def preview_text(self, rendered: RenderedMessage) -> str:
        """The message as a person would see it, in plain text for a terminal."""
        ...

    def preview_html(self, rendered: RenderedMessage) -> str:
        """The message as one HTML document, for a browser."""
        ...

    def review_lines(self, files: Mapping[str, bytes]) -> list[str]:
        """The readable form of one built variant for ``atomic diff``: its files by bare name
        (``subject.txt`` -> bytes) in, lines a reviewer compares out. Files the channel does
        not know are shown by :func:`atomic_content.channels.review.other_files`. Lines may
        hold any character (the caller makes control characters visible). Never raises."""
        ...

    def studio_view(self, rendered: RenderedMessage, settings: Settings | None) -> ChannelView:
        """How ``atomic serve`` draws the message (:class:`ChannelView`). Never raises."""
        ...

    def measures(self, rendered: RenderedMessage, settings: Settings | None) -> list[Measure]:
        """The sizes the channel's limits measure, for the studio's badges (Gmail clipping,
        push payload, subject length, text segments …); may be empty. Never raises."""
        ...


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def channel_settings(settings: Settings | None, name: str, model: type[SettingsT]) -> SettingsT:
    """The ``channels.<name>`` block of ``settings``; ``model()`` (its defaults) when there are
    no settings or the channel is not configured."""
    block = settings.channels.block(name) if settings is not None else None
    return block if isinstance(block, model) else model()


# --------------------------------------------------------------------------------------------
# Tokens through the converters
# --------------------------------------------------------------------------------------------

_PLACEHOLDER_BASE: Final = "zatok"
_JINJA_OPENERS: Final = "{%#"


class TokenVault:
    """Placeholders for tokens, unique within one message assembly.

    The prefix is chosen so that it occurs in none of ``texts`` (every source a part is made
    from: layout, brand, atoms), so every occurrence in a converted document is a placeholder.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        lowered = "\n".join(texts).lower()
        prefix = _PLACEHOLDER_BASE
        while prefix in lowered:
            prefix += "q"
        self.prefix = prefix
        self._tokens: dict[str, str] = {}
        self._opener = re.compile(r"\{(?=[" + re.escape(_JINJA_OPENERS) + "]|" + prefix + ")")
        self._placeholder = re.compile(prefix + r"\d{6}z")

    def token(self, source: str) -> str:
        """A placeholder for one token (``{{ ... }}`` / ``{% ... %}``) written by the engine."""
        placeholder = f"{self.prefix}{len(self._tokens):06d}z"
        self._tokens[placeholder] = source
        return placeholder

    def protect(self, text: str) -> str:
        """``text`` with every token replaced by a fresh placeholder."""
        protected, mapping = protect_tokens(text)
        if not mapping:
            return protected
        renamed = {old: self.token(original) for old, original in mapping.items()}
        pattern = re.compile("|".join(re.escape(k) for k in sorted(renamed, key=len, reverse=True)))
        return pattern.sub(lambda m: renamed[m.group(0)], protected)

    def html(self, text: str) -> Markup:
        """Plain text (with tokens) as safe HTML: static text escaped, tokens kept."""
        return Markup(escape(self.protect(text)))

    def finish(self, text: str, *, part: str) -> str:
        """The template form of a converted part: static Jinja openers escaped, tokens back.

        Raises RenderError ``render.placeholder_damaged`` when a placeholder was altered (a
        layout applied a filter such as ``upper`` or ``truncate`` to slot content).
        """
        escaped = self._opener.sub('{{ "{" }}', text)
        restored = self._placeholder.sub(
            lambda m: self._tokens.get(m.group(0), m.group(0)), escaped
        )
        # Tokens never contain the prefix (it was chosen absent from every source), so any
        # occurrence left is a placeholder that a converter or the layout changed.
        if self.prefix in restored.lower():
            raise RenderError(
                "render.placeholder_damaged",
                f"{part}: the layout changed personalized slot content",
                hint="insert slots as they are ({{ slots.body }}); filters such as upper "
                "or truncate must not be applied to slot values",
            )
        return restored


# --------------------------------------------------------------------------------------------
# Slot values
# --------------------------------------------------------------------------------------------

_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


@functools.lru_cache(maxsize=4096)  # the runtime asks again for every customer's links
def url_allowed(url: str, schemes: frozenset[str]) -> bool:
    """True when ``url`` starts with a literal allowed scheme and no token chooses its host."""
    protected, mapping = protect_tokens(url.strip())
    match = _SCHEME_RE.match(protected)
    if match is None or match.group(1).lower() not in schemes:
        return False
    rest = protected[match.end() :]
    if rest.startswith("//"):
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
        return bool(authority) and not any(p in authority for p in mapping)
    return match.group(1).lower() not in ("http", "https")


def checked_url(url: str, schemes: frozenset[str], *, atom_id: str, what: str) -> str:
    """``url`` if :func:`url_allowed`; else RenderError ``render.link_not_allowed``.

    Validation refuses such atoms already; this is the second line of defence for content
    that skipped it.
    """
    if not url_allowed(url, schemes):
        raise RenderError(
            "render.link_not_allowed",
            f"{what} must start with one of: " + ", ".join(sorted(f"{s}:" for s in schemes)),
            atom_id=atom_id,
            hint="write the full address, e.g. https://www.example.com/page",
        )
    return url.strip()


def image_src_of(ctx: AssemblyContext, atom: Atom) -> str:
    """The production URL of an image atom: its asset path on ``brand.asset_base_url``, or its
    https URL (RenderError ``render.link_not_allowed`` for anything else)."""
    assert atom.image is not None
    if is_asset(atom.image.src):
        return asset_url(ctx.settings.brand, atom.image.src)
    return checked_url(atom.image.src, frozenset({"https"}), atom_id=atom.id, what="image.src")


def line_html(text: str, schemes: frozenset[str]) -> str:
    """A ``line`` slot as inline HTML (tokens verbatim)."""
    return render_markdown(text, inline=True, link_schemes=schemes).html


def block_html(text: str, schemes: frozenset[str]) -> str:
    """A ``markdown`` slot as block HTML (tokens verbatim)."""
    return render_markdown(text, link_schemes=schemes).html.rstrip("\n")


def block_text(text: str, schemes: frozenset[str]) -> str:
    """A ``markdown`` slot as plain text (links written ``label (url)``; tokens verbatim)."""
    return render_markdown(text, link_schemes=schemes).text.strip("\n")


def locale_date(value: dt.date, locale: str) -> str:
    """A date written out for ``locale`` (``December 31, 2027``, ``31. Dezember 2027``)."""
    try:
        parsed = babel.Locale.parse(locale.replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        parsed = babel.Locale.parse("en")
    return str(babel.dates.format_date(value, format="long", locale=parsed))


def text_of(atom: Atom) -> str:
    """The text of a line/markdown atom ("" for other kinds)."""
    return atom.text or ""


def layout_slots(
    ctx: AssemblyContext,
    atoms: Mapping[str, Atom],
    vault: TokenVault,
    locale: str,
    *,
    plain: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``slots`` as a layout template receives them (docs/format.md, layout contract).

    line -> inline HTML, markdown -> block HTML (both ``Markup``); the slots in ``plain`` are
    flattened to escaped plain text instead (for ``<title>`` and the inbox preview); cta ->
    ``{label, url}``; image -> ``{src, alt, width}``; offer -> ``{code, headline, expires,
    terms}`` with ``expires`` written out for the locale. Tokens are placeholders of ``vault``.
    Slots nothing fills are absent.
    """
    schemes = ctx.link_schemes
    result: dict[str, Any] = {}
    for slot, atom in sorted(atoms.items()):
        kind = ctx.slot_kind(slot)
        if kind is SlotKind.LINE:
            if slot in plain:
                result[slot] = vault.html(flatten(text_of(atom)))
            else:
                result[slot] = Markup(vault.protect(line_html(text_of(atom), schemes)))
        elif kind is SlotKind.MARKDOWN:
            result[slot] = Markup(vault.protect(block_html(text_of(atom), schemes)))
        elif kind is SlotKind.CTA and atom.cta is not None:
            url = checked_url(atom.cta.url, schemes, atom_id=atom.id, what="cta.url")
            result[slot] = {"label": vault.html(atom.cta.label), "url": vault.html(url)}
        elif kind is SlotKind.IMAGE and atom.image is not None:
            src = image_src_of(ctx, atom)
            result[slot] = {
                "src": vault.html(src),
                "alt": vault.html(atom.image.alt),
                "width": atom.image.width,
            }
        elif kind is SlotKind.OFFER and atom.offer is not None:
            offer = atom.offer
            result[slot] = {
                "code": vault.html(offer.code),
                "headline": Markup(vault.protect(line_html(offer.headline, schemes))),
                "expires": locale_date(offer.expires, locale) if offer.expires else None,
                "terms": (
                    Markup(vault.protect(line_html(offer.terms, schemes))) if offer.terms else None
                ),
            }
    return result


def slot_data(ctx: AssemblyContext, atoms: Mapping[str, Atom]) -> dict[str, Any]:
    """``slots`` as tokens see them at render time (``{{ slots.offer.code }}``): plain data.

    line -> ``{text}`` (flattened), markdown -> ``{text}`` (plain text), cta -> ``{label, url}``,
    image -> ``{src, alt, width}``, offer -> ``{code, headline, expires, terms}`` (``expires``
    an ISO date, for the ``date`` filter). Absent optional fields are left out.
    """
    data: dict[str, Any] = {}
    for slot, atom in sorted(atoms.items()):
        kind = ctx.slot_kind(slot)
        value: dict[str, Any]
        if kind is SlotKind.LINE:
            value = {"text": flatten(text_of(atom))}
        elif kind is SlotKind.MARKDOWN:
            value = {"text": block_text(text_of(atom), ctx.link_schemes)}
        elif atom.cta is not None:
            value = {"label": atom.cta.label, "url": atom.cta.url}
        elif atom.image is not None:
            src = asset_url(ctx.settings.brand, atom.image.src)
            value = {"src": src, "alt": atom.image.alt, "width": atom.image.width}
        elif atom.offer is not None:
            value = {
                "code": atom.offer.code,
                "headline": flatten(atom.offer.headline),
                # ISO text, not a date object: plain JSON, so the bundle stores it as it is
                # (the ``date`` filter reads both; printed bare it looks the same).
                "expires": atom.offer.expires.isoformat() if atom.offer.expires else None,
                "terms": flatten(atom.offer.terms) if atom.offer.terms else None,
            }
        else:
            continue
        data[slot] = {k: v for k, v in value.items() if v is not None}
    return data


def atom_sources(atom: Atom) -> list[str]:
    """Every text field of an atom that may hold tokens."""
    if atom.text is not None:
        return [atom.text]
    if atom.cta is not None:
        return [atom.cta.label, atom.cta.url]
    if atom.image is not None:
        return [atom.image.src, atom.image.alt]
    if atom.offer is not None:
        return [atom.offer.code, atom.offer.headline, atom.offer.terms or ""]
    return []


def required_paths(atoms: Mapping[str, Atom]) -> dict[str, frozenset[str]]:
    """Per atom id: the customer attributes its tokens use without a default."""
    result: dict[str, frozenset[str]] = {}
    for atom in sorted(atoms.values(), key=lambda a: a.id):
        paths: set[str] = set()
        for text in atom_sources(atom):
            paths |= required_customer_paths(text)
        result[atom.id] = frozenset(paths)
    return result


def new_vault(
    ctx: AssemblyContext,
    entry: LayoutEntry | None,
    atoms: Mapping[str, Atom],
    extra: Iterable[str] = (),
) -> TokenVault:
    """A vault whose placeholders occur in none of the message's sources (layout, brand,
    atoms and the ``extra`` static texts a channel adds, such as settings text)."""
    texts = [
        entry.template_source or "" if entry else "",
        json.dumps(ctx.brand, ensure_ascii=False),
    ]
    texts.extend(text for atom in atoms.values() for text in atom_sources(atom))
    texts.extend(extra)
    return TokenVault(texts)


def message_vars(ctx: AssemblyContext, resolution: Resolution) -> dict[str, Any]:
    """``message.*`` for layouts: journey, journey_name, step, step_name, channel, locale, lang."""
    key = resolution.key
    journey = ctx.library.journeys.get(key.journey)
    step = next((s for s in journey.steps if s.id == key.step), None) if journey else None
    return {
        "journey": key.journey,
        "journey_name": journey.name if journey else key.journey,
        "step": key.step,
        "step_name": (step.name or step.id) if step else key.step,
        "channel": key.channel,
        "locale": key.locale,
        "lang": resolution.language,
    }


def message_strings(ctx: AssemblyContext, resolution: Resolution) -> dict[str, str]:
    """``strings.*`` for layouts and the engine's own words: the strings catalogue in the
    message language (:func:`atomic_content.strings.strings_for`), ``{brand}`` replaced."""
    return strings_for(ctx.library, resolution.language)


def layout_entry(ctx: AssemblyContext, resolution: Resolution) -> LayoutEntry:
    """The resolution's layout; RenderError when it is missing or lacks a template it needs."""
    entry = ctx.library.layouts.get((resolution.key.channel, resolution.layout))
    if entry is None:
        raise RenderError(
            "render.unknown_layout",
            f"layout {resolution.key.channel}/{resolution.layout} does not exist",
        )
    return entry


def length_problems(
    size: int,
    *,
    what: str,
    code: str,
    unit: str = "characters",
    hard: int | None = None,
    recommended: int | None = None,
    shown: str = "",
    hard_code: str = "",
    slot: str | None = None,
) -> list[LimitProblem]:
    """The problem (at most one) of a length against a hard and a recommended limit.

    Over ``hard``: an error ``<code>_too_long`` (or ``hard_code``), "<what> is N <unit>; the
    limit is H". Else over ``recommended``: a warning ``<code>_long``, "<what> is N <unit>;
    <shown> about R" (``shown`` says who shows that much: "inboxes show", "phones show" ...).
    """
    if hard is not None and size > hard:
        return [
            LimitProblem(
                Severity.ERROR,
                hard_code or f"{code}_too_long",
                f"{what} is {size} {unit}; the limit is {hard}",
                slot,
            )
        ]
    if recommended is not None and size > recommended:
        return [
            LimitProblem(
                Severity.WARNING,
                f"{code}_long",
                f"{what} is {size} {unit}; {shown} about {recommended}",
                slot,
            )
        ]
    return []


def layout_template(ctx: AssemblyContext, resolution: Resolution) -> tuple[LayoutEntry, str]:
    """The resolution's layout and its template source; RenderError when it has none."""
    entry = layout_entry(ctx, resolution)
    if entry.template_source is None:
        raise RenderError(
            "render.layout_missing_template",
            f"{resolution.key.channel} layout {resolution.layout!r} has no template",
        )
    return entry, entry.template_source


def base_message(
    ctx: AssemblyContext, resolution: Resolution, parts: list[Part]
) -> AssembledMessage:
    """The AssembledMessage of a resolution with ``parts``."""
    atoms = resolution.atoms
    return AssembledMessage(
        key=resolution.key,
        audience_label=resolution.audience.label,
        layout=resolution.layout,
        atoms={slot: atom.id for slot, atom in sorted(atoms.items())},
        atom_hashes={
            atom.id: ctx.library.atom_hash(atom)
            for atom in sorted(atoms.values(), key=lambda a: a.id)
        },
        parts=tuple(parts),
        required_paths=required_paths(atoms),
        brand=ctx.brand,
        slot_data=slot_data(ctx, atoms),
    )


# --------------------------------------------------------------------------------------------
# The layout sandbox
# --------------------------------------------------------------------------------------------

MAX_LAYOUT_OUTPUT: Final = 2_000_000
"""Characters a layout may produce (the largest sane email is ~100 KB)."""
MAX_LAYOUT_STRING: Final = 1_000_000
"""Length of any string or list a layout builds with ``~``, ``+``, ``*`` or a filter."""
MAX_LAYOUT_STEPS: Final = 2_000_000
"""Template lines a layout may execute (loops count every iteration)."""
MAX_LAYOUT_SECONDS: Final = 5.0
"""Wall-clock time a layout may take to render."""

_LAYOUT_FILENAME: Final = "<atomic-layout>"
_LAYOUT_FILTERS: Final = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int",
        "join", "last", "length", "lower", "round", "string", "striptags", "title", "tojson",
        "trim", "truncate", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
_SAFE_STR_METHODS: Final = frozenset(
    {"startswith", "endswith", "lower", "upper", "strip", "lstrip", "rstrip", "split", "title"}
)
_SAFE_DICT_METHODS: Final = frozenset({"get", "items", "keys", "values"})
_FORBIDDEN_NODES: Final[dict[type[nodes.Node], str]] = {
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.AssignBlock: "set ... endset",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
    nodes.Block: "block",
}


class _LayoutLimit(Exception):
    """A layout went over one of its budgets (the message says which)."""


class SlotMap(dict[str, Any]):
    """The ``slots`` mapping a layout receives; a slot missing from it prints as nothing."""


class _LayoutUndefined(StrictUndefined):
    """Missing values are false in ``{% if %}`` (optional slots are absent:
    ``{% if slots.offer %}``) and print as nothing when they are a slot nothing filled
    (``{{ slots.preheader }}``); any other missing value (a typo in ``brand.nmae``, a field of
    an absent slot) fails loudly."""

    def __bool__(self) -> bool:  # type: ignore[override]
        return False

    def __str__(self) -> str:  # type: ignore[override]
        if isinstance(self._undefined_obj, SlotMap):
            return ""
        return super().__str__()


def _bounded(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_LAYOUT_STRING:
        raise _LayoutLimit(f"a value longer than {MAX_LAYOUT_STRING} characters was built")
    return value


class _LayoutCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` into a bounded join, so a layout cannot double a string into memory
    exhaustion."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")


class _LayoutSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed for layouts (see :func:`render_layout`)."""

    code_generator_class = _LayoutCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def bounded_concat(self, values: tuple[Any, ...], autoescape: bool) -> Any:
        return _bounded(markup_join(values) if autoescape else str_join(values))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator in ("*", "%", "**"):
            if not (_is_number(left) and _is_number(right)):
                raise SecurityError(f"{operator!r} works on numbers only in layouts")
            # Huge integers are computed in C, beyond the step budget's reach: bound them first.
            if operator == "**" and _bits(left) * min(abs(right), 1 << 20) > 4096:
                raise SecurityError("the result of '**' would be too large")
            if operator == "*" and _bits(left) + _bits(right) > 4096:
                raise SecurityError("the result of '*' would be too large")
        return _bounded(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Keys win over methods: a slot or brand field named "items" or "get" is the value,
        # not dict.items (Jinja's default looks up attributes first).
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def is_safe_callable(self, obj: Any) -> bool:
        if obj is self.globals.get("range"):
            return True
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", "")
        if isinstance(owner, str):
            return name in _SAFE_STR_METHODS
        if isinstance(owner, dict):
            return name in _SAFE_DICT_METHODS
        if isinstance(owner, LoopContext):
            return name in ("cycle", "changed")
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bits(value: Any) -> int:
    return abs(int(value)).bit_length() if isinstance(value, int) else 64


def _bounded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _bounded(func(*args, **kwargs))

    return wrapper


def _layout_environment() -> _LayoutSandbox:
    env = _LayoutSandbox(
        autoescape=True,
        undefined=_LayoutUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=0,
    )
    env.filters = {k: _bounded_filter(v) for k, v in env.filters.items() if k in _LAYOUT_FILTERS}
    env.tests = {
        k: v
        for k, v in env.tests.items()
        if k in {"defined", "undefined", "none", "number", "string", "mapping", "odd", "even"}
    }
    safe_range = env.globals["range"]
    env.globals.clear()
    env.globals["range"] = safe_range
    return env


_LAYOUT_ENV: Final = _layout_environment()


class _StepBudget:
    """Counts the lines a layout's compiled code executes; raises when a budget is spent.

    Jinja compiles a template to Python; ``sys.settrace`` sees every line of that code (and
    nothing else: other frames are not traced line by line), so a loop without output is
    stopped as surely as one with output. The previous trace function (a debugger, coverage)
    is restored afterwards.
    """

    def __init__(self, max_steps: int, seconds: float) -> None:
        self.max_steps = max_steps
        self.deadline = time.monotonic() + seconds
        self.steps = 0
        self._previous: Any = None

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == _LAYOUT_FILENAME:
            return self._local
        return None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.steps += 1
            if self.steps > self.max_steps:
                raise _LayoutLimit(f"the layout ran more than {self.max_steps} steps")
            if not self.steps % 4096 and time.monotonic() > self.deadline:
                raise _LayoutLimit("the layout took too long to render")
        return self._local

    def __enter__(self) -> _StepBudget:
        self._previous = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self._previous)


def _forbidden_statement(tree: nodes.Template) -> tuple[str, int] | None:
    """The first (by line) statement layouts may not use, as (keyword, line)."""
    found = [
        (node.lineno, keyword)
        for node_type, keyword in _FORBIDDEN_NODES.items()
        for node in tree.find_all(node_type)
    ]
    if not found:
        return None
    line, keyword = min(found)
    return keyword, line


@functools.lru_cache(maxsize=64)
def _compile_layout(source: str) -> Any:
    too_large = too_large_integer(source, _LAYOUT_ENV)
    if too_large is not None:  # parsing or compiling it would raise ValueError
        raise RenderError(
            "render.layout_invalid",
            f"line {too_large[0]}: {number_too_large_message()}",
            hint=NUMBER_TOO_LARGE_HINT,
        )
    try:
        tree = _LAYOUT_ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(
            "render.layout_invalid",
            f"line {exc.lineno}: {exc.message}",
            hint="fix the Jinja tag on this line",
        ) from None
    forbidden = _forbidden_statement(tree)
    if forbidden is not None:
        keyword, line = forbidden
        raise RenderError(
            "render.layout_not_allowed",
            f"line {line}: {{% {keyword} %}} is not allowed in layouts",
            hint="layouts may use {% if %}, {% for %} and {% set x = ... %}; write the markup out",
        )
    try:
        code = _LAYOUT_ENV.compile(tree, name="layout", filename=_LAYOUT_FILENAME)
    except TemplateSyntaxError as exc:  # an unknown filter or test outside {% if %}
        raise RenderError(
            "render.layout_invalid",
            f"line {exc.lineno}: {exc.message}",
            hint="use only the filters and tests listed in docs/format.md",
        ) from None
    return _LAYOUT_ENV.template_class.from_code(
        _LAYOUT_ENV, code, _LAYOUT_ENV.make_globals(None), None
    )


def render_layout(source: str, *, name: str, variables: Mapping[str, Any]) -> str:
    """Render a layout template at assembly time; no customer data is ever involved.

    The sandbox is Jinja's immutable sandbox with autoescape, plus: only the filters in
    ``_LAYOUT_FILTERS``; no globals but ``range`` (at most 100 000 items); calls only to a few
    harmless string and dict methods and ``loop.cycle``; ``*``, ``%`` and ``**`` on small numbers
    only; every string or list built at most :data:`MAX_LAYOUT_STRING` long; no macros, includes,
    imports, blocks or ``{% set %}`` blocks; at most :data:`MAX_LAYOUT_OUTPUT` characters,
    :data:`MAX_LAYOUT_STEPS` executed lines and :data:`MAX_LAYOUT_SECONDS` seconds.

    Raises RenderError (``render.layout_*``) naming the layout ``name`` for every violation.
    """
    template = _compile_layout(source)
    variables = {**variables, "slots": SlotMap(variables.get("slots", {}))}
    pieces: list[str] = []
    total = 0
    try:
        with _StepBudget(MAX_LAYOUT_STEPS, MAX_LAYOUT_SECONDS):
            for chunk in template.generate(variables):
                total += len(chunk)
                if total > MAX_LAYOUT_OUTPUT:
                    raise _LayoutLimit(
                        f"the layout produced more than {MAX_LAYOUT_OUTPUT} characters"
                    )
                pieces.append(chunk)
    except RenderError:
        raise
    except _LayoutLimit as exc:
        raise RenderError(
            "render.layout_too_expensive", f"{name}: {exc}", hint="remove loops from the layout"
        ) from None
    except SecurityError as exc:
        # Object reprs carry memory addresses; drop them so messages are reproducible.
        reason = re.sub(r" at 0x[0-9a-fA-F]+", "", str(exc))
        raise RenderError(
            "render.layout_security",
            f"{name}: the layout tried something the sandbox does not allow ({reason})",
            hint="layouts may only show slots, brand and message values",
        ) from None
    except UndefinedError as exc:
        raise RenderError(
            "render.layout_undefined",
            f"{name}: {exc.message}",
            hint="check the name against the layout contract in docs/format.md; wrap optional "
            "slots in {% if slots.<name> %}",
        ) from None
    except TemplateError as exc:
        raise RenderError("render.layout_invalid", f"{name}: {exc.message}") from None
    except (ArithmeticError, MemoryError, RecursionError, ValueError, TypeError) as exc:
        raise RenderError(
            "render.layout_failed", f"{name}: rendering failed ({type(exc).__name__}: {exc})"
        ) from None
    return "".join(pieces)


# --------------------------------------------------------------------------------------------
# Reading rendered HTML back (for previews and checks)
# --------------------------------------------------------------------------------------------


@dataclass
class HtmlOutline:
    """What a reader sees of an HTML document: title, metadata, headings, links, images."""

    lang: str | None = None
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    headings: list[tuple[int, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    images: list[tuple[str, str | None]] = field(default_factory=list)
    scripts: list[str | None] = field(default_factory=list)
    stylesheets: list[str] = field(default_factory=list)
    hidden_text: list[str] = field(default_factory=list)


class _OutlineParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = HtmlOutline()
        self._capture: list[str] | None = None
        self._capture_tag: str | None = None
        self._link: tuple[str, list[str]] | None = None
        self._hidden_depth = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        outline = self.outline
        if tag == "html" and outline.lang is None:
            outline.lang = values.get("lang")
        elif tag == "meta":
            key = values.get("name") or values.get("property")
            if key:
                outline.meta[key] = values.get("content", "")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            outline.images.append((values.get("src", ""), alt))
            if self._link is not None and alt:
                self._link[1].append(alt)
        elif tag == "script":
            outline.scripts.append(values.get("src") or None)
        elif tag == "link" and "stylesheet" in values.get("rel", "").lower():
            outline.stylesheets.append(values.get("href", ""))
        elif tag == "a" and "href" in values:
            self._link = (values["href"], [])
        if tag in ("title", "h1", "h2", "h3", "h4", "h5", "h6"):
            self._capture, self._capture_tag = [], tag
        if (
            tag == "div"
            and not self._hidden_depth
            and "display:none" in values.get("style", "").replace(" ", "")
            and values.get("aria-hidden") != "true"  # filler, not text (the preheader's)
        ):
            self._hidden_depth = 1
            outline.hidden_text.append("")
        elif self._hidden_depth and tag == "div":
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == self._capture_tag and self._capture is not None:
            text = " ".join("".join(self._capture).split())
            if tag == "title":
                self.outline.title = text
            else:
                self.outline.headings.append((int(tag[1]), text))
            self._capture = self._capture_tag = None
        if tag == "a" and self._link is not None:
            href, words = self._link
            self.outline.links.append((" ".join("".join(words).split()), href))
            self._link = None
        if tag == "div" and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._capture.append(data)
        if self._link is not None:
            self._link[1].append(data)
        if self._hidden_depth:
            self.outline.hidden_text[-1] += data


def outline_html(document: str) -> HtmlOutline:
    """The :class:`HtmlOutline` of a document (never raises for bad HTML)."""
    parser = _OutlineParser()
    parser.feed(document)
    parser.close()
    return parser.outline


def unescape(text: str) -> str:
    """HTML entities resolved (for measuring text taken from HTML)."""
    return html.unescape(text)
