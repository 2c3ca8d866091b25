"""Cross-file validation: references, conditions, tokens, Markdown, customers, reachability.

:func:`static_check` loads the tree (:func:`atomic_content.repository.load_files`) and checks
everything that needs more than one file. :func:`check_content` is the whole ``atomic validate``
stage: the static checks, then the plan and the render stage of :mod:`atomic_content.pipeline`,
so it reports everything the build would reject. Both return the library and *all* diagnostics;
neither raises for bad content.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .assets import asset_files, is_asset
from .collector import long_lived
from .conditions import check_condition
from .contrast import contrast_problems
from .customers import Position, customer_diagnostics
from .dates import iso_date, iso_datetime
from .errors import ContentError, Diagnostic, Diagnostics, Severity, did_you_mean
from .hashing import canonical_json, sha256_hex
from .hygiene import check_text_hygiene, document_hygiene, template_hygiene
from .inputs import Listing
from .markdown import lint_markdown
from .models import (
    GENERIC,
    Atom,
    AttributeType,
    Journey,
    RuleLevel,
    Settings,
    SlotKind,
    channel_registry,
)
from .records import inspect_record, type_hint
from .repository import Library, LoadCache, diagnostic_order, load_files, share_load_work
from .segments import lookup
from .strings import PLACEHOLDERS, missing_keys, placeholder_problems
from .tokens import AttributeInfo, lint_template
from .yamlio import Loc, YamlDocument

BRAND_FIELDS = frozenset(
    {
        "name",
        "sender",
        "reply_to",
        "base_url",
        "deep_link_scheme",
        "logo",
        "address",
        "unsubscribe",
        "colors",
    }
)
SLOT_FIELDS: dict[SlotKind, frozenset[str]] = {
    SlotKind.LINE: frozenset({"text"}),
    SlotKind.MARKDOWN: frozenset({"text"}),
    SlotKind.CTA: frozenset({"label", "url"}),
    SlotKind.IMAGE: frozenset({"src", "alt", "width"}),
    SlotKind.OFFER: frozenset({"code", "headline", "expires", "terms"}),
}
# Slot fields that atom tokens may read (`{{ slots.offer.code }}` in a body). Slot values reach
# tokens as data, so a field that may hold tokens itself would print them as written: offer.code
# is therefore plain text (no tokens); cta.label, image.alt and the texts are token templates,
# rendered wherever they are shown, and cannot be read from another atom.
PLAIN_FIELDS: dict[SlotKind, frozenset[str]] = {
    SlotKind.IMAGE: frozenset({"width"}),
    SlotKind.OFFER: frozenset({"code", "expires"}),
}
_NO_TOKENS: frozenset[Loc] = frozenset({("offer", "code")})
_TOKEN_OPENER = re.compile(r"\{[{%#]")
CONTENT_KEY = {
    SlotKind.LINE: "text",
    SlotKind.MARKDOWN: "text",
    SlotKind.CTA: "cta",
    SlotKind.IMAGE: "image",
    SlotKind.OFFER: "offer",
}


def attribute_infos(library: Library) -> dict[str, AttributeInfo]:
    """Declared attributes as the token linter wants them."""
    if library.profile is None:
        return {}
    profile = library.profile
    # An attribute that needs a consent purpose is absent for customers who did not give it,
    # so a token reading it needs a default, exactly like an optional attribute.
    return {
        name: AttributeInfo(
            type=spec.type.value, optional=spec.optional or bool(profile.purposes_of(name))
        )
        for name, spec in profile.attributes.items()
    }


def link_schemes(library: Library) -> frozenset[str]:
    """Link schemes allowed in content: https, mailto and the brand's deep-link scheme."""
    schemes = {"https", "mailto"}
    if library.settings is not None and library.settings.brand.deep_link_scheme:
        schemes.add(library.settings.brand.deep_link_scheme)
    return frozenset(schemes)


def scalar_position(
    doc: YamlDocument, loc: Loc, inner_line: int, inner_col: int
) -> tuple[int, int]:
    """Map a (line, col) inside a YAML string value to the file's line and column.

    Handles block scalars (``|``/``>``: the text starts on the next line, at its indentation),
    quoted and plain scalars. Best effort for folded text, exact for the common cases.
    """
    line, col = doc.position(loc)
    source = doc.lines[line - 1] if 0 < line <= len(doc.lines) else ""
    first = source[col - 1 : col]
    if first in ("|", ">"):
        target = line + inner_line
        text_line = doc.lines[target - 1] if 0 < target <= len(doc.lines) else ""
        indent = len(text_line) - len(text_line.lstrip(" "))
        return target, indent + inner_col
    if inner_line <= 1:
        return line, col + (1 if first in ("'", '"') else 0) + inner_col - 1
    return line + inner_line - 1, inner_col


class _Validator:
    def __init__(self, library: Library, diagnostics: Diagnostics) -> None:
        self.lib = library
        self.d = diagnostics
        self.attrs = attribute_infos(library)
        self.attr_types = {name: info.type for name, info in self.attrs.items()}
        settings = library.settings
        self.slots = dict(settings.slots) if settings else {}
        self.channels = settings.channels.enabled() if settings else []
        self.locales = sorted(settings.locales) if settings else []
        self.assets: list[str] | None = None
        # Segments whose condition has errors (check_segments): what they guarantee about a
        # customer is unknown until fixed, so nothing else is judged by it.
        self.unsound_segments: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    def err(
        self,
        kind: str,
        item_id: str,
        loc: Loc,
        code: str,
        message: str,
        hint: str,
        *,
        key: bool = False,
    ) -> None:
        path, line, col = self.lib.position(kind, item_id, loc, key=key)
        self.d.error(path, line, col, code, message, hint)

    def warn(self, kind: str, item_id: str, loc: Loc, code: str, message: str, hint: str) -> None:
        path, line, col = self.lib.position(kind, item_id, loc)
        self.d.warning(path, line, col, code, message, hint)

    def unknown(
        self,
        kind: str,
        item_id: str,
        loc: Loc,
        what: str,
        name: str,
        known: Iterable[str],
        code: str,
        *,
        key: bool = False,
    ) -> None:
        if self.lib.is_broken(what, name):
            return  # the file exists but did not load: its own errors say why, once
        known = sorted(known)
        suggestion = did_you_mean(name, known)
        listing = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + ", ..."
        hint = (
            suggestion
            + (" " if suggestion else "")
            + (f"known {what}s: {listing}" if known else f"no {what}s are defined")
        )
        if what == "segment" and name == GENERIC:
            hint = (
                f"{GENERIC!r} is no segment but the audience of customers in none: every "
                "journey builds its message, from atoms without `segments:` (leave the key "
                f"out); {hint}"
            )
        self.err(
            kind, item_id, loc, f"ref.unknown_{what}", f"unknown {what} {name!r}", hint, key=key
        )

    # -- settings and profile --------------------------------------------------------------
    def check_settings(self) -> None:
        settings = self.lib.settings
        if settings is None:
            return
        if settings.default_locale not in settings.locales:
            self.unknown(
                "settings",
                "settings",
                ("default_locale",),
                "locale",
                settings.default_locale,
                settings.locales,
                "ref.unknown_locale",
            )
        for code, spec in settings.locales.items():
            if spec.fallback is not None and spec.fallback not in settings.locales:
                self.unknown(
                    "settings",
                    "settings",
                    ("locales", code, "fallback"),
                    "locale",
                    spec.fallback,
                    settings.locales,
                    "ref.unknown_locale",
                )
            chain = self.lib.locale_chain(code)
            last = settings.locales.get(chain[-1])
            if last is not None and last.fallback is not None and last.fallback in chain:
                self.err(
                    "settings",
                    "settings",
                    ("locales", code, "fallback"),
                    "settings.fallback_cycle",
                    f"the fallback chain of {code!r} loops: {' -> '.join([*chain, last.fallback])}",
                    "make the chain end at a locale without `fallback`",
                )
        self.check_contrast(settings)
        logo = settings.brand.logo
        if logo is not None and is_asset(logo.src):
            self.check_asset("settings", "settings", ("brand", "logo", "src"), logo.src)
        if not self.channels:
            self.err(
                "settings",
                "settings",
                ("channels",),
                "settings.no_channels",
                "no channel is enabled",
                f"add at least one of {', '.join(channel_registry())} under `channels:`",
            )

    def check_asset(self, kind: str, item_id: str, loc: Loc, src: str) -> None:
        """An asset path must name a file under the content root's assets/ folder."""
        if self.assets is None:
            self.assets = sorted(asset_files(self.lib.root)) if self.lib.root else []
        if src not in self.assets:
            self.unknown(kind, item_id, loc, "asset", src, self.assets, "ref.unknown_asset")

    def check_strings(self) -> None:
        """The strings catalogue: every key resolves for every locale (``strings.missing``,
        at the locale in atomic.yaml), files name a configured locale, placeholders are
        allowed ones (``strings.placeholder``)."""
        settings = self.lib.settings
        if settings is None:
            return
        for locale in sorted(self.lib.strings):
            if locale not in settings.locales:
                self.unknown(
                    "strings", locale, ("id",), "locale", locale, settings.locales, "locale"
                )
            for key, name in placeholder_problems(self.lib.strings[locale]):
                allowed = sorted(PLACEHOLDERS.get(key, ()))
                self.err(
                    "strings",
                    locale,
                    (key,),
                    "strings.placeholder",
                    f"{key} may not use {{{name}}}",
                    "placeholders of this string: "
                    + (", ".join(f"{{{a}}}" for a in allowed) if allowed else "none")
                    + "; write the text itself",
                )
        for locale in sorted(settings.locales):
            chain = self.lib.locale_chain(locale)
            if any(self.lib.is_broken("strings", code) for code in chain):
                continue  # a catalogue on its chain did not load: its own errors say why
            missing = missing_keys(self.lib, locale)
            if missing:
                self.err(
                    "settings",
                    "settings",
                    ("locales", locale),
                    "strings.missing",
                    f"locale {locale!r} has no string for {', '.join(missing)} "
                    f"(looked in {' -> '.join(chain)})",
                    f"add them to strings/{locale}.yaml, or give {locale!r} a `fallback` "
                    "locale that has them (built in: en, de, fr)",
                )

    def check_contrast(self, settings: Settings) -> None:
        """Brand colour pairs below WCAG AA (``a11y.contrast``, level ``governance.contrast``)."""
        level = settings.governance.contrast
        if level is RuleLevel.OFF:
            return
        report = self.err if level is RuleLevel.ERROR else self.warn
        for problem in contrast_problems(settings.brand.colors):
            report(
                "settings", "settings", problem.loc, "a11y.contrast", problem.message, problem.hint
            )

    def check_profile(self) -> None:
        profile = self.lib.profile
        if profile is None:
            return
        for field_name in (
            "id_attribute",
            "locale_attribute",
            "consent_attribute",
            "email_attribute",
        ):
            value = getattr(profile, field_name)
            if value is not None and value not in profile.attributes:
                self.unknown(
                    "profile",
                    "profile",
                    (field_name,),
                    "attribute",
                    value,
                    profile.attributes,
                    "ref.unknown_attribute",
                )
        if (
            profile.consent_attribute in profile.attributes
            and profile.attributes[profile.consent_attribute].type is not AttributeType.BOOLEAN
        ):
            self.err(
                "profile",
                "profile",
                ("consent_attribute",),
                "profile.consent_not_boolean",
                f"consent attribute {profile.consent_attribute!r} must have type boolean",
                "declare it with `type: boolean` (false = the customer refused personalization)",
            )
        self.check_consents()
        if (
            profile.email_attribute in profile.attributes
            and profile.attributes[profile.email_attribute].type is not AttributeType.STRING
        ):
            self.err(
                "profile",
                "profile",
                ("email_attribute",),
                "profile.email_not_string",
                f"email attribute {profile.email_attribute!r} must have type string",
                "declare it with `type: string` (one address such as ada@example.com)",
            )
        names = set(profile.attributes)
        for name, spec in profile.attributes.items():
            parts = name.split(".")
            for i in range(1, len(parts)):
                prefix = ".".join(parts[:i])
                if prefix in names:
                    self.err(
                        "profile",
                        "profile",
                        ("attributes", name),
                        "profile.path_conflict",
                        f"{name!r} lies inside {prefix!r}, which is itself an attribute",
                        f"declare either {prefix!r} or its parts, not both",
                    )
            if spec.example is not None and not value_matches(spec.type, spec.example):
                self.err(
                    "profile",
                    "profile",
                    ("attributes", name, "example"),
                    "profile.example_type",
                    f"example of {name!r} is not a {spec.type.value}",
                    f"give an example {spec.type.value} value: {type_hint(spec.type)}",
                )

    def check_consents(self) -> None:
        """Consent attributes exist and are booleans; every purpose named (by an attribute or
        a channel) has a consent attribute."""
        profile = self.lib.profile
        assert profile is not None
        for purpose, attribute in profile.consents.items():
            spec = profile.attributes.get(attribute)
            if spec is None:
                self.unknown(
                    "profile",
                    "profile",
                    ("consents", purpose),
                    "attribute",
                    attribute,
                    profile.attributes,
                    "ref.unknown_attribute",
                )
            elif spec.type is not AttributeType.BOOLEAN:
                self.err(
                    "profile",
                    "profile",
                    ("consents", purpose),
                    "profile.consent_not_boolean",
                    f"consent attribute {attribute!r} must have type boolean",
                    "declare it with `type: boolean` (true = the customer gave this consent)",
                )
        known = profile.consent_attributes
        hint = (
            f"purposes with a consent attribute: {', '.join(known)}"
            if known
            else "name where the consent lives under `consents:` in profile.yaml"
        )
        for name, spec in profile.attributes.items():
            for index, purpose in enumerate(spec.purposes or []):
                if purpose not in known:
                    self.err(
                        "profile",
                        "profile",
                        ("attributes", name, "purposes", index),
                        "privacy.unknown_purpose",
                        f"purpose {purpose!r} of {name} has no consent attribute",
                        hint,
                    )
        settings = self.lib.settings
        if settings is None:
            return
        from .privacy import channel_privacy

        for channel in self.channels:
            needed = channel_privacy(settings, channel).purpose
            if needed is not None and needed not in known:
                self.err(
                    "settings",
                    "settings",
                    ("channels", channel, "purpose"),
                    "privacy.unknown_purpose",
                    f"purpose {needed!r} of channel {channel} has no consent attribute",
                    hint,
                )

    # -- segments and conditions -----------------------------------------------------------
    def check_condition(self, kind: str, item_id: str, base: Loc, condition: Any) -> bool:
        """Report the problems of ``condition`` (at ``base`` in the item's file); True when it
        has none."""
        problems = check_condition(condition, self.attr_types)
        for problem in problems:
            self.err(
                kind,
                item_id,
                (*base, *problem.loc),
                problem.code,
                problem.message,
                problem.hint,
                key=problem.code in ("condition.unknown_operator", "condition.unknown_attribute"),
            )
        return not problems

    def check_segments(self) -> None:
        for seg in self.lib.segments.values():
            if not self.check_condition("segment", seg.id, ("condition",), seg.condition):
                self.unsound_segments.add(seg.id)

    # -- atoms -----------------------------------------------------------------------------
    def check_atom(self, atom: Atom) -> None:
        spec = self.slots.get(atom.slot)
        if spec is None:
            self.unknown(
                "atom", atom.id, ("slot",), "slot", atom.slot, self.slots, "ref.unknown_slot"
            )
        else:
            expected = CONTENT_KEY[spec.kind]
            if atom.content_field != expected:
                self.err(
                    "atom",
                    atom.id,
                    (atom.content_field,),
                    "atom.wrong_content",
                    f"slot {atom.slot!r} is a {spec.kind.value} slot and takes `{expected}:`, "
                    f"not `{atom.content_field}:`",
                    f"rename `{atom.content_field}:` to `{expected}:` "
                    "(see docs/format.md, slot kinds)",
                    key=True,
                )
            elif spec.kind is SlotKind.LINE and atom.text is not None and "\n" in atom.text.strip():
                self.err(
                    "atom",
                    atom.id,
                    ("text",),
                    "atom.multiline",
                    f"slot {atom.slot!r} takes one line of text",
                    "remove the line breaks or use a markdown slot such as body",
                )
        for index, seg in enumerate(atom.segments or []):
            if seg not in self.lib.segments:
                self.unknown(
                    "atom",
                    atom.id,
                    ("segments", index),
                    "segment",
                    seg,
                    self.lib.segments,
                    "ref.unknown_segment",
                )
        for index, channel in enumerate(atom.channels or []):
            if channel not in self.channels:
                self.unknown(
                    "atom",
                    atom.id,
                    ("channels", index),
                    "channel",
                    channel,
                    self.channels,
                    "ref.unknown_channel",
                )
        if (
            atom.locale is not None
            and self.lib.settings
            and atom.locale not in self.lib.settings.locales
        ):
            self.unknown(
                "atom",
                atom.id,
                ("locale",),
                "locale",
                atom.locale,
                self.locales,
                "ref.unknown_locale",
            )
        for index, ref in enumerate(atom.journeys or []):
            journey_id, _, step_id = ref.partition("/")
            journey = self.lib.journeys.get(journey_id)
            if journey is None:
                self.unknown(
                    "atom",
                    atom.id,
                    ("journeys", index),
                    "journey",
                    journey_id,
                    self.lib.journeys,
                    "ref.unknown_journey",
                )
            elif step_id and step_id not in {s.id for s in journey.steps}:
                self.unknown(
                    "atom",
                    atom.id,
                    ("journeys", index),
                    "step",
                    step_id,
                    [s.id for s in journey.steps],
                    "ref.unknown_step",
                )
        self.check_atom_texts(atom)

    def atom_texts(self, atom: Atom) -> Iterable[tuple[Loc, str, bool]]:
        """(loc, text, is_markdown) of every text field of an atom that may hold tokens."""
        if atom.text is not None:
            spec = self.slots.get(atom.slot)
            yield (
                ("text",),
                atom.text,
                bool(spec and spec.kind in (SlotKind.MARKDOWN, SlotKind.LINE)),
            )
        if atom.cta is not None:
            yield ("cta", "label"), atom.cta.label, False
            yield ("cta", "url"), atom.cta.url, False
        if atom.image is not None:
            yield ("image", "src"), atom.image.src, False
            yield ("image", "alt"), atom.image.alt, False
        if atom.offer is not None:
            yield ("offer", "code"), atom.offer.code, False
            yield ("offer", "headline"), atom.offer.headline, True
            if atom.offer.terms is not None:
                yield ("offer", "terms"), atom.offer.terms, True

    def atom_attributes(self, atom: Atom) -> dict[str, AttributeInfo]:
        """The attributes as the token lint sees them in ``atom``: an attribute that needs a
        consent purpose needs a default (it is absent without the consent), unless every
        segment the atom targets reads attributes needing that purpose too (a customer in
        the segment gave it).

        A targeted segment that cannot be judged — unknown, in a file that did not load, or
        with errors in its condition — is taken to give every purpose: its own error is the
        one to fix, and what it guarantees is known only then (one mistake, one error; no
        ``token.missing_default`` in every atom that targets it)."""
        profile = self.lib.profile
        if profile is None or not atom.segments:
            return self.attrs
        from .privacy import condition_attributes, consent_policy

        policy = consent_policy(profile)
        covered: frozenset[str] | None = None
        for seg_id in atom.segments:
            segment = self.lib.segments.get(seg_id)
            if segment is None or seg_id in self.unsound_segments:
                purposes = policy.purposes(profile.attributes)
            else:
                reads = condition_attributes(segment.condition, profile.attributes)
                purposes = policy.purposes(reads)
            covered = purposes if covered is None else covered & purposes
        if not covered:
            return self.attrs
        return {
            name: AttributeInfo(
                type=info.type,
                optional=profile.attributes[name].optional
                or not profile.purposes_of(name) <= covered,
            )
            for name, info in self.attrs.items()
        }

    def check_atom_texts(self, atom: Atom) -> None:
        doc = self.lib.document("atom", atom.id)
        if doc is None:
            return
        slot_fields = {name: SLOT_FIELDS[spec.kind] for name, spec in self.slots.items()}
        readable = {
            name: PLAIN_FIELDS.get(spec.kind, frozenset()) for name, spec in self.slots.items()
        }
        schemes = link_schemes(self.lib)
        attrs = self.atom_attributes(atom)
        for loc, text, is_markdown in self.atom_texts(atom):
            if not text.strip():
                line, col = doc.position(loc)
                self.d.error(
                    doc.path,
                    line,
                    col,
                    "content.empty",
                    f"{'.'.join(map(str, loc))} is empty",
                    "write the text, or delete the atom if it is not needed",
                )
                continue
            opener = _TOKEN_OPENER.search(text)
            if opener is not None and loc in _NO_TOKENS:
                before = text[: opener.start()]
                line, col = scalar_position(
                    doc, loc, before.count("\n") + 1, opener.start() - before.rfind("\n")
                )
                self.d.error(
                    doc.path,
                    line,
                    col,
                    "atom.token_not_allowed",
                    f"{'.'.join(map(str, loc))} is plain text and cannot hold tokens",
                    "write the code itself, e.g. VIP20; other atoms show it with "
                    "{{ slots.offer.code }}, which prints this field as written"
                    if "slots" in text[opener.start() :]
                    else "write the code itself, e.g. VIP20; personalize the headline, terms or "
                    "body instead",
                )
                continue
            for problem in lint_template(
                text,
                attrs,
                brand_fields=BRAND_FIELDS,
                slot_fields=slot_fields,
                readable_slot_fields=readable,
            ):
                line, col = scalar_position(doc, loc, problem.line, problem.col)
                self.d.error(doc.path, line, col, problem.code, problem.message, problem.hint)
            if is_markdown:
                for md in lint_markdown(text, link_schemes=schemes):
                    line, col = scalar_position(doc, loc, md.line, md.col)
                    self.d.error(doc.path, line, col, md.code, md.message, md.hint)
        url = atom.cta.url if atom.cta else (atom.image.src if atom.image else None)
        if atom.image is not None and is_asset(atom.image.src):
            self.check_asset("atom", atom.id, ("image", "src"), atom.image.src)
        elif url is not None:
            loc = ("cta", "url") if atom.cta else ("image", "src")
            allowed = schemes if atom.cta else frozenset({"https"})
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme not in allowed or url.lstrip().startswith("{"):
                line, col = doc.position(loc)
                self.d.error(
                    doc.path,
                    line,
                    col,
                    "atom.url_scheme",
                    f"{'.'.join(loc)} must start with one of: "
                    + ", ".join(sorted(s + ":" for s in allowed)),
                    "write the full address, e.g. https://www.example.com/page",
                )

    # -- journeys and layouts --------------------------------------------------------------
    def check_journey(self, journey: Journey) -> None:
        if journey.audience is not None:
            self.check_condition("journey", journey.id, ("audience",), journey.audience)
        for index, seg in enumerate(journey.segments or []):
            if seg not in self.lib.segments:
                self.unknown(
                    "journey",
                    journey.id,
                    ("segments", index),
                    "segment",
                    seg,
                    self.lib.segments,
                    "ref.unknown_segment",
                )
        for index, locale in enumerate(journey.locales or []):
            if self.lib.settings and locale not in self.lib.settings.locales:
                self.unknown(
                    "journey",
                    journey.id,
                    ("locales", index),
                    "locale",
                    locale,
                    self.locales,
                    "ref.unknown_locale",
                )
        seen: set[str] = set()
        for s_index, step in enumerate(journey.steps):
            if step.id in seen:
                self.err(
                    "journey",
                    journey.id,
                    ("steps", s_index, "id"),
                    "journey.duplicate_step",
                    f"step id {step.id!r} appears twice",
                    "give every step its own id",
                )
            seen.add(step.id)
            for channel, layout_id in step.channels.items():
                loc: Loc = ("steps", s_index, "channels", channel)
                if channel not in self.channels:
                    self.err(
                        "journey",
                        journey.id,
                        loc,
                        "ref.unknown_channel",
                        f"unknown channel {channel!r}",
                        (did_you_mean(channel, self.channels) + " ").lstrip()
                        + f"enabled channels: {', '.join(self.channels)}",
                        key=True,
                    )
                    continue
                if (channel, layout_id) not in self.lib.layouts:
                    if self.lib.is_broken("layout", f"{channel}/{layout_id}"):
                        continue  # the layout file did not load: its own errors say why
                    known = [lid for (ch, lid) in self.lib.layouts if ch == channel]
                    suggestion = did_you_mean(layout_id, known)
                    self.err(
                        "journey",
                        journey.id,
                        loc,
                        "ref.unknown_layout",
                        f"step {step.id!r} uses layout {layout_id!r}, "
                        f"which is not in layouts/{channel}/",
                        (suggestion + " " if suggestion else "")
                        + (
                            f"layouts for {channel}: {', '.join(sorted(known))}"
                            if known
                            else f"create layouts/{channel}/{layout_id}.yaml"
                        ),
                    )

    def check_layouts(self) -> None:
        # Imported here: layout_lint uses the renderer's sandbox, and the channels import this
        # module.
        from .layout_lint import lint_layout

        slot_kinds = {slot: spec.kind for slot, spec in self.slots.items()}
        registry = channel_registry()
        for (channel, layout_id), entry in self.lib.layouts.items():
            key = f"{channel}/{layout_id}"
            for slot in entry.layout.slots:
                if slot not in self.slots:
                    self.unknown(
                        "layout", key, ("slots", slot), "slot", slot, self.slots, "ref.unknown_slot"
                    )
            if entry.template_source is not None and entry.template_path is not None:
                self.d.extend(lint_layout(entry, slot_kinds))
            for problem in registry[channel].check_layout(entry):
                if problem.where == "template":
                    path, line, col = entry.template_path or "", problem.line, 1
                else:
                    path, line, col = self.lib.position("layout", key, problem.loc)
                add = self.d.error if problem.severity is Severity.ERROR else self.d.warning
                add(path, line, col, problem.code, problem.message, problem.hint)

    # -- customers -------------------------------------------------------------------------
    def customer_position(self, customer_id: str) -> Position:
        def position(loc: Loc, at_key: bool) -> tuple[int, int]:
            _path, line, col = self.lib.position("customer", customer_id, loc, key=at_key)
            return line, col

        return position

    def check_customers(self) -> None:
        """Every sample customer through the one record check (:mod:`atomic_content.records`),
        plus its locale against the settings."""
        profile = self.lib.profile
        if profile is None:
            return
        for customer in self.lib.customers.values():
            _record, problems = inspect_record(
                customer.attributes, profile, where=f"customer {customer.id!r}"
            )
            path = self.lib.paths.get(("customer", customer.id), "")
            position = self.customer_position(customer.id)
            self.d.extend(customer_diagnostics(problems, path, position, ("attributes",)))
            locale_attr = profile.locale_attribute
            if locale_attr and self.lib.settings:
                _found, value = lookup(customer.attributes, locale_attr)
                if isinstance(value, str) and value not in self.lib.settings.locales:
                    # The value is customer data: named by attribute, never quoted.
                    path, line, col = self.lib.position(
                        "customer", customer.id, ("attributes", *locale_attr.split("."))
                    )
                    self.d.add(
                        Diagnostic(
                            path,
                            line,
                            col,
                            Severity.ERROR,
                            "ref.unknown_locale",
                            f"the customer's {locale_attr} is not one of the configured locales",
                            f"use one of: {', '.join(self.locales)}",
                            personal=True,
                        )
                    )

    # -- reachability ----------------------------------------------------------------------
    def check_unused_atoms(self, context: str = "") -> None:
        """``atom.unused`` for every atom no journey can use. With a load cache an atom whose
        file and ``context`` (:func:`atom_context`) are those of an earlier run reuses that
        run's finding: whether one atom is usable depends on its own file and on the files
        ``context`` names, never on the other atoms."""
        settings = self.lib.settings
        if settings is None:
            return
        cache = self.lib.load_cache
        diagnostics = self.d
        found: dict[str, list[Diagnostic]] = {}
        todo: list[Atom] = []
        atoms = self.lib.atoms.values()
        for atom, cached in zip(atoms, cached_checks(self.lib, "unused", context), strict=True):
            if cached is not None:
                found[atom.id] = cached
            else:
                todo.append(atom)
        # One atom at a time when few changed; else all at once (faster for many).
        reachable = usable_atoms(self.lib) if len(todo) > 100 else None
        for atom in todo:
            own = Diagnostics()
            self.d = own
            try:
                usable = atom.id in reachable if reachable is not None else None
                self.report_unused(atom, atom_usable(self.lib, atom) if usable is None else usable)
            finally:
                self.d = diagnostics
            found[atom.id] = list(own)
            if cache is not None:
                path = self.lib.paths.get(("atom", atom.id), "")
                digest = self.lib.file_hashes.get(path, "")
                cache.store_check("unused", path, digest, context, found[atom.id])
        for atom_id in self.lib.atoms:
            diagnostics.extend(found[atom_id])

    def report_unused(self, atom: Atom, usable: bool) -> None:
        if atom.status.value == "retired" or usable:
            return
        self.warn(
            "atom",
            atom.id,
            ("slot",),
            "atom.unused",
            f"no journey can use atom {atom.id!r}",
            "check its slot, channels, journeys, segments and locale against the journeys "
            "and their layouts",
        )


def cached_checks(library: Library, section: str, context: str) -> list[list[Diagnostic] | None]:
    """The cached results of a per-atom check (``section`` of ``library.load_cache``) for each
    atom in order; None where there are none (or no cache)."""
    cache = library.load_cache
    if cache is None:
        return [None] * len(library.atoms)
    paths, hashes = library.paths, library.file_hashes
    files = []
    for atom_id in library.atoms:
        path = paths.get(("atom", atom_id), "")
        files.append((path, hashes.get(path, "")))
    return cache.checked_files(section, files, context)


def atom_usable(library: Library, atom: Atom) -> bool:
    """Whether ``atom`` is among :func:`usable_atoms` (the same test, for one atom)."""
    settings = library.settings
    if settings is None:
        return False
    default = settings.default_locale
    for journey in library.journeys.values():
        if (
            atom.journeys is not None
            and journey.id not in atom.journeys
            and not any(f"{journey.id}/{step.id}" in atom.journeys for step in journey.steps)
        ):
            continue
        chains = {
            loc for code in journey.locales_in(settings) for loc in library.locale_chain(code)
        }
        if (atom.locale or default) not in chains:
            continue
        segments = set(journey.segments) if journey.segments is not None else set(library.segments)
        if atom.segments is not None and not (set(atom.segments) & segments):
            continue
        for step in journey.steps:
            if (
                atom.journeys is not None
                and journey.id not in atom.journeys
                and f"{journey.id}/{step.id}" not in atom.journeys
            ):
                continue
            for channel, layout_id in step.channels.items():
                entry = library.layouts.get((channel, layout_id))
                if entry is None or atom.slot not in entry.layout.slots:
                    continue
                if atom.channels is not None and channel not in atom.channels:
                    continue
                return True
    return False


def usable_atoms(library: Library) -> set[str]:
    """Ids of the atoms some journey step could use: slot in the step's layout, channel,
    journey scope, a locale on a journey locale's chain and (for targeted atoms) a segment the
    journey personalizes for. Status and dates are not considered."""
    settings = library.settings
    if settings is None:
        return set()
    # Atoms by (slot, scope): scope None for atoms of every journey, else each entry of their
    # ``journeys`` (a journey id or journey/step). A step then looks only at the atoms its
    # journey or step may use, not at every atom of the slot.
    by_scope: dict[tuple[str, str | None], list[Atom]] = {}
    for atom in library.atoms.values():
        for scope in atom.journeys if atom.journeys is not None else (None,):
            by_scope.setdefault((atom.slot, scope), []).append(atom)
    default = settings.default_locale
    usable: set[str] = set()
    for journey in library.journeys.values():
        chains = {
            loc for code in journey.locales_in(settings) for loc in library.locale_chain(code)
        }
        segments = set(journey.segments) if journey.segments is not None else set(library.segments)
        for step in journey.steps:
            for channel, layout_id in step.channels.items():
                entry = library.layouts.get((channel, layout_id))
                if entry is None:
                    continue
                scopes = (None, journey.id, f"{journey.id}/{step.id}")
                for slot in entry.layout.slots:
                    for atom in (a for scope in scopes for a in by_scope.get((slot, scope), ())):
                        if atom.id in usable:
                            continue
                        if atom.channels is not None and channel not in atom.channels:
                            continue
                        if (
                            atom.journeys is not None
                            and journey.id not in atom.journeys
                            and f"{journey.id}/{step.id}" not in atom.journeys
                        ):
                            continue
                        if (atom.locale or default) not in chains:
                            continue
                        if atom.segments is not None and not (set(atom.segments) & segments):
                            continue
                        usable.add(atom.id)
    return usable


def value_matches(kind: AttributeType, value: Any) -> bool:
    """Whether a value fits a declared attribute type; dates and datetimes by the rule customer
    records follow (:func:`~atomic_content.dates.iso_date`,
    :func:`~atomic_content.dates.iso_datetime`)."""
    if kind is AttributeType.STRING:
        return isinstance(value, str)
    if kind is AttributeType.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is AttributeType.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is AttributeType.BOOLEAN:
        return isinstance(value, bool)
    if kind is AttributeType.DATE:
        return iso_date(value) is not None
    if kind is AttributeType.DATETIME:
        return iso_datetime(value) is not None
    return isinstance(value, list)


def atom_context(library: Library) -> str:
    """What the checks of one atom read besides the atom's own file: every file that is not an
    atom or a customer (settings, profile, segments, journeys, layouts and their templates,
    strings, experiments), the ids of the files that did not load (``library.broken``: a
    file that does not even parse has no digest) and the names of the files in assets/ (image
    sources)."""
    others = sorted(
        (path, digest)
        for path, digest in library.file_hashes.items()
        if not path.startswith(("atoms/", "customers/"))
    )
    broken = sorted(f"{kind}:{item_id}" for kind, item_id in library.broken)
    assets = sorted(asset_files(library.root)) if library.root else []
    return sha256_hex(canonical_json([others, broken, assets]))


PARALLEL_ATOMS = 400
"""Below this many atoms to check, worker start-up costs more than it saves."""


def check_atoms(
    library: Library, v: _Validator, diagnostics: Diagnostics, context: str = "", jobs: int = 1
) -> None:
    """:meth:`_Validator.check_atom` for every atom; an atom whose file and ``context``
    (:func:`atom_context`) are those of an earlier run reuses that run's diagnostics
    (``library.load_cache``). ``jobs`` > 1 checks the others in that many processes (see
    :func:`~atomic_content.repository.share_load_work`); the results are those of a serial run."""
    cache = library.load_cache
    found: dict[str, list[Diagnostic]] = {}
    todo: list[Atom] = []
    cached_atoms = cached_checks(library, "atom", context)
    for atom, cached in zip(library.atoms.values(), cached_atoms, strict=True):
        if cached is not None:
            found[atom.id] = cached
        else:
            todo.append(atom)

    def check(atoms: list[Atom]) -> list[list[Diagnostic]]:
        results = []
        for atom in atoms:
            own = Diagnostics()
            v.d = own
            try:
                v.check_atom(atom)
            finally:
                v.d = diagnostics
            results.append(list(own))
        return results

    workers = jobs if len(todo) >= PARALLEL_ATOMS else 1
    shares = [todo[i::workers] for i in range(workers)]
    for share, results in zip(
        shares, share_load_work(len(shares), workers, lambda i: check(shares[i])), strict=True
    ):
        for atom, own in zip(share, results, strict=True):
            found[atom.id] = own
            if cache is not None:
                path = library.paths.get(("atom", atom.id), "")
                cache.store_check("atom", path, library.file_hashes.get(path, ""), context, own)
    for atom_id in library.atoms:
        diagnostics.extend(found[atom_id])


def text_hygiene(library: Library) -> list[Diagnostic]:
    """:func:`~atomic_content.hygiene.check_text_hygiene`, reusing the results of unchanged
    files (``library.load_cache``)."""
    cache = library.load_cache
    if cache is None:
        return check_text_hygiene(library)
    found: list[Diagnostic] = []
    documents = list(library.documents.values())
    files = [(doc.path, doc.sha256) for doc in documents]
    for doc, cached in zip(documents, cache.checked_files("hygiene", files, ""), strict=True):
        if cached is not None:
            found.extend(cached)
        else:
            own = document_hygiene(doc)
            cache.store_check("hygiene", doc.path, doc.sha256, "", own)
            found.extend(own)
    for entry in library.layouts.values():
        if entry.template_path is not None and entry.template_source is not None:
            found.extend(template_hygiene(entry.template_path, entry.template_source))
    return sorted(found, key=diagnostic_order)


def validate_library(library: Library, diagnostics: Diagnostics, *, jobs: int = 1) -> None:
    """Run every cross-file check on a loaded library, adding to ``diagnostics`` (``jobs``:
    see :func:`check_atoms`)."""
    diagnostics.extend(text_hygiene(library))
    if library.settings is None or library.profile is None:
        # The slots, channels, locales and attributes the other files are checked against are
        # declared there: every use would be one more error caused by the one missing or
        # broken project file (387 on the demo without atomic.yaml). They are checked once it
        # loads; its own error says what to fix.
        return
    v = _Validator(library, diagnostics)
    v.check_settings()
    v.check_profile()
    v.check_segments()
    for journey in library.journeys.values():
        v.check_journey(journey)
    v.check_layouts()
    context = atom_context(library) if library.load_cache is not None else ""
    check_atoms(library, v, diagnostics, context, jobs)
    v.check_customers()
    v.check_strings()
    if library.profile is not None:
        from .privacy import sensitive_diagnostics

        diagnostics.extend(sensitive_diagnostics(library))
    if not diagnostics.has_errors:
        v.check_unused_atoms(context)


def static_check(
    root: Path,
    on: dt.date | None = None,
    *,
    jobs: int | None = 1,
    listing: Listing | None = None,
    keep_cache: bool = False,
    load_cache: LoadCache | None = None,
) -> tuple[Library, Diagnostics]:
    """Load a content tree and run every check that needs no plan: schemas, references,
    conditions, tokens, Markdown, customers, reachability and governance (expiry on ``on``;
    default: SOURCE_DATE_EPOCH or today). Returns the library and all diagnostics, sorted;
    raises nothing for bad content. ``jobs`` as for :func:`~atomic_content.repository.
    load_files` (the same results with any number), ``listing`` and ``load_cache`` too. The
    load cache is saved;
    with ``keep_cache`` the library keeps it (``library.load_cache``), for the caller to save
    again what later stages add (positions its documents remembered) and then drop it.

    The library lives on: it is loaded :func:`~atomic_content.collector.long_lived` (out of
    the cyclic collector's sight afterwards; a caller that drops libraries in a loop may
    ``gc.unfreeze()``)."""
    with long_lived():
        return _static_check(root, on, jobs, listing, keep_cache, load_cache)


def _static_check(
    root: Path,
    on: dt.date | None,
    jobs: int | None,
    listing: Listing | None,
    keep_cache: bool,
    load_cache: LoadCache | None,
) -> tuple[Library, Diagnostics]:
    from .dates import default_date
    from .experiments import experiment_diagnostics
    from .governance import governance_diagnostics, rules_of

    workers = jobs or os.cpu_count() or 1
    library, diagnostics = load_files(
        root, save_cache=False, jobs=workers, listing=listing, load_cache=load_cache
    )
    validate_library(library, diagnostics, jobs=workers)
    when = on or default_date()
    diagnostics.extend(governance_diagnostics(library, when))
    diagnostics.extend(experiment_diagnostics(library, rules_of(library)))
    if library.load_cache is not None:
        library.load_cache.save()
        if not keep_cache:
            library.load_cache = None  # done: later stages need not keep its copy in memory
    return library, diagnostics


def check_content(
    root: Path, on: dt.date | None = None, until: dt.date | None = None
) -> tuple[Library, Diagnostics]:
    """The whole ``atomic validate`` stage: everything :func:`atomic_content.build.build` checks,
    minus writing (see :mod:`atomic_content.pipeline`): the static checks, the plan over
    ``on``..``until`` (required slots, ranking) and every variant rendered and limit-checked.

    Returns the library (usable only when there are no errors) and all diagnostics, sorted;
    plus a ``schema.stale`` hint when the project's editor schemas (``../schemas``) are out of
    date (see :mod:`atomic_content.schema`).
    """
    from .dates import DateRange
    from .pipeline import check
    from .plan import PlanStore
    from .schema import freshness_diagnostics
    from .variants import SHARED_FOLDER, VariantCache, prune_shared
    from .yamlio import cache_dir

    folder = cache_dir()
    # Validate reads each variant's limit problems from the cache, not its bytes.
    cache = VariantCache(folder / SHARED_FOLDER if folder else None, entries_only=True)
    checked = check(
        root,
        DateRange.of(on, until),
        cache=cache,
        plans=PlanStore.for_root(root),
    )
    checked.diagnostics.extend(freshness_diagnostics(checked.library))
    if checked.plan is not None:
        prune_shared(folder, (variant.cache_key for variant in checked.plan.variants))
    return checked.library, checked.diagnostics


def load_library(root: Path, on: dt.date | None = None) -> tuple[Library, Diagnostics]:
    """Load ``root`` and run the static checks; raise ContentError (with every diagnostic) on
    any error. Returns the library and the warnings, for commands that work on valid content
    and make their own plan (preview, resolve, coverage). ``on`` as for :func:`static_check`.
    """
    library, diagnostics = static_check(root, on)
    if diagnostics.has_errors or library.settings is None or library.profile is None:
        raise ContentError(diagnostics)
    return library, diagnostics
