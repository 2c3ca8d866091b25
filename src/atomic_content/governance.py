"""Governance: the content rules a team sets in ``atomic.yaml`` under ``governance:``.

Two kinds of rules, each with a level ``off | warning | error`` (:class:`RuleLevel`):

*Static rules* — facts about one content tree on one day, reported by ``atomic validate``
(through :func:`governance_diagnostics`, called by :func:`atomic_content.validate.check_content`):

* ``governance.owner_required`` — an ``approved`` atom must name an ``owner``;
* ``governance.expired_approved`` — an atom past its ``valid_until`` is still ``approved``;
* ``governance.expiring`` — an ``approved`` atom stops being valid within
  ``expiry_horizon_days`` (a warning, listed so successors are written in time; horizon 0
  turns it off). "Within N days" means its last valid day is before ``date + N``, the same
  horizon ``atomic coverage`` uses for its ``expiring`` flag.

*Change rules* — facts about a change from one tree to another, reported by ``atomic diff``:

* ``governance.change_budget`` — one change alters more than ``change_budget_percent`` of a
  journey's live variants (altered = changed or removed; live = the variants built from BASE)
  and the journey (in HEAD) does not say ``allow_large_change: true``. New journeys and
  journeys the change deletes are not measured: that they appear or vanish is the news.
* ``governance.retired_revival`` — an atom ``retired`` in BASE is ``approved`` in HEAD without
  a note: its ``notes`` must be non-empty and differ from BASE's, saying why it returns.

Findings are :class:`~atomic_content.errors.Diagnostic` objects positioned in the atom or journey
file (the key a reviewer should look at). Nothing here prints or reads the clock except
:func:`default_date`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .dates import default_date, shift
from .errors import Diagnostic, Severity
from .hashing import canonical_json
from .models import Atom, Governance, RuleLevel, Status
from .repository import Library, diagnostic_order


def rules_of(library: Library) -> Governance:
    """The governance settings of a library (the defaults when atomic.yaml did not load)."""
    return library.settings.governance if library.settings is not None else Governance()


def _severity(level: RuleLevel) -> Severity:
    return Severity.ERROR if level is RuleLevel.ERROR else Severity.WARNING


def _finding(
    library: Library,
    kind: str,
    item_id: str,
    loc: tuple[str, ...],
    level: RuleLevel,
    code: str,
    message: str,
    hint: str,
    *,
    key: bool = False,
) -> Diagnostic:
    path, line, col = library.position(kind, item_id, loc, key=key)
    return Diagnostic(path, line, col, _severity(level), code, message, hint)


def governance_diagnostics(library: Library, on: dt.date | None = None) -> list[Diagnostic]:
    """The static rules on ``library`` as of ``on`` (default: :func:`default_date`).

    Returns diagnostics sorted by position; empty when atomic.yaml did not load (its own
    errors are reported elsewhere and the levels are unknown). The findings of one atom depend
    on its file, the rules and the date alone: with a load cache (``library.load_cache``) an
    unchanged atom reuses those of an earlier run.
    """
    if library.settings is None:
        return []
    rules = library.settings.governance
    when = on if on is not None else default_date()
    cache = library.load_cache
    context = (
        canonical_json([rules.model_dump(mode="json"), when.isoformat()]).decode()
        if cache is not None
        else ""
    )
    found: list[Diagnostic] = []
    atoms = sorted(library.atoms.values(), key=lambda a: a.id)
    files = []
    for atom in atoms:
        path = library.paths.get(("atom", atom.id), "")
        files.append((path, library.file_hashes.get(path, "")))
    cached = (
        cache.checked_files("governance", files, context)
        if cache is not None
        else [None] * len(atoms)
    )
    for atom, (path, digest), known in zip(atoms, files, cached, strict=True):
        if known is not None:
            found.extend(known)
            continue
        own = _atom_findings(library, atom, rules, when)
        if cache is not None:
            cache.store_check("governance", path, digest, context, own)
        found.extend(own)
    return sorted(found, key=diagnostic_order)


def _atom_findings(
    library: Library, atom: Atom, rules: Governance, when: dt.date
) -> list[Diagnostic]:
    """The static rules' findings about one atom."""
    found: list[Diagnostic] = []
    if atom.status is not Status.APPROVED:
        return found
    if rules.owner_required is not RuleLevel.OFF and not (atom.owner or "").strip():
        found.append(
            _finding(
                library,
                "atom",
                atom.id,
                ("status",),
                rules.owner_required,
                "governance.owner_required",
                f"approved atom {atom.id!r} names no owner",
                "add `owner: name@example.com`: the person who answers for this content",
            )
        )
    if atom.valid_until is None:
        return found
    if atom.valid_until < when:
        if rules.expired_approved is not RuleLevel.OFF:
            found.append(
                _finding(
                    library,
                    "atom",
                    atom.id,
                    ("valid_until",),
                    rules.expired_approved,
                    "governance.expired_approved",
                    f"atom {atom.id!r} expired on {atom.valid_until.isoformat()} "
                    "but is still approved",
                    "set `status: retired`, or extend `valid_until` if it should run on",
                )
            )
    elif atom.valid_until < shift(when, rules.expiry_horizon_days):
        days = (atom.valid_until - when).days
        when_text = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        found.append(
            _finding(
                library,
                "atom",
                atom.id,
                ("valid_until",),
                RuleLevel.WARNING,
                "governance.expiring",
                f"atom {atom.id!r} is valid until {atom.valid_until.isoformat()} "
                f"(last day {when_text})",
                "write and approve its successor, or extend `valid_until`",
            )
        )
    return found


# ---------------------------------------------------------------------------- change rules


@dataclass(frozen=True)
class JourneyChange:
    """How one change touches a journey's variants: ``live`` built from BASE, ``altered`` of
    those changed or removed by HEAD."""

    journey: str
    live: int
    altered: int

    @property
    def percent(self) -> float:
        return 100.0 * self.altered / self.live if self.live else 0.0


def change_budget_findings(
    changes: Mapping[str, JourneyChange], head: Library, rules: Governance
) -> list[Diagnostic]:
    """``governance.change_budget`` for every journey in BASE and HEAD over the budget.

    ``rules`` are the rules in force (``atomic diff`` passes BASE's, so a change cannot relax
    the rules that judge it); ``allow_large_change`` is read from HEAD, where the change opts in.
    """
    if rules.change_budget is RuleLevel.OFF:
        return []
    found: list[Diagnostic] = []
    for journey_id in sorted(changes):
        change = changes[journey_id]
        journey = head.journeys.get(journey_id)
        if journey is None or change.live == 0 or journey.allow_large_change:
            continue
        if change.percent <= rules.change_budget_percent:
            continue
        found.append(
            _finding(
                head,
                "journey",
                journey_id,
                ("name",),
                rules.change_budget,
                "governance.change_budget",
                f"this change alters {change.altered} of {change.live} live variants of journey "
                f"{journey_id!r} ({change.percent:.0f}%, budget {rules.change_budget_percent:g}%)",
                "split the change, or add `allow_large_change: true` to the journey "
                "when the reach is intended",
                key=True,
            )
        )
    return found


def retired_revival_findings(base: Library, head: Library, rules: Governance) -> list[Diagnostic]:
    """``governance.retired_revival``: atoms retired in BASE, approved in HEAD, without a new
    non-empty ``notes`` saying why."""
    if rules.retired_revival is RuleLevel.OFF:
        return []
    found: list[Diagnostic] = []
    for atom_id in sorted(set(base.atoms) & set(head.atoms)):
        before, after = base.atoms[atom_id], head.atoms[atom_id]
        if before.status is not Status.RETIRED or after.status is not Status.APPROVED:
            continue
        note = (after.notes or "").strip()
        if note and note != (before.notes or "").strip():
            continue
        found.append(
            _finding(
                head,
                "atom",
                atom_id,
                ("status",),
                rules.retired_revival,
                "governance.retired_revival",
                f"retired atom {atom_id!r} is approved again without a note",
                "say in `notes:` why it returns (what changed since it was retired)",
            )
        )
    return found
