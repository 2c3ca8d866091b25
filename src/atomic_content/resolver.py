"""Slot-by-slot choice of atoms, with an explanation of every choice.

For a message — (journey, step, channel, locale) — and an audience, every slot the step's layout
declares gets the best *eligible* atom. An atom is eligible when it

1. fills that slot and is allowed on the channel (``channels`` absent = all);
2. is scoped to the journey or the step (``journeys`` absent = any journey);
3. has status ``approved`` (``draft`` and ``review`` too when drafts are included; ``retired``
   never);
4. is inside its validity window on the resolution date (``valid_from``/``valid_until``,
   inclusive; no date = windows ignored);
5. is generic, or targets a segment of the audience (an audience that refused consent has none);
6. has a locale on the message locale's fallback chain.

Eligible atoms are ranked by :func:`rank_key` — the one ranking, written down in the README:

1. segment-targeted beats generic; among targeted atoms, the highest ``priority`` of the
   atom's *matched* segments wins;
2. the atom's own ``priority``, higher first;
3. exact locale before a fallback locale (earlier on the chain first);
4. atom id, alphabetically — so the result is always deterministic.

Two atoms equal on 1–3 are *ambiguous* (``atomic validate`` warns). Candidates are found through
an index keyed by (slot, channel, locale, segment), never by scanning every atom; the full scan
is only done when an explanation is asked for.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import Diagnostics, ResolutionError, UsageError, did_you_mean
from .models import Atom, Journey, Status
from .repository import Library
from .segments import Audience, SegmentIndex


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

    ``matched_segment`` is the audience segment that made a targeted winner eligible;
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


@dataclass(frozen=True)
class MessageKey:
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
                "label": self.audience.label,
                "segments": sorted(self.audience.segments),
                "consent_refused": self.audience.consent_refused,
            },
            "date": self.date.isoformat() if self.date else None,
            "notes": list(self.notes),
            "missing_required": self.missing_required,
            "slots": slots,
        }

    @property
    def atoms(self) -> dict[str, Atom]:
        """Slot -> winning atom, for the slots that have one."""
        return {name: s.winner for name, s in self.slots.items() if s.winner is not None}


RankKey = tuple[int, int, int, int, str]

MEMO_SIZE = 65_536
"""Resolutions remembered per Resolver (without explanations)."""


def rank_key(
    atom: Atom,
    audience_segments: frozenset[str],
    segment_priorities: dict[str, int],
    locale_chain: list[str],
    default_locale: str,
) -> tuple[RankKey, str | None]:
    """The ranking of the README as a sort key (smaller sorts first) and the matched segment.

    Sort key: (generic?, -best matched segment priority, -atom priority, locale position, id).
    """
    matched: str | None = None
    if atom.segments:
        hits = [s for s in atom.segments if s in audience_segments]
        # Highest priority first, then id: the same segment is named whatever the file order.
        matched = min(hits, key=lambda s: (-segment_priorities.get(s, 0), s)) if hits else None
    targeted = matched is not None
    seg_priority = segment_priorities.get(matched, 0) if matched is not None else 0
    locale = atom.locale or default_locale
    position = locale_chain.index(locale) if locale in locale_chain else len(locale_chain)
    return (0 if targeted else 1, -seg_priority, -atom.priority, position, atom.id), matched


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


class Resolver:
    """Resolves messages of one library. Build once; resolving is index lookups."""

    def __init__(self, library: Library) -> None:
        if library.settings is None:
            raise ValueError("the library has no settings; validate it first")
        self.library = library
        self.settings = library.settings
        self.default_locale = library.settings.default_locale
        self.segment_index = SegmentIndex(library.segments, library.profile)
        self.priorities = self.segment_index.priorities
        self.chains = {code: library.locale_chain(code) for code in library.settings.locales}
        self.channels = library.settings.channels.enabled()
        # (slot, channel, locale, segment-or-None, journey-or-None) -> atoms. Atoms for every
        # channel are listed under each enabled channel, and journey-scoped atoms under their
        # journey, so a lookup touches only atoms that can compete for the message.
        self._index: dict[tuple[str, str, str, str | None, str | None], list[Atom]] = defaultdict(
            list
        )
        self._by_slot: dict[str, list[Atom]] = defaultdict(list)
        self._segments_by_key: dict[tuple[str, str, str, str | None], set[str]] = defaultdict(set)
        self._relevant: dict[tuple[MessageKey, tuple[str, ...]], frozenset[str]] = {}
        self._memo: dict[
            tuple[MessageKey, frozenset[str], dt.date | None, bool], dict[str, SlotChoice]
        ] = {}
        for atom in sorted(library.atoms.values(), key=lambda a: a.id):
            if atom.status is Status.RETIRED:
                self._by_slot[atom.slot].append(atom)
                continue
            self._by_slot[atom.slot].append(atom)
            locale = atom.locale or self.default_locale
            journeys: list[str | None] = [None]
            if atom.journeys:
                journeys = [*sorted({ref.partition("/")[0] for ref in atom.journeys})]
            segments: list[str | None] = list(atom.segments) if atom.segments else [None]
            for channel in atom.channels or self.channels:
                for segment in segments:
                    for journey in journeys:
                        self._index[(atom.slot, channel, locale, segment, journey)].append(atom)
                        if segment is not None:
                            self._segments_by_key[(atom.slot, channel, locale, journey)].add(
                                segment
                            )
        # Each bucket sorted by atom priority (then id): within a bucket the segment and the
        # locale are fixed, so the first eligible atoms are the bucket's best (see _best).
        for bucket in self._index.values():
            bucket.sort(key=lambda a: (-a.priority, a.id))

    # -- lookups ---------------------------------------------------------------------------
    def journey(self, journey_id: str) -> Journey:
        journey = self.library.journeys.get(journey_id)
        if journey is None:
            known = sorted(self.library.journeys)
            raise UsageError(
                f"unknown journey {journey_id!r}",
                (did_you_mean(journey_id, known) + " ").lstrip() + f"journeys: {', '.join(known)}",
            )
        return journey

    def message_locale(self, journey: Journey, wanted: str | None) -> str:
        """The locale a message is written in: the first locale of ``wanted``'s chain that the
        journey supports, else the default locale (if supported), else the journey's first."""
        supported = journey.locales or list(self.settings.locales)
        if wanted is not None:
            for code in self.chains.get(wanted, [wanted]):
                if code in supported:
                    return code
        return self.default_locale if self.default_locale in supported else supported[0]

    def candidates(
        self, slot: str, key: MessageKey, audience: Audience, chain: list[str]
    ) -> list[Atom]:
        """Atoms indexed under the slot, channel, a locale of the chain and an audience segment
        (or generic). Other filters (journey, status, date) are applied by the caller."""
        found: dict[str, Atom] = {}
        for locale in chain:
            for segment in (None, *sorted(audience.segments)):
                for journey in (None, key.journey):
                    for atom in self._index.get((slot, key.channel, locale, segment, journey), ()):
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
        for locale in chain:
            for journey in (None, key.journey):
                # Probe only segments that have atoms here: a customer may be in dozens of
                # segments of which a slot knows two.
                known = self._segments_by_key.get((slot, key.channel, locale, journey))
                targeted = audience.segments & known if known else ()
                for segment in (None, *targeted):
                    top: int | None = None
                    for atom in self._index.get((slot, key.channel, locale, segment, journey), ()):
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

    def select_messages(
        self, journey: str, step: str | None = None, channel: str | None = None
    ) -> list[tuple[str, str]]:
        """(step id, channel) of every message of ``journey`` that ``step``/``channel`` select, in
        the journey's order. Raises UsageError (with the known ids) when nothing matches."""
        the_journey = self.journey(journey)
        steps = list(the_journey.steps)
        if step is not None:
            steps = [s for s in steps if s.id == step]
            if not steps:
                known = [s.id for s in the_journey.steps]
                raise UsageError(
                    f"journey {journey!r} has no step {step!r}",
                    (did_you_mean(step, known) + " ").lstrip() + f"steps: {', '.join(known)}",
                )
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
            (s.id, c)
            for s in steps
            for c in ([channel] if channel is not None else list(s.channels))
        ]

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
        """Resolve every slot of a message for an audience.

        ``locale`` is the wanted locale (the customer's); the message locale follows
        :meth:`message_locale`. ``on=None`` ignores validity windows (used by static checks).
        Raises UsageError for an unknown journey, step or channel; a required slot without a
        candidate does *not* raise — see :meth:`require_complete`.
        """
        journey = self.journey(journey_id)
        step = next((s for s in journey.steps if s.id == step_id), None)
        if step is None:
            known = [s.id for s in journey.steps]
            raise UsageError(
                f"journey {journey_id!r} has no step {step_id!r}",
                (did_you_mean(step_id, known) + " ").lstrip() + f"steps: {', '.join(known)}",
            )
        layout_id = step.channels.get(channel)
        if layout_id is None:
            raise UsageError(
                f"step {journey_id}/{step_id} has no {channel!r} message",
                f"channels of this step: {', '.join(step.channels)}",
            )
        entry = self.library.layouts[(channel, layout_id)]
        message_locale = self.message_locale(journey, locale)
        key = MessageKey(journey.id, step.id, channel, message_locale)
        chain = self.chains.get(message_locale, [message_locale])
        notes = []
        if audience.consent_refused:
            notes.append("the customer refused personalization: generic content only")
        if locale is not None and locale != message_locale:
            notes.append(f"journey is not written in {locale!r}; using {message_locale!r}")
        # Without an explanation the outcome depends only on the message, the date and the
        # audience's segments that some candidate atom targets — so customers who differ only
        # in irrelevant segments share one memo entry (the runtime's hot path).
        memo_key = None
        if not explain:
            relevant = audience.segments & self._relevant_segments(key, entry.layout.slots, chain)
            memo_key = (key, relevant, on, include_drafts)
            cached = self._memo.get(memo_key)
            if cached is not None:
                return Resolution(key, audience, layout_id, cached, on, tuple(notes))
        slots = {}
        for slot, need in entry.layout.slots.items():
            slots[slot] = self._resolve_slot(
                slot, need == "required", key, audience, chain, on, include_drafts, explain
            )
        if memo_key is not None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()  # simple bound; refilling is cheap
            self._memo[memo_key] = slots
        return Resolution(key, audience, layout_id, slots, on, tuple(notes))

    def message_segments(
        self, journey_id: str, step_id: str, channel: str, locale: str | None
    ) -> frozenset[str] | None:
        """Segments targeted by some candidate atom of a message (None when the message does
        not exist; resolve() then reports it)."""
        journey = self.library.journeys.get(journey_id)
        step = next((s for s in journey.steps if s.id == step_id), None) if journey else None
        layout_id = step.channels.get(channel) if step else None
        if journey is None or layout_id is None:
            return None
        entry = self.library.layouts[(channel, layout_id)]
        message_locale = self.message_locale(journey, locale)
        key = MessageKey(journey.id, step_id, channel, message_locale)
        return self._relevant_segments(
            key, entry.layout.slots, self.chains.get(message_locale, [message_locale])
        )

    def _relevant_segments(
        self, key: MessageKey, slots: Iterable[str], chain: list[str]
    ) -> frozenset[str]:
        memo = (key, tuple(chain))
        found = self._relevant.get(memo)
        if found is None:
            segments: set[str] = set()
            for slot in slots:
                for locale in chain:
                    for journey in (None, key.journey):
                        segments |= self._segments_by_key.get(
                            (slot, key.channel, locale, journey), set()
                        )
            found = frozenset(segments)
            self._relevant[memo] = found
        return found

    def _resolve_slot(
        self,
        slot: str,
        required: bool,
        key: MessageKey,
        audience: Audience,
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
        explain: bool,
    ) -> SlotChoice:
        ranked: list[tuple[RankKey, str | None, Atom]] = []
        pool = (
            self.candidates(slot, key, audience, chain)
            if explain
            else self._best(slot, key, audience, chain, on, include_drafts)
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
            rank, matched = rank_key(
                atom, audience.segments, self.priorities, chain, self.default_locale
            )
            ranked.append((rank, matched, atom))
        ranked.sort(key=lambda item: item[0])
        if not ranked:
            reason = "no eligible atom" + (
                " (required)" if required else " (optional slot left out)"
            )
            rejected = (
                tuple(self._rejections(slot, key, audience, chain, on, include_drafts))
                if explain
                else ()
            )
            return SlotChoice(slot, required, None, reason, candidates=rejected)
        best_rank, matched, winner = ranked[0]
        tied = tuple(a.id for r, _m, a in ranked[1:] if r[:4] == best_rank[:4])
        reason = self._win_reason(best_rank, matched, winner, chain)
        if tied:
            reason += f"; tied with {', '.join(tied)} — won on id"
        candidates = [Candidate(winner.id, Verdict.WON, reason)]
        if explain:
            # Reasons for every loser and rejection are only worth their cost when asked for.
            for rank, _m, atom in ranked[1:]:
                candidates.append(
                    Candidate(atom.id, Verdict.LOST, self._loss_reason(rank, best_rank, winner))
                )
            candidates.extend(self._rejections(slot, key, audience, chain, on, include_drafts))
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

    def _win_reason(self, rank: RankKey, matched: str | None, atom: Atom, chain: list[str]) -> str:
        parts = []
        if matched is not None:
            parts.append(
                f"targets segment {matched!r} (priority {self.priorities.get(matched, 0)})"
            )
        else:
            parts.append("generic fallback")
        if atom.priority:
            parts.append(f"atom priority {atom.priority}")
        locale = atom.locale or self.default_locale
        parts.append(f"locale {locale}" + (" (fallback)" if rank[3] > 0 else ""))
        return ", ".join(parts)

    def _loss_reason(self, rank: RankKey, best: RankKey, winner: Atom) -> str:
        if rank[0] != best[0]:
            return f"outranked by {winner.id}: generic loses to segment-targeted"
        if rank[1] != best[1]:
            return f"outranked by {winner.id}: its segment has a higher priority"
        if rank[2] != best[2]:
            return f"outranked by {winner.id}: higher atom priority"
        if rank[3] != best[3]:
            return f"outranked by {winner.id}: closer locale"
        return f"tied with {winner.id}, which comes first by id"

    def _rejections(
        self,
        slot: str,
        key: MessageKey,
        audience: Audience,
        chain: list[str],
        on: dt.date | None,
        include_drafts: bool,
    ) -> Iterable[Candidate]:
        """Every other atom of the slot, with the first rule that excludes it."""
        for atom in self._by_slot.get(slot, ()):
            reason = self._rejection_reason(atom, key, audience, chain, on, include_drafts)
            if reason is not None:
                yield Candidate(atom.id, Verdict.REJECTED, reason)

    def _rejection_reason(
        self,
        atom: Atom,
        key: MessageKey,
        audience: Audience,
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
        if atom.segments and not set(atom.segments) & audience.segments:
            if audience.consent_refused:
                return "personalized content, but the customer refused personalization"
            return f"not in segment ({', '.join(atom.segments)})"
        if (atom.locale or self.default_locale) not in chain:
            locale = atom.locale or self.default_locale
            return f"locale {locale} is not on the chain {' -> '.join(chain)}"
        return None

    # -- convenience -----------------------------------------------------------------------
    def resolve_customer(
        self,
        attributes: dict[str, object],
        journey_id: str,
        step_id: str,
        channel: str,
        *,
        locale: str | None = None,
        on: dt.date | None = None,
        include_drafts: bool = False,
        explain: bool = False,
        label: str | None = None,
        all_segments: bool = True,
    ) -> Resolution:
        """Resolve for a customer record: segments from its attributes, locale from the
        profile's locale attribute unless ``locale`` is given.

        With ``all_segments=False`` only the segments that some candidate atom of this message
        targets are evaluated (the runtime's fast path); the resolution is the same, but the
        audience lists only those segments.
        """
        if locale is None and self.library.profile and self.library.profile.locale_attribute:
            from .segments import lookup

            found, value = lookup(attributes, self.library.profile.locale_attribute)
            locale = value if found and isinstance(value, str) else None
        only = None if all_segments else self.message_segments(journey_id, step_id, channel, locale)
        audience = self.segment_index.audience(attributes, label, only)
        return self.resolve(
            journey_id,
            step_id,
            channel,
            audience,
            locale=locale,
            on=on,
            include_drafts=include_drafts,
            explain=explain,
        )

    def require_complete(self, resolution: Resolution) -> None:
        """Raise ResolutionError naming journey, step, channel, locale, slot and audience of
        every required slot that nothing fills."""
        missing = resolution.missing_required
        if not missing:
            return
        diagnostics = Diagnostics()
        key = resolution.key
        journey = self.library.journeys[key.journey]
        step_index = next(i for i, s in enumerate(journey.steps) if s.id == key.step)
        path, line, col = self.library.position(
            "journey", key.journey, ("steps", step_index, "channels", key.channel)
        )
        for slot in missing:
            segments = ", ".join(sorted(resolution.audience.segments)) or "none"
            diagnostics.error(
                path,
                line,
                col,
                "resolve.missing_required_slot",
                f"no atom fills required slot {slot!r} of {key.journey}/{key.step} "
                f"on {key.channel} "
                f"in {key.locale} for {resolution.audience.label}",
                f"add an approved atom with slot: {slot}, channels: [{key.channel}], "
                f"locale: {key.locale} (generic, or for one of the segments: {segments})",
            )
        raise ResolutionError(diagnostics)
