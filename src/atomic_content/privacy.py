"""Privacy by design: consent purposes, sensitive data, the creepiness budget, data minimisation.

The rules (docs/privacy.md):

* **Consent, one rule.** ``profile.yaml`` names where each purpose's consent lives
  (``consents:``); every attribute declares the purposes its use needs (``purposes:``). A
  customer who did not give a purpose (only ``true`` gives it) is treated, for every targeting
  condition and every token, as not having the attributes that need it: segments reading them
  are not considered (the generic audience) and tokens show their default
  (:class:`ConsentPolicy`, applied by :meth:`~.segments.SegmentIndex.audience` and by every
  renderer through :attr:`~.plan.Route.hidden`). A channel may need a purpose to send at all
  (``channels.<name>.purpose``): without it the message is *suppressed*
  (:class:`SuppressedError`), never sent and never silently dropped.
* **Sensitive data is opt-in.** ``sensitive`` and ``special`` attributes may be used only with
  a written ``allowed_use``; ``special`` ones never in tokens (:func:`sensitive_diagnostics`).
* **The creepiness budget.** ``channels.<name>.budget.max_personal_dimensions``: the distinct
  personal attributes one variant uses — tokens of its atoms plus the conditions of its
  audience segment (:class:`AttributeUse`) — over the budget is a positioned warning or error
  (:func:`budget_diagnostics`).
* **Data minimisation.** Every message states the attributes it reads
  (:func:`message_attributes`; ``Bundle.required_attributes`` and the manifest); rendering gets
  only those (:func:`only`).

:func:`privacy_report` is the record a data-protection review asks for: per journey, step and
channel, which attributes each message uses, for what, their sensitivity, purposes and the
budget. Formatting lives in :mod:`atomic_content.privacy_report`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .conditions import compile_condition
from .errors import AtomicError, Diagnostic, Severity
from .hashing import canonical_json, sha256_hex
from .models import Atom, ChannelSettings, Profile, Sensitivity, Settings
from .segments import lookup
from .tokens import customer_paths, uses_whole_customer

if TYPE_CHECKING:
    from .plan import Plan, PlannedVariant
    from .repository import Library
    from .resolver import Resolution


# --------------------------------------------------------------------------- attribute paths


def declared_uses(paths: Iterable[str], declared: Iterable[str]) -> frozenset[str]:
    """The declared attributes that ``paths`` (as tokens or conditions write them) reach: an
    attribute itself, every attribute inside a group (``address`` -> ``address.country``) and
    the attribute around a deeper path (``tags.0`` -> ``tags``)."""
    wanted = set(paths)
    return frozenset(
        name
        for name in declared
        if any(
            name == path or name.startswith(path + ".") or path.startswith(name + ".")
            for path in wanted
        )
    )


def condition_attributes(
    condition: Mapping[str, Any] | None, declared: Iterable[str]
) -> frozenset[str]:
    """The declared attributes a targeting condition reads."""
    if not condition:
        return frozenset()
    return declared_uses(compile_condition(condition).paths, declared)


def atom_sources(atom: Atom) -> list[tuple[tuple[str, ...], str]]:
    """(field path, text) of every field of ``atom`` that may hold customer tokens."""
    found: list[tuple[tuple[str, ...], str]] = []
    if atom.text is not None:
        found.append((("text",), atom.text))
    if atom.cta is not None:
        found += [(("cta", "label"), atom.cta.label), (("cta", "url"), atom.cta.url)]
    if atom.image is not None:
        found += [(("image", "src"), atom.image.src), (("image", "alt"), atom.image.alt)]
    if atom.offer is not None:
        found.append((("offer", "headline"), atom.offer.headline))
        if atom.offer.terms is not None:
            found.append((("offer", "terms"), atom.offer.terms))
    return found


def source_attributes(source: str, declared: Iterable[str]) -> frozenset[str]:
    """The declared attributes the tokens of one template source read (all of them when a
    token names ``customer`` itself)."""
    names = list(declared)
    if uses_whole_customer(source):
        return frozenset(names)
    return declared_uses(customer_paths(source), names)


def atom_attributes(atom: Atom, declared: Iterable[str]) -> dict[tuple[str, ...], frozenset[str]]:
    """Per field of ``atom`` (only fields with tokens), the declared attributes it reads."""
    names = list(declared)
    found = {}
    for loc, text in atom_sources(atom):
        used = source_attributes(text, names)
        if used:
            found[loc] = used
    return found


# --------------------------------------------------------------------------- consent


class ConsentPolicy:
    """A profile's consent rules, computed once per profile.

    ``consents`` maps purpose -> consent attribute; ``needs`` attribute -> the purposes its use
    needs (only attributes that need some). ``opt_out`` holds the purpose of the legacy
    ``consent_attribute`` (when ``consents`` does not name it): it keeps its old meaning,
    only ``false`` withholds it. Every purpose of ``consents`` is opt-in: only ``true`` gives it.
    """

    def __init__(self, profile: Profile | None) -> None:
        self.consents: dict[str, str] = profile.consent_attributes if profile else {}
        self.opt_out: frozenset[str] = frozenset(
            purpose
            for purpose in self.consents
            if profile is not None and purpose not in profile.consents
        )
        self.needs: dict[str, frozenset[str]] = {}
        if profile is not None:
            for name in profile.attributes:
                purposes = profile.purposes_of(name)
                if purposes:
                    self.needs[name] = purposes

    def withheld(self, record: Mapping[str, Any]) -> frozenset[str]:
        """The purposes ``record`` did not give: its consent value is anything but ``true``
        (false or missing: a missing consent is no consent), or ``false`` for an
        :attr:`opt_out` purpose."""
        withheld = []
        for purpose, attribute in self.consents.items():
            found, value = lookup(record, attribute)
            if purpose in self.opt_out:
                if found and value is False:
                    withheld.append(purpose)
            elif not (found and value is True):
                withheld.append(purpose)
        return frozenset(withheld)

    def hidden(self, withheld: frozenset[str]) -> frozenset[str]:
        """The attributes that need one of the ``withheld`` purposes: for this customer they
        are absent."""
        if not withheld:
            return frozenset()
        return frozenset(name for name, needs in self.needs.items() if needs & withheld)

    def purposes(self, attributes: Iterable[str]) -> frozenset[str]:
        """Every purpose a use of ``attributes`` needs."""
        found: set[str] = set()
        for name in attributes:
            found |= self.needs.get(name, frozenset())
        return frozenset(found)


_POLICIES: dict[int, tuple[object, ConsentPolicy]] = {}


def consent_policy(profile: Profile | None) -> ConsentPolicy:
    """The :class:`ConsentPolicy` of ``profile`` (remembered per profile object)."""
    entry = _POLICIES.get(id(profile))
    if entry is None or entry[0] is not profile:
        if len(_POLICIES) >= 16:
            _POLICIES.clear()
        entry = (profile, ConsentPolicy(profile))
        _POLICIES[id(profile)] = entry
    return entry[1]


def without(record: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of the nested ``record`` without the attributes at ``paths`` (dotted)."""
    result: dict[str, Any] = {key: _copy(item) for key, item in record.items()}
    for path in paths:
        parts = path.split(".")
        node: Any = result
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return result


def only(record: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of the nested ``record`` with only the attributes at ``paths`` (dotted)."""
    result: dict[str, Any] = {}
    for path in paths:
        found, value = lookup(record, path)
        if not found:
            continue
        parts = path.split(".")
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    return value


def channel_privacy(settings: Settings | None, channel: str) -> ChannelSettings:
    """The purpose and budget of ``channel`` (defaults when it says nothing)."""
    block = settings.channels.block(channel) if settings is not None else None
    return block if isinstance(block, ChannelSettings) else ChannelSettings()


class SuppressedError(AtomicError):
    """A message a customer must not get: they did not give the consent the channel needs to
    send at all. Not a failure: the runtime counts it as ``suppressed``."""

    code = "consent.suppressed"

    def __init__(self, channel: str, purposes: tuple[str, ...], customer_id: str | None = None):
        self.channel = channel
        self.purposes = purposes
        self.customer_id = customer_id
        self.message = f"suppressed (no consent for {', '.join(purposes)})"
        super().__init__(self.message)


# --------------------------------------------------------------------------- attribute use


@dataclass(frozen=True)
class AttributeUse:
    """The customer attributes one variant reads: in tokens of its atoms, in the condition of
    its audience segment, and which of all those are personal data."""

    tokens: frozenset[str] = frozenset()
    targeting: frozenset[str] = frozenset()
    personal: frozenset[str] = frozenset()

    @property
    def attributes(self) -> frozenset[str]:
        return self.tokens | self.targeting


class UseIndex:
    """Attribute uses of a library's atoms and segments, computed once each."""

    def __init__(self, library: Library) -> None:
        profile = library.profile
        self.library = library
        self.declared = list(profile.attributes) if profile else []
        self.sensitivity = (
            {name: spec.sensitivity for name, spec in profile.attributes.items()} if profile else {}
        )
        self._atoms: dict[str, dict[tuple[str, ...], frozenset[str]]] = {}
        self._segments: dict[str, frozenset[str]] = {}

    def atom(self, atom: Atom) -> dict[tuple[str, ...], frozenset[str]]:
        found = self._atoms.get(atom.id)
        if found is None:
            found = self._atoms[atom.id] = atom_attributes(atom, self.declared)
        return found

    def atom_tokens(self, atom: Atom) -> frozenset[str]:
        return frozenset().union(*self.atom(atom).values())

    def segment(self, segment_id: str) -> frozenset[str]:
        found = self._segments.get(segment_id)
        if found is None:
            segment = self.library.segments.get(segment_id)
            found = condition_attributes(segment.condition if segment else None, self.declared)
            self._segments[segment_id] = found
        return found

    def personal(self, attributes: Iterable[str]) -> frozenset[str]:
        return frozenset(
            a for a in attributes if self.sensitivity.get(a, Sensitivity.NONE).personal
        )

    def of(self, resolution: Resolution, audience: str) -> AttributeUse:
        """What a variant of ``resolution`` for ``audience`` reads."""
        from .segments import GENERIC

        tokens = frozenset().union(*(self.atom_tokens(a) for a in resolution.atoms.values()))
        targeting = self.segment(audience) if audience != GENERIC else frozenset()
        return AttributeUse(tokens, targeting, self.personal(tokens | targeting))


# --------------------------------------------------------------------------- diagnostics


def sensitive_diagnostics(library: Library) -> list[Diagnostic]:
    """``privacy.sensitive_use`` for targeting or tokens on a sensitive or special attribute
    without an ``allowed_use``; ``privacy.special_in_token`` for a special attribute in a
    token (never allowed)."""
    profile = library.profile
    if profile is None:
        return []
    specs = profile.attributes
    declared = list(specs)
    diagnostics: list[Diagnostic] = []

    def check(
        kind: str, item_id: str, loc: tuple[str | int, ...], used: Iterable[str], how: str
    ) -> None:
        for name in sorted(used):
            spec = specs[name]
            if how == "token" and spec.sensitivity is Sensitivity.SPECIAL:
                path, line, col = library.position(kind, item_id, loc)
                diagnostics.append(
                    Diagnostic(
                        path,
                        line,
                        col,
                        Severity.ERROR,
                        "privacy.special_in_token",
                        f"{name} is a special category of personal data (GDPR Art. 9) and "
                        "can never appear in a message",
                        "remove the token; a message must not reveal such data",
                    )
                )
            elif spec.sensitivity.needs_allowed_use and spec.allowed_use is None:
                path, line, col = library.position(kind, item_id, loc)
                diagnostics.append(
                    Diagnostic(
                        path,
                        line,
                        col,
                        Severity.ERROR,
                        "privacy.sensitive_use",
                        f"{how} on {name}, a {spec.sensitivity.value} attribute, without an "
                        "allowed use",
                        f"remove the use, or write why it is allowed under attributes.{name}."
                        "allowed_use in profile.yaml (a data-protection review reads it)",
                    )
                )

    for segment in sorted(library.segments.values(), key=lambda s: s.id):
        used = condition_attributes(segment.condition, declared)
        check("segment", segment.id, ("condition",), used, "targeting")
    for journey in sorted(library.journeys.values(), key=lambda j: j.id):
        used = condition_attributes(journey.audience, declared)
        check("journey", journey.id, ("audience",), used, "targeting")
    # Per atom the findings depend on the atom's file and the attributes' sensitivity alone:
    # unchanged atoms reuse those of an earlier run (library.load_cache), since finding them
    # means parsing every token of every atom.
    cache = library.load_cache
    context = _sensitivity_context(profile) if cache is not None else ""
    for atom in sorted(library.atoms.values(), key=lambda a: a.id):
        path = library.paths.get(("atom", atom.id), "")
        digest = library.file_hashes.get(path, "")
        if cache is not None and digest:
            try:
                diagnostics.extend(cache.checked("privacy", path, digest, context))
                continue
            except KeyError:
                pass
        start = len(diagnostics)
        for loc, used in atom_attributes(atom, declared).items():
            check("atom", atom.id, loc, used, "token")
        if cache is not None and digest:
            cache.store_check("privacy", path, digest, context, diagnostics[start:])
    return diagnostics


def _sensitivity_context(profile: Profile) -> str:
    """Everything of the profile the token findings of one atom read: the declared names, each
    one's sensitivity and whether it has an allowed use."""
    return sha256_hex(
        canonical_json(
            sorted(
                [name, spec.sensitivity.value, spec.allowed_use is not None]
                for name, spec in profile.attributes.items()
            )
        )
    )


def budget_diagnostics(library: Library, variants: Iterable[PlannedVariant]) -> list[Diagnostic]:
    """``privacy.budget``: variants over their channel's creepiness budget, one diagnostic per
    place (the atom with the most personal tokens, else the audience segment's condition)."""
    settings = library.settings
    index = UseIndex(library)
    places: dict[tuple[str, str, tuple[str | int, ...], str], list[PlannedVariant]] = {}
    for variant in variants:
        budget = channel_privacy(settings, variant.channel).budget
        if budget is None or len(variant.uses.personal) <= budget.max_personal_dimensions:
            continue
        best: tuple[int, str, tuple[str, ...]] | None = None
        for _slot, atom in sorted(variant.resolution.atoms.items()):
            for loc, used in index.atom(atom).items():
                count = len(index.personal(used))
                if count and (best is None or count > best[0]):
                    best = (count, atom.id, loc)
        if best is not None:
            place: tuple[str, str, tuple[str | int, ...], str] = (
                "atom",
                best[1],
                best[2],
                budget.level,
            )
        else:
            place = ("segment", variant.audience, ("condition",), budget.level)
        places.setdefault(place, []).append(variant)
    diagnostics = []
    for (kind, item_id, where_loc, level), found in sorted(places.items()):
        first = found[0]
        limit = channel_privacy(settings, first.channel).budget
        assert limit is not None
        path, line, col = library.position(kind, item_id, where_loc)
        where = (
            f"(in {first.id})"
            if len(found) == 1
            else f"(in {len(found)} variants, e.g. {first.id})"
        )
        dimensions = ", ".join(sorted(first.uses.personal))
        diagnostics.append(
            Diagnostic(
                path,
                line,
                col,
                Severity.ERROR if level == "error" else Severity.WARNING,
                "privacy.budget",
                f"the message uses {len(first.uses.personal)} personal attributes "
                f"({dimensions}); the {first.channel} budget is "
                f"{limit.max_personal_dimensions} {where}",
                "personalize with fewer attributes, or raise "
                f"channels.{first.channel}.budget.max_personal_dimensions in atomic.yaml",
            )
        )
    return diagnostics


# --------------------------------------------------------------------------- minimisation


def routing_attributes(library_profile: Profile | None) -> frozenset[str]:
    """Attributes every message reads to route: the id and locale attributes."""
    if library_profile is None:
        return frozenset()
    found = {library_profile.id_attribute}
    if library_profile.locale_attribute:
        found.add(library_profile.locale_attribute)
    return frozenset(found)


def message_attributes(
    profile: Profile | None,
    settings: Settings | None,
    *,
    channel: str,
    journey_audience: frozenset[str],
    segments: frozenset[str],
    tokens: frozenset[str],
) -> tuple[str, ...]:
    """Exactly the attributes one message (journey, step, channel) reads, sorted: the id and
    locale, the journey's audience condition, the conditions of the segments it personalizes
    for (and the attribute a covering experiment hashes), the tokens of all its variants, and
    the consents those and the channel need."""
    policy = consent_policy(profile)
    used = routing_attributes(profile) | journey_audience | segments | tokens
    purposes = set(policy.purposes(used))
    channel_purpose = channel_privacy(settings, channel).purpose
    if channel_purpose is not None:
        purposes.add(channel_purpose)
    consents = {policy.consents[p] for p in purposes if p in policy.consents}
    return tuple(sorted(used | consents))


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class AttributeRow:
    """One attribute a message uses: how (``targeting``, ``token`` or both), its sensitivity,
    the purposes it needs and its allowed use."""

    attribute: str
    uses: tuple[str, ...]
    sensitivity: str
    purposes: tuple[str, ...]
    allowed_use: str | None
    description: str


@dataclass(frozen=True)
class MessageRow:
    """One message (journey, step, channel): the attributes its variants use, the purpose the
    channel needs, the most personal attributes one variant uses and the budget."""

    journey: str
    step: str
    channel: str
    channel_purpose: str | None
    attributes: tuple[AttributeRow, ...]
    required: tuple[str, ...]
    max_personal: int
    max_personal_variant: str
    budget: int | None
    budget_level: str | None
    over_budget: tuple[str, ...]


@dataclass(frozen=True)
class PrivacyReport:
    """The privacy record of a library over a plan's range (:func:`privacy_report`)."""

    start: dt.date
    until: dt.date
    purposes: dict[str, str]
    channels: dict[str, str | None]
    messages: tuple[MessageRow, ...]
    unused: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "purposes": self.purposes,
            "channels": self.channels,
            "messages": [
                {
                    "journey": m.journey,
                    "step": m.step,
                    "channel": m.channel,
                    "channel_purpose": m.channel_purpose,
                    "required_attributes": list(m.required),
                    "max_personal_dimensions": m.max_personal,
                    "max_personal_variant": m.max_personal_variant,
                    "budget": m.budget,
                    "budget_level": m.budget_level,
                    "over_budget": list(m.over_budget),
                    "attributes": [
                        {
                            "attribute": a.attribute,
                            "uses": list(a.uses),
                            "sensitivity": a.sensitivity,
                            "purposes": list(a.purposes),
                            "allowed_use": a.allowed_use,
                        }
                        for a in m.attributes
                    ],
                }
                for m in self.messages
            ],
            "unused_personal_attributes": list(self.unused),
        }


def privacy_report(library: Library, plan: Plan) -> PrivacyReport:
    """Which attributes every message of ``plan`` uses, why, how sensitive they are, the
    consents they need and the budget (the record a data-protection review asks for)."""
    assert library.profile is not None and library.settings is not None
    profile, settings = library.profile, library.settings
    policy = consent_policy(profile)
    grouped: dict[tuple[str, str, str], list[PlannedVariant]] = {}
    for variant in plan.variants:
        grouped.setdefault((variant.journey, variant.step, variant.channel), []).append(variant)
    required = plan_attributes(library, plan)
    rows = []
    used_anywhere: set[str] = set()
    for (journey, step, channel), variants in sorted(grouped.items()):
        tokens = frozenset().union(*(v.uses.tokens for v in variants))
        targeting = frozenset().union(*(v.uses.targeting for v in variants))
        used_anywhere |= tokens | targeting
        attributes = []
        for name in sorted(tokens | targeting):
            spec = profile.attributes[name]
            uses = tuple(
                how
                for how, inside in (("targeting", targeting), ("token", tokens))
                if name in inside
            )
            attributes.append(
                AttributeRow(
                    name,
                    uses,
                    spec.sensitivity.value,
                    tuple(sorted(policy.needs.get(name, frozenset()))),
                    spec.allowed_use,
                    spec.description,
                )
            )
        top = max(variants, key=lambda v: (len(v.uses.personal), v.id))
        privacy = channel_privacy(settings, channel)
        budget = privacy.budget
        over = tuple(
            v.id
            for v in variants
            if budget is not None and len(v.uses.personal) > budget.max_personal_dimensions
        )
        rows.append(
            MessageRow(
                journey,
                step,
                channel,
                privacy.purpose,
                tuple(attributes),
                required.get(f"{journey}/{step}/{channel}", ()),
                len(top.uses.personal),
                top.id,
                budget.max_personal_dimensions if budget else None,
                budget.level if budget else None,
                over,
            )
        )
    unused = tuple(
        sorted(
            name
            for name, spec in profile.attributes.items()
            if spec.sensitivity.personal and name not in used_anywhere
        )
    )
    return PrivacyReport(
        plan.start,
        plan.until,
        policy.consents,
        {c: channel_privacy(settings, c).purpose for c in settings.channels.enabled()},
        tuple(rows),
        unused,
    )


def plan_attributes(library: Library, plan: Plan) -> dict[str, tuple[str, ...]]:
    """Per message ``journey/step/channel``, the attributes it reads
    (:func:`message_attributes`)."""
    declared = list(library.profile.attributes) if library.profile else []
    index = UseIndex(library)
    tokens: dict[tuple[str, str, str], set[str]] = {}
    for variant in plan.variants:
        tokens.setdefault((variant.journey, variant.step, variant.channel), set()).update(
            variant.uses.tokens
        )
    from .experiments import hash_attribute

    found = {}
    for (journey_id, step, channel), used in sorted(tokens.items()):
        journey = library.journeys[journey_id]
        listed = journey.segments if journey.segments is not None else list(library.segments)
        segments = frozenset().union(*(index.segment(s) for s in listed if s in library.segments))
        # An experiment covering the message hashes one attribute into the customer's arm.
        segments |= {
            hash_attribute(e, library.profile)
            for e in plan.experiments
            if e.covers(journey_id, step)
        }
        found[f"{journey_id}/{step}/{channel}"] = message_attributes(
            library.profile,
            library.settings,
            channel=channel,
            journey_audience=condition_attributes(journey.audience, declared),
            segments=segments,
            tokens=frozenset(used),
        )
    return found


def compute_privacy(
    content: Any, on: dt.date | None = None, until: dt.date | None = None
) -> PrivacyReport:
    """``atomic privacy``: load and check ``content``, plan ``on``..``until`` (default: today
    plus the build horizon) and report. Raises ContentError for invalid content."""
    from .dates import DateRange
    from .plan import make_plan
    from .validate import load_library

    dates = DateRange.of(on, until)
    library, _warnings = load_library(content, dates.start)
    return privacy_report(library, make_plan(library, dates.start, dates.until))


__all__ = [
    "AttributeRow",
    "AttributeUse",
    "ConsentPolicy",
    "MessageRow",
    "PrivacyReport",
    "SuppressedError",
    "UseIndex",
    "budget_diagnostics",
    "channel_privacy",
    "compute_privacy",
    "consent_policy",
    "message_attributes",
    "only",
    "plan_attributes",
    "privacy_report",
    "sensitive_diagnostics",
    "without",
]
