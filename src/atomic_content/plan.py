"""The plan stage: every message variant, computed once, and the one way to find a customer's.

A *variant* is one message — journey × step × channel × locale — for one audience (a segment
the journey personalizes for, or ``generic``) over one period of days. :func:`make_plan`
resolves every variant of a validated library for a date range, once; ``validate``, ``build``,
``coverage``, ``diff``, ``resolve``, ``preview`` and the runtime bundle all read the plan, and
nothing else resolves.

**Time is part of the plan.** A plan covers ``start`` to ``until`` (inclusive). For each
message, the range is split at every ``valid_from`` and the day after every ``valid_until`` of
the atoms that can compete in it; adjacent periods with the same winners are merged. So an offer
that expires mid-campaign is in one variant until its last day and in none afterwards.

**Planning again after an edit.** A plan carries a :class:`PlanMemo` — its variants by
message, with the atoms that can compete in each — that the next :func:`make_plan` takes as
``previous``: when only atoms changed, it plans again just the messages a changed, new or
deleted atom can compete in and reuses the others, giving the same plan as planning everything.
:class:`PlanStore` keeps the memo in memory (the studio) and on disk (build, validate).

**The runtime guarantee.** :class:`Router` maps a customer record, a message and a send date to
exactly one planned variant id by the audience rule (:meth:`~.segments.SegmentIndex.audience`)
and the locale rule (:func:`~.resolver.message_locale`). Preview, resolve, ``Bundle.render`` and
batch rendering all route through it, so every message a customer can receive is a variant the
build rendered, limit-checked, listed in the manifest and ``atomic diff`` reviewed.

**Experiments** (:mod:`~.experiments`) keep that guarantee: the router puts the customer in an
arm; ``control`` is routed to the generic variant of the message (always planned),
``personalized`` to the audience's variant, and ``holdout`` gets a :class:`Holdout` — no
message at all — instead of a :class:`Route`.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
import io
import os
import pickle
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import __version__, hashing
from .assets import asset_files
from .collector import long_lived
from .dates import day_after
from .errors import Diagnostic, Diagnostics, Severity, UsageError, plural
from .experiments import Assignment, assign, covering, forced, relevant
from .hashing import canonical_json, sha256_hex
from .models import (
    CONTENT_FIELDS,
    ArmKind,
    Atom,
    Experiment,
    Journey,
    Profile,
    Segment,
    Settings,
    Status,
)
from .parallel import share_work
from .pieces import INDEX, PieceFolder
from .privacy import AttributeUse, UseIndex, budget_diagnostics, channel_privacy
from .repository import Library, engine_fingerprint
from .resolver import (
    Candidate,
    MessageKey,
    Resolution,
    Resolver,
    SlotChoice,
    Verdict,
    find_journey,
    find_layout_id,
    find_step,
    journey_allows,
    message_locale,
    missing_diagnostics,
)
from .segments import GENERIC, Audience, SegmentIndex, lookup
from .yamlio import cache_dir

MAX_RANGE_DAYS = 366
"""The longest range one plan may cover (a year): a longer one is almost surely a typo."""


@dataclass(frozen=True)
class PlannedVariant:
    """One variant: a message for one audience over ``start``..``until`` (inclusive), with
    the resolution (winning atom per slot) that holds for every day of it.

    ``id`` is the variant's name in the output tree and the manifest:
    ``journey/step/channel/locale/audience`` for the period that starts the plan, with
    ``@YYYY-MM-DD`` (the first day) appended for later periods. ``uses`` lists the customer
    attributes it reads (tokens of its atoms, the condition of its audience segment) and which
    of them are personal: what the creepiness budget counts. ``cache_key`` identifies its
    rendered bytes.
    """

    id: str
    message: MessageKey
    audience: str
    start: dt.date
    until: dt.date
    resolution: Resolution
    uses: AttributeUse = field(default_factory=AttributeUse)
    cache_key: str = ""
    """Everything its rendered bytes depend on (see :class:`VariantKeys`): the render stage's
    cache key. Made here, so that a variant taken from the memo is never hashed again."""

    @property
    def journey(self) -> str:
        return self.message.journey

    @property
    def step(self) -> str:
        return self.message.step

    @property
    def channel(self) -> str:
        return self.message.channel

    @property
    def locale(self) -> str:
        return self.message.locale

    @property
    def winners(self) -> tuple[tuple[str, str], ...]:
        """(slot, atom id) of every filled slot, sorted: what makes two periods the same."""
        return tuple(sorted((slot, atom.id) for slot, atom in self.resolution.atoms.items()))


@dataclass(frozen=True)
class Period:
    """Where one variant applies: its first and last day, and its id."""

    start: dt.date
    until: dt.date
    variant_id: str


RouteKey = tuple[str, str, str, str, str]
"""(journey, step, channel, locale, audience): the variants of one message for one audience."""


def _route_json(key: RouteKey, periods: Iterable[Period]) -> dict[str, Any]:
    """One route of :meth:`RoutingTable.to_json`."""
    return {
        "journey": key[0],
        "step": key[1],
        "channel": key[2],
        "locale": key[3],
        "audience": key[4],
        "periods": [
            {"start": p.start.isoformat(), "until": p.until.isoformat(), "variant": p.variant_id}
            for p in periods
        ],
    }


@dataclass(frozen=True)
class RoutingTable:
    """Per message and audience, the variants in date order: the part of a plan the runtime
    needs. Serializable (:meth:`to_json` / :meth:`from_json`)."""

    start: dt.date
    until: dt.date
    periods: Mapping[RouteKey, tuple[Period, ...]]

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "routes": [_route_json(key, periods) for key, periods in sorted(self.periods.items())],
        }

    @classmethod
    def of(cls, variants: Iterable[PlannedVariant], start: dt.date, until: dt.date) -> RoutingTable:
        """The routes of ``variants``: per message and audience, their periods by date."""
        periods: dict[RouteKey, list[Period]] = {}
        for v in variants:
            key = (v.journey, v.step, v.channel, v.locale, v.audience)
            periods.setdefault(key, []).append(Period(v.start, v.until, v.id))
        return cls(
            start, until, {k: tuple(sorted(p, key=lambda x: x.start)) for k, p in periods.items()}
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoutingTable:
        periods: dict[RouteKey, tuple[Period, ...]] = {}
        for route in data["routes"]:
            key = (
                route["journey"],
                route["step"],
                route["channel"],
                route["locale"],
                route["audience"],
            )
            periods[key] = tuple(
                Period(
                    dt.date.fromisoformat(p["start"]),
                    dt.date.fromisoformat(p["until"]),
                    str(p["variant"]),
                )
                for p in route["periods"]
            )
        return cls(
            dt.date.fromisoformat(data["start"]), dt.date.fromisoformat(data["until"]), periods
        )


class DuplicateVariantError(RuntimeError):
    """Two planned variants have one id: a bug, since ids are unique by construction (a
    segment may not be named like the generic audience, ``models.RESERVED_SEGMENT_IDS``).
    Raised when the plan is made, so no manifest, bundle or routing table ever holds two
    variants of one id; the CLI reports it as an internal error (exit 70)."""


@dataclass(frozen=True)
class Plan:
    """Every variant of a library over ``start``..``until``, resolved once.

    ``problems`` holds the plan's diagnostics: required slots nothing fills (errors, one per
    slot and audience) and ranking warnings (``rank.ambiguous``, ``rank.shadowed``).
    ``experiments`` are the experiments running during the range (their arms route to the
    plan's variants: control to generic, personalized to the audience's, holdout to none).
    Variant ids are unique: DuplicateVariantError otherwise.
    """

    start: dt.date
    until: dt.date
    include_drafts: bool
    variants: tuple[PlannedVariant, ...]
    problems: Diagnostics
    by_id: Mapping[str, PlannedVariant] = field(repr=False, default_factory=dict)
    experiments: tuple[Experiment, ...] = ()
    memo: PlanMemo | None = field(default=None, repr=False, compare=False)
    replanned: int = field(default=-1, compare=False)
    """Messages resolved by this call (-1: not counted); the others came from a memo."""

    def __post_init__(self) -> None:
        if not self.by_id:
            object.__setattr__(self, "by_id", {v.id: v for v in self.variants})
            unique = len(self.by_id)
        else:  # given (dataclasses.replace passes it on): count the variants' own ids
            unique = len({v.id for v in self.variants})
        if unique != len(self.variants):
            counts = Counter(v.id for v in self.variants)
            twice = sorted(variant_id for variant_id, count in counts.items() if count > 1)
            raise DuplicateVariantError(
                f"the plan holds {plural(len(twice), 'variant id')} twice: "
                f"{', '.join(twice[:3])}{' ...' if len(twice) > 3 else ''}; no manifest or "
                "bundle is made from it"
            )

    @property
    def routing(self) -> RoutingTable:
        return RoutingTable.of(self.variants, self.start, self.until)

    def encoded_routing(self, memo: RouteMemo | None = None) -> bytes:
        """``canonical_json(self.routing.to_json())``, made message by message: a route's key
        starts with its message's, so the messages' routes in message order are the table's
        in route order. ``memo`` (a build session's) keeps each message's part, so that the
        next plan encodes only the messages it planned again (the others keep their very
        :class:`MessagePlan`). A plan whose variants are not its memo's (none is made so)
        is encoded whole."""
        pieces = self.memo.messages if self.memo is not None else {}
        if sum(len(piece.variants) for piece in pieces.values()) != len(self.variants):
            return canonical_json(self.routing.to_json())
        kept: RouteMemo = {}
        parts: list[bytes] = []
        for key in sorted(pieces, key=lambda m: (m.journey, m.step, m.channel, m.locale)):
            piece = pieces[key]
            # The memo holds its plans: an id found is this plan's.
            found = memo.get(id(piece)) if memo is not None else None
            if found is None:
                table = RoutingTable.of(piece.variants, self.start, self.until)
                routes = b",".join(
                    canonical_json(_route_json(route, periods))
                    for route, periods in sorted(table.periods.items())
                )
                found = (piece, routes)
            kept[id(piece)] = found
            if found[1]:
                parts.append(found[1])
        if memo is not None:
            memo.clear()
            memo.update(kept)
        dates = canonical_json({"start": self.start.isoformat(), "until": self.until.isoformat()})
        return b'{"routes":[' + b",".join(parts) + b"]," + dates[1:]

    def variant(self, variant_id: str) -> PlannedVariant:
        return self.by_id[variant_id]

    def winners(self) -> set[str]:
        """Ids of every atom that wins some slot of some variant."""
        return {atom.id for v in self.variants for atom in v.resolution.atoms.values()}


# --------------------------------------------------------------------------- the memo


@dataclass(frozen=True)
class MessagePlan:
    """What one message contributes to a plan: its variants (every audience and period), the
    problems found resolving them (required slots nothing fills) and ``competing``, the ids
    of every atom that could fill one of its slots on some day for some audience. Nothing
    else in the content can change the message as long as the plan's context is the same.
    ``usable`` are the competing atoms that are generic or target a segment the journey
    personalizes for: the atoms the message can actually use (see ``rank.shadowed``)."""

    competing: frozenset[str]
    variants: tuple[PlannedVariant, ...]
    problems: tuple[Diagnostic, ...]
    usable: frozenset[str]
    ranking: RankingPart


@dataclass(frozen=True)
class RankingPart:
    """What one message contributes to the ranking warnings (:func:`ranking_diagnostics`), so
    that a message kept by the memo is not walked again: the atoms that win one of its
    variants, and each tie that only the atom id decides — (slot, segment, locale, the tied
    atoms) — with the first of its variants (by id) that shows it."""

    winners: frozenset[str]
    ties: tuple[tuple[tuple[str, str, str, frozenset[str]], str], ...]

    @classmethod
    def of(cls, variants: Iterable[PlannedVariant]) -> RankingPart:
        winners: set[str] = set()
        ties: dict[tuple[str, str, str, frozenset[str]], str] = {}
        for variant in variants:
            for slot, choice in variant.resolution.slots.items():
                if choice.winner is None:
                    continue
                winners.add(choice.winner.id)
                if choice.tied_with:
                    atoms = frozenset((choice.winner.id, *choice.tied_with))
                    segment = choice.matched_segment or GENERIC
                    key = (slot, segment, choice.locale or variant.locale, atoms)
                    if key not in ties or variant.id < ties[key]:
                        ties[key] = variant.id
        return cls(frozenset(winners), tuple(ties.items()))


@dataclass(frozen=True)
class PlanMemo:
    """A plan by message, for re-planning only what an edit touches.

    ``context`` hashes everything a plan depends on except the atoms (every other content
    file, the date range, drafts or not, the engine); ``atoms`` maps each atom id to the
    fingerprint of its file. When the context is the same, a message keeps its variants unless
    an atom that changed, arrived or left could compete in it (before or after the edit).
    """

    context: str
    atoms: Mapping[str, str]
    messages: Mapping[MessageKey, MessagePlan]
    encoded: Mapping[MessageKey, bytes] = field(default_factory=dict, compare=False, repr=False)
    """Messages already in :meth:`PlanStore.dump` form (planned by a worker process), so
    that saving does not encode them a second time."""
    ranking: tuple[RankingWarning, ...] | None = field(default=None, compare=False, repr=False)
    """The plan's :func:`ranking_diagnostics`, for the next plan of a process that keeps the
    memo in memory (not kept on disk): when it plans nothing again and no atom's targeting
    changed, they are the same, but for the positions in the files of edited atoms."""


RouteMemo = dict[int, tuple[MessagePlan, bytes]]
"""``id()`` of a message's plan -> that plan and its routes' canonical JSON, comma-joined (see
:meth:`Plan.encoded_routing`). Holding the plan keeps its ``id`` its own."""


@dataclass(frozen=True)
class RankingWarning:
    """A ranking warning and the key of the atom it is about (``priority`` or ``slot``), for
    looking its position up again in a new version of the atom's file."""

    diagnostic: Diagnostic
    atom_id: str
    key: str

    def placed(self, library: Library) -> RankingWarning:
        """The same warning at the key's position in ``library``'s file of the atom."""
        path, line, col = library.position("atom", self.atom_id, (self.key,))
        moved = dataclasses.replace(self.diagnostic, path=path, line=line, col=col)
        return dataclasses.replace(self, diagnostic=moved)


@dataclass(frozen=True)
class _MemoIndex:
    """The memo's table of contents on disk: context, atom fingerprints, message files."""

    context: str
    atoms: dict[str, str]
    files: dict[MessageKey, str]


class VariantKeys:
    """Computes :attr:`PlannedVariant.cache_key`: everything a variant's rendered bytes depend
    on — engine, settings, profile, the strings catalogue (the engine's own words), the asset
    names (a preview form links to the build's copy of each), the journey file (its and its
    steps' names are ``message.*``), the layout files, the winning atoms' content, the
    language and the variant's name. Never modification times, never the period (a reused
    render takes those from the plan). One per planning process.

    A render reused under a key that misses an input would be a message that no build of
    the current files makes: tests/test_build.py edits each input and holds the incremental
    tree equal to a clean build's."""

    def __init__(self, library: Library) -> None:
        self.library = library
        hashes, paths = library.file_hashes, library.paths
        self.global_key = sha256_hex(
            canonical_json(
                {
                    "engine": __version__,
                    "format": hashing.ENGINE_FORMAT,  # read at call time (tests bump it)
                    "settings": hashes.get(paths.get(("settings", "settings"), ""), ""),
                    "profile": hashes.get(paths.get(("profile", "profile"), ""), ""),
                    "strings": sorted(
                        (path, hashes.get(path, ""))
                        for (kind, _), path in paths.items()
                        if kind == "strings"
                    ),
                    "assets": sorted(asset_files(library.root)) if library.root else [],
                }
            )
        )
        self._journeys: dict[str, str] = {}

    def key(self, variant_id: str, channel: str, resolution: Resolution) -> str:
        """The cache key of the variant ``variant_id`` of a message on ``channel``."""
        library = self.library
        layout_path = library.paths.get(("layout", f"{channel}/{resolution.layout}"))
        entry = library.layouts[(channel, resolution.layout)]
        journey = resolution.key.journey
        journey_hash = self._journeys.get(journey)
        if journey_hash is None:
            path = library.paths.get(("journey", journey), "")
            journey_hash = self._journeys[journey] = library.file_hashes.get(path, "")
        parts = {
            "global": self.global_key,
            "journey": journey_hash,
            "variant": variant_id,
            "language": resolution.language,
            "layout": library.file_hashes.get(layout_path or "", ""),
            "template": library.file_hashes.get(entry.template_path or "", ""),
            "atoms": {slot: library.atom_hash(a) for slot, a in sorted(resolution.atoms.items())},
        }
        return sha256_hex(canonical_json(parts))


def plan_context(library: Library, start: dt.date, until: dt.date, include_drafts: bool) -> str:
    """The hash of every input of a plan other than the atoms (see :class:`PlanMemo`),
    the asset names included: the variants' cache keys read them (:class:`VariantKeys`)."""
    atom_files = {path for (kind, _), path in library.paths.items() if kind == "atom"}
    digest = hashlib.sha256()
    digest.update(
        canonical_json(
            [
                engine_fingerprint(),
                hashing.ENGINE_FORMAT,
                start.isoformat(),
                until.isoformat(),
                include_drafts,
                sorted(asset_files(library.root)) if library.root else [],
            ]
        )
    )
    for path, file_hash in sorted(library.file_hashes.items()):
        if path not in atom_files:
            digest.update(f"{path}\0{file_hash}\0".encode())
    return digest.hexdigest()


def atom_fingerprints(
    library: Library, previous: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Atom id -> its file, the file's content hash and its :func:`targeting_print`, as
    ``path\0sha256\0targeting``: changes whenever the atom may have, and says whether its
    targeting may have. The targeting part of an atom whose file is as in ``previous`` (the
    last memo's fingerprints) is taken from there instead of being computed again."""
    paths = library.paths
    hashes = library.file_hashes
    previous = previous or {}
    found: dict[str, str] = {}
    for atom_id, atom in library.atoms.items():
        path = paths.get(("atom", atom_id), "")
        file_print = f"{path}\0{hashes.get(path, '')}\0"
        was = previous.get(atom_id)
        if was is not None and was.startswith(file_print):
            found[atom_id] = was
        else:
            found[atom_id] = file_print + targeting_print(atom)
    return found


TARGETING_FIELDS = tuple(name for name in Atom.model_fields if name not in CONTENT_FIELDS)
"""The fields of an atom that can decide where it competes and whether it wins: all but its
content (a field added to atoms counts as targeting until it is listed as content)."""


def targeting_print(atom: Atom) -> str:
    """A digest of an atom's :data:`TARGETING_FIELDS`. Two versions of an atom with the same
    print compete in the same messages and win the same variants: an edit of its content
    alone plans nothing again (:func:`make_plan` only refreshes what the content decides)."""
    values = repr(tuple(getattr(atom, name) for name in TARGETING_FIELDS))
    return hashlib.blake2b(values.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _targeting_of(fingerprint: str | None) -> str | None:
    return fingerprint.rpartition("\0")[2] if fingerprint is not None else None


PLAN_MEMO_FORMAT = 5
"""Bump when the memo's classes change shape: an old file is then ignored, never misread."""

_MEMO_CLASSES = {
    (cls.__module__, cls.__qualname__): cls
    for cls in (
        PlannedVariant,
        MessagePlan,
        RankingPart,
        _MemoIndex,
        MessageKey,
        Resolution,
        SlotChoice,
        Candidate,
        Verdict,
        Audience,
        AttributeUse,
        Diagnostic,
        Severity,
        dt.date,
        frozenset,
    )
}


class _MemoPickler(pickle.Pickler):
    """Atoms are written as their id: the memo holds the plan's choices, not copies of the
    content, and a loaded memo points at the current library's atom objects.

    (``reducer_override``, not ``persistent_id``: pickle asks the first only about objects
    that are not plain strings, numbers or containers, the second about every object, and a
    plan's 10^6 strings and tuples made that a Python call each.)"""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Atom):
            return _atom_in_memo, (obj.id,)
        return NotImplemented


def _atom_in_memo(atom_id: str) -> Atom:
    """How a memo names an atom. Never called: the memo's unpickler resolves the name against
    the current library (:meth:`_MemoUnpickler.find_class`)."""
    raise pickle.UnpicklingError(f"atom {atom_id!r} outside a plan memo")


@dataclass(frozen=True)
class _DeletedAtom:
    """Stands for an atom of a memo that the current library no longer has."""

    id: str


class _MemoUnpickler(pickle.Unpickler):
    """Reads only the memo's own classes (never arbitrary code, whatever the file holds) and
    resolves atom ids against the current library."""

    def __init__(self, file: IO[bytes], atoms: Mapping[str, Atom]) -> None:
        super().__init__(file)
        self.atoms = atoms

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, _atom_in_memo.__name__):
            return self._atom
        found = _MEMO_CLASSES.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a plan memo")
        return found

    def _atom(self, atom_id: object) -> Atom | _DeletedAtom:
        found = self.atoms.get(atom_id) if isinstance(atom_id, str) else None
        # An atom deleted since: only messages it competed in refer to it, and make_plan
        # plans those again (its id is among the changed ones), so a stand-in is never used.
        return found if found is not None else _DeletedAtom(str(atom_id))


class PlanStore:
    """Where a :class:`PlanMemo` lives between plans: in memory (``atomic serve``) and, with a
    ``folder``, on disk (``atomic build`` and ``validate`` run in a new process each time).

    On disk, each message's :class:`MessagePlan` is one file named by the hash of its bytes,
    and ``index.pickle`` lists them with the context and the atom fingerprints: saving after a
    one-atom edit writes the index and the few messages that were planned again, not the
    whole plan. A missing, damaged, foreign or outdated file is no memo, never a wrong plan:
    :func:`make_plan` checks the memo's context before reusing anything, and the files are
    read with an unpickler that only knows the memo's own classes.
    """

    def __init__(self, folder: Path | None = None, *, read: bool = True) -> None:
        self.folder = folder
        self.read = read
        self.memo: PlanMemo | None = None
        self.deferred = False
        """When set, :meth:`save` keeps the memo in memory only, until :meth:`flush`."""
        self._unsaved = False  # whether ``memo`` waits for :meth:`flush`
        # message -> (file name, the MessagePlan object loaded from or saved to it)
        self._files: dict[MessageKey, tuple[str, MessagePlan]] = {}

    @classmethod
    def for_root(cls, root: Path) -> PlanStore:
        """The store ``atomic validate`` uses for a content folder, under the user cache
        (:func:`~atomic_content.yamlio.cache_dir`; memory only when that is off)."""
        folder = cache_dir()
        if folder is None:
            return cls(None)
        name = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogatepass")).hexdigest()
        return cls(folder / f"plans-v{PLAN_MEMO_FORMAT}" / name[:32])

    def load(self, library: Library) -> PlanMemo | None:
        """The memo last saved (in memory, else from disk), with atoms from ``library``;
        None when there is none or the store was made with ``read=False`` (``--no-cache``:
        plan everything, but still save the memo for the next run)."""
        if not self.read:
            return None
        if self.memo is not None or self.folder is None:
            return self.memo
        try:
            with long_lived():  # a memo is ~10^5 objects that all stay alive
                return self._load(self.folder, library)
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
                AttributeError, IndexError):  # fmt: skip
            self._files.clear()
            return None

    def _load(self, folder: Path, library: Library) -> PlanMemo | None:
        index = self._read(folder / INDEX, library)
        if not isinstance(index, _MemoIndex):
            return None
        messages: dict[MessageKey, MessagePlan] = {}
        files: dict[MessageKey, tuple[str, MessagePlan]] = {}
        for message, name in index.files.items():
            piece = self._read(folder / name, library)
            if not isinstance(piece, MessagePlan):
                return None
            messages[message] = piece
            files[message] = (name, piece)
        self._files = files
        self.memo = PlanMemo(index.context, index.atoms, messages)
        return self.memo

    def save(self, memo: PlanMemo | None) -> None:
        """Keep ``memo`` for the next plan; on disk, write the messages that changed (at
        :meth:`flush` when :attr:`deferred`)."""
        self.memo = memo
        self._unsaved = memo is not None and self.folder is not None
        if self._unsaved and not self.deferred:
            self.flush()

    def flush(self) -> None:
        """Write the memo a deferred :meth:`save` kept in memory only."""
        if self._unsaved and self.memo is not None:
            self._unsaved = False
            self._write(self.memo)

    def _write(self, memo: PlanMemo) -> None:
        assert self.folder is not None
        try:
            folder = PieceFolder(self.folder)
            files: dict[MessageKey, str] = {}
            for message, piece in memo.messages.items():
                known = self._files.get(message)
                if known is not None and known[1] is piece:
                    files[message] = known[0]
                    continue
                name = folder.put(memo.encoded.get(message) or self.dump(piece))
                files[message] = name
                self._files[message] = (name, piece)
            index = _MemoIndex(memo.context, dict(memo.atoms), files)
            folder.commit(self.dump(index), files.values())
        except OSError:
            pass  # a memo that cannot be written only costs time next run

    @staticmethod
    def dump(item: object) -> bytes:
        """``item`` as memo bytes: a header, then a pickle with atoms written as their id."""
        buffer = io.BytesIO()
        buffer.write(_MEMO_HEADER)
        _MemoPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(item)
        return buffer.getvalue()

    @staticmethod
    def undump(data: bytes, library: Library) -> object:
        """What :meth:`dump` wrote, with atoms from ``library``; None without the header.
        Raises what unpickling raises for damaged bytes."""
        return PlanStore._read_from(io.BytesIO(data), library)

    @staticmethod
    def _read(path: Path, library: Library) -> object:
        with path.open("rb") as handle:
            return PlanStore._read_from(handle, library)

    @staticmethod
    def _read_from(handle: IO[bytes], library: Library) -> object:
        if handle.read(len(_MEMO_HEADER)) != _MEMO_HEADER:
            return None
        return _MemoUnpickler(handle, library.atoms).load()


_MEMO_HEADER = f"atomic-content plan memo {PLAN_MEMO_FORMAT}\n".encode()


# --------------------------------------------------------------------------- computing it


def journey_locales(library: Library, journey: Journey) -> list[str]:
    """The locales a journey's messages are built in: :meth:`~atomic_content.models.Journey.
    locales_in` of the library's settings (its ``locales``, else every locale)."""
    assert library.settings is not None
    return journey.locales_in(library.settings)


def journey_audiences(index: SegmentIndex, journey: Journey) -> list[str]:
    """The audiences a journey's messages are built for: its segments by id, then generic."""
    return [*sorted(index.journey_segments(journey)), GENERIC]


def check_range(start: dt.date, until: dt.date) -> None:
    """UsageError for an empty or absurd date range."""
    if until < start:
        raise UsageError(
            f"the date range ends ({until.isoformat()}) before it starts ({start.isoformat()})",
            "give --until a day on or after --date",
        )
    if (until - start).days > MAX_RANGE_DAYS:
        raise UsageError(
            f"the date range {start.isoformat()}..{until.isoformat()} is longer than "
            f"{MAX_RANGE_DAYS} days",
            "build a shorter range; rebuild as the campaign goes on",
        )


def _boundaries(
    atoms: Iterable[Atom], start: dt.date, until: dt.date
) -> tuple[frozenset[dt.date], dict[str, frozenset[dt.date]]]:
    """Days inside (start, until] on which some atom's validity window opens or closes: those
    of the generic atoms, and those of each segment's own atoms (by segment id). An audience's
    days are the generic ones plus its segment's: only those atoms can change its message.
    A window that runs to 9999-12-31 never closes (no day after it to start a period on)."""
    generic: set[dt.date] = set()
    own: dict[str, set[dt.date]] = {}
    for atom in atoms:
        days: list[dt.date] = []
        if atom.valid_from is not None and start < atom.valid_from <= until:
            days.append(atom.valid_from)
        if atom.valid_until is not None:
            after = day_after(atom.valid_until)
            if after is not None and start < after <= until:
                days.append(after)
        if not days:
            continue
        if not atom.segments:
            generic.update(days)
        else:
            for segment in atom.segments:
                own.setdefault(segment, set()).update(days)
    return frozenset(generic), {segment: frozenset(found) for segment, found in own.items()}


def _can_compete(
    atom: Atom,
    message: MessageKey,
    layout_slots: Container[str],
    chain: Container[str],
    default: str,
) -> bool:
    """Whether ``atom`` could fill a slot of ``message`` on some day, for some audience: the
    filters that do not depend on the day or the audience (retired atoms never compete)."""
    return (
        atom.slot in layout_slots
        and atom.status is not Status.RETIRED
        and (atom.channels is None or message.channel in atom.channels)
        and journey_allows(atom, message.journey, message.step)
        and (atom.locale or default) in chain
    )


def _competing(
    resolver: Resolver, message: MessageKey, layout_slots: Iterable[str]
) -> Iterator[Atom]:
    """Atoms that could fill a slot of the message on some day (for the period boundaries)."""
    chain = resolver.chains.get(message.locale, [message.locale])
    default = resolver.default_locale
    for slot in layout_slots:
        for atom in resolver.competitors(slot, message.channel, chain, message.journey):
            if _can_compete(atom, message, (slot,), chain, default):
                yield atom


def make_plan(
    library: Library,
    start: dt.date,
    until: dt.date | None = None,
    *,
    include_drafts: bool = False,
    resolver: Resolver | None = None,
    previous: PlanMemo | None = None,
    jobs: int | None = 1,
) -> Plan:
    """Resolve every variant of a validated library over ``start``..``until`` (default: the
    single day ``start``).

    ``previous`` is the :attr:`Plan.memo` of an earlier plan (of this or an older version of
    the content): the messages no changed atom can compete in are taken from it instead of
    being resolved again (see :class:`PlanMemo`); the result is the same plan either way.
    ``jobs`` > 1 (None: one per core) plans messages in that many processes, this one and
    forked workers (:func:`~atomic_content.parallel.share_work`), when there are enough of
    them to pay for the workers; the plan does not depend on it.

    Never raises for content problems: required slots that nothing fills are errors in
    ``Plan.problems`` (the build refuses such a plan), ranking problems warnings. Raises
    UsageError for a bad range, ValueError for a library without settings.
    """
    until = until or start
    check_range(start, until)
    if library.settings is None:
        raise ValueError("the library has no settings; validate it first")
    context = plan_context(library, start, until, include_drafts)
    reusable: Mapping[MessageKey, MessagePlan] = {}
    changed: set[str] = set()
    rewritten: set[str] = set()  # atoms whose content alone changed
    if previous is not None and previous.context == context:
        reusable = previous.messages
        prints = atom_fingerprints(library, previous.atoms)
        for atom_id in previous.atoms.keys() | prints.keys():
            was, now = previous.atoms.get(atom_id), prints.get(atom_id)
            if was == now:
                continue
            if was is not None and now is not None and _targeting_of(was) == _targeting_of(now):
                rewritten.add(atom_id)
            else:
                changed.add(atom_id)
    else:
        prints = atom_fingerprints(library)
    arrived = [library.atoms[atom_id] for atom_id in sorted(changed) if atom_id in library.atoms]
    index = SegmentIndex(library.segments, library.profile)
    default = library.settings.default_locale
    refresher = _Refresher(library)
    messages: dict[MessageKey, MessagePlan | None] = {}
    todo: list[_MessageTask] = []
    for journey in sorted(library.journeys.values(), key=lambda j: j.id):
        audiences = tuple(journey_audiences(index, journey))
        for step in journey.steps:
            for channel in sorted(step.channels):
                slots = tuple(library.layouts[(channel, step.channels[channel])].layout.slots)
                for locale in journey_locales(library, journey):
                    message = MessageKey(journey.id, step.id, channel, locale)
                    old = reusable.get(message)
                    if old is not None and not (old.competing & changed):
                        chain = library.locale_chain(locale)
                        if not any(
                            _can_compete(a, message, slots, chain, default) for a in arrived
                        ):
                            if old.competing & rewritten:
                                old = refresher.refresh(old, rewritten)
                            messages[message] = old
                            continue
                    messages[message] = None  # keeps the order; planned below
                    todo.append(
                        _MessageTask(message, slots, audiences, index.journey_segments(journey))
                    )
    encoded: dict[MessageKey, bytes] = {}
    planned = _plan_messages(library, resolver, todo, start, until, include_drafts, jobs, encoded)
    pieces = {
        message: piece if piece is not None else planned[message]
        for message, piece in messages.items()
    }
    replanned = len(todo)
    variants: list[PlannedVariant] = []
    problems = Diagnostics()
    for piece in pieces.values():
        variants.extend(piece.variants)
        problems.extend(piece.problems)
    variants.sort(key=lambda v: v.id)
    usable: set[str] = set()
    for piece in pieces.values():
        usable |= piece.usable
    ranking = _ranking_kept(library, previous, replanned, changed, rewritten)
    if ranking is None:
        parts = [(message, piece.ranking) for message, piece in pieces.items()]
        ranking = tuple(ranking_diagnostics(library, parts, start, until, usable))
    problems.extend(warning.diagnostic for warning in ranking)
    problems.extend(budget_diagnostics(library, variants))
    experiments = tuple(relevant(library.experiments.values(), start, until))
    memo = PlanMemo(context, prints, pieces, encoded, ranking)
    return Plan(
        start,
        until,
        include_drafts,
        tuple(variants),
        problems,
        experiments=experiments,
        memo=memo,
        replanned=replanned,
    )


def _ranking_kept(
    library: Library,
    previous: PlanMemo | None,
    replanned: int,
    changed: AbstractSet[str],
    rewritten: AbstractSet[str],
) -> tuple[RankingWarning, ...] | None:
    """The previous plan's ranking warnings when they are this plan's: every message reused
    (the same winners and ties) and no atom's targeting changed. Those about an atom whose
    content changed are placed again (the key may have moved in its file, or the file)."""
    if previous is None or previous.ranking is None or replanned or changed:
        return None
    if not any(warning.atom_id in rewritten for warning in previous.ranking):
        return previous.ranking
    return tuple(
        warning.placed(library) if warning.atom_id in rewritten else warning
        for warning in previous.ranking
    )


class _Refresher:
    """Brings a memo's message up to date with atoms whose content alone changed
    (:func:`targeting_print` as before): the same variants with the same winners, each
    winner the library's current atom, and what the content decides computed again — the
    attributes a variant reads and its cache key."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._uses: UseIndex | None = None
        self._keys: VariantKeys | None = None

    def refresh(self, piece: MessagePlan, rewritten: AbstractSet[str]) -> MessagePlan:
        if self._uses is None or self._keys is None:
            self._uses, self._keys = UseIndex(self.library), VariantKeys(self.library)
        uses, keys, atoms = self._uses, self._keys, self.library.atoms
        variants = []
        for variant in piece.variants:
            slots = variant.resolution.slots
            if not any(c.winner is not None and c.winner.id in rewritten for c in slots.values()):
                variants.append(variant)
                continue
            resolution = dataclasses.replace(
                variant.resolution,
                slots={
                    slot: (
                        dataclasses.replace(choice, winner=atoms[choice.winner.id])
                        if choice.winner is not None and choice.winner.id in rewritten
                        else choice
                    )
                    for slot, choice in slots.items()
                },
            )
            variants.append(
                dataclasses.replace(
                    variant,
                    resolution=resolution,
                    uses=uses.of(resolution, variant.audience),
                    cache_key=keys.key(variant.id, variant.message.channel, resolution),
                )
            )
        return dataclasses.replace(piece, variants=tuple(variants))


@dataclass(frozen=True)
class _MessageTask:
    """A message to plan: its key, its layout's slots, the journey's audiences and the
    segments the journey personalizes for."""

    message: MessageKey
    slots: tuple[str, ...]
    audiences: tuple[str, ...]
    segments: tuple[str, ...]


PARALLEL_PAIRS = 2_000
"""Below this many (message, audience) pairs to plan, worker start-up costs more than it saves."""

SHARES_PER_PROCESS = 16
"""Shares of the messages to plan per process: enough for a slowed process to do fewer."""


def _plan_messages(
    library: Library,
    resolver: Resolver | None,
    todo: list[_MessageTask],
    start: dt.date,
    until: dt.date,
    include_drafts: bool,
    jobs: int | None,
    encoded: dict[MessageKey, bytes],
) -> dict[MessageKey, MessagePlan]:
    """Plan every message of ``todo``: here, or split between this process and forked
    workers, whose results come back as memo bytes (atoms by id, resolved against
    ``library``; kept in ``encoded`` for saving the memo)."""
    if not todo:
        return {}
    resolver = resolver or Resolver(library)
    uses = UseIndex(library)
    keys = VariantKeys(library)
    processes = max(1, min(jobs or os.cpu_count() or 1, 32, len(todo)))
    pairs = sum(len(task.audiences) for task in todo)
    if pairs < PARALLEL_PAIRS:
        processes = 1
    # Interleaved shares: neighbouring messages cost alike (same journey, same audiences).
    count = min(len(todo), processes * SHARES_PER_PROCESS) if processes > 1 else 1
    shares = [todo[i::count] for i in range(count)]

    def here(index: int) -> list[tuple[MessageKey, MessagePlan]]:
        return [
            (task.message, _plan_message(resolver, task, start, until, include_drafts, uses, keys))
            for task in shares[index]
        ]

    def there(index: int) -> list[tuple[MessageKey, bytes]]:
        # A worker's plans come back as memo bytes (atoms by id), also kept for the memo.
        return [(message, PlanStore.dump(piece)) for message, piece in here(index)]

    def back(results: list[tuple[MessageKey, bytes]]) -> list[tuple[MessageKey, MessagePlan]]:
        pieces = []
        with long_lived():  # the plan: ~10^5 objects that all stay alive
            for message, data in results:
                piece = PlanStore.undump(data, library)
                assert isinstance(piece, MessagePlan)
                pieces.append((message, piece))
                encoded[message] = data
        return pieces

    planned: dict[MessageKey, MessagePlan] = {}
    for results in share_work(count, processes, here, remote=there, receive=back):
        planned.update(results)
    return planned


def _plan_message(
    resolver: Resolver,
    task: _MessageTask,
    start: dt.date,
    until: dt.date,
    include_drafts: bool,
    uses: UseIndex,
    keys: VariantKeys,
) -> MessagePlan:
    """Every variant of one message: each audience's, split at its atoms' window boundaries."""
    message, segments = task.message, task.segments
    competing = list(_competing(resolver, message, task.slots))
    variants: list[PlannedVariant] = []
    problems = Diagnostics()
    generic_days, own_days = _boundaries(competing, start, until)
    for audience in task.audiences:
        days = [start, *sorted(generic_days | own_days.get(audience, frozenset()))]
        variants.extend(
            _variants_of(
                resolver, message, audience, days, until, include_drafts, problems, uses, keys
            )
        )
    usable = frozenset(
        atom.id
        for atom in competing
        if atom.segments is None or any(segment in segments for segment in atom.segments)
    )
    return MessagePlan(
        frozenset(atom.id for atom in competing),
        tuple(variants),
        tuple(problems),
        usable,
        RankingPart.of(variants),
    )


def _variants_of(
    resolver: Resolver,
    message: MessageKey,
    audience: str,
    days: list[dt.date],
    until: dt.date,
    include_drafts: bool,
    problems: Diagnostics,
    uses: UseIndex,
    keys: VariantKeys,
) -> list[PlannedVariant]:
    """The variants of one message for one audience: one per run of days with equal winners."""
    found: list[PlannedVariant] = []
    ends = [*(d - dt.timedelta(days=1) for d in days[1:]), until]
    for day, last in zip(days, ends, strict=True):
        resolution = resolver.resolve(
            message.journey,
            message.step,
            message.channel,
            Audience.for_id(audience),
            locale=message.locale,
            on=day,
            include_drafts=include_drafts,
        )
        problems.extend(missing_diagnostics(resolver.library, resolution))
        winners = tuple(sorted((s, a.id) for s, a in resolution.atoms.items()))
        if found and found[-1].winners == winners and found[-1].resolution.lang == resolution.lang:
            previous = found[-1]
            found[-1] = PlannedVariant(
                previous.id,
                message,
                audience,
                previous.start,
                last,
                previous.resolution,
                previous.uses,
                previous.cache_key,  # same winners, language and name
            )
            continue
        base = f"{message}/{audience}"
        variant_id = base if not found and day == days[0] else f"{base}@{day.isoformat()}"
        found.append(
            PlannedVariant(
                variant_id,
                message,
                audience,
                day,
                last,
                resolution,
                uses.of(resolution, audience),
                keys.key(variant_id, message.channel, resolution),
            )
        )
    return found


def ranking_diagnostics(
    library: Library,
    parts: Iterable[tuple[MessageKey, RankingPart]],
    start: dt.date,
    until: dt.date,
    usable: Iterable[str],
) -> list[RankingWarning]:
    """``rank.ambiguous`` for ties that only the atom id decides, and ``rank.shadowed`` for
    approved atoms some message could use (``usable``: journey, channel, locale, audience)
    that win no variant of the plan although their validity window overlaps it. ``parts``
    are the messages' :class:`RankingPart`\\ s."""
    # each tie -> the first variant (by id) of the whole plan that shows it, and its message
    ties: dict[tuple[str, str, str, frozenset[str]], tuple[str, MessageKey]] = {}
    winners: set[str] = set()
    for message, part in parts:
        winners |= part.winners
        for key, variant_id in part.ties:
            known = ties.get(key)
            if known is None or variant_id < known[0]:
                ties[key] = (variant_id, message)
    diagnostics: list[RankingWarning] = []
    # Thousands of ties share a few sets of atoms: sort each set once. Same atoms: in the
    # order of the variants that first show them.
    order = {key[3]: sorted(key[3]) for key in ties}
    for (slot, segment, locale, atoms), (_, message) in sorted(
        ties.items(), key=lambda kv: (order[kv[0][3]], kv[1][0])
    ):
        ordered = order[atoms]
        path, line, col = library.position("atom", ordered[0], ("priority",))
        tie = Diagnostic(
            path,
            line,
            col,
            Severity.WARNING,
            "rank.ambiguous",
            f"atoms {', '.join(ordered)} tie for slot {slot!r}, segment {segment!r}, "
            f"locale {locale} (e.g. in {message.journey}/{message.step} on "
            f"{message.channel}); {ordered[0]} wins only because of its id",
            "set a different `priority:` on one of them so the choice is on purpose",
        )
        diagnostics.append(RankingWarning(tie, ordered[0], "priority"))
    for atom_id in sorted(set(usable) - winners):
        atom = library.atoms[atom_id]
        if atom.status is not Status.APPROVED:
            continue
        if (atom.valid_from is not None and atom.valid_from > until) or (
            atom.valid_until is not None and atom.valid_until < start
        ):
            continue
        path, line, col = library.position("atom", atom_id, ("slot",))
        shadowed = Diagnostic(
            path,
            line,
            col,
            Severity.WARNING,
            "rank.shadowed",
            f"atom {atom_id!r} can be used but never wins for any audience: "
            "other atoms always rank higher",
            "raise its priority, narrow the competing atoms, or retire it",
        )
        diagnostics.append(RankingWarning(shadowed, atom_id, "slot"))
    return diagnostics


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class Route:
    """Where a customer's message comes from: the variant, the audience and why.

    ``audience`` is the customer's audience; ``assignment`` their experiment arm, if a running
    experiment covers the message (in the ``control`` arm the variant is the generic one).
    ``hidden`` are the attributes the customer's consent hides (absent for rendering too);
    ``suppressed`` the purposes the channel needs that the customer did not give: when
    non-empty the message must not be sent (:class:`~atomic_content.privacy.SuppressedError`).
    """

    variant_id: str
    message: MessageKey
    audience: Audience
    notes: tuple[str, ...]
    assignment: Assignment | None = None
    hidden: frozenset[str] = frozenset()
    suppressed: tuple[str, ...] = ()

    @property
    def arm(self) -> str | None:
        """The experiment arm (``control``, ``personalized``), or None."""
        if self.assignment is None or self.assignment.arm is None:
            return None
        return self.assignment.arm.value


@dataclass(frozen=True)
class Holdout:
    """No message: the customer is in the holdout arm of the experiment covering it."""

    message: MessageKey
    audience: Audience
    assignment: Assignment

    @property
    def arm(self) -> str:
        return ArmKind.HOLDOUT.value


@dataclass(slots=True)
class Selection:
    """What :meth:`Router.select` answers: the :class:`Route` fields rendering reads, nothing
    else (no audience object, no notes, no assignment). Not frozen only because a frozen
    dataclass costs four times as much to make, on every call; treat it as read-only."""

    variant_id: str
    message: MessageKey
    customer_id: str | None
    hidden: frozenset[str]
    suppressed: tuple[str, ...]


class _Lane:
    """What routing one message (journey, step, channel) needs, made once per router."""

    __slots__ = ("experiments", "purpose", "rule", "running")

    def __init__(self, router: Router, journey: str, step: str, channel: str) -> None:
        self.rule = router.index.rule(router.journeys[journey])
        self.experiments = tuple(e for e in router.experiments if e.covers(journey, step))
        self.purpose = channel_privacy(router.settings, channel).purpose
        self.running: dict[dt.date, Experiment | None] = {}  # send day -> covering experiment


class Router:
    """Customer record + message + send date -> the planned variant. Used by preview, resolve
    and the runtime bundle alike, so they cannot disagree.

    Needs only the settings, profile, segments, journeys and the routing table: no atoms, no
    layouts, no resolution.
    """

    def __init__(
        self,
        settings: Settings,
        profile: Profile | None,
        segments: Mapping[str, Segment],
        journeys: Mapping[str, Journey],
        table: RoutingTable,
        experiments: Iterable[Experiment] = (),
    ) -> None:
        self.settings = settings
        self.journeys = journeys
        self.table = table
        self.profile = profile
        self.experiments = tuple(sorted(experiments, key=lambda e: e.id))
        self._covering: dict[tuple[str, str], tuple[Experiment, ...]] = {}
        self.index = SegmentIndex(segments, profile)
        self.locale_attribute = profile.locale_attribute if profile else None
        self._starts: dict[RouteKey, list[dt.date]] = {
            key: [p.start for p in periods] for key, periods in table.periods.items()
        }
        self._messages: dict[tuple[str, str, str, str | None], MessageKey] = {}
        self._lanes: dict[tuple[str, str, str], _Lane] = {}

    @classmethod
    def for_plan(cls, library: Library, plan: Plan) -> Router:
        assert library.settings is not None
        return cls(
            library.settings,
            library.profile,
            library.segments,
            library.journeys,
            plan.routing,
            library.experiments.values(),
        )

    def message(self, journey: str, step: str, channel: str, locale: str | None) -> MessageKey:
        """The message a request names, with the journey's locale for ``locale`` (the
        customer's). UsageError for an unknown journey, step or channel."""
        memo = (journey, step, channel, locale)
        found = self._messages.get(memo)
        if found is None:
            the_journey = find_journey(self.journeys, journey)
            find_layout_id(the_journey, find_step(the_journey, step), channel)
            found = MessageKey(
                journey, step, channel, message_locale(the_journey, locale, self.settings)
            )
            self._messages[memo] = found
        return found

    def customer_locale(self, record: Mapping[str, Any]) -> str | None:
        if self.locale_attribute is None:
            return None
        found, value = lookup(record, self.locale_attribute)
        return value if found and isinstance(value, str) else None

    def route(
        self,
        record: Mapping[str, Any],
        *,
        journey: str,
        step: str,
        channel: str,
        on: dt.date,
        locale: str | None = None,
        label: str | None = None,
        explain: bool = False,
        arm: ArmKind | None = None,
    ) -> Route | Holdout:
        """The variant for ``record`` on day ``on``. ``locale`` overrides the record's.

        When an experiment running on ``on`` covers the message, the customer's arm decides:
        control gets the generic variant, holdout a :class:`Holdout` (no message). ``arm``
        forces an arm (``atomic preview --arm``) of the experiment covering the message.
        Raises UsageError for unknown ids, for a day outside the plan's range and for ``arm``
        when no experiment covers the message.
        """
        wanted = locale if locale is not None else self.customer_locale(record)
        message = self.message(journey, step, channel, wanted)
        audience = self.index.audience(record, self.journeys[journey], label, explain=explain)
        assignment = self.assignment(record, journey, step, on, arm)
        if assignment is not None and assignment.arm is ArmKind.HOLDOUT:
            self.check_day(on)
            return Holdout(message, audience, assignment)
        served = GENERIC if assignment and assignment.arm is ArmKind.CONTROL else audience.id
        key = (message.journey, message.step, message.channel, message.locale, served)
        periods = self.table.periods.get(key)
        if not periods or not (self.table.start <= on <= self.table.until):
            raise UsageError(
                f"no message is planned for {on.isoformat()}: this build covers "
                f"{self.table.start.isoformat()} to {self.table.until.isoformat()}",
                "render inside the build's range, or rebuild with --date/--until covering the "
                "send date",
            )
        position = bisect.bisect_right(self._starts[key], on) - 1
        period = periods[position]
        notes = []
        if wanted is not None and wanted != message.locale:
            # A customer's value is echoed only when it is one of the configured locales (a
            # fixed vocabulary); anything else may be personal data.
            known = locale is not None or wanted in self.settings.locales
            asked = repr(wanted) if known else "the customer's locale"
            notes.append(f"journey is not written in {asked}; using {message.locale!r}")
        if served != audience.id:
            notes.append("control arm: the generic message instead of the audience's")
        notes.extend(audience.consent_notes)
        purpose = channel_privacy(self.settings, channel).purpose
        suppressed = (purpose,) if purpose is not None and purpose in audience.withheld else ()
        if suppressed:
            notes.append(
                f"suppressed: no consent for {purpose}, which the {channel} channel needs to "
                "send at all; the customer does not get this message"
            )
        return Route(
            period.variant_id,
            message,
            audience,
            tuple(notes),
            assignment,
            hidden=audience.hidden,
            suppressed=suppressed,
        )

    def select(
        self,
        record: Mapping[str, Any],
        *,
        journey: str,
        step: str,
        channel: str,
        on: dt.date,
        locale: str | None = None,
    ) -> Selection | None:
        """:meth:`route` for the hot path (``Bundle.render``): the same variant, hidden
        attributes and suppression, without the explanation, or None where :meth:`route` must
        answer (the customer is in a holdout arm, or it raises for the day or the message).

        Same rules, same order: the message by the locale rule, the consent state, the audience
        by :meth:`~.segments.AudienceRule.audience_id`, the experiment arm (hashed only when an
        experiment running on ``on`` covers the message), the period. UsageError for unknown
        ids, as :meth:`route`. tests/test_router_select.py holds the two equal.
        """
        wanted = locale if locale is not None else self.customer_locale(record)
        message = self.message(journey, step, channel, wanted)
        lane = self._lanes.get((journey, step, channel))
        if lane is None:
            lane = self._lanes[(journey, step, channel)] = _Lane(self, journey, step, channel)
        withheld, hidden = self.index.consent_state(record)
        served = lane.rule.audience_id(record, hidden)
        if lane.experiments:
            experiment = lane.running.get(on, _UNKNOWN)
            if experiment is _UNKNOWN:
                experiment = covering(lane.experiments, journey, step, on)
                if len(lane.running) < 1024:
                    lane.running[on] = experiment
            if experiment is not None:
                assert isinstance(experiment, Experiment)
                arm = assign(experiment, record, self.profile).arm
                if arm is ArmKind.HOLDOUT:
                    return None
                if arm is ArmKind.CONTROL:
                    served = GENERIC
        key = (message.journey, message.step, message.channel, message.locale, served)
        periods = self.table.periods.get(key)
        if not periods or not (self.table.start <= on <= self.table.until):
            return None
        period = periods[bisect.bisect_right(self._starts[key], on) - 1]
        purpose = lane.purpose
        return Selection(
            period.variant_id,
            message,
            self.index.customer_id(record),
            hidden,
            (purpose,) if purpose is not None and purpose in withheld else (),
        )

    def check_day(self, on: dt.date) -> None:
        """UsageError for a day outside the plan's range."""
        if not self.table.start <= on <= self.table.until:
            raise UsageError(
                f"no message is planned for {on.isoformat()}: this build covers "
                f"{self.table.start.isoformat()} to {self.table.until.isoformat()}",
                "render inside the build's range, or rebuild with --date/--until covering the "
                "send date",
            )

    def assignment(
        self,
        record: Mapping[str, Any],
        journey: str,
        step: str,
        on: dt.date,
        arm: ArmKind | None = None,
    ) -> Assignment | None:
        """The customer's arm in the experiment covering ``journey``/``step`` on ``on`` (None
        when none runs). ``arm`` forces an arm of the covering experiment (running on ``on``,
        else the latest that is not a draft); UsageError when none covers the message."""
        if arm is not None:
            experiment = covering(self.experiments, journey, step, on) or covering(
                self.experiments, journey, step, None
            )
            if experiment is None:
                raise UsageError(
                    f"no experiment covers {journey}/{step}, so there is no arm to choose",
                    "leave out --arm, or add an experiment (experiments/<id>.yaml)",
                )
            if experiment.weight(arm) == 0:
                raise UsageError(f"experiment {experiment.id!r} has no {arm.value} arm")
            return forced(experiment, arm)
        candidates = self._covering.get((journey, step))
        if candidates is None:
            candidates = tuple(e for e in self.experiments if e.covers(journey, step))
            self._covering[(journey, step)] = candidates
        experiment = covering(candidates, journey, step, on) if candidates else None
        return assign(experiment, record, self.profile) if experiment is not None else None


_UNKNOWN: Any = object()
