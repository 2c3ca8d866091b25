"""Slot-by-slot choice of atoms, with an explanation of every choice.

For a message — (journey, step, channel, locale) — and an audience, every slot the step's layout
declares gets the best *eligible* atom. An atom is eligible when it

1. fills that slot and is allowed on the channel (``channels`` absent = all);
2. is scoped to the journey or the step (``journeys`` absent = any journey);
3. has status ``approved`` (``draft`` and ``review`` too when drafts are included; ``retired``
   never);
4. is inside its validity window on the resolution date (``valid_from``/``valid_until``,
   inclusive; no date = windows ignored);
5. is generic, or targets the audience's one segment (see :class:`~.segments.Audience`: a
   message speaks to one segment, so every slot of it speaks to the same one);
6. is written in the message's language (below).

**One message, one language.** The message's language is the first language (primary subtag:
``de-AT`` and ``de`` are one language) on the locale's fallback chain in which every required
slot resolves for the audience; every slot then takes atoms of that language only, so a message
never mixes languages.

Eligible atoms are ranked by :func:`rank_key` — the one ranking, written down in the README:

1. targeted at the audience's segment beats generic;
2. the atom's own ``priority``, higher first;
3. exact locale before a same-language fallback (earlier on the chain first);
4. atom id, alphabetically — so the result is always deterministic.

Two atoms equal on 1–3 are *ambiguous* (``atomic validate`` warns). Candidates are found through
an index keyed by (slot, channel, locale, segment, journey), never by scanning every atom; the
full scan is only done when an explanation is asked for.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import Diagnostics, ResolutionError, UsageError, did_you_mean
from .models import Atom, Journey, Settings, Status, Step
from .repository import Library, locale_chain
from .segments import Audience


class Verdict(enum.StrEnum):
    WON = "won"
    LOST = "lost"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Candidate:
    """One atom considered for a slot and what became of it."""

    atom_id: str
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class SlotChoice:
    """The outcome for one slot: the winner (None when nothing fits) and its explanation.

    ``matched_segment`` is the audience segment when the winner targets it (None: generic);
    ``locale`` the locale of the winning atom; ``candidates`` holds the winner, and when
    explaining also every atom that lost on rank or was rejected, with the reason.
    """

    slot: str
    required: bool
    winner: Atom | None
    reason: str
    matched_segment: str | None = None
    locale: str | None = None
    candidates: tuple[Candidate, ...] = ()
    tied_with: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class MessageKey:
    """One message of a journey: (journey, step, channel, locale). The plan, the router and
    the resolver all name a message by it."""

    journey: str
    step: str
    channel: str
    locale: str

    def __str__(self) -> str:
        return f"{self.journey}/{self.step}/{self.channel}/{self.locale}"


@dataclass(frozen=True)
class Resolution:
    """Every slot of one message for one audience, with explanations."""

    key: MessageKey
    audience: Audience
    layout: str
    slots: dict[str, SlotChoice]
    date: dt.date | None
    notes: tuple[str, ...] = field(default=())
    lang: str = ""

    @property
    def language(self) -> str:
        """The message's language tag: the most specific locale of its one language."""
        return self.lang or self.key.locale

    @property
    def missing_required(self) -> list[str]:
        return [s.slot for s in self.slots.values() if s.required and s.winner is None]

    def to_dict(self, *, explain: bool = False) -> dict[str, object]:
        """The documented JSON shape of a resolution (docs/cli.md)."""
        slots: dict[str, object] = {}
        for name, choice in self.slots.items():
            item: dict[str, object] = {
                "atom": choice.winner.id if choice.winner else None,
                "required": choice.required,
                "reason": choice.reason,
                "segment": choice.matched_segment,
                "locale": choice.locale,
            }
            if explain:
                item["candidates"] = [
                    {"atom": c.atom_id, "verdict": c.verdict.value, "reason": c.reason}
                    for c in choice.candidates
                ]
            slots[name] = item
        return {
            "journey": self.key.journey,
            "step": self.key.step,
            "channel": self.key.channel,
            "locale": self.key.locale,
            "layout": self.layout,
            "audience": {
                "id": self.audience.id,
                "label": self.audience.label,
                "segment": self.audience.segment,
                "matched_segments": sorted(self.audience.matched),
                "reason": self.audience.reason,
                "consent_refused": self.audience.consent_refused,
            },
            "language": self.language,
            "date": self.date.isoformat() if self.date else None,
            "notes": list(self.notes),
            "missing_required": self.missing_required,
            "with_drafts": bool(self.drafts),
            "slots": slots,
        }

    @property
    def atoms(self) -> dict[str, Atom]:
        """Slot -> winning atom, for the slots that have one."""
        return {name: s.winner for name, s in self.slots.items() if s.winner is not None}

    @property
    def drafts(self) -> dict[str, Atom]:
        """Slot -> winning atom that is not approved (a draft or review atom, which only
        ``--include-drafts`` lets compete). Empty for every message a build holds: a build
        uses approved atoms only, so a resolution with drafts is a preview no build contains."""
        return {
            name: atom for name, atom in self.atoms.items() if atom.status is not Status.APPROVED
        }


RankKey = tuple[int, int, int, str]

MEMO_SIZE = 65_536
"""Resolutions remembered per Resolver (without explanations)."""


def language_of(locale: str) -> str:
    """The primary language subtag of a locale (``de-AT`` -> ``de``), lower-case."""
    return locale.split("-", 1)[0].lower()


def languages_of(chain: list[str]) -> list[tuple[str, list[str]]]:
    """The languages of a fallback chain in chain order, each with its locales in chain order:
    ``de-AT -> de -> en`` gives ``[("de", ["de-AT", "de"]), ("en", ["en"])]``."""
    grouped: dict[str, list[str]] = {}
    for code in chain:
        grouped.setdefault(language_of(code), []).append(code)
    return list(grouped.items())


def rank_key(atom: Atom, segment: str | None, locales: list[str], default_locale: str) -> RankKey:
    """The ranking of the README as a sort key (smaller sorts first).

    (generic?, -atom priority, locale position on the language's chain, id). ``segment`` is the
    audience's segment (None: generic audience); ``locales`` the message language's locales.
    """
    targeted = segment is not None and bool(atom.segments) and segment in (atom.segments or ())
    locale = atom.locale or default_locale
    position = locales.index(locale) if locale in locales else len(locales)
    return (0 if targeted else 1, -atom.priority, position, atom.id)


def status_allowed(atom: Atom, include_drafts: bool) -> bool:
    if atom.status is Status.APPROVED:
        return True
    return include_drafts and atom.status in (Status.DRAFT, Status.REVIEW)


def in_window(atom: Atom, on: dt.date | None) -> bool:
    if on is None:
        return True
    if atom.valid_from is not None and on < atom.valid_from:
        return False
    return not (atom.valid_until is not None and on > atom.valid_until)


def journey_allows(atom: Atom, journey: str, step: str) -> bool:
    if atom.journeys is None:
        return True
    return journey in atom.journeys or f"{journey}/{step}" in atom.journeys


def message_locale(journey: Journey, wanted: str | None, settings: Settings) -> str:
    """The locale a message is written in: the first locale of ``wanted``'s fallback chain that
    the journey supports (:meth:`~atomic_content.models.Journey.locales_in`), else the default
    locale (if supported), else the journey's first.

    The one place this is decided: the plan, the resolver and the runtime router all call it.
    """
    supported = journey.locales_in(settings)
    if wanted is not None:
        for code in locale_chain(settings, wanted):
            if code in supported:
                return code
    return settings.default_locale if settings.default_locale in supported else supported[0]


def find_journey(journeys: Mapping[str, Journey], journey_id: str) -> Journey:
    """The journey ``journey_id``; UsageError listing the known ids (with did-you-mean)."""
    journey = journeys.get(journey_id)
    if journey is None:
        known = sorted(journeys)
        raise UsageError(
            f"unknown journey {journey_id!r}",
            (did_you_mean(journey_id, known) + " ").lstrip() + f"journeys: {', '.join(known)}",
        )
    return journey


def find_step(journey: Journey, step_id: str) -> Step:
    """The step ``step_id`` of ``journey``; UsageError listing the journey's steps."""
    step = next((s for s in journey.steps if s.id == step_id), None)
    if step is None:
        known = [s.id for s in journey.steps]
        raise UsageError(
            f"journey {journey.id!r} has no step {step_id!r}",
            (did_you_mean(step_id, known) + " ").lstrip() + f"steps: {', '.join(known)}",
        )
    return step


def find_layout_id(journey: Journey, step: Step, channel: str) -> str:
    """The layout of ``channel`` in ``step``; UsageError naming the step's channels."""
    layout_id = step.channels.get(channel)
    if layout_id is None:
        raise UsageError(
            f"step {journey.id}/{step.id} has no {channel!r} message",
            f"channels of this step: {', '.join(step.channels)}",
        )
    return layout_id


def select_messages(
    journeys: Mapping[str, Journey],
    journey: str,
    step: str | None = None,
    channel: str | None = None,
) -> list[tuple[str, str]]:
    """(step id, channel) of every message of ``journey`` that ``step``/``channel`` select, in
    the journey's order. Raises UsageError (with the known ids) when nothing matches."""
    the_journey = find_journey(journeys, journey)
    steps = list(the_journey.steps) if step is None else [find_step(the_journey, step)]
    if channel is not None:
        with_channel = [s for s in steps if channel in s.channels]
        if not with_channel:
            where = f"step {journey}/{step}" if step else f"journey {journey!r}"
            used = sorted({c for s in steps for c in s.channels})
            raise UsageError(
                f"{where} has no {channel!r} message", f"channels used: {', '.join(used)}"
            )
        steps = with_channel
    return [
        (s.id, c) for s in steps for c in ([channel] if channel is not None else list(s.channels))
    ]


class Resolver:
    """Resolves messages of one library. Build once; resolving is index lookups."""

    def __init__(self, library: Library) -> None:
        if library.settings is None:
            raise ValueError("the library has no settings; validate it first")
        self.library = library
        self.settings = library.settings
        self.default_locale = library.settings.default_locale
        self.chains = {code: library.locale_chain(code) for code in library.settings.locales}
        self.channels = library.settings.channels.enabled()
        # slot -> (channel, locale, segment-or-None, journey-or-None) -> atoms. Atoms for
        # every channel are listed under each enabled channel, and journey-scoped atoms under
        # their journey, so a lookup touches only atoms that can compete for the message. A
        # slot's index is made when it is first looked up: a rebuild after a one-atom edit
        # resolves a few messages, often of a few slots, and indexing a 10 000-atom library
        # at once cost more than resolving them.
        self._indexes: dict[str, dict[tuple[str, str, str | None, str | None], list[Atom]]] = {}
        self._by_slot: dict[str, list[Atom]] = defaultdict(list)
        self._memo: dict[
            tuple[MessageKey, str | None, dt.date | None, bool],
            tuple[dict[str, SlotChoice], str, tuple[str, ...]],
        ] = {}
        self._slot_memo: dict[
            tuple[str, bool, MessageKey, tuple[str, ...], str | None, dt.date | None, bool],
            SlotChoice,
        ] = {}
        # slot -> (channel or None, locale, journey or None) -> atoms: who can compete for a
        # message at all (see competitors), made per slot when first asked for.
        self._reach: dict[str, dict[tuple[str | None, str, str | None], list[Atom]]] = {}
        for atom in sorted(library.atoms.values(), key=lambda a: a.id):
            self._by_slot[atom.slot].append(atom)

    def _index(self, slot: str) -> dict[tuple[str, str, str | None, str | None], list[Atom]]:
        """The buckets of ``slot``'s atoms that are not retired: (channel, locale, segment or
        None, journey or None) -> atoms, each sorted by atom priority (then id): within a
        bucket the segment and the locale are fixed, so the first eligible atoms are the
        bucket's best (see :meth:`_best`)."""
        index = self._indexes.get(slot)
        if index is not None:
            return index
        buckets: dict[tuple[str, str, str | None, str | None], list[Atom]] = defaultdict(list)
        for atom in self._by_slot.get(slot, ()):
            if atom.status is Status.RETIRED:
                continue
            locale = atom.locale or self.default_locale
            journeys: list[str | None] = [None]
            if atom.journeys:
                journeys = [*sorted({ref.partition("/")[0] for ref in atom.journeys})]
            segments: list[str | None] = list(atom.segments) if atom.segments else [None]
            for channel in atom.channels or self.channels:
                for segment in segments:
                    for journey in journeys:
                        buckets[(channel, locale, segment, journey)].append(atom)
        for bucket in buckets.values():
            bucket.sort(key=lambda a: (-a.priority, a.id))
        index = self._indexes[slot] = dict(buckets)
        return index

    # -- lookups ---------------------------------------------------------------------------
    def journey(self, journey_id: str) -> Journey:
        return find_journey(self.library.journeys, journey_id)

    def message_locale(self, journey: Journey, wanted: str | None) -> str:
        return message_locale(journey, wanted, self.settings)

    def select_messages(
        self, journey: str, step: str | None = None, channel: str | None = None
    ) -> list[tuple[str, str]]:
        return select_messages(self.library.journeys, journey, step, channel)

    def atoms_for_slot(self, slot: str) -> list[Atom]:
        """Every atom of ``slot`` (any status), by id."""
        return self._by_slot.get(slot, [])

    def competitors(
        self, slot: str, channel: str, locales: Iterable[str], journey: str
    ) -> list[Atom]:
        """The atoms of ``slot`` that are not retired and that channel, locale and journey do
        not rule out for a message of ``journey`` on ``channel`` in one of ``locales``: each
        names ``channel`` or no channel, is written in one of ``locales`` (no locale: the
        default one), and names ``journey`` (or one of its steps) or no journey. By id.

        A superset of those that can fill the slot on some day for some audience (the caller
        applies the step-level journey rule, as resolution does): planning a message looked at
        every atom of its slots, 1.7 s of a 10 000-atom library's cold plan."""
        reach = self._reach.get(slot)
        if reach is None:
            buckets: dict[tuple[str | None, str, str | None], list[Atom]] = defaultdict(list)
            for atom in self._by_slot.get(slot, ()):
                if atom.status is Status.RETIRED:
                    continue
                locale = atom.locale or self.default_locale
                journeys: Iterable[str | None] = (
                    sorted({ref.partition("/")[0] for ref in atom.journeys})
                    if atom.journeys
                    else (None,)
                )
                for named in atom.channels or (None,):
                    for part in journeys:
                        buckets[(named, locale, part)].append(atom)
            reach = self._reach[slot] = dict(buckets)
        found: dict[str, Atom] = {}
        for locale in locales:
            for named in (channel, None):
                for part in (journey, None):
                    for atom in reach.get((named, locale, part), ()):
                        found[atom.id] = atom
        return [found[atom_id] for atom_id in sorted(found)]

    def candidates(
        self, slot: str, key: MessageKey, audience: Audience, chain: list[str]
    ) -> list[Atom]:
        """Atoms indexed under the slot, channel, a locale of the chain and the audience's
        segment (or generic). Other filters (journey, status, date) are applied by the caller."""
        found: dict[str, Atom] = {}
        index = self._index(slot)
        for locale in chain:
            for segment in (None, audience.segment) if audience.segment else (None,):
                for journey in (None, key.journey):
                    for atom in index.get((key.channel, locale, segment, journey), ()):
                        found[atom.id] = atom
        return list(found.values())

    def _best(
        self,
        slot: str,
        key: MessageKey,
        audience: Audience,
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
    ) -> list[Atom]:
        """The top eligible atoms of each bucket (all those sharing the top priority).

        Enough to find the winner and its ties: every atom further down a bucket has the same
        segment and locale and a lower atom priority, so it ranks below the bucket's top. This
        keeps resolution proportional to the number of buckets, not of candidates; explanations
        use the full :meth:`candidates` list instead.
        """
        found: list[Atom] = []
        segments = (None, audience.segment) if audience.segment else (None,)
        index = self._index(slot)
        for locale in chain:
            for journey in (None, key.journey):
                for segment in segments:
                    top: int | None = None
                    for atom in index.get((key.channel, locale, segment, journey), ()):
                        if top is not None and atom.priority < top:
                            break
                        if not (
                            journey_allows(atom, key.journey, key.step)
                            and status_allowed(atom, include_drafts)
                            and in_window(atom, on)
                        ):
                            continue
                        top = atom.priority
                        found.append(atom)
        return found

    # -- resolution ------------------------------------------------------------------------
    def resolve(
        self,
        journey_id: str,
        step_id: str,
        channel: str,
        audience: Audience,
        *,
        locale: str | None = None,
        on: dt.date | None = None,
        include_drafts: bool = False,
        explain: bool = False,
    ) -> Resolution:
        """Resolve every slot of a message for an audience, in one language.

        ``locale`` is the wanted locale; the message locale follows :func:`message_locale`.
        ``on=None`` ignores validity windows. Raises UsageError for an unknown journey, step or
        channel; a required slot without a candidate does *not* raise — see
        :meth:`require_complete`.
        """
        journey = self.journey(journey_id)
        step = find_step(journey, step_id)
        layout_id = find_layout_id(journey, step, channel)
        entry = self.library.layouts[(channel, layout_id)]
        the_locale = self.message_locale(journey, locale)
        key = MessageKey(journey.id, step.id, channel, the_locale)
        chain = self.chains.get(the_locale, [the_locale])
        notes = [audience.reason] if audience.reason else []
        if locale is not None and locale != the_locale:
            notes.append(f"journey is not written in {locale!r}; using {the_locale!r}")
        memo_key = (key, audience.segment, on, include_drafts)
        cached = None if explain else self._memo.get(memo_key)
        if cached is None:
            slots, lang, language_notes = self._resolve_language(
                key, entry.layout.slots, audience, chain, on, include_drafts
            )
            cached = (slots, lang, language_notes)
            if not explain:
                if len(self._memo) >= MEMO_SIZE:
                    self._memo.clear()  # simple bound; refilling is cheap
                self._memo[memo_key] = cached
        slots, lang, language_notes = cached
        notes.extend(language_notes)
        if explain:
            locales = [code for code in chain if language_of(code) == language_of(lang)]
            slots = {
                slot: self._resolve_slot(
                    slot,
                    need == "required",
                    key,
                    audience,
                    locales,
                    chain,
                    on,
                    include_drafts,
                    explain=True,
                )
                for slot, need in entry.layout.slots.items()
            }
        return Resolution(key, audience, layout_id, slots, on, tuple(notes), lang)

    def _resolve_language(
        self,
        key: MessageKey,
        layout_slots: Mapping[str, str],
        audience: Audience,
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
    ) -> tuple[dict[str, SlotChoice], str, tuple[str, ...]]:
        """The slots of the first language of ``chain`` that fills every required slot (else
        of the first language, with its gaps), that language's tag, and a note when the message
        is not in the chain's first language."""
        first: tuple[dict[str, SlotChoice], str] | None = None
        for language, locales in languages_of(chain):
            slots = {
                slot: self._shared_slot(
                    slot, need == "required", key, audience, locales, chain, on, include_drafts
                )
                for slot, need in layout_slots.items()
            }
            if first is None:
                first = (slots, locales[0])
            if all(c.winner is not None for c in slots.values() if c.required):
                notes: tuple[str, ...] = ()
                if language != language_of(chain[0]):
                    notes = (
                        f"no complete message in {language_of(chain[0])!r} for this audience; "
                        f"the whole message is in {language!r}",
                    )
                return slots, locales[0], notes
        assert first is not None
        return first[0], first[1], ()

    def _shared_slot(
        self,
        slot: str,
        required: bool,
        key: MessageKey,
        audience: Audience,
        locales: list[str],
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
    ) -> SlotChoice:
        """:meth:`_resolve_slot` without explanations, shared between audiences.

        An audience whose segment no atom of the slot targets gets the generic choice (every
        candidate is generic, so the ranking is the same): a plan of many segments resolves
        each slot once per segment that has content for it, not once per segment.
        """
        segment = audience.segment
        index = self._index(slot)
        if segment is not None and not any(
            (key.channel, locale, segment, journey) in index
            for locale in locales
            for journey in (None, key.journey)
        ):
            segment = None
        memo_key = (slot, required, key, tuple(locales), segment, on, include_drafts)
        found = self._slot_memo.get(memo_key)
        if found is None:
            shared = audience if segment is not None else Audience(None, audience.label)
            found = self._resolve_slot(
                slot, required, key, shared, locales, chain, on, include_drafts
            )
            if len(self._slot_memo) >= MEMO_SIZE * 8:
                self._slot_memo.clear()  # simple bound; refilling is cheap
            self._slot_memo[memo_key] = found
        return found

    def _resolve_slot(
        self,
        slot: str,
        required: bool,
        key: MessageKey,
        audience: Audience,
        locales: list[str],
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
        explain: bool = False,
    ) -> SlotChoice:
        ranked: list[tuple[RankKey, Atom]] = []
        pool = (
            self.candidates(slot, key, audience, locales)
            if explain
            else self._best(slot, key, audience, locales, on, include_drafts)
        )
        seen: set[str] = set()
        for atom in pool:
            if atom.id in seen:
                continue
            seen.add(atom.id)
            if not journey_allows(atom, key.journey, key.step):
                continue
            if not status_allowed(atom, include_drafts) or not in_window(atom, on):
                continue
            ranked.append((rank_key(atom, audience.segment, locales, self.default_locale), atom))
        ranked.sort(key=lambda item: item[0])
        if not ranked:
            reason = "no eligible atom" + (
                " (required)" if required else " (optional slot left out)"
            )
            rejected = (
                tuple(self._rejections(slot, key, audience, locales, chain, on, include_drafts))
                if explain
                else ()
            )
            return SlotChoice(slot, required, None, reason, candidates=rejected)
        best_rank, winner = ranked[0]
        tied = tuple(a.id for r, a in ranked[1:] if r[:3] == best_rank[:3])
        matched = audience.segment if best_rank[0] == 0 else None
        reason = self._win_reason(best_rank, matched, winner)
        if tied:
            reason += f"; tied with {', '.join(tied)} — won on id"
        candidates = [Candidate(winner.id, Verdict.WON, reason)]
        if explain:
            # Reasons for every loser and rejection are only worth their cost when asked for.
            for rank, atom in ranked[1:]:
                candidates.append(
                    Candidate(atom.id, Verdict.LOST, self._loss_reason(rank, best_rank, winner))
                )
            candidates.extend(
                self._rejections(slot, key, audience, locales, chain, on, include_drafts)
            )
        return SlotChoice(
            slot,
            required,
            winner,
            reason,
            matched_segment=matched,
            locale=winner.locale or self.default_locale,
            candidates=tuple(candidates),
            tied_with=tied,
        )

    def _win_reason(self, rank: RankKey, matched: str | None, atom: Atom) -> str:
        parts = []
        if matched is not None:
            parts.append(f"targets the audience's segment {matched!r}")
        else:
            parts.append("generic fallback")
        if atom.priority:
            parts.append(f"atom priority {atom.priority}")
        locale = atom.locale or self.default_locale
        parts.append(f"locale {locale}" + (" (fallback)" if rank[2] > 0 else ""))
        return ", ".join(parts)

    def _loss_reason(self, rank: RankKey, best: RankKey, winner: Atom) -> str:
        if rank[0] != best[0]:
            return f"outranked by {winner.id}: generic loses to segment-targeted"
        if rank[1] != best[1]:
            return f"outranked by {winner.id}: higher atom priority"
        if rank[2] != best[2]:
            return f"outranked by {winner.id}: closer locale"
        return f"tied with {winner.id}, which comes first by id"

    def _rejections(
        self,
        slot: str,
        key: MessageKey,
        audience: Audience,
        locales: list[str],
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
    ) -> Iterable[Candidate]:
        """Every other atom of the slot, with the first rule that excludes it."""
        for atom in self._by_slot.get(slot, ()):
            reason = self._rejection_reason(atom, key, audience, locales, chain, on, include_drafts)
            if reason is not None:
                yield Candidate(atom.id, Verdict.REJECTED, reason)

    def _rejection_reason(
        self,
        atom: Atom,
        key: MessageKey,
        audience: Audience,
        locales: list[str],
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
    ) -> str | None:
        if atom.channels is not None and key.channel not in atom.channels:
            return f"wrong channel (only {', '.join(atom.channels)})"
        if not journey_allows(atom, key.journey, key.step):
            return f"other journey ({', '.join(atom.journeys or [])})"
        if atom.status is Status.RETIRED:
            return "retired"
        if not status_allowed(atom, include_drafts):
            return f"status {atom.status.value} (use --include-drafts to preview it)"
        if on is not None and atom.valid_from is not None and on < atom.valid_from:
            return f"not valid yet (from {atom.valid_from.isoformat()})"
        if on is not None and atom.valid_until is not None and on > atom.valid_until:
            return f"expired (until {atom.valid_until.isoformat()})"
        if atom.segments and audience.segment not in atom.segments:
            if audience.consent_refused:
                return "personalized content, but the customer refused personalization"
            wanted = ", ".join(atom.segments)
            if audience.segment is None:
                return f"targets {wanted}; this message is for the generic audience"
            return f"targets {wanted}; this message speaks to segment {audience.segment!r}"
        locale = atom.locale or self.default_locale
        if locale not in chain:
            return f"locale {locale} is not on the chain {' -> '.join(chain)}"
        if locale not in locales:
            return (
                f"written in {language_of(locale)!r}; one message, one language: this one is "
                f"in {language_of(locales[0])!r}"
            )
        return None


def require_complete(library: Library, resolution: Resolution) -> None:
    """Raise ResolutionError naming journey, step, channel, locale, slot and audience of
    every required slot that nothing fills."""
    diagnostics = missing_diagnostics(library, resolution)
    if diagnostics:
        raise ResolutionError(diagnostics)


def missing_diagnostics(library: Library, resolution: Resolution) -> Diagnostics:
    """One error per required slot that nothing fills, positioned at the step's channel."""
    diagnostics = Diagnostics()
    missing = resolution.missing_required
    if not missing:
        return diagnostics
    key = resolution.key
    journey = library.journeys[key.journey]
    step_index = next(i for i, s in enumerate(journey.steps) if s.id == key.step)
    path, line, col = library.position(
        "journey", key.journey, ("steps", step_index, "channels", key.channel)
    )
    for slot in missing:
        target = (
            f"segments: [{resolution.audience.segment}]"
            if resolution.audience.segment
            else "no segments (generic)"
        )
        diagnostics.error(
            path,
            line,
            col,
            "resolve.missing_required_slot",
            f"no atom fills required slot {slot!r} of {key.journey}/{key.step} "
            f"on {key.channel} "
            f"in {key.locale} for {resolution.audience.label}",
            f"add an approved atom with slot: {slot}, channels: [{key.channel}], "
            f"locale: {key.locale}, {target}",
        )
    return diagnostics
