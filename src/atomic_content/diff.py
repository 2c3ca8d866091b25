"""``atomic diff``: what a content change does to the messages, compared build against build.

:func:`diff_revisions` is the whole command as data: it finds the git repository, resolves BASE
(default: the merge base of HEAD with the default branch) and HEAD (default: the working tree,
uncommitted edits included), exports BASE's (and a committed HEAD's) content folder into a
temporary folder, validates and builds both sides with the same resolution date and a shared
throwaway cache, and hands both builds to :func:`compare`.

:func:`compare` works on two :class:`SideBuild` objects and reports, deterministically:

* **variants** added, removed and changed (a file's sha256 differs), each with the slots whose
  winning atom changed and a unified diff of its readable *preview form* (see
  :func:`preview_lines`); when the preview form is identical the template form is diffed, and
  when that is identical too the change is markup only;
* **atoms** added, removed, edited (content hash), renamed (same content, new id) or moved (same
  content, new file), each with the changed variants in which it wins on either side;
* **coverage** cells (journey x step x channel x slot x locale x segment, from
  :mod:`atomic_content.coverage`) that got better or worse, and cells that appeared or vanished;
* **warnings** that are new in HEAD or resolved since BASE;
* **governance** change rules (:mod:`atomic_content.governance`).

A side whose content folder is absent counts as empty (everything added or removed); a side
with errors is reported with its diagnostics and nothing is compared. Nothing here prints;
:mod:`atomic_content.diff_report` formats a :class:`DiffResult`. The user's working tree, index
and refs are never written (:mod:`atomic_content.gitrepo`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .channels import RENDERERS
from .channels.review import html_outline as html_outline  # re-exported: part of this API
from .channels.review import other_files
from .coverage import Cell, compute_coverage
from .dates import DateRange, default_date
from .errors import (
    Diagnostic,
    Diagnostics,
    Severity,
    UsageError,
)
from .experiments import experiment_change_findings
from .formatting import visible as visible  # re-exported: its home is formatting
from .gitrepo import GitRepo, Revision
from .governance import JourneyChange, change_budget_findings, retired_revival_findings, rules_of
from .hashing import canonical_json, sha256_hex
from .manifest import Manifest, VariantEntry, atom_hash
from .pipeline import check
from .plan import Plan
from .repository import Library
from .variants import VariantCache

DIFF_VERSION = 1
"""Version of the JSON report (docs/review.md); bumped on incompatible changes."""

PREVIEW_CONTEXT_LINES = 2


# ------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class SideInfo:
    """One side of the comparison as the report names it.

    ``present`` — the content folder exists on this side; ``valid`` — it validated and built
    (an absent side is valid and empty); ``diagnostics`` — its problems when it is invalid.
    """

    side: str  # "base" | "head"
    label: str
    revision: str | None
    commit: str | None
    present: bool
    valid: bool
    variants: int
    diagnostics: tuple[Diagnostic, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "revision": self.revision,
            "commit": self.commit,
            "present": self.present,
            "valid": self.valid,
            "variants": self.variants,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


@dataclass(frozen=True)
class SlotChange:
    """A slot whose winning atom (or its content) differs between the sides."""

    slot: str
    base_atom: str | None
    head_atom: str | None
    base_hash: str | None
    head_hash: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": None
            if self.base_atom is None
            else {"atom": self.base_atom, "hash": self.base_hash},
            "head": None
            if self.head_atom is None
            else {"atom": self.head_atom, "hash": self.head_hash},
        }


@dataclass(frozen=True)
class VariantChange:
    """One variant that was added, removed or changed.

    ``files`` are the files (``preview/email.txt`` ...) that differ, appeared or vanished;
    ``form`` says what ``preview`` diffs: ``preview`` (the rendered example), ``template`` (the
    preview forms are equal but the template forms differ) or ``markup`` (no readable text
    differs; ``preview`` is empty). ``preview`` holds unified-diff hunks without file headers.
    """

    id: str
    journey: str
    step: str
    channel: str
    locale: str
    audience: str
    change: str  # "added" | "removed" | "changed"
    files: tuple[str, ...]
    slots: tuple[SlotChange, ...]
    form: str
    preview: str
    personal_before: tuple[str, ...] | None = None
    personal_after: tuple[str, ...] | None = None

    @property
    def raises_personal(self) -> bool:
        """The variant uses more personal attributes than before (the creepiness budget's
        count went up); an added variant counts from zero."""
        if self.personal_after is None:
            return False
        return len(self.personal_after) > len(self.personal_before or ())

    @property
    def message(self) -> tuple[str, str, str]:
        """(journey, step, channel): the message this variant is a version of."""
        return (self.journey, self.step, self.channel)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "journey": self.journey,
            "step": self.step,
            "channel": self.channel,
            "locale": self.locale,
            "audience": self.audience,
            "change": self.change,
            "files": list(self.files),
            "slots": {s.slot: s.to_dict() for s in self.slots},
            "form": self.form,
            "preview_diff": self.preview,
            "personal_dimensions": {
                "before": None if self.personal_before is None else len(self.personal_before),
                "after": None if self.personal_after is None else len(self.personal_after),
                "attributes": list(self.personal_after or ()),
                "raised": self.raises_personal,
            },
        }


@dataclass(frozen=True)
class AtomChange:
    """An atom added, removed, edited, renamed (new id, same content) or moved (new file).

    ``fields`` are the top-level fields that differ (for edits); ``variants`` the changed,
    added or removed variants in which the atom (or its old id) wins on either side, and
    ``segments`` their audiences; ``of`` the number of variants of the larger side.
    """

    id: str
    change: str  # "added" | "removed" | "edited" | "renamed" | "moved"
    previous_id: str | None
    base_path: str | None
    head_path: str | None
    base_status: str | None
    head_status: str | None
    fields: tuple[str, ...]
    variants: tuple[str, ...]
    segments: tuple[str, ...]
    of: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "change": self.change,
            "previous_id": self.previous_id,
            "path": {"base": self.base_path, "head": self.head_path},
            "status": {"base": self.base_status, "head": self.head_status},
            "fields": list(self.fields),
            "messages": len(self.variants),
            "of": self.of,
            "segments": list(self.segments),
            "variants": list(self.variants),
        }


@dataclass(frozen=True)
class CellChange:
    """A coverage cell whose status differs; ``None`` on a side where the cell does not exist."""

    journey: str
    step: str
    channel: str
    slot: str
    locale: str
    segment: str
    base: str | None
    head: str | None
    base_atom: str | None
    head_atom: str | None

    @property
    def key(self) -> str:
        return f"{self.journey}/{self.step}/{self.channel} {self.slot} {self.locale} {self.segment}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "step": self.step,
            "channel": self.channel,
            "slot": self.slot,
            "locale": self.locale,
            "segment": self.segment,
            "base": self.base,
            "head": self.head,
            "base_atom": self.base_atom,
            "head_atom": self.head_atom,
        }


@dataclass(frozen=True)
class CoverageChange:
    """Coverage cells gained (better status) and lost (worse status), plus cells that exist on
    one side only (a journey, step, slot, locale or segment added or removed)."""

    better: tuple[CellChange, ...] = ()
    worse: tuple[CellChange, ...] = ()
    added: tuple[CellChange, ...] = ()
    removed: tuple[CellChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": "atomic_content.coverage",
            "better": [c.to_dict() for c in self.better],
            "worse": [c.to_dict() for c in self.worse],
            "added": [c.to_dict() for c in self.added],
            "removed": [c.to_dict() for c in self.removed],
        }


@dataclass(frozen=True)
class JourneySummary:
    """Per journey: variants on each side and how many were added, removed or changed."""

    journey: str
    base: int
    head: int
    added: int
    removed: int
    changed: int

    @property
    def altered_percent(self) -> float | None:
        """Share of BASE's variants changed or removed (None for a journey new in HEAD)."""
        return 100.0 * (self.changed + self.removed) / self.base if self.base else None

    def to_dict(self) -> dict[str, Any]:
        percent = self.altered_percent
        return {
            "base": self.base,
            "head": self.head,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "altered_percent": None if percent is None else round(percent, 1),
        }


@dataclass(frozen=True)
class DiffResult:
    """Everything ``atomic diff`` reports, in a stable order (see the module docs)."""

    base: SideInfo
    head: SideInfo
    content: str
    date: dt.date
    journeys: tuple[JourneySummary, ...] = ()
    variants: tuple[VariantChange, ...] = ()
    atoms: tuple[AtomChange, ...] = ()
    coverage: CoverageChange = field(default_factory=CoverageChange)
    new_warnings: tuple[Diagnostic, ...] = ()
    resolved_warnings: tuple[Diagnostic, ...] = ()
    governance: tuple[Diagnostic, ...] = ()

    @property
    def comparable(self) -> bool:
        """Both sides valid (so the builds were compared)."""
        return self.base.valid and self.head.valid

    @property
    def exit_code(self) -> int:
        """1 when a side is invalid or a change rule at level error fired, else 0."""
        if not self.comparable:
            return 1
        return 1 if any(d.severity is Severity.ERROR for d in self.governance) else 0

    def count(self, change: str) -> int:
        return sum(1 for v in self.variants if v.change == change)

    @property
    def privacy_raised(self) -> tuple[VariantChange, ...]:
        """Variants that use more personal attributes than before (reviewers look twice)."""
        return tuple(v for v in self.variants if v.raises_personal)

    @property
    def total(self) -> int:
        """Variants of the larger side: the ``of`` in "changes 14 of 212 messages"."""
        return max(self.base.variants, self.head.variants)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON report (docs/review.md)."""
        return {
            "diff_version": DIFF_VERSION,
            "content": self.content,
            "date": self.date.isoformat(),
            "base": self.base.to_dict(),
            "head": self.head.to_dict(),
            "comparable": self.comparable,
            "summary": {
                "added": self.count("added"),
                "removed": self.count("removed"),
                "changed": self.count("changed"),
                "atoms": len(self.atoms),
                "coverage_better": len(self.coverage.better),
                "coverage_worse": len(self.coverage.worse),
                "new_warnings": len(self.new_warnings),
                "resolved_warnings": len(self.resolved_warnings),
                "personal_raised": len(self.privacy_raised),
                "governance_errors": sum(
                    1 for d in self.governance if d.severity is Severity.ERROR
                ),
                "governance_warnings": sum(
                    1 for d in self.governance if d.severity is Severity.WARNING
                ),
            },
            "journeys": {j.journey: j.to_dict() for j in self.journeys},
            "variants": [v.to_dict() for v in self.variants],
            "atoms": [a.to_dict() for a in self.atoms],
            "coverage": self.coverage.to_dict(),
            "warnings": {
                "new": [d.to_dict() for d in self.new_warnings],
                "resolved": [d.to_dict() for d in self.resolved_warnings],
            },
            "governance": [d.to_dict() for d in self.governance],
            "exit_code": self.exit_code,
        }


# ---------------------------------------------------------------------------- one side


@dataclass
class SideBuild:
    """One side, built (or not): what :func:`compare` needs.

    ``out`` is the build output folder (None when absent or invalid); ``manifest`` the build's
    manifest (empty for an absent side); ``library`` the validated library (an empty one for an
    absent side).
    """

    info: SideInfo
    library: Library
    manifest: Manifest | None
    out: Path | None
    plan: Plan | None = None


def build_side(
    side: str,
    label: str,
    revision: Revision | None,
    content: Path | None,
    out: Path,
    *,
    on: dt.date,
    cache_dir: Path,
    jobs: int | None = None,
) -> SideBuild:
    """Validate and build one side's content folder (None: the folder does not exist there).

    Invalid content is not an exception: the side comes back with ``valid=False`` and its
    diagnostics (validation errors, required slots without content, hard channel limits, a
    layout that fails to render).
    """
    revision_name = revision.name if revision else None
    commit = revision.commit if revision else None
    if content is None:
        info = SideInfo(side, label, revision_name, commit, present=False, valid=True, variants=0)
        return SideBuild(info, Library(root=Path()), None, None)
    from .build import build  # rendering pulls in mrml & co.; only needed here

    # One pass of the checking pipeline per side; the build only writes what it produced.
    checked = check(content, DateRange.of(on), cache=VariantCache(cache_dir), jobs=jobs)
    if not checked.ok:
        return _invalid(side, label, revision_name, commit, checked.library, checked.diagnostics)
    result = build(content, out, checked=checked, cache_dir=cache_dir)
    assert result.manifest is not None
    info = SideInfo(
        side,
        label,
        revision_name,
        commit,
        present=True,
        valid=True,
        variants=len(result.manifest.variants),
    )
    return SideBuild(info, checked.library, result.manifest, out, checked.plan)


def _invalid(
    side: str,
    label: str,
    revision: str | None,
    commit: str | None,
    library: Library,
    diagnostics: Diagnostics,
) -> SideBuild:
    info = SideInfo(
        side,
        label,
        revision,
        commit,
        present=True,
        valid=False,
        variants=0,
        diagnostics=tuple(diagnostics.sorted()),
    )
    return SideBuild(info, library, None, None)


# ------------------------------------------------------------------------- preview forms


def preview_lines(channel: str, files: Mapping[str, bytes]) -> list[str]:
    """The readable form of one variant's files (``name -> bytes``, names without the
    ``preview/`` or ``template/`` folder): what a reviewer compares.

    The channel's renderer decides (:meth:`~atomic_content.channels.base.ChannelRenderer.
    review_lines`); a channel without one shows every file as text under its name. Lines are
    :func:`visible`.
    """
    renderer = RENDERERS.get(channel)
    lines = renderer.review_lines(files) if renderer is not None else other_files(files, (), [])
    return [visible(line.rstrip()) for line in lines]


def unified(before: list[str], after: list[str]) -> str:
    """Unified-diff hunks (``@@`` headers and lines, no file headers) of two line lists."""
    lines = list(difflib.unified_diff(before, after, lineterm="", n=PREVIEW_CONTEXT_LINES))
    return "\n".join(lines[2:])  # drop the ---/+++ lines: they would name no file


# --------------------------------------------------------------------------- comparison


def _variants(manifest: Manifest | None) -> Mapping[str, VariantEntry]:
    return manifest.by_id if manifest is not None else {}


def _read_form(out: Path | None, entry: VariantEntry | None, form: str) -> dict[str, bytes]:
    """The files of one form (``preview``/``template``) of a variant, by bare file name."""
    if out is None or entry is None:
        return {}
    files: dict[str, bytes] = {}
    prefix = f"{form}/"
    for rel, meta in entry.files.items():
        if rel.startswith(prefix):
            files[rel[len(prefix) :]] = (out / meta.path).read_bytes()
    return files


def _changed_files(before: VariantEntry, after: VariantEntry) -> tuple[str, ...]:
    files_a, files_b = before.files, after.files
    return tuple(
        sorted(
            name
            for name in set(files_a) | set(files_b)
            if (files_a[name].sha256 if name in files_a else None)
            != (files_b[name].sha256 if name in files_b else None)
        )
    )


def _slot_changes(
    before: VariantEntry | None, after: VariantEntry | None
) -> tuple[SlotChange, ...]:
    slots_a = before.slots if before is not None else {}
    slots_b = after.slots if after is not None else {}
    changes = []
    for slot in sorted(set(slots_a) | set(slots_b)):
        a, b = slots_a.get(slot), slots_b.get(slot)
        if a is not None and b is not None and (a.atom, a.hash) == (b.atom, b.hash):
            continue
        changes.append(
            SlotChange(
                slot,
                a.atom if a else None,
                b.atom if b else None,
                a.hash if a else None,
                b.hash if b else None,
            )
        )
    return tuple(changes)


def _variant_change(
    vid: str,
    base: SideBuild,
    head: SideBuild,
    before: VariantEntry | None,
    after: VariantEntry | None,
) -> VariantChange | None:
    entry = after if after is not None else before
    assert entry is not None
    channel = entry.channel
    if before is None or after is None:
        change = "added" if before is None else "removed"
        files = tuple(sorted(entry.files))
        form = "preview"
        preview = unified(
            preview_lines(channel, _read_form(base.out, before, "preview")),
            preview_lines(channel, _read_form(head.out, after, "preview")),
        )
    else:
        change = "changed"
        files = _changed_files(before, after)
        if not files and before.personal == after.personal:
            return None
        form, preview = "markup", ""
        for candidate in ("preview", "template"):
            text_a = preview_lines(channel, _read_form(base.out, before, candidate))
            text_b = preview_lines(channel, _read_form(head.out, after, candidate))
            if text_a != text_b:
                form, preview = candidate, unified(text_a, text_b)
                break
    return VariantChange(
        vid,
        entry.journey,
        entry.step,
        channel,
        entry.locale,
        entry.audience,
        change,
        files,
        _slot_changes(before, after),
        form,
        preview,
        before.personal if before is not None else None,
        after.personal if after is not None else None,
    )


def _atom_hashes(library: Library) -> dict[str, tuple[str, str]]:
    """Atom id -> (content hash as in the manifest, hash of the content without the id)."""
    result = {}
    for atom_id, atom in library.atoms.items():
        data = atom.model_dump(mode="json")
        data.pop("id", None)
        result[atom_id] = (atom_hash(atom), sha256_hex(canonical_json(data)))
    return result


def _winners(manifest: Manifest | None) -> dict[str, set[str]]:
    """Atom id -> ids of the variants in which it fills a slot."""
    wins: dict[str, set[str]] = defaultdict(set)
    for entry in manifest.variants if manifest is not None else ():
        for choice in entry.slots.values():
            wins[choice.atom].add(entry.id)
    return wins


def _atom_changes(
    base: SideBuild, head: SideBuild, changed: Mapping[str, VariantChange], total: int
) -> tuple[AtomChange, ...]:
    lib_a, lib_b = base.library, head.library
    hashes_a, hashes_b = _atom_hashes(lib_a), _atom_hashes(lib_b)
    wins_a, wins_b = _winners(base.manifest), _winners(head.manifest)
    removed = sorted(set(hashes_a) - set(hashes_b))
    added = sorted(set(hashes_b) - set(hashes_a))
    # An atom whose id changed but whose content did not (a renamed file, the id being the
    # file name) is one rename, not a removal and an addition.
    renamed: dict[str, str] = {}
    by_content = defaultdict(list)
    for old in removed:
        by_content[hashes_a[old][1]].append(old)
    for new in added:
        candidates = by_content.get(hashes_b[new][1])
        if candidates:
            renamed[new] = candidates.pop(0)
    changes: list[AtomChange] = []

    def reach(*ids: tuple[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        hits: set[str] = set()
        for side, atom_id in ids:
            hits |= (wins_a if side == "base" else wins_b).get(atom_id, set())
        variants = tuple(sorted(hits & set(changed)))
        segments = tuple(sorted({changed[v].audience for v in variants}))
        return variants, segments

    def status(library: Library, atom_id: str | None) -> str | None:
        return library.atoms[atom_id].status.value if atom_id in library.atoms else None

    def path(library: Library, atom_id: str | None) -> str | None:
        return library.paths.get(("atom", atom_id)) if atom_id is not None else None

    for atom_id in sorted(set(hashes_a) | set(hashes_b)):
        in_a, in_b = atom_id in hashes_a, atom_id in hashes_b
        previous: str | None = None
        fields: tuple[str, ...] = ()
        if in_a and in_b:
            path_a, path_b = path(lib_a, atom_id), path(lib_b, atom_id)
            if hashes_a[atom_id][0] != hashes_b[atom_id][0]:
                kind = "edited"
                dump_a = lib_a.atoms[atom_id].model_dump(mode="json")
                dump_b = lib_b.atoms[atom_id].model_dump(mode="json")
                fields = tuple(
                    sorted(k for k in set(dump_a) | set(dump_b) if dump_a.get(k) != dump_b.get(k))
                )
            elif path_a != path_b:
                kind = "moved"
            else:
                continue
            variants, segments = reach(("base", atom_id), ("head", atom_id))
        elif in_b:
            if atom_id in renamed:
                kind, previous = "renamed", renamed[atom_id]
                variants, segments = reach(("base", previous), ("head", atom_id))
            else:
                kind = "added"
                variants, segments = reach(("head", atom_id))
        else:
            if atom_id in renamed.values():
                continue
            kind = "removed"
            variants, segments = reach(("base", atom_id))
        base_id = previous if previous is not None else (atom_id if in_a else None)
        changes.append(
            AtomChange(
                atom_id,
                kind,
                previous,
                path(lib_a, base_id),
                path(lib_b, atom_id if in_b else None),
                status(lib_a, base_id),
                status(lib_b, atom_id if in_b else None),
                fields,
                variants,
                segments,
                total,
            )
        )
    return tuple(changes)


_CellKey = tuple[str, str, str, str, str, str]


def _coverage_change(base: SideBuild, head: SideBuild, on: dt.date) -> CoverageChange:
    def cells(build: SideBuild) -> dict[_CellKey, Cell]:
        if not build.info.present or build.library.settings is None:
            return {}
        # horizon 0: the diff compares what each side gives on the day, not what expires.
        report = compute_coverage(build.library, on=on, horizon_days=0, plan=build.plan)
        return {
            (c.journey, c.step, c.channel, c.slot, c.locale, c.segment): c for c in report.cells
        }

    cells_a, cells_b = cells(base), cells(head)
    better: list[CellChange] = []
    worse: list[CellChange] = []
    added: list[CellChange] = []
    removed: list[CellChange] = []
    for key in sorted(set(cells_a) | set(cells_b)):
        a, b = cells_a.get(key), cells_b.get(key)
        journey, step, channel, slot, locale, segment = key
        change = CellChange(
            journey,
            step,
            channel,
            slot,
            locale,
            segment,
            base=a.status.value if a else None,
            head=b.status.value if b else None,
            base_atom=a.atom if a else None,
            head_atom=b.atom if b else None,
        )
        if a is None:
            added.append(change)
        elif b is None:
            removed.append(change)
        elif b.severity < a.severity:
            better.append(change)
        elif b.severity > a.severity:
            worse.append(change)
    return CoverageChange(tuple(better), tuple(worse), tuple(added), tuple(removed))


def _warning_keys(manifest: Manifest | None) -> dict[tuple[str, str, str], Diagnostic]:
    """Warnings of a build keyed without line and column (edits above a warning move it).

    Channel-limit warnings are among them already, positioned at the atom they concern."""
    found: dict[tuple[str, str, str], Diagnostic] = {}
    for item in manifest.warnings if manifest is not None else ():
        diagnostic = Diagnostic(
            item.path,
            item.line,
            item.col,
            Severity(item.severity),
            item.code,
            item.message,
            item.hint,
        )
        found.setdefault((diagnostic.path, diagnostic.code, diagnostic.message), diagnostic)
    return found


def compare(base: SideBuild, head: SideBuild, *, content: str, on: dt.date) -> DiffResult:
    """Compare two built sides (see the module docs); deterministic for equal inputs."""
    if not (base.info.valid and head.info.valid):
        return DiffResult(base.info, head.info, content, on)
    entries_a, entries_b = _variants(base.manifest), _variants(head.manifest)
    changes: dict[str, VariantChange] = {}
    for vid in sorted(set(entries_a) | set(entries_b)):
        change = _variant_change(vid, base, head, entries_a.get(vid), entries_b.get(vid))
        if change is not None:
            changes[vid] = change
    journeys: list[JourneySummary] = []
    for journey in sorted({e.journey for e in (*entries_a.values(), *entries_b.values())}):
        in_journey = [c for c in changes.values() if c.journey == journey]
        journeys.append(
            JourneySummary(
                journey,
                sum(1 for e in entries_a.values() if e.journey == journey),
                sum(1 for e in entries_b.values() if e.journey == journey),
                sum(1 for c in in_journey if c.change == "added"),
                sum(1 for c in in_journey if c.change == "removed"),
                sum(1 for c in in_journey if c.change == "changed"),
            )
        )
    total = max(len(entries_a), len(entries_b))
    atoms = _atom_changes(base, head, changes, total)
    warnings_a, warnings_b = _warning_keys(base.manifest), _warning_keys(head.manifest)
    new_warnings = tuple(sorted(warnings_b[k] for k in set(warnings_b) - set(warnings_a)))
    resolved = tuple(sorted(warnings_a[k] for k in set(warnings_a) - set(warnings_b)))
    # The rules in force are BASE's, so that a change cannot relax the rules that judge it.
    rules = rules_of(base.library if base.info.present else head.library)
    budget = {j.journey: JourneyChange(j.journey, j.base, j.changed + j.removed) for j in journeys}
    # Variants an experiment running in BASE sends (the manifest's arms): their atoms are frozen.
    frozen = {vid for vid, entry in entries_a.items() if entry.arms}
    in_experiments = {
        a.id: [v for v in a.variants if v in frozen] for a in atoms if frozen & set(a.variants)
    }
    governance = sorted(
        [
            *change_budget_findings(budget, head.library, rules),
            *retired_revival_findings(base.library, head.library, rules),
            *experiment_change_findings(base.library, head.library, rules, on, in_experiments),
        ]
    )
    return DiffResult(
        base.info,
        head.info,
        content,
        on,
        journeys=tuple(journeys),
        variants=tuple(changes[v] for v in sorted(changes)),
        atoms=atoms,
        coverage=_coverage_change(base, head, on),
        new_warnings=new_warnings,
        resolved_warnings=resolved,
        governance=tuple(governance),
    )


# --------------------------------------------------------------------------- entry point


def content_folder(repo: GitRepo, content: str | Path) -> str:
    """``--content`` as a POSIX path relative to the repository root (``.`` for the root).

    A relative path is taken relative to the repository root; an absolute one must lie inside
    the repository. Raises UsageError otherwise.
    """
    path = Path(content)
    if path.is_absolute():
        root = repo.root.resolve()
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise UsageError(
                f"content folder {path.as_posix()!r} is outside the repository {root.as_posix()}",
                "pass --content relative to the repository root, e.g. --content content",
            )
        rel = resolved.relative_to(root).as_posix()
        return rel or "."
    parts = PurePosixPath(path.as_posix()).parts
    if ".." in parts:
        raise UsageError(
            f"content folder {path.as_posix()!r} leaves the repository",
            "pass --content relative to the repository root, e.g. --content content",
        )
    rel = PurePosixPath(*[p for p in parts if p != "."]).as_posix() if parts else "."
    return rel if rel not in ("", ".") else "."


def working_content(start: Path, content: str | Path = "content") -> Path:
    """The content folder ``content`` (see :func:`content_folder`) in the working tree of the
    git repository containing ``start``. Raises UsageError outside a repository."""
    repo = GitRepo.find(start)
    return repo.root / content_folder(repo, content)


def diff_revisions(
    start: Path,
    base: str | None = None,
    head: str | None = None,
    *,
    content: str | Path = "content",
    on: dt.date | None = None,
    jobs: int | None = None,
) -> DiffResult:
    """Compare the content at two revisions of the git repository containing ``start``.

    ``base`` default: the merge base of HEAD with the default branch (origin/HEAD, else main,
    else master); ``head`` default: the working tree. ``content`` is the content folder relative
    to the repository root; ``on`` the resolution date of both builds (default: today or
    SOURCE_DATE_EPOCH). Raises UsageError for a path outside a repository, an unknown revision,
    a missing default branch, or a content folder that exists on neither side. Builds in a
    temporary folder that is removed afterwards; never writes to the repository.
    """
    when = on if on is not None else default_date()
    repo = GitRepo.find(start)
    folder = content_folder(repo, content)
    head_rev = repo.resolve(head) if head is not None else None
    if base is not None:
        base_rev = repo.resolve(base)
    else:
        if not repo.has_commits():
            raise UsageError(
                "the repository has no commits yet, so there is nothing to compare with",
                "commit the content first, or name BASE",
            )
        tip = head_rev or repo.resolve("HEAD")
        base_rev = repo.merge_base(repo.default_branch(), tip)
    head_label = head_rev.label if head_rev is not None else "working tree"
    with tempfile.TemporaryDirectory(prefix="atomic-diff-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        base_content = (
            repo.export(base_rev, folder, tmp / "base-src")
            if repo.has_folder(base_rev, folder)
            else None
        )
        if head_rev is not None:
            head_content = (
                repo.export(head_rev, folder, tmp / "head-src")
                if repo.has_folder(head_rev, folder)
                else None
            )
        else:
            worktree = repo.root if folder == "." else repo.root / folder
            head_content = worktree if worktree.is_dir() else None
        if base_content is None and head_content is None:
            raise UsageError(
                f"content folder {folder!r} exists neither in {base_rev.label} nor in {head_label}",
                "pass --content with the content folder's path relative to the repository root",
            )
        cache = tmp / "cache"
        sides = []
        for side, label, revision, source in (
            ("base", base_rev.label, base_rev, base_content),
            ("head", head_label, head_rev, head_content),
        ):
            sides.append(
                build_side(
                    side,
                    label,
                    revision,
                    source,
                    tmp / side / "dist",
                    on=when,
                    cache_dir=cache,
                    jobs=jobs,
                )
            )
        return compare(sides[0], sides[1], content=folder, on=when)
