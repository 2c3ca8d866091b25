"""Experiments: which arm a customer is in, the checks of experiment files, and power planning.

An experiment (``experiments/<id>.yaml``, :class:`~atomic_content.models.Experiment`) tests the
personalized messages of a journey (or some of its steps) against the generic ones:

* ``control`` gets the *generic* variant of every message (a variant the plan always has);
* ``personalized`` gets the audience's variant, exactly as without the experiment;
* ``holdout`` (optional) gets no message at all.

So an experiment adds no variant: every message the runtime sends is still a build variant.

**Assignment** (:func:`assign`) is GrowthBook's (:mod:`atomic_content.growthbook`): the hash
attribute's value (default: the profile's id attribute) and the experiment key give a number in
[0, 1) (hash v2 by default); the arms' weights and the coverage give bucket ranges; an optional
namespace restricts who may enter. The number depends on the key and the customer only, so a
customer's arm is the same in every step and on every channel of the journey.

**Power** (:func:`power_plan`) needs no SciPy: the normal quantiles come from
:class:`statistics.NormalDist`. Sample sizes use the two-sided two-proportion z-test (pooled
variance under the null, unpooled under the alternative, far tail ignored — the Fleiss formula
statsmodels implements as ``samplesize_proportions_2indep_onetail``) for conversion, and the
normal approximation of Welch's test for revenue per recipient.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic, Severity, did_you_mean
from .growthbook import (
    BucketRange,
    choose_variation,
    gb_hash,
    get_bucket_range,
    in_namespace,
)
from .manifest import ArmEntry, ExperimentEntry
from .models import (
    ArmKind,
    Experiment,
    ExperimentStatus,
    Governance,
    Metric,
    Profile,
    RuleLevel,
    Segment,
)
from .repository import Library
from .segments import lookup

if TYPE_CHECKING:
    from .plan import Plan

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Assignment:
    """A customer's place in an experiment: the arm (None: not in the experiment, so the
    usual personalized message) and why, in words for ``--explain``."""

    experiment: str
    key: str
    arm: ArmKind | None
    reason: str
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "key": self.key,
            "arm": self.arm.value if self.arm is not None else None,
            "reason": self.reason,
            "forced": self.forced,
        }


def hash_attribute(experiment: Experiment, profile: Profile | None) -> str:
    """The attribute hashed into an arm: the experiment's, else the profile's id attribute."""
    if experiment.hash_attribute is not None:
        return experiment.hash_attribute
    return profile.id_attribute if profile is not None else "id"


def assign(
    experiment: Experiment, record: Mapping[str, Any], profile: Profile | None
) -> Assignment:
    """The arm of ``record`` in ``experiment`` by GrowthBook's ``runExperiment`` bucketing
    (hash value, namespace, bucket ranges from weights and coverage, choose variation)."""
    key = experiment.tracking_key
    attribute = hash_attribute(experiment, profile)
    found, value = lookup(record, attribute)
    if not found or value is None or value == "" or isinstance(value, dict | list):
        return Assignment(
            experiment.id, key, None, f"no {attribute!r} to hash: not in experiment {key!r}"
        )
    hash_value = _js_string(value)
    namespace = experiment.namespace
    if namespace is not None and not in_namespace(
        hash_value, (namespace.id, namespace.start, namespace.end)
    ):
        return Assignment(
            experiment.id,
            key,
            None,
            f"outside namespace {namespace.id!r} [{namespace.start:g}, {namespace.end:g}): "
            f"not in experiment {key!r}",
        )
    number = gb_hash(key, hash_value, experiment.hash_version)
    assert number is not None  # hash_version is 1 or 2 (the model allows nothing else)
    ranges = _ranges(
        len(experiment.arms), experiment.coverage, tuple(arm.weight for arm in experiment.arms)
    )
    index = choose_variation(number, ranges)
    if index < 0:
        return Assignment(
            experiment.id,
            key,
            None,
            f"hash {number:.4f} is outside the coverage {experiment.coverage:g}: "
            f"not in experiment {key!r}",
        )
    arm = experiment.arms[index].id
    low, high = ranges[index]
    return Assignment(
        experiment.id,
        key,
        arm,
        f"experiment {key!r}: hash of {attribute!r} (v{experiment.hash_version}) is "
        f"{number:.4f}, in the {arm.value} bucket [{low:.4f}, {high:.4f})",
    )


@functools.lru_cache(maxsize=256)
def _ranges(count: int, coverage: float, weights: tuple[float, ...]) -> list[BucketRange]:
    return get_bucket_range(count, coverage, weights)


def _js_string(value: Any) -> str:
    """``value`` as JavaScript's ``String()`` writes it (what GrowthBook hashes): ``true``,
    ``5`` for 5.0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def forced(experiment: Experiment, arm: ArmKind) -> Assignment:
    """An assignment chosen by hand (``atomic preview --arm``)."""
    return Assignment(
        experiment.id, experiment.tracking_key, arm, f"arm {arm.value} chosen with --arm", True
    )


def covering(
    experiments: Iterable[Experiment], journey: str, step: str, on: dt.date | None
) -> Experiment | None:
    """The experiment running on day ``on`` that covers ``journey``/``step`` (validate allows
    at most one); with ``on`` None, any non-draft experiment covering it (the latest)."""
    candidates = sorted(
        (e for e in experiments if e.covers(journey, step)), key=lambda e: (e.start, e.id)
    )
    if on is not None:
        return next((e for e in candidates if e.active_on(on)), None)
    usable = [e for e in candidates if e.status is not ExperimentStatus.DRAFT]
    return usable[-1] if usable else None


def relevant(experiments: Iterable[Experiment], start: dt.date, until: dt.date) -> list[Experiment]:
    """Running experiments whose window overlaps ``start``..``until``, by id."""
    return sorted(
        (
            e
            for e in experiments
            if e.status is ExperimentStatus.RUNNING
            and e.start <= until
            and (e.end is None or e.end >= start)
        ),
        key=lambda e: e.id,
    )


# --------------------------------------------------------------------------- build output

_SENDS = {ArmKind.CONTROL: "generic", ArmKind.PERSONALIZED: "audience", ArmKind.HOLDOUT: "none"}


def variant_arms(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Variant id -> ``<experiment>/<arm>`` of the arms that send it, for the experiments of
    the plan: a generic variant serves control (and the personalized arm's generic
    customers), a segment's variant the personalized arm; only periods inside the window."""
    from .segments import GENERIC

    found: dict[str, list[str]] = {}
    for experiment in plan.experiments:
        for variant in plan.variants:
            if not experiment.covers(variant.journey, variant.step):
                continue
            if variant.until < experiment.start or (
                experiment.end is not None and variant.start > experiment.end
            ):
                continue
            kinds = [ArmKind.PERSONALIZED]
            if variant.audience == GENERIC:
                kinds.insert(0, ArmKind.CONTROL)
            found.setdefault(variant.id, []).extend(f"{experiment.id}/{k.value}" for k in kinds)
    return {vid: tuple(arms) for vid, arms in found.items()}


def experiment_entries(plan: Plan, library: Library) -> tuple[ExperimentEntry, ...]:
    """The manifest's record of the plan's experiments."""
    return tuple(
        ExperimentEntry(
            id=e.id,
            key=e.tracking_key,
            journey=e.journey,
            steps=tuple(e.steps) if e.steps is not None else None,
            status=e.status.value,
            start=e.start,
            end=e.end,
            metric=e.metric.value,
            alpha=e.alpha,
            hash_attribute=hash_attribute(e, library.profile),
            hash_version=e.hash_version,
            coverage=e.coverage,
            namespace=(e.namespace.id, e.namespace.start, e.namespace.end) if e.namespace else None,
            arms=tuple(ArmEntry(a.id.value, a.weight, _SENDS[a.id]) for a in e.arms),
        )
        for e in plan.experiments
    )


# --------------------------------------------------------------------------- power


def z_quantile(probability: float) -> float:
    """The standard normal quantile (inverse CDF)."""
    return _NORMAL.inv_cdf(probability)


def samplesize_conversion(
    baseline: float, mde: float, alpha: float, power: float, ratio: float = 1.0
) -> float:
    """Customers in the personalized arm (not rounded) for a two-sided two-proportion z-test
    to detect ``baseline`` -> ``baseline + mde`` with ``power`` at level ``alpha``; the
    control arm has ``ratio`` times as many. Pooled variance under the null, unpooled under
    the alternative; the far tail is ignored (Fleiss, Levin & Paik)."""
    treated = baseline + mde
    pooled = (treated + baseline * ratio) / (1 + ratio)
    std_null = math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
    std_alt = math.sqrt(treated * (1 - treated) + baseline * (1 - baseline) / ratio)
    crit = z_quantile(1 - alpha / 2)
    crit_power = z_quantile(power)
    return (max(crit * std_null + crit_power * std_alt, 0.0) / mde) ** 2


def samplesize_mean(sd: float, mde: float, alpha: float, power: float, ratio: float = 1.0) -> float:
    """Customers in the personalized arm (not rounded) to detect a difference ``mde`` of
    means with standard deviation ``sd`` in both arms, two-sided, by the normal approximation
    of Welch's test; the control arm has ``ratio`` times as many."""
    std = sd * math.sqrt(1 + 1 / ratio)
    return ((z_quantile(1 - alpha / 2) + z_quantile(power)) * std / mde) ** 2


@dataclass(frozen=True)
class SegmentPower:
    """The power plan of one segment: per-arm sample size, customers needed, duration."""

    segment: str
    baseline: float | None
    baseline_from: str
    personalized: int | None
    control: int | None
    needed: int | None
    size: int | None
    per_day: float | None
    days: int | None
    enough: bool | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "baseline": self.baseline,
            "baseline_from": self.baseline_from,
            "per_arm": {"personalized": self.personalized, "control": self.control},
            "needed": self.needed,
            "size": self.size,
            "per_day": self.per_day,
            "days": self.days,
            "enough": self.enough,
            "note": self.note,
        }


@dataclass(frozen=True)
class PowerPlan:
    """``atomic experiments plan`` for one experiment."""

    experiment: str
    metric: Metric
    test: str
    alpha: float
    power: float
    mde: float
    window_days: int | None
    segments: tuple[SegmentPower, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "metric": self.metric.value,
            "test": self.test,
            "alpha": self.alpha,
            "power": self.power,
            "mde": self.mde,
            "window_days": self.window_days,
            "segments": [s.to_dict() for s in self.segments],
        }


def experiment_segments(library: Library, experiment: Experiment) -> list[Segment]:
    """The segments the experiment's journey personalizes for (they are what personalization
    can change), by priority then id."""
    journey = library.journeys.get(experiment.journey)
    if journey is None:
        return []
    listed = journey.segments if journey.segments is not None else list(library.segments)
    found = [library.segments[s] for s in listed if s in library.segments]
    return sorted(found, key=lambda s: (-s.priority, s.id))


def power_plan(library: Library, experiment: Experiment) -> PowerPlan:
    """Sample size per arm and expected duration for every segment of the experiment."""
    w_personalized = experiment.weight(ArmKind.PERSONALIZED)
    ratio = experiment.weight(ArmKind.CONTROL) / w_personalized
    namespace = experiment.namespace
    reach = experiment.coverage * ((namespace.end - namespace.start) if namespace else 1.0)
    window = (experiment.end - experiment.start).days + 1 if experiment.end else None
    segments = experiment_segments(library, experiment)
    total_size = sum(s.size or 0 for s in segments)
    revenue = experiment.metric is Metric.REVENUE_PER_RECIPIENT
    rows: list[SegmentPower] = []
    for segment in segments:
        baseline_from = "segment" if segment.baseline_rate is not None else "experiment"
        baseline = segment.baseline_rate or experiment.baseline_rate
        if revenue:
            assert experiment.revenue_sd is not None  # the model requires it
            raw: float | None = samplesize_mean(
                experiment.revenue_sd, experiment.mde, experiment.alpha, experiment.power, ratio
            )
            baseline_from = "revenue_sd"
        elif baseline is None or baseline + experiment.mde >= 1:
            raw = None
        else:
            raw = samplesize_conversion(
                baseline, experiment.mde, experiment.alpha, experiment.power, ratio
            )
        per_day = (
            experiment.daily_volume * segment.size / total_size
            if experiment.daily_volume and segment.size and total_size
            else None
        )
        if raw is None:
            note = (
                "no baseline: give the segment a `baseline_rate:` or the experiment one"
                if baseline is None
                else "baseline + mde is 100% or more"
            )
            rows.append(
                SegmentPower(
                    segment.id, baseline, baseline_from, None, None, None, segment.size,
                    per_day, None, None, note,
                )
            )  # fmt: skip
            continue
        personalized = math.ceil(raw - 1e-9)
        control = math.ceil(raw * ratio - 1e-9)
        needed = math.ceil(personalized / (w_personalized * reach) - 1e-9)
        days = math.ceil(needed / per_day - 1e-9) if per_day else None
        enough: bool | None = None
        notes: list[str] = []
        if segment.size is not None:
            enough = needed <= segment.size
            if not enough:
                notes.append(f"needs {needed:,} customers, the segment has {segment.size:,}")
        if days is not None and window is not None and days > window:
            enough = False
            notes.append(f"needs {days} days at the expected volume, the window has {window}")
        rows.append(
            SegmentPower(
                segment.id, baseline, baseline_from, personalized, control, needed, segment.size,
                per_day, days, enough, "; ".join(notes),
            )
        )  # fmt: skip
    test = (
        "Welch two-sample test (normal approximation), two-sided"
        if revenue
        else "two-proportion z-test, two-sided"
    )
    return PowerPlan(
        experiment.id,
        experiment.metric,
        test,
        experiment.alpha,
        experiment.power,
        experiment.mde,
        window,
        tuple(rows),
    )


# --------------------------------------------------------------------------- checks


def _diagnostic(
    library: Library,
    experiment_id: str,
    loc: tuple[str | int, ...],
    severity: Severity,
    code: str,
    message: str,
    hint: str,
) -> Diagnostic:
    path, line, col = library.position("experiment", experiment_id, loc)
    return Diagnostic(path, line, col, severity, code, message, hint)


def experiment_diagnostics(library: Library, rules: Governance) -> list[Diagnostic]:
    """Cross-file checks of every experiment: its journey and steps exist, the hash attribute
    is declared, no two experiments share a step at the same time, and (rule
    ``experiment_power``) every segment can reach the MDE within the window."""
    found: list[Diagnostic] = []
    for experiment in sorted(library.experiments.values(), key=lambda e: e.id):
        found.extend(_check_one(library, experiment, rules))
    found.extend(_overlaps(library))
    return found


def _check_one(library: Library, experiment: Experiment, rules: Governance) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    journey = library.journeys.get(experiment.journey)
    if journey is None and library.is_broken("journey", experiment.journey):
        return found  # the journey's file did not load: its own errors say why
    if journey is None:
        hint = did_you_mean(experiment.journey, library.journeys)
        found.append(
            _diagnostic(
                library, experiment.id, ("journey",), Severity.ERROR, "ref.unknown_journey",
                f"unknown journey {experiment.journey!r}",
                hint or f"known journeys: {', '.join(sorted(library.journeys)) or 'none'}",
            )
        )  # fmt: skip
        return found
    step_ids = [step.id for step in journey.steps]
    for index, step in enumerate(experiment.steps or []):
        if step not in step_ids:
            found.append(
                _diagnostic(
                    library, experiment.id, ("steps", index), Severity.ERROR, "ref.unknown_step",
                    f"journey {journey.id!r} has no step {step!r}",
                    did_you_mean(step, step_ids) or f"its steps: {', '.join(step_ids)}",
                )
            )  # fmt: skip
    profile = library.profile
    if (
        experiment.hash_attribute is not None
        and profile is not None
        and experiment.hash_attribute not in profile.attributes
    ):
        found.append(
            _diagnostic(
                library, experiment.id, ("hash_attribute",), Severity.ERROR,
                "ref.unknown_attribute",
                f"hash attribute {experiment.hash_attribute!r} is not declared in profile.yaml",
                did_you_mean(experiment.hash_attribute, profile.attributes)
                or "declare it in profile.yaml or use the customer id (leave it out)",
            )
        )  # fmt: skip
    if rules.experiment_power is RuleLevel.OFF or experiment.status not in (
        ExperimentStatus.DRAFT,
        ExperimentStatus.RUNNING,
    ):
        return found
    severity = Severity.ERROR if rules.experiment_power is RuleLevel.ERROR else Severity.WARNING
    for row in power_plan(library, experiment).segments:
        if row.enough is False:
            found.append(
                _diagnostic(
                    library, experiment.id, ("mde",), severity, "experiment.underpowered",
                    f"segment {row.segment!r} is too small to detect an effect of "
                    f"{experiment.mde:g} at power {experiment.power:g}: {row.note}",
                    "raise the mde, lengthen the window, or leave the segment out of the "
                    "analysis (see `atomic experiments plan`)",
                )
            )  # fmt: skip
    return found


def _overlaps(library: Library) -> list[Diagnostic]:
    active = sorted(
        (e for e in library.experiments.values() if e.status is ExperimentStatus.RUNNING),
        key=lambda e: e.id,
    )
    found: list[Diagnostic] = []
    for index, first in enumerate(active):
        journey = library.journeys.get(first.journey)
        if journey is None:
            continue
        for second in active[index + 1 :]:
            if second.journey != first.journey:
                continue
            shared = [
                s.id
                for s in journey.steps
                if first.covers(journey.id, s.id) and second.covers(journey.id, s.id)
            ]
            far = dt.date.max
            if not shared or (first.end or far) < second.start or (second.end or far) < first.start:
                continue
            found.append(
                _diagnostic(
                    library, second.id, ("journey",), Severity.ERROR, "experiment.overlap",
                    f"experiments {first.id!r} and {second.id!r} both run on "
                    f"{journey.id}/{shared[0]} at the same time",
                    "give them different steps or windows: a customer can be in one test of a "
                    "message at a time",
                )
            )  # fmt: skip
    return found


# --------------------------------------------------------------------------- governance


def running_on(library: Library, day: dt.date) -> list[Experiment]:
    """Experiments running on ``day``."""
    return [e for e in sorted(library.experiments.values(), key=lambda e: e.id) if e.active_on(day)]


_FROZEN_FIELDS = ("hypothesis", "null_hypothesis", "metric", "alpha")


def experiment_change_findings(
    base: Library,
    head: Library,
    rules: Governance,
    on: dt.date,
    changed_atoms: Mapping[str, Sequence[str]],
) -> list[Diagnostic]:
    """Governance of running experiments (``atomic diff``):

    * ``experiment.preregistration_changed`` (always an error): the hypothesis, null
      hypothesis, metric or α of an experiment that has started (running in BASE on ``on``
      or before) changed — the test would no longer be the one registered;
    * ``experiment.frozen_content`` (rule ``experiment_freeze``): an atom that fills a variant
      of a message a running experiment covers changed (``changed_atoms``: atom id -> the
      variant ids it reaches) — the arms no longer compare what they compared so far.
    """
    found: list[Diagnostic] = []
    for experiment_id in sorted(set(base.experiments) & set(head.experiments)):
        before, after = base.experiments[experiment_id], head.experiments[experiment_id]
        if before.status is ExperimentStatus.DRAFT or before.start > on:
            continue
        for name in _FROZEN_FIELDS:
            if getattr(before, name) != getattr(after, name):
                found.append(
                    _diagnostic(
                        head, experiment_id, (name,), Severity.ERROR,
                        "experiment.preregistration_changed",
                        f"{name} of experiment {experiment_id!r} changed after its start "
                        f"({before.start.isoformat()}); the analysis must test what was "
                        "registered",
                        f"restore the {name}, or stop this experiment and start a new one",
                    )
                )  # fmt: skip
    if rules.experiment_freeze is RuleLevel.OFF:
        return found
    severity = Severity.ERROR if rules.experiment_freeze is RuleLevel.ERROR else Severity.WARNING
    running = running_on(base, on)
    for atom_id in sorted(changed_atoms):
        for experiment in running:
            hits = [vid for vid in changed_atoms[atom_id] if _covers_variant(experiment, vid)]
            if not hits:
                continue
            library = head if atom_id in head.atoms else base
            path, line, col = library.position("atom", atom_id, ("slot",))
            found.append(
                Diagnostic(
                    path,
                    line,
                    col,
                    severity,
                    "experiment.frozen_content",
                    f"atom {atom_id!r} fills {len(hits)} variant(s) of running experiment "
                    f"{experiment.id!r} (e.g. {hits[0]}); changing it invalidates the experiment",
                    "wait until the experiment ends, or stop it and start a new one after the "
                    "change",
                )
            )
    return found


def _covers_variant(experiment: Experiment, variant_id: str) -> bool:
    parts = variant_id.split("/")
    return len(parts) >= 2 and experiment.covers(parts[0], parts[1])


# --------------------------------------------------------------------------- commands


def find_experiment(library: Library, experiment_id: str | None) -> Experiment:
    """The experiment ``experiment_id``, or the only one when None; UsageError otherwise."""
    from .errors import UsageError

    known = sorted(library.experiments)
    if experiment_id is None:
        if len(known) == 1:
            return library.experiments[known[0]]
        raise UsageError(
            "name the experiment with --experiment"
            if known
            else "the content has no experiments (experiments/<id>.yaml)",
            f"known experiments: {', '.join(known)}" if known else "see docs/experiments.md",
        )
    found = library.experiments.get(experiment_id)
    if found is None:
        raise UsageError(
            f"unknown experiment {experiment_id!r}",
            did_you_mean(experiment_id, known) or f"known experiments: {', '.join(known) or '-'}",
        )
    return found


def plan_experiments(content: Path, experiment_id: str | None = None) -> list[PowerPlan]:
    """``atomic experiments plan``: the power plan of one experiment (or of all)."""
    from .validate import load_library

    library, _warnings = load_library(content)
    if experiment_id is None:
        return [power_plan(library, e) for _, e in sorted(library.experiments.items())]
    return [power_plan(library, find_experiment(library, experiment_id))]
