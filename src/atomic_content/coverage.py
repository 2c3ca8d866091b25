"""Coverage: for every message slot, locale and segment, what does that segment get?

A *cell* is one (journey, step, channel, slot, locale, segment): every slot (required or
optional) of the layout a step uses on a channel, in every locale the journey is written in, for
every segment the journey personalizes for. A cell shows the variant the build renders for that
segment's audience (the audience rule: every slot of the message speaks to that one segment) on
the report date, read from the plan (:mod:`atomic_content.plan`), approved atoms only.

Status of a cell — exactly one, decided in this order (first match wins):

1. ``missing`` — nothing fills the slot. For a required slot the message cannot be built for
   that audience; an optional slot is left out.
2. ``fallback-locale`` — the winner is written in another locale than the cell's (it was found
   through the locale fallback chain, e.g. a ``de-AT`` cell filled by a ``de`` atom). This holds
   whether the winner targets the segment or is generic; :attr:`Cell.targeted` tells which.
3. ``generic`` — the winner is a generic fallback (no ``segments``) in the cell's locale.
4. ``specific`` — the winner targets the segment and is in the cell's locale.

Flags (any number per cell):

* ``expiring`` — the cell gets worse (a higher :func:`severity`: e.g. specific -> generic,
  anything -> missing) on some day of the horizon ``date + 1 .. date + horizon`` because the
  atom that fills it expires. Found by following the winners: re-resolve on the day after the
  winner's ``valid_until``, and again after the next winner's, while inside the horizon.
  :attr:`Cell.expires_on` is the first worse day, :attr:`Cell.status_after` the status then.
* ``drafts_only`` — letting ``draft`` and ``review`` atoms compete would make the cell better
  (a missing cell filled, a generic cell specific, ...): the content exists, but only unapproved.
  :attr:`Cell.draft_atom` names the atom that would win.
* ``ambiguous`` — the winner tied on the ranking rules 1-3 with other atoms; only the id decided.

Gaps are the cells that are not ``specific``, ranked by impact (highest first)::

    impact = size x value x slot_weight x severity

``size`` and ``value`` come from the segment file (a missing one counts as 1 and the gap says
so); with a measured lift (``measured``: an experiment analysis, see docs/experiments.md) the
value is the measured incremental value per customer instead, and the gap says that too;
``slot_weight`` is 1.0 for a required slot and 0.3 for an optional one; ``severity`` is 1.0
for missing, 0.5 for generic, 0.25 for a fallback-locale cell whose winner targets the segment
and 0.75 for a fallback-locale cell whose winner is generic (both the segment's own content and
the translation are lacking). Ties are broken by the cell's position, so the order is stable.

This module computes data only; :mod:`atomic_content.coverage_report` turns it into text.

Coverage resolves nothing itself: every cell, on every day of the horizon, is read from the
plan, which already splits the range at every validity boundary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .dates import day_after, shift
from .errors import plural
from .models import Atom, Status
from .plan import Plan, PlannedVariant, journey_locales, make_plan
from .repository import Library
from .resolver import SlotChoice, find_journey, journey_allows
from .segments import SegmentIndex

K = TypeVar("K", bound=Hashable)

REPORT_VERSION = 1
"""Version of the JSON report (docs/coverage.md); bumped on incompatible changes."""


class CellStatus(enum.StrEnum):
    """What a segment gets in one cell (see the module docs for the precedence)."""

    SPECIFIC = "specific"
    GENERIC = "generic"
    FALLBACK_LOCALE = "fallback-locale"
    MISSING = "missing"


class Flag(enum.StrEnum):
    """Extra facts about a cell; listed in this order."""

    EXPIRING = "expiring"
    DRAFTS_ONLY = "drafts_only"
    AMBIGUOUS = "ambiguous"


class FailOn(enum.StrEnum):
    """Which cells fail ``atomic coverage`` (exit 1)."""

    MISSING = "missing"  # a required slot that nothing fills
    GENERIC = "generic"  # a required slot not filled by content targeted at the segment
    NEVER = "never"


SLOT_WEIGHT_REQUIRED = 1.0
SLOT_WEIGHT_OPTIONAL = 0.3
SEVERITY: Mapping[CellStatus, float] = {
    CellStatus.SPECIFIC: 0.0,
    CellStatus.FALLBACK_LOCALE: 0.25,
    CellStatus.GENERIC: 0.5,
    CellStatus.MISSING: 1.0,
}
SEVERITY_GENERIC_FALLBACK_LOCALE = 0.75
"""Severity of a fallback-locale cell whose winner is generic: untargeted *and* untranslated."""


def severity(status: CellStatus, targeted: bool) -> float:
    """How bad a cell is, 0 (specific) to 1 (missing); see the module docs."""
    if status is CellStatus.FALLBACK_LOCALE and not targeted:
        return SEVERITY_GENERIC_FALLBACK_LOCALE
    return SEVERITY[status]


@dataclass(frozen=True)
class Cell:
    """One journey x step x channel x slot x locale x segment and what fills it.

    ``atom`` is the winning atom id (None when missing), ``atom_locale`` its locale, ``targeted``
    whether it targets the segment. The ``expiring``/``drafts_only``/``ambiguous`` properties
    are the flags; their details are in ``expires_on``/``status_after``/``atom_after``,
    ``draft_atom``/``draft_status`` and ``tied_with``.
    """

    journey: str
    step: str
    channel: str
    layout: str
    slot: str
    required: bool
    locale: str
    segment: str
    status: CellStatus
    atom: str | None
    atom_locale: str | None
    targeted: bool
    tied_with: tuple[str, ...] = ()
    expires_on: dt.date | None = None
    status_after: CellStatus | None = None
    atom_after: str | None = None
    draft_atom: str | None = None
    draft_status: CellStatus | None = None
    personal: int = 0

    @property
    def expiring(self) -> bool:
        return self.expires_on is not None

    @property
    def drafts_only(self) -> bool:
        return self.draft_status is not None

    @property
    def ambiguous(self) -> bool:
        return bool(self.tied_with)

    @property
    def flags(self) -> tuple[Flag, ...]:
        """The flags that hold, in :class:`Flag` order."""
        held = (self.expiring, self.drafts_only, self.ambiguous)
        return tuple(flag for flag, holds in zip(Flag, held, strict=True) if holds)

    @property
    def severity(self) -> float:
        return severity(self.status, self.targeted)

    @property
    def generic_or_missing(self) -> bool:
        """Not filled by content targeted at the segment (what ``--fail-on generic`` counts)."""
        return self.status is CellStatus.MISSING or not self.targeted

    @property
    def message(self) -> str:
        """``journey/step/channel``: the message this cell belongs to."""
        return f"{self.journey}/{self.step}/{self.channel}"


@dataclass(frozen=True)
class Stats:
    """Counts of cells by status; ``specific_share`` is None for no cells (nothing to cover)."""

    cells: int = 0
    specific: int = 0
    generic: int = 0
    fallback_locale: int = 0
    missing: int = 0
    missing_required: int = 0
    expiring: int = 0
    drafts_only: int = 0
    ambiguous: int = 0

    @classmethod
    def of(cls, cells: Iterable[Cell]) -> Stats:
        counts = dict.fromkeys((f.name for f in dataclasses.fields(cls)), 0)
        for cell in cells:
            counts["cells"] += 1
            counts[cell.status.value.replace("-", "_")] += 1
            counts["missing_required"] += cell.required and cell.status is CellStatus.MISSING
            counts["expiring"] += cell.expiring
            counts["drafts_only"] += cell.drafts_only
            counts["ambiguous"] += cell.ambiguous
        return cls(**counts)

    @property
    def specific_share(self) -> float | None:
        return self.specific / self.cells if self.cells else None

    @property
    def worst(self) -> CellStatus | None:
        """The worst status present (missing > fallback-locale > generic > specific)."""
        for status, count in (
            (CellStatus.MISSING, self.missing),
            (CellStatus.FALLBACK_LOCALE, self.fallback_locale),
            (CellStatus.GENERIC, self.generic),
            (CellStatus.SPECIFIC, self.specific),
        ):
            if count:
                return status
        return None


@dataclass(frozen=True)
class SegmentInfo:
    """A segment as the report shows it; ``*_assumed`` when the file gives no size/value."""

    id: str
    name: str
    size: int
    value: float
    size_assumed: bool
    value_assumed: bool
    value_source: str = "segment"
    """``segment`` (the file's value), ``assumed`` (none: 1) or ``measured`` (an experiment's
    incremental value per customer)."""


@dataclass(frozen=True)
class Gap:
    """A cell that is not ``specific``, with its impact and a one-line fix."""

    rank: int
    cell: Cell
    slot_weight: float
    severity: float
    impact: float
    size: int
    value: float
    size_assumed: bool
    value_assumed: bool
    suggestion: str
    value_source: str = "segment"


@dataclass(frozen=True)
class CoverageReport:
    """Everything ``atomic coverage`` reports; cells and gaps in a stable order.

    The summaries (``overall``, ``by_*``, the grids) are computed on first use and cached.

    ``cells`` come in content order: journeys by id, steps in journey order, channels by name,
    slots in layout order, locales in journey order, segments by id. ``columns`` lists the
    (journey, step, channel) messages in the same order.
    """

    date: dt.date
    horizon_days: int
    journey: str | None
    segments: tuple[SegmentInfo, ...]
    locales: tuple[str, ...]
    columns: tuple[tuple[str, str, str], ...]
    cells: tuple[Cell, ...]
    gaps: tuple[Gap, ...]
    journey_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    step_names: Mapping[tuple[str, str], str] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def overall(self) -> Stats:
        return Stats.of(self.cells)

    def group(self, key: Callable[[Cell], K], order: Iterable[K] = ()) -> dict[K, Stats]:
        """Stats per ``key(cell)``; keys listed in ``order`` first, the rest sorted."""
        buckets: dict[K, list[Cell]] = defaultdict(list)
        for cell in self.cells:
            buckets[key(cell)].append(cell)
        ordered = [k for k in order if k in buckets]
        seen = set(ordered)
        rest = sorted((k for k in buckets if k not in seen), key=repr)
        return {k: Stats.of(buckets[k]) for k in (*ordered, *rest)}

    @functools.cached_property
    def by_segment(self) -> dict[str, Stats]:
        return self.group(lambda c: c.segment, [s.id for s in self.segments])

    @functools.cached_property
    def by_journey(self) -> dict[str, Stats]:
        return self.group(lambda c: c.journey, dict.fromkeys(j for j, _s, _c in self.columns))

    @functools.cached_property
    def by_channel(self) -> dict[str, Stats]:
        return self.group(lambda c: c.channel, sorted({c for _j, _s, c in self.columns}))

    @functools.cached_property
    def by_locale(self) -> dict[str, Stats]:
        return self.group(lambda c: c.locale, self.locales)

    @functools.cached_property
    def steps(self) -> tuple[tuple[str, str], ...]:
        """(journey, step) columns of the heat map, in content order."""
        return tuple(dict.fromkeys((j, s) for j, s, _c in self.columns))

    @functools.cached_property
    def grid_by_step(self) -> dict[tuple[str, tuple[str, str]], Stats]:
        """(segment, (journey, step)) -> stats: the heat map. Absent: the journey does not
        personalize for that segment."""
        return self.group(lambda c: (c.segment, (c.journey, c.step)))

    @functools.cached_property
    def grid_by_message(self) -> dict[tuple[str, tuple[str, str, str]], Stats]:
        """(segment, (journey, step, channel)) -> stats: the terminal matrix."""
        return self.group(lambda c: (c.segment, (c.journey, c.step, c.channel)))

    @functools.cached_property
    def assumed_segments(self) -> tuple[str, ...]:
        """Segments whose size or value is missing from their file (counted as 1)."""
        return tuple(s.id for s in self.segments if s.size_assumed or s.value_assumed)

    @property
    def measured_segments(self) -> tuple[str, ...]:
        """Segments whose gaps are ranked by a measured lift (an experiment analysis)."""
        return tuple(s.id for s in self.segments if s.value_source == "measured")

    def flagged(self, flag: Flag) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if flag in cell.flags)


# --------------------------------------------------------------------------- resolution memo


Choices = dict[str, SlotChoice]
_MessageKey = tuple[str, str, str, str]  # journey, step, channel, locale


class _Memo:
    """Slot choices per (message, segment, day, drafts), read from plans: the cell of a
    segment is exactly the variant built for that audience (the audience rule), so coverage
    never resolves anything itself.

    ``plan`` must cover ``on`` and every day of the horizon; a drafts plan for ``on`` (drafts
    and reviews compete too) is made only when a draft could change some cell.
    """

    def __init__(self, library: Library, plan: Plan, on: dt.date) -> None:
        self.library = library
        self.plan = plan
        self.on = on
        self._drafts: Plan | None = None
        self._index: dict[tuple[bool, _MessageKey, str], list[PlannedVariant]] = {}
        self._fill(False, plan)
        # Unapproved atoms by slot: the cells a drafts pass could change.
        self.unapproved: dict[str, list[Atom]] = defaultdict(list)
        for atom in library.atoms.values():
            if atom.status in (Status.DRAFT, Status.REVIEW):
                self.unapproved[atom.slot].append(atom)

    def _fill(self, drafts: bool, plan: Plan) -> None:
        for variant in plan.variants:
            key = (variant.journey, variant.step, variant.channel, variant.locale)
            self._index.setdefault((drafts, key, variant.audience), []).append(variant)

    def choices(self, key: _MessageKey, segment: str, on: dt.date, drafts: bool) -> Choices:
        """Slot choices of the variant of ``key`` for ``segment`` on day ``on``."""
        if drafts and self._drafts is None:
            self._drafts = make_plan(self.library, self.on, self.on, include_drafts=True)
            self._fill(True, self._drafts)
        for variant in self._index[(drafts, key, segment)]:
            if variant.start <= on <= variant.until:
                return variant.resolution.slots
        raise KeyError((key, segment, on))  # the plan does not cover the day: a caller bug

    def personal(self, key: _MessageKey, segment: str, on: dt.date) -> int:
        """How many personal attributes the variant of ``key`` for ``segment`` uses on ``on``
        (the count the creepiness budget limits)."""
        for variant in self._index[(False, key, segment)]:
            if variant.start <= on <= variant.until:
                return len(variant.uses.personal)
        return 0

    def drafts_matter(self, key: _MessageKey, slot: str, segment: str, generic_helps: bool) -> bool:
        """Whether a draft or review atom could compete in ``slot`` of the message and make the
        cell better; when none can, the drafts pass would change nothing.

        Atoms targeting ``segment`` always count. Generic ones count only when
        ``generic_helps``: a generic winner never beats a targeted one (rule 1), and a generic
        atom can at best make a cell ``generic``.
        """
        journey, step, channel, _locale = key
        for atom in self.unapproved.get(slot, ()):
            if atom.channels is not None and channel not in atom.channels:
                continue
            if not journey_allows(atom, journey, step):
                continue
            if (atom.segments and segment in atom.segments) or (
                generic_helps and not atom.segments
            ):
                return True
        return False


def classify(choice: SlotChoice, locale: str) -> tuple[CellStatus, bool]:
    """(status, targeted) of a slot choice in a cell of ``locale`` (module docs: precedence)."""
    if choice.winner is None:
        return CellStatus.MISSING, False
    targeted = choice.matched_segment is not None
    if choice.locale != locale:
        return CellStatus.FALLBACK_LOCALE, targeted
    return (CellStatus.SPECIFIC if targeted else CellStatus.GENERIC), targeted


# --------------------------------------------------------------------------- computation


def compute_coverage(
    library: Library,
    *,
    on: dt.date,
    horizon_days: int | None = None,
    journey: str | None = None,
    plan: Plan | None = None,
    measured: Mapping[str, float] | None = None,
) -> CoverageReport:
    """The coverage report of a valid library on day ``on``.

    ``measured`` maps segments to their measured incremental value per customer (from an
    experiment analysis); gaps of those segments are ranked by it instead of ``value``.

    ``horizon_days`` (default: ``governance.expiry_horizon_days`` of atomic.yaml) is how far
    ahead ``expiring`` looks; ``journey`` limits the report to one journey (unknown:
    UsageError). ``plan`` is the library's plan when the caller has one covering ``on`` to the
    horizon's end (a build's); else one is made. Never prints; raises ValueError for a library
    without settings.
    """
    if library.settings is None:
        raise ValueError("the library has no settings; validate it first")
    if horizon_days is None:
        horizon_days = library.settings.governance.expiry_horizon_days
    if horizon_days < 0:
        raise ValueError("horizon_days must not be negative")
    # Held at 9999-12-31: a report as of the calendar's last weeks looks as far as it goes.
    horizon_end = shift(on, horizon_days)
    if plan is None or not (plan.start <= on and horizon_end <= plan.until):
        plan = make_plan(library, on, horizon_end)
    memo = _Memo(library, plan, on)
    index = SegmentIndex(library.segments, library.profile)
    journeys = sorted(library.journeys.values(), key=lambda j: j.id)
    if journey is not None:
        journeys = [find_journey(library.journeys, journey)]

    cells: list[Cell] = []
    columns: list[tuple[str, str, str]] = []
    segment_ids: set[str] = set()
    for the_journey in journeys:
        segments = sorted(index.journey_segments(the_journey))
        segment_ids.update(segments)
        locales = journey_locales(library, the_journey)
        for step in the_journey.steps:
            for channel in sorted(step.channels):
                columns.append((the_journey.id, step.id, channel))
                layout_id = step.channels[channel]
                slots = library.layouts[(channel, layout_id)].layout.slots
                for slot, need in slots.items():
                    for locale in locales:
                        key = (the_journey.id, step.id, channel, locale)
                        for segment in segments:
                            cells.append(
                                _cell(
                                    memo,
                                    key,
                                    layout_id,
                                    slot,
                                    need == "required",
                                    segment,
                                    on,
                                    horizon_end,
                                )
                            )
    # Rows: every segment of the journeys in scope, by id.
    infos = tuple(_segment_info(library, sid, measured or {}) for sid in sorted(segment_ids))
    return CoverageReport(
        date=on,
        horizon_days=horizon_days,
        journey=journey,
        segments=infos,
        locales=tuple(
            code for code in library.settings.locales if any(c.locale == code for c in cells)
        ),
        columns=tuple(columns),
        cells=tuple(cells),
        gaps=rank_gaps(library, cells, {s.id: s for s in infos}),
        journey_names={j.id: j.name for j in journeys},
        step_names={(j.id, s.id): s.name or s.id for j in journeys for s in j.steps},
    )


def _cell(
    memo: _Memo,
    key: _MessageKey,
    layout: str,
    slot: str,
    required: bool,
    segment: str,
    on: dt.date,
    horizon_end: dt.date,
) -> Cell:
    journey, step, channel, locale = key
    choice = memo.choices(key, segment, on, False)[slot]
    status, targeted = classify(choice, locale)
    now = severity(status, targeted)
    # expiring: follow the winners through their expiry days inside the horizon.
    expires_on: dt.date | None = None
    status_after: CellStatus | None = None
    atom_after: str | None = None
    current = choice
    while current.winner is not None and current.winner.valid_until is not None:
        day = day_after(current.winner.valid_until)
        if day is None or day > horizon_end:  # None: valid to the calendar's end, never expires
            break
        current = memo.choices(key, segment, day, False)[slot]
        later, later_targeted = classify(current, locale)
        if severity(later, later_targeted) > now:
            expires_on, status_after = day, later
            atom_after = current.winner.id if current.winner else None
            break
    # drafts_only: would unapproved content make the cell better today? Only a missing cell
    # or a generic fallback in another locale can be helped by a generic draft (it becomes
    # generic in the cell's locale); everything else needs a draft targeting the segment.
    draft_atom: str | None = None
    draft_status: CellStatus | None = None
    generic_helps = status is CellStatus.MISSING or (
        status is CellStatus.FALLBACK_LOCALE and not targeted
    )
    if now > 0 and memo.drafts_matter(key, slot, segment, generic_helps):
        draft = memo.choices(key, segment, on, True)[slot]
        with_drafts, draft_targeted = classify(draft, locale)
        if severity(with_drafts, draft_targeted) < now and draft.winner is not None:
            draft_atom, draft_status = draft.winner.id, with_drafts
    return Cell(
        journey,
        step,
        channel,
        layout,
        slot,
        required,
        locale,
        segment,
        status,
        choice.winner.id if choice.winner else None,
        choice.locale if choice.winner else None,
        targeted,
        tied_with=tuple(sorted(choice.tied_with)) if choice.tied_with else (),
        expires_on=expires_on,
        status_after=status_after,
        atom_after=atom_after,
        draft_atom=draft_atom,
        draft_status=draft_status,
        personal=memo.personal(key, segment, on),
    )


def _segment_info(library: Library, segment_id: str, measured: Mapping[str, float]) -> SegmentInfo:
    segment = library.segments.get(segment_id)
    size = segment.size if segment is not None else None
    value = segment.value if segment is not None else None
    source = "segment" if value is not None else "assumed"
    if segment_id in measured:
        value, source = measured[segment_id], "measured"
    return SegmentInfo(
        id=segment_id,
        name=(segment.name if segment is not None and segment.name else segment_id),
        size=size if size is not None else 1,
        value=value if value is not None else 1.0,
        size_assumed=size is None,
        value_assumed=value is None,
        value_source=source,
    )


def rank_gaps(
    library: Library, cells: Iterable[Cell], segments: Mapping[str, SegmentInfo]
) -> tuple[Gap, ...]:
    """Every non-specific cell as a gap, highest impact first (module docs: the formula).

    Equal impacts keep the cells' content order (a stable sort), so the ranking is the same
    on every run.
    """
    scored: list[tuple[float, Cell, SegmentInfo, float]] = []
    for cell in cells:
        if cell.status is CellStatus.SPECIFIC:
            continue
        info = segments[cell.segment]
        weight = SLOT_WEIGHT_REQUIRED if cell.required else SLOT_WEIGHT_OPTIONAL
        scored.append((info.size * info.value * weight * cell.severity, cell, info, weight))
    scored.sort(key=lambda item: -item[0])  # stable: equal impacts keep content order
    return tuple(
        Gap(
            rank,
            cell,
            weight,
            cell.severity,
            impact,
            info.size,
            info.value,
            info.size_assumed,
            info.value_assumed,
            suggest(library, cell),
            info.value_source,
        )
        for rank, (impact, cell, info, weight) in enumerate(scored, start=1)
    )


def suggest(library: Library, cell: Cell) -> str:
    """A one-line fix for a gap: approve the draft that would fill it, or add an atom."""
    fields = [
        f"slot: {cell.slot}",
        f"segments: [{cell.segment}]",
        f"channels: [{cell.channel}]",
        f"locale: {cell.locale}",
        f"journeys: [{cell.journey}]",
    ]
    winner = library.atoms.get(cell.atom) if cell.atom is not None else None
    if winner is not None and cell.targeted and winner.priority > 0:
        # A targeted winner in a fallback locale outranks a new atom of lower priority (rule 2).
        fields.append(f"priority: {winner.priority}")
    add = "add an approved atom with " + ", ".join(fields)
    if cell.status is CellStatus.MISSING:
        add += " (or a generic one without segments, which fills it for every segment)"
    if cell.draft_atom is not None and cell.draft_status is not None:
        draft = library.atoms.get(cell.draft_atom)
        state = draft.status.value if draft is not None else "draft"
        return (
            f"approve atom {cell.draft_atom!r} (status {state}), which makes it "
            f"{cell.draft_status.value}; or {add}"
        )
    return add


def threshold_failures(
    report: CoverageReport, fail_on: FailOn, min_specific: float | None = None
) -> list[str]:
    """Why ``atomic coverage`` fails (exit 1), one sentence each; empty when it passes.

    ``fail_on=missing``: a required cell is missing. ``generic``: a required cell is missing
    or not filled by segment-targeted content (generic, or generic in a fallback locale).
    ``min_specific`` (percent): the overall specific share is below it (no cells: passes).
    """
    reasons: list[str] = []
    required = [c for c in report.cells if c.required]
    if fail_on is FailOn.MISSING:
        count = sum(1 for c in required if c.status is CellStatus.MISSING)
        if count:
            cells = plural(count, "required cell")
            reasons.append(f"{cells} missing (--fail-on missing)")
    elif fail_on is FailOn.GENERIC:
        count = sum(1 for c in required if c.generic_or_missing)
        if count:
            cells = plural(count, "required cell")
            reasons.append(f"{cells} generic or missing (--fail-on generic)")
    share = report.overall.specific_share
    if min_specific is not None and share is not None and share * 100 < min_specific:
        reasons.append(
            f"specific share {share * 100:.1f}% is below --min-specific {min_specific:g}%"
        )
    return reasons
