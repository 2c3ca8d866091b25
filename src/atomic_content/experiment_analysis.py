"""``atomic analyze``: the results of an experiment, per arm and per segment, against its
pre-registered hypothesis.

Input (:func:`read_results`): a CSV or Parquet file with one row per customer — ``customer``,
``arm``, ``segment``, ``converted``, optional ``revenue``, optional pre-period covariate (CUPED)
and optional ``date`` — or aggregated counts per arm and segment (``customers``,
``conversions``, optional ``revenue`` and ``revenue_sq`` sums). Parquet needs pyarrow.

Statistics (:func:`analyze`; docs/experiments.md explains them in plain words):

* conversion: two-sided two-proportion z-test (pooled variance) for the p-value, Wald interval
  (unpooled) for the absolute lift, log-ratio interval for the relative lift;
* revenue per recipient, and any metric with CUPED: Welch's t-test and interval;
* CUPED: ``y - theta * (x - mean(x))`` with ``theta = cov(x, y) / var(x)`` over both arms of
  the segment;
* sample-ratio mismatch: Pearson's chi-square of the arm counts against the registered weights;
  a p-value below ``srm_alpha`` (0.001) blocks the verdict;
* Holm or Benjamini-Hochberg across segments (the experiment's ``correction``).

Needs SciPy (``pip install 'atomic-content[experiments]'``), imported when called.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .formatting import visible
from .manifest import Manifest
from .models import OVERALL as OVERALL  # the row over every customer; no segment has its id
from .models import ArmKind, Correction, Experiment, Metric, Segment

SRM_ALPHA = 0.001
"""Below this chi-square p-value the arm counts do not fit the weights: no verdict."""


EXTRA_HINT = "install the statistics extra: pip install 'atomic-content[experiments]'"


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError:  # pragma: no cover - depends on the installation
        raise UsageError("atomic analyze needs SciPy", EXTRA_HINT) from None
    return stats


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Row:
    """One customer of the results file."""

    customer: str
    arm: ArmKind
    segment: str
    converted: bool
    revenue: float
    covariate: float | None
    day: dt.date | None


@dataclass(frozen=True)
class Cell:
    """Aggregated results of one arm in one segment."""

    arm: ArmKind
    segment: str
    customers: int
    conversions: int
    revenue: float | None
    revenue_sq: float | None


@dataclass(frozen=True)
class Results:
    """A results file: per-customer ``rows`` or aggregated ``cells`` (one of them is empty)."""

    source: str
    rows: tuple[Row, ...] = ()
    cells: tuple[Cell, ...] = ()
    covariate: str | None = None

    @property
    def per_customer(self) -> bool:
        return bool(self.rows)

    def aggregated(self) -> list[Cell]:
        if not self.rows:
            return list(self.cells)
        sums: dict[tuple[ArmKind, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
        for row in self.rows:
            entry = sums[(row.arm, row.segment)]
            entry[0] += 1
            entry[1] += row.converted
            entry[2] += row.revenue
            entry[3] += row.revenue * row.revenue
        return [
            Cell(arm, segment, int(v[0]), int(v[1]), v[2], v[3])
            for (arm, segment), v in sorted(sums.items())
        ]


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def _table(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError(
                f"reading {path.name} needs pyarrow", "pip install pyarrow, or give a CSV file"
            ) from None
        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {path.as_posix()}: {exc}") from None
        return list(table.column_names), table.to_pylist()
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path.as_posix()}: {exc}") from None


def _where(path: Path, index: int) -> str:
    if path.suffix.lower() == ".csv":
        return f"{path.name}:{index + 2}"
    return f"{path.name} row {index}"


def _arm(value: Any, where: str) -> ArmKind:
    try:
        return ArmKind(str(value).strip().lower())
    except ValueError:
        raise UsageError(
            f"{where}: arm {value!r} is not control, personalized or holdout",
            "write the arm as the batch render output names it",
        ) from None


def _segment(value: Any, where: str) -> str:
    """A segment id from a results file. The reports print it inside their lines, so a line
    break or control character in it (a forged line in a CI log) is refused, not shown."""
    text = str(value)
    if visible(text) != text:
        raise UsageError(
            f"{where}: segment {text!r} holds a line break or control character",
            "write the segment id as the content names it",
        )
    return text


def _flag(value: Any, where: str, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{where}: {column} {value!r} is not 0/1 or true/false")


def _number(value: Any, where: str, column: str, *, missing: float | None = 0.0) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return missing
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise UsageError(f"{where}: {column} {value!r} is not a finite number")
    return number


def read_results(path: Path, *, covariate: str | None = None) -> Results:
    """Read a results file (see the module docs). UsageError for anything unreadable, with
    the row at fault."""
    columns, records = _table(path)
    names = set(columns)
    if {"customers", "conversions"} <= names:
        needed = {"arm", "segment"}
        if not needed <= names:
            raise UsageError(
                f"{path.name}: aggregated results need columns arm, segment, customers, "
                f"conversions (missing: {', '.join(sorted(needed - names))})"
            )
        cells = []
        for index, record in enumerate(records):
            where = _where(path, index)
            customers = _number(record["customers"], where, "customers")
            conversions = _number(record["conversions"], where, "conversions")
            assert customers is not None and conversions is not None
            if customers < 0 or conversions < 0 or conversions > customers:
                raise UsageError(f"{where}: need 0 <= conversions <= customers")
            cells.append(
                Cell(
                    _arm(record["arm"], where),
                    _segment(record["segment"], where),
                    int(customers),
                    int(conversions),
                    _number(record.get("revenue"), where, "revenue", missing=None),
                    _number(record.get("revenue_sq"), where, "revenue_sq", missing=None),
                )
            )
        return Results(path.name, cells=tuple(cells))
    needed = {"arm", "segment", "converted"}
    if not needed <= names:
        raise UsageError(
            f"{path.name}: per-customer results need columns customer, arm, segment, converted "
            f"(missing: {', '.join(sorted(needed - names))}); or give aggregated counts with "
            "customers and conversions",
        )
    if covariate is not None and covariate not in names:
        raise UsageError(f"{path.name}: no column {covariate!r} for the CUPED covariate")
    rows = []
    for index, record in enumerate(records):
        where = _where(path, index)
        day = record.get("date")
        parsed: dt.date | None = None
        if isinstance(day, dt.date):
            parsed = day
        elif day not in (None, ""):
            try:
                parsed = dt.date.fromisoformat(str(day))
            except ValueError:
                raise UsageError(f"{where}: date {day!r} is not YYYY-MM-DD") from None
        rows.append(
            Row(
                str(record.get("customer") or record.get("id") or f"row-{index}"),
                _arm(record["arm"], where),
                _segment(record["segment"], where),
                _flag(record["converted"], where, "converted"),
                _number(record.get("revenue"), where, "revenue") or 0.0,
                _number(record[covariate], where, covariate, missing=None)
                if covariate is not None
                else None,
                parsed,
            )
        )
    if not rows:
        raise UsageError(f"{path.name} has no rows")
    return Results(path.name, rows=tuple(rows), covariate=covariate)


# --------------------------------------------------------------------------- statistics


class Verdict(enum.StrEnum):
    REJECT = "reject"
    FAIL_TO_REJECT = "fail to reject"
    NO_VERDICT = "no verdict"


@dataclass(frozen=True)
class ArmSummary:
    arm: ArmKind
    customers: int
    conversions: int
    rate: float
    revenue_mean: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm.value,
            "customers": self.customers,
            "conversions": self.conversions,
            "rate": self.rate,
            "revenue_per_recipient": self.revenue_mean,
        }


@dataclass(frozen=True)
class Comparison:
    """``treatment`` against ``baseline`` on ``metric``: the absolute lift (a share for
    conversion, money for revenue) with its interval, the relative lift with its interval, the
    two-sided p-value and, for the primary comparison, the p-value adjusted across segments."""

    treatment: ArmKind
    baseline: ArmKind
    metric: Metric
    test: str
    estimate: float
    low: float
    high: float
    relative: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float
    adjusted_p: float | None = None
    cuped_theta: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment.value,
            "baseline": self.baseline.value,
            "metric": self.metric.value,
            "test": self.test,
            "lift": self.estimate,
            "ci": [self.low, self.high],
            "relative_lift": self.relative,
            "relative_ci": [self.relative_low, self.relative_high],
            "p_value": self.p_value,
            "adjusted_p": self.adjusted_p,
            "cuped_theta": self.cuped_theta,
        }


@dataclass(frozen=True)
class SrmCheck:
    """Pearson's chi-square of the arm counts against the registered weights."""

    observed: tuple[tuple[ArmKind, int], ...]
    expected: tuple[tuple[ArmKind, float], ...]
    chi2: float
    p_value: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "observed": {arm.value: n for arm, n in self.observed},
            "expected": {arm.value: n for arm, n in self.expected},
            "chi2": self.chi2,
            "p_value": self.p_value,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class Roi:
    """What personalization adds in one segment per period (one pass of the segment's
    ``size`` customers through the journey), and what it costs in atoms."""

    size: int | None
    value: float | None
    conversions: tuple[float, float, float] | None
    revenue: tuple[float, float, float] | None
    atoms: int | None
    atoms_per_conversion: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "value": self.value,
            "incremental_conversions": list(self.conversions) if self.conversions else None,
            "incremental_revenue": list(self.revenue) if self.revenue else None,
            "atoms": self.atoms,
            "atoms_per_incremental_conversion": self.atoms_per_conversion,
        }


@dataclass(frozen=True)
class SegmentResult:
    segment: str
    arms: tuple[ArmSummary, ...]
    primary: Comparison | None
    others: tuple[Comparison, ...]
    srm: SrmCheck | None
    verdict: Verdict
    decision: str
    roi: Roi | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "arms": [a.to_dict() for a in self.arms],
            "primary": self.primary.to_dict() if self.primary else None,
            "others": [c.to_dict() for c in self.others],
            "srm": self.srm.to_dict() if self.srm else None,
            "verdict": self.verdict.value,
            "decision": self.decision,
            "roi": self.roi.to_dict() if self.roi else None,
        }


@dataclass(frozen=True)
class TimePoint:
    """The cumulative lift (personalized - control) of all customers up to ``day``."""

    day: dt.date
    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "lift": self.estimate, "ci": [self.low, self.high]}


@dataclass(frozen=True)
class AtomEffect:
    """The measured lift of a segment, carried to an atom that personalizes its messages."""

    atom: str
    segment: str
    variants: int
    estimate: float | None
    low: float | None
    high: float | None
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "atom": self.atom,
            "segment": self.segment,
            "variants": self.variants,
            "lift": self.estimate,
            "ci": [self.low, self.high],
            "verdict": self.verdict.value,
        }


ATOM_CAVEAT = (
    "atoms of one message are not separately randomized: an atom's figure is the lift of the "
    "whole personalized message of its segment, not the atom's own effect"
)


@dataclass(frozen=True)
class Analysis:
    """Everything ``atomic analyze`` reports (see :func:`analyze`)."""

    experiment: str
    key: str
    hypothesis: str
    null_hypothesis: str
    metric: Metric
    alpha: float
    correction: Correction
    srm_alpha: float
    source: str
    cuped: str | None
    overall: SegmentResult
    segments: tuple[SegmentResult, ...]
    timeline: tuple[TimePoint, ...] = ()
    atoms: tuple[AtomEffect, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "key": self.key,
            "hypothesis": self.hypothesis,
            "null_hypothesis": self.null_hypothesis,
            "metric": self.metric.value,
            "alpha": self.alpha,
            "correction": self.correction.value,
            "srm_alpha": self.srm_alpha,
            "source": self.source,
            "cuped_covariate": self.cuped,
            "overall": self.overall.to_dict(),
            "segments": [s.to_dict() for s in self.segments],
            "timeline": [t.to_dict() for t in self.timeline],
            "atoms": [a.to_dict() for a in self.atoms],
            "atom_caveat": ATOM_CAVEAT if self.atoms else None,
            "notes": list(self.notes),
        }


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _var(values: Sequence[float], mean: float | None = None) -> float:
    center = _mean(values) if mean is None else mean
    return math.fsum((v - center) ** 2 for v in values) / (len(values) - 1)


def _cov(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = _mean(xs), _mean(ys)
    return math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (len(xs) - 1)


def proportion_comparison(
    x1: int, n1: int, x2: int, n2: int, alpha: float, treatment: ArmKind, baseline: ArmKind
) -> Comparison:
    """Arm 1 against arm 2 on conversion: pooled two-proportion z-test, Wald interval of the
    difference, log-ratio interval of the relative lift (``statsmodels``'
    ``proportions_ztest`` and ``confint_proportions_2indep`` with ``wald`` / ``log``)."""
    stats = _scipy_stats()
    p1, p2 = x1 / n1, x2 / n2
    diff = p1 - p2
    pooled = (x1 + x2) / (n1 + n2)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = float(2 * stats.norm.sf(abs(diff / se_null))) if se_null > 0 else 1.0
    crit = float(stats.norm.isf(alpha / 2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    relative = rel_low = rel_high = None
    if x1 > 0 and x2 > 0:
        log_ratio = math.log(p1 / p2)
        se_log = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        relative = p1 / p2 - 1
        rel_low = math.exp(log_ratio - crit * se_log) - 1
        rel_high = math.exp(log_ratio + crit * se_log) - 1
    return Comparison(
        treatment, baseline, Metric.CONVERSION, "two-proportion z-test", diff,
        diff - crit * se, diff + crit * se, relative, rel_low, rel_high, p_value,
    )  # fmt: skip


def welch_comparison(
    mean1: float,
    var1: float,
    n1: int,
    mean2: float,
    var2: float,
    n2: int,
    alpha: float,
    treatment: ArmKind,
    baseline: ArmKind,
    metric: Metric,
    *,
    theta: float | None = None,
) -> Comparison:
    """Arm 1 against arm 2 by Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) and
    its interval; the relative lift divides by the baseline mean (taken as known)."""
    stats = _scipy_stats()
    diff = mean1 - mean2
    a, b = var1 / n1, var2 / n2
    se = math.sqrt(a + b)
    if se == 0:
        p_value, low, high = (1.0 if diff == 0 else 0.0), diff, diff
    else:
        df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
        p_value = float(2 * stats.t.sf(abs(diff / se), df))
        crit = float(stats.t.isf(alpha / 2, df))
        low, high = diff - crit * se, diff + crit * se
    relative = rel_low = rel_high = None
    if mean2 != 0:
        relative, rel_low, rel_high = diff / mean2, low / mean2, high / mean2
        if mean2 < 0:
            rel_low, rel_high = rel_high, rel_low
    test = "Welch's t-test" + (" on CUPED-adjusted values" if theta is not None else "")
    return Comparison(
        treatment, baseline, metric, test, diff, low, high, relative, rel_low, rel_high,
        p_value, cuped_theta=theta,
    )  # fmt: skip


def srm_check(
    counts: Mapping[ArmKind, int], weights: Mapping[ArmKind, float], srm_alpha: float = SRM_ALPHA
) -> SrmCheck:
    """Chi-square goodness of fit of the arm counts to the weights (``scipy.stats.chisquare``)."""
    stats = _scipy_stats()
    arms = [arm for arm in weights if weights[arm] > 0]
    total = sum(counts.get(arm, 0) for arm in arms)
    expected = [total * weights[arm] / sum(weights[a] for a in arms) for arm in arms]
    observed = [counts.get(arm, 0) for arm in arms]
    chi2 = math.fsum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True) if e > 0)
    p_value = float(stats.chi2.sf(chi2, len(arms) - 1)) if total else 1.0
    return SrmCheck(
        tuple(zip(arms, observed, strict=True)),
        tuple(zip(arms, expected, strict=True)),
        chi2,
        p_value,
        p_value >= srm_alpha,
    )


def adjust(p_values: Sequence[float], method: Correction) -> list[float]:
    """Holm's step-down or Benjamini-Hochberg's step-up adjusted p-values (as
    ``statsmodels.stats.multitest.multipletests`` with ``holm`` / ``fdr_bh``)."""
    count = len(p_values)
    if method is Correction.NONE or count == 0:
        return list(p_values)
    order = sorted(range(count), key=lambda i: p_values[i])
    adjusted = [0.0] * count
    if method is Correction.HOLM:
        running = 0.0
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (count - rank) * p_values[index]))
            adjusted[index] = running
        return adjusted
    running = 1.0
    for rank in range(count - 1, -1, -1):
        index = order[rank]
        running = min(running, count * p_values[index] / (rank + 1))
        adjusted[index] = min(1.0, running)
    return adjusted


# --------------------------------------------------------------------------- analysis


def _metric_words(metric: Metric) -> str:
    return "conversion" if metric is Metric.CONVERSION else "revenue per recipient"


def format_lift(value: float, metric: Metric) -> str:
    """``+2.1 pp`` for conversion, ``+1.23`` for money."""
    if metric is Metric.CONVERSION:
        return f"{value * 100:+.1f} pp"
    return f"{value:+.2f}"


def _interval(low: float, high: float, metric: Metric) -> str:
    if metric is Metric.CONVERSION:
        return f"[{low * 100:.1f}, {high * 100:.1f}]"
    return f"[{low:.2f}, {high:.2f}]"


def format_p(p: float) -> str:
    """A p-value for a table: three decimals, ``< 0.001`` below that."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_equals(p: float, name: str = "p") -> str:
    """``p = 0.002`` or ``p < 0.001``, for sentences."""
    return f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.3f}"


def decision_text(
    segment: str,
    comparison: Comparison | None,
    alpha: float,
    correction: Correction,
    srm: SrmCheck | None,
    overall_srm: SrmCheck | None,
    srm_alpha: float = SRM_ALPHA,
) -> tuple[Verdict, str]:
    """The verdict and the sentence that states it against the pre-registered α."""
    for check, where in ((overall_srm, "in the whole experiment"), (srm, "in this segment")):
        if check is not None and not check.passed:
            return Verdict.NO_VERDICT, (
                f"no verdict for `{segment}`: sample ratio mismatch {where} "
                f"(chi-square {p_equals(check.p_value)}, below {srm_alpha:g}): the arms did not "
                "get the registered shares of customers, so the assignment or the tracking is "
                "broken; fix it before reading the results"
            )
    if comparison is None:
        return Verdict.NO_VERDICT, (
            f"no verdict for `{segment}`: it needs customers in both the personalized and the "
            "control arm"
        )
    p_used = comparison.adjusted_p if comparison.adjusted_p is not None else comparison.p_value
    verdict = Verdict.REJECT if p_used < alpha else Verdict.FAIL_TO_REJECT
    adjusted = ""
    if comparison.adjusted_p is not None and correction is not Correction.NONE:
        name = "Holm" if correction is Correction.HOLM else "BH"
        adjusted = f", {p_equals(comparison.adjusted_p, name + '-adjusted p')}"
    return verdict, (
        f"{verdict.value} the null hypothesis that personalization does not change "
        f"{_metric_words(comparison.metric)} for `{segment}`: "
        f"{format_lift(comparison.estimate, comparison.metric)} "
        f"{_interval(comparison.low, comparison.high, comparison.metric)}, "
        f"{p_equals(comparison.p_value)}{adjusted} (α = {alpha:g})"
    )


def _arm_summaries(cells: Iterable[Cell]) -> dict[ArmKind, ArmSummary]:
    merged: dict[ArmKind, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    for cell in cells:
        entry = merged[cell.arm]
        entry[0] += cell.customers
        entry[1] += cell.conversions
        if cell.revenue is not None:
            entry[2] += cell.revenue
            entry[3] = 1
    return {
        arm: ArmSummary(
            arm,
            int(v[0]),
            int(v[1]),
            v[1] / v[0] if v[0] else 0.0,
            v[2] / v[0] if v[3] and v[0] else None,
        )
        for arm, v in sorted(merged.items(), key=lambda kv: list(ArmKind).index(kv[0]))
    }


def _values(rows: Sequence[Row], metric: Metric) -> list[float]:
    if metric is Metric.CONVERSION:
        return [1.0 if r.converted else 0.0 for r in rows]
    return [r.revenue for r in rows]


def compare_arms(
    cells: Sequence[Cell],
    rows: Sequence[Row] | None,
    treatment: ArmKind,
    baseline: ArmKind,
    metric: Metric,
    alpha: float,
    cuped: bool,
) -> Comparison | None:
    """One comparison in one group of customers (a segment, or all)."""
    if rows:
        one = [r for r in rows if r.arm is treatment]
        two = [r for r in rows if r.arm is baseline]
        if len(one) < 2 or len(two) < 2:
            return None
        if cuped:
            both = [r for r in (*one, *two) if r.covariate is not None]
            xs = [r.covariate for r in both if r.covariate is not None]
            ys = _values(both, metric)
            var_x = _var(xs) if len(xs) > 1 else 0.0
            theta = _cov(xs, ys) / var_x if var_x > 0 else 0.0
            mean_x = _mean(xs)

            def adjusted(group: Sequence[Row]) -> list[float]:
                values = _values(group, metric)
                return [
                    y - theta * ((r.covariate if r.covariate is not None else mean_x) - mean_x)
                    for y, r in zip(values, group, strict=True)
                ]

            a, b = adjusted(one), adjusted(two)
            return welch_comparison(
                _mean(a), _var(a), len(a), _mean(b), _var(b), len(b), alpha, treatment,
                baseline, metric, theta=theta,
            )  # fmt: skip
        if metric is Metric.CONVERSION:
            x1, x2 = sum(r.converted for r in one), sum(r.converted for r in two)
            return proportion_comparison(x1, len(one), x2, len(two), alpha, treatment, baseline)
        a, b = _values(one, metric), _values(two, metric)
        return welch_comparison(
            _mean(a), _var(a), len(a), _mean(b), _var(b), len(b), alpha, treatment, baseline,
            metric,
        )  # fmt: skip
    sums = _arm_summaries(cells)
    if treatment not in sums or baseline not in sums:
        return None
    first, second = sums[treatment], sums[baseline]
    if min(first.customers, second.customers) < 2:
        return None
    if metric is Metric.CONVERSION:
        return proportion_comparison(
            first.conversions, first.customers, second.conversions, second.customers, alpha,
            treatment, baseline,
        )  # fmt: skip
    moments = []
    for arm in (treatment, baseline):
        total = sum(c.revenue or 0.0 for c in cells if c.arm is arm)
        squares = [c.revenue_sq for c in cells if c.arm is arm]
        if any(s is None for s in squares):
            raise UsageError(
                "revenue per recipient from aggregated results needs revenue and revenue_sq "
                "(the sum of squared revenues) per arm and segment"
            )
        n = sum(c.customers for c in cells if c.arm is arm)
        mean = total / n
        variance = (math.fsum(s or 0.0 for s in squares) - n * mean * mean) / (n - 1)
        moments.append((mean, variance, n))
    (m1, v1, n1), (m2, v2, n2) = moments
    return welch_comparison(m1, v1, n1, m2, v2, n2, alpha, treatment, baseline, metric)


def analyze(
    results: Results,
    experiment: Experiment,
    *,
    segments: Mapping[str, Segment] | None = None,
    manifest: Manifest | None = None,
    by_atom: bool = False,
    srm_alpha: float = SRM_ALPHA,
) -> Analysis:
    """Analyze ``results`` against the pre-registered ``experiment`` (see the module docs).

    ``segments`` (the content's) give ``size`` and ``value`` for the ROI; ``manifest`` (a build
    of the experiment's content) gives the cost side and, with ``by_atom``, the atoms that carry
    each segment's lift.
    """
    metric, alpha = experiment.metric, experiment.alpha
    cuped = any(r.covariate is not None for r in results.rows)
    weights = {arm.id: arm.weight for arm in experiment.arms}
    unknown = {c.arm for c in results.aggregated()} - set(weights)
    if unknown:
        raise UsageError(
            f"the results have arm(s) {', '.join(sorted(a.value for a in unknown))} that "
            f"experiment {experiment.id!r} does not have"
        )
    cells = results.aggregated()
    rows = list(results.rows)
    by_segment_cells: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        by_segment_cells[cell.segment].append(cell)
    by_segment_rows: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_segment_rows[row.segment].append(row)

    def counts(group: Iterable[Cell]) -> dict[ArmKind, int]:
        found: dict[ArmKind, int] = defaultdict(int)
        for cell in group:
            found[cell.arm] += cell.customers
        return found

    def comparisons(
        group_cells: Sequence[Cell], group_rows: Sequence[Row]
    ) -> tuple[Comparison | None, tuple[Comparison, ...]]:
        primary = compare_arms(
            group_cells, group_rows, ArmKind.PERSONALIZED, ArmKind.CONTROL, metric, alpha, cuped
        )
        others = []
        if ArmKind.HOLDOUT in weights:
            for arm in (ArmKind.PERSONALIZED, ArmKind.CONTROL):
                found = compare_arms(
                    group_cells, group_rows, arm, ArmKind.HOLDOUT, metric, alpha, cuped
                )
                if found is not None:
                    others.append(found)
        return primary, tuple(others)

    overall_srm = srm_check(counts(cells), weights, srm_alpha)
    names = sorted(by_segment_cells)
    primaries: dict[str, tuple[Comparison | None, tuple[Comparison, ...]]] = {
        name: comparisons(by_segment_cells[name], by_segment_rows.get(name, [])) for name in names
    }
    tested = [name for name in names if primaries[name][0] is not None]
    raw = [primaries[name][0].p_value for name in tested]  # type: ignore[union-attr]
    adjusted = dict(zip(tested, adjust(raw, experiment.correction), strict=True))
    results_by_segment = []
    for name in names:
        primary, others = primaries[name]
        if primary is not None:
            primary = _with_adjusted(primary, adjusted[name])
        srm = srm_check(counts(by_segment_cells[name]), weights, srm_alpha)
        verdict, text = decision_text(
            name, primary, alpha, experiment.correction, srm, overall_srm, srm_alpha
        )
        segment = (segments or {}).get(name)
        results_by_segment.append(
            SegmentResult(
                name,
                tuple(_arm_summaries(by_segment_cells[name]).values()),
                primary,
                others,
                srm,
                verdict,
                text,
                _roi(segment, primary, manifest, experiment, name, metric),
            )
        )
    overall_primary, overall_others = comparisons(cells, rows)
    verdict, text = decision_text(
        OVERALL, overall_primary, alpha, Correction.NONE, None, overall_srm, srm_alpha
    )
    overall = SegmentResult(
        OVERALL,
        tuple(_arm_summaries(cells).values()),
        overall_primary,
        overall_others,
        overall_srm,
        verdict,
        text,
    )
    notes = []
    if cuped:
        notes.append(
            "CUPED: each customer's metric is adjusted by the pre-period covariate "
            "(theta = cov/var over both arms of the segment); Welch's t-test on adjusted values"
        )
    if len(tested) > 1 and experiment.correction is not Correction.NONE:
        notes.append(
            f"{len(tested)} segments tested: p-values adjusted by "
            f"{'Holm' if experiment.correction is Correction.HOLM else 'Benjamini-Hochberg'}"
        )
    atoms = _atom_effects(results_by_segment, manifest, experiment) if by_atom else ()
    return Analysis(
        experiment.id,
        experiment.tracking_key,
        experiment.hypothesis,
        experiment.null_hypothesis,
        metric,
        alpha,
        experiment.correction,
        srm_alpha,
        results.source,
        results.covariate if cuped else None,
        overall,
        tuple(results_by_segment),
        _timeline(rows, metric, alpha) if metric is Metric.CONVERSION else (),
        atoms,
        tuple(notes),
    )


def _with_adjusted(comparison: Comparison, adjusted_p: float) -> Comparison:
    from dataclasses import replace

    return replace(comparison, adjusted_p=adjusted_p)


def _timeline(rows: Sequence[Row], metric: Metric, alpha: float) -> tuple[TimePoint, ...]:
    dated = sorted((r for r in rows if r.day is not None), key=lambda r: r.day or dt.date.min)
    if not dated:
        return ()
    points = []
    x = {ArmKind.PERSONALIZED: 0, ArmKind.CONTROL: 0}
    n = {ArmKind.PERSONALIZED: 0, ArmKind.CONTROL: 0}
    days = sorted({r.day for r in dated if r.day is not None})
    index = 0
    for day in days:
        while index < len(dated) and dated[index].day == day:
            row = dated[index]
            if row.arm in n:
                n[row.arm] += 1
                x[row.arm] += row.converted
            index += 1
        p, c = ArmKind.PERSONALIZED, ArmKind.CONTROL
        if min(n.values()) < 2:
            continue
        found = proportion_comparison(x[p], n[p], x[c], n[c], alpha, p, c)
        points.append(TimePoint(day, found.estimate, found.low, found.high))
    return tuple(points)


def _segment_atoms(
    manifest: Manifest, experiment: Experiment, segment: str
) -> tuple[set[str], dict[str, int]]:
    """Atoms targeting ``segment`` in the experiment's variants of that audience, and the
    number of variants each fills."""
    atoms: dict[str, int] = defaultdict(int)
    for entry in manifest.variants:
        if entry.audience != segment or not experiment.covers(entry.journey, entry.step):
            continue
        for slot in entry.slots.values():
            if slot.segment == segment:
                atoms[slot.atom] += 1
    return set(atoms), dict(atoms)


def _roi(
    segment: Segment | None,
    primary: Comparison | None,
    manifest: Manifest | None,
    experiment: Experiment,
    name: str,
    metric: Metric,
) -> Roi | None:
    if segment is None and manifest is None:
        return None
    size = segment.size if segment else None
    value = segment.value if segment else None
    conversions = revenue = None
    if primary is not None and size is not None:
        if metric is Metric.CONVERSION:
            conversions = (primary.estimate * size, primary.low * size, primary.high * size)
            if value is not None:
                revenue = (
                    conversions[0] * value,
                    conversions[1] * value,
                    conversions[2] * value,
                )
        else:
            revenue = (primary.estimate * size, primary.low * size, primary.high * size)
    atom_count = None
    if manifest is not None:
        atom_count = len(_segment_atoms(manifest, experiment, name)[0])
    per_conversion = (
        atom_count / conversions[0] if atom_count and conversions and conversions[0] > 0 else None
    )
    return Roi(size, value, conversions, revenue, atom_count, per_conversion)


def _atom_effects(
    segments: Sequence[SegmentResult], manifest: Manifest | None, experiment: Experiment
) -> tuple[AtomEffect, ...]:
    if manifest is None:
        raise UsageError(
            "--by atom needs the build's lineage", "pass --build DIST (a build of the content)"
        )
    found = []
    for result in segments:
        _atoms, counts = _segment_atoms(manifest, experiment, result.segment)
        for atom, count in sorted(counts.items()):
            primary = result.primary
            found.append(
                AtomEffect(
                    atom,
                    result.segment,
                    count,
                    primary.estimate if primary else None,
                    primary.low if primary else None,
                    primary.high if primary else None,
                    result.verdict,
                )
            )
    return tuple(found)


def measured_values(analysis: Analysis) -> dict[str, float]:
    """Segment -> measured incremental value per customer of personalization (lift x the
    segment's value for conversion, the revenue lift for revenue), where a verdict exists:
    what ``atomic coverage --analysis`` ranks gaps by."""
    return _measured(analysis.to_dict())


def analyze_file(
    results_path: Path,
    content: Path,
    *,
    experiment_id: str | None = None,
    covariate: str | None = None,
    build: Path | None = None,
    by_atom: bool = False,
    srm_alpha: float = SRM_ALPHA,
) -> Analysis:
    """``atomic analyze``: read the results, load the pre-registered experiment from
    ``content`` and, with ``build``, the manifest of a build (ROI cost side, ``--by atom``)."""
    from .experiments import find_experiment
    from .manifest import ManifestError
    from .validate import load_library

    library, _warnings = load_library(content)
    experiment = find_experiment(library, experiment_id)
    manifest = None
    if build is not None:
        target = build / "manifest.json" if build.is_dir() else build
        try:
            manifest = Manifest.from_json(target.read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read {target.as_posix()}: {exc.strerror or exc}") from None
        except ManifestError as exc:
            raise UsageError(str(exc), "rebuild the content with atomic build") from None
    results = read_results(results_path, covariate=covariate)
    return analyze(
        results,
        experiment,
        segments=library.segments,
        manifest=manifest,
        by_atom=by_atom,
        srm_alpha=srm_alpha,
    )


def load_measured(path: Path) -> dict[str, float]:
    """Segment -> measured incremental value per customer, from the JSON of
    ``atomic analyze --format json`` (see :func:`measured_values`). Needs no SciPy."""
    try:
        return _measured(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"cannot read {path.as_posix()}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"{path.as_posix()} is not the JSON of `atomic analyze --format json`"
        ) from None


def _measured(data: Mapping[str, Any]) -> dict[str, float]:
    metric = Metric(data["metric"])
    found: dict[str, float] = {}
    for segment in data["segments"]:
        primary = segment.get("primary")
        if primary is None or segment["verdict"] == Verdict.NO_VERDICT.value:
            continue
        lift = max(float(primary["lift"]), 0.0)
        roi = segment.get("roi") or {}
        value = roi.get("value")
        per_customer = value if metric is Metric.CONVERSION and value is not None else 1.0
        found[str(segment["segment"])] = lift * float(per_customer)
    return found
