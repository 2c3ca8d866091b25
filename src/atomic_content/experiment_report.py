"""``atomic analyze`` output: text, JSON, Markdown and an HTML report with plots.

The plots (lift and confidence interval per segment; the cumulative effect over time when the
results have dates) are drawn by matplotlib (Agg backend) and embedded as PNG data URIs, so the
report is one self-contained file. PNG metadata is left out, so equal input gives equal bytes.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

from .errors import UsageError
from .experiment_analysis import (
    ATOM_CAVEAT,
    Analysis,
    Comparison,
    SegmentResult,
    format_lift,
    format_p,
    p_equals,
)
from .experiments import PowerPlan
from .models import Metric


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _interval(comparison: Comparison) -> str:
    if comparison.metric is Metric.CONVERSION:
        return f"[{comparison.low * 100:+.1f}, {comparison.high * 100:+.1f}] pp"
    return f"[{comparison.low:+.2f}, {comparison.high:+.2f}]"


def _relative(comparison: Comparison) -> str:
    if comparison.relative is None or comparison.relative_low is None:
        return "-"
    assert comparison.relative_high is not None
    return (
        f"{comparison.relative * 100:+.1f}% "
        f"[{comparison.relative_low * 100:+.1f}, {comparison.relative_high * 100:+.1f}]"
    )


def _rows(analysis: Analysis) -> list[SegmentResult]:
    return [*analysis.segments, analysis.overall]


def _header(analysis: Analysis) -> list[str]:
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "none"}[
        analysis.correction.value
    ]
    srm = analysis.overall.srm
    lines = [
        f"experiment {analysis.experiment} (key {analysis.key}) — results {analysis.source}",
        f"hypothesis: {analysis.hypothesis}",
        f"null hypothesis: {analysis.null_hypothesis}",
        f"metric: {analysis.metric.value}; α = {analysis.alpha:g}; correction across segments: "
        f"{correction}; CUPED: {analysis.cuped or 'no'}",
    ]
    if srm is not None:
        observed = " / ".join(f"{arm.value} {n:,}" for arm, n in srm.observed)
        lines.append(
            f"sample ratio: {observed} — chi-square {srm.chi2:.2f}, {p_equals(srm.p_value)}"
            f": {'ok' if srm.passed else 'MISMATCH, no verdict'}"
        )
    return lines


def _comparison_line(comparison: Comparison) -> str:
    p = p_equals(comparison.p_value)
    if comparison.adjusted_p is not None:
        p += f" (adjusted {format_p(comparison.adjusted_p)})"
    return (
        f"{comparison.treatment.value} vs {comparison.baseline.value}: "
        f"{format_lift(comparison.estimate, comparison.metric)} {_interval(comparison)}, "
        f"relative {_relative(comparison)}, {p}"
    )


def format_analysis_text(analysis: Analysis) -> str:
    lines = _header(analysis)
    for result in _rows(analysis):
        lines.append("")
        lines.append(f"segment {result.segment}")
        for arm in result.arms:
            revenue = (
                f", {arm.revenue_mean:.2f} per recipient" if arm.revenue_mean is not None else ""
            )
            lines.append(
                f"  {arm.arm.value:<13} {arm.customers:>9,} customers  "
                f"{arm.conversions:>7,} conversions  {_pct(arm.rate):>7}{revenue}"
            )
        for comparison in (result.primary, *result.others):
            if comparison is not None:
                lines.append(f"  {_comparison_line(comparison)}")
        if result.roi is not None and result.roi.conversions is not None:
            mid, low, high = result.roi.conversions
            lines.append(
                f"  ROI per period ({result.roi.size:,} customers): {mid:+,.0f} conversions "
                f"[{low:+,.0f}, {high:+,.0f}]"
                + (
                    f", {result.roi.revenue[0]:+,.0f} revenue "
                    f"[{result.roi.revenue[1]:+,.0f}, {result.roi.revenue[2]:+,.0f}]"
                    if result.roi.revenue
                    else ""
                )
                + (f"; {result.roi.atoms} atoms written for it" if result.roi.atoms else "")
            )
        lines.append(f"  → {result.decision}")
    if analysis.atoms:
        lines.append("")
        lines.append(f"by atom ({ATOM_CAVEAT}):")
        for effect in analysis.atoms:
            lift = "-"
            if effect.estimate is not None:
                lift = format_lift(effect.estimate, analysis.metric)
            lines.append(
                f"  {effect.atom:<36} {effect.segment:<14} {lift:>9}  {effect.verdict.value}"
            )
    if analysis.notes:
        lines.append("")
        lines.extend(f"note: {note}" for note in analysis.notes)
    return "\n".join(lines) + "\n"


def format_analysis_json(analysis: Analysis) -> str:
    return json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _markdown_table(analysis: Analysis) -> list[str]:
    lines = [
        "| segment | arm | customers | conversions | rate |",
        "|---|---|---:|---:|---:|",
    ]
    for result in _rows(analysis):
        for arm in result.arms:
            lines.append(
                f"| `{result.segment}` | {arm.arm.value} | {arm.customers:,} | "
                f"{arm.conversions:,} | {_pct(arm.rate)} |"
            )
    lines.append("")
    lines.append(
        "| segment | lift (personalized − control) | CI | relative | p | adjusted p | verdict |"
    )
    lines.append("|---|---:|---|---|---:|---:|---|")
    for result in _rows(analysis):
        c = result.primary
        if c is None:
            lines.append(f"| `{result.segment}` | - | - | - | - | - | {result.verdict.value} |")
            continue
        adjusted = format_p(c.adjusted_p) if c.adjusted_p is not None else "-"
        lines.append(
            f"| `{result.segment}` | {format_lift(c.estimate, c.metric)} | {_interval(c)} | "
            f"{_relative(c)} | {format_p(c.p_value)} | {adjusted} | {result.verdict.value} |"
        )
    return lines


def format_analysis_markdown(analysis: Analysis) -> str:
    lines = [f"# Experiment `{analysis.experiment}`", ""]
    lines.extend(f"- {line}" for line in _header(analysis))
    lines.append("")
    lines.extend(_markdown_table(analysis))
    lines.append("")
    lines.append("## Decisions")
    lines.append("")
    lines.extend(f"- {result.decision}" for result in _rows(analysis))
    if analysis.notes:
        lines.append("")
        lines.extend(f"> {note}" for note in analysis.notes)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise UsageError(
            "the HTML report needs matplotlib",
            "install the statistics extra: pip install 'atomic-content[experiments]'",
        ) from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    figure.clear()
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def lift_plot(analysis: Analysis) -> str:
    """Base64 PNG: each segment's lift (personalized − control) with its interval."""
    pyplot = _pyplot()
    results = [r for r in _rows(analysis) if r.primary is not None]
    scale = 100 if analysis.metric is Metric.CONVERSION else 1
    figure = pyplot.figure(figsize=(7, 0.6 * len(results) + 1.4))
    try:
        axes = figure.add_subplot(1, 1, 1)
        for index, result in enumerate(reversed(results)):
            c = result.primary
            assert c is not None
            colour = {"reject": "#1f5f4a", "fail to reject": "#888888"}.get(
                result.verdict.value, "#e07a2f"
            )
            axes.errorbar(
                [c.estimate * scale],
                [index],
                xerr=[[(c.estimate - c.low) * scale], [(c.high - c.estimate) * scale]],
                fmt="o",
                color=colour,
                capsize=4,
            )
        axes.axvline(0, color="#333333", linewidth=0.8)
        axes.set_yticks(range(len(results)))
        axes.set_yticklabels([r.segment for r in reversed(results)])
        axes.set_xlabel(
            "lift, percentage points" if scale == 100 else "lift, revenue per recipient"
        )
        axes.set_title(f"Personalized vs control, {round((1 - analysis.alpha) * 100)}% CI")
        figure.tight_layout()
        return _png(figure)
    finally:
        pyplot.close(figure)


def timeline_plot(analysis: Analysis) -> str | None:
    """Base64 PNG: the cumulative lift over time with its interval (None without dates)."""
    if not analysis.timeline:
        return None
    pyplot = _pyplot()
    figure = pyplot.figure(figsize=(7, 3.2))
    try:
        axes = figure.add_subplot(1, 1, 1)
        days = [point.day for point in analysis.timeline]
        axes.fill_between(
            days,
            [p.low * 100 for p in analysis.timeline],
            [p.high * 100 for p in analysis.timeline],
            color="#1f5f4a",
            alpha=0.2,
        )
        axes.plot(days, [p.estimate * 100 for p in analysis.timeline], color="#1f5f4a")
        axes.axhline(0, color="#333333", linewidth=0.8)
        axes.set_ylabel("cumulative lift, pp")
        axes.set_title("Cumulative effect over time (all customers)")
        figure.autofmt_xdate()
        figure.tight_layout()
        return _png(figure)
    finally:
        pyplot.close(figure)


def format_analysis_html(analysis: Analysis) -> str:
    """One self-contained HTML page: header, tables, decisions and the plots."""
    escape = html.escape
    header = "".join(f"<li>{escape(line)}</li>" for line in _header(analysis))
    rows = []
    for result in _rows(analysis):
        c = result.primary
        cells = (
            [format_lift(c.estimate, c.metric), _interval(c), _relative(c), format_p(c.p_value),
             format_p(c.adjusted_p) if c.adjusted_p is not None else "-"]
            if c is not None
            else ["-"] * 5
        )  # fmt: skip
        arms = ", ".join(f"{a.arm.value} {a.customers:,} ({_pct(a.rate)})" for a in result.arms)
        rows.append(
            f"<tr><th scope='row'>{escape(result.segment)}</th><td>{escape(arms)}</td>"
            + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
            + f"<td class='{result.verdict.name.lower()}'>{escape(result.verdict.value)}</td></tr>"
        )
    decisions = "".join(f"<li>{escape(r.decision)}</li>" for r in _rows(analysis))
    plots = [
        f'<figure><img id="lift-plot" alt="Lift and confidence interval per segment" '
        f'src="data:image/png;base64,{lift_plot(analysis)}"><figcaption>Lift per segment '
        "(personalized − control) with its confidence interval</figcaption></figure>"
    ]
    timeline = timeline_plot(analysis)
    if timeline is not None:
        plots.append(
            f'<figure><img id="timeline-plot" alt="Cumulative effect over time" '
            f'src="data:image/png;base64,{timeline}"><figcaption>Cumulative effect over time'
            "</figcaption></figure>"
        )
    notes = "".join(f"<p class='note'>{escape(note)}</p>" for note in analysis.notes)
    title = escape(f"Experiment {analysis.experiment}")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        "<style>body{font:15px/1.5 sans-serif;max-width:980px;margin:0 auto;padding:16px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}.reject{color:#1f5f4a;font-weight:bold}.no_verdict{color:#b3261e}"
        "img{max-width:100%}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n<ul>{header}</ul>\n"
        "<table><thead><tr><th>segment</th><th>arms</th><th>lift</th><th>CI</th>"
        "<th>relative</th><th>p</th><th>adjusted p</th><th>verdict</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table>\n<h2>Decisions</h2>\n<ul>{decisions}</ul>\n"
        + "\n".join(plots)
        + f"\n{notes}\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- power plan


def format_power_text(plans: list[PowerPlan]) -> str:
    lines: list[str] = []
    for plan in plans:
        mde = f"{plan.mde * 100:g} pp" if plan.metric is Metric.CONVERSION else f"{plan.mde:g}"
        window = f"; window {plan.window_days} days" if plan.window_days else ""
        lines.append(
            f"experiment {plan.experiment} — {plan.metric.value}, {plan.test}; "
            f"α = {plan.alpha:g}, power {plan.power:g}, MDE {mde}{window}"
        )
        lines.append(
            f"  {'segment':<14} {'baseline':>8} {'personalized':>12} {'control':>9} "
            f"{'needed':>9} {'size':>9} {'per day':>8} {'days':>5}  verdict"
        )
        for row in plan.segments:
            baseline = f"{row.baseline * 100:.1f}%" if row.baseline is not None else "-"

            def number(value: float | None, *, decimals: int = 0) -> str:
                return "-" if value is None else f"{value:,.{decimals}f}"

            verdict = {True: "ok", False: "TOO SMALL", None: "?"}[row.enough]
            lines.append(
                f"  {row.segment:<14} {baseline:>8} {number(row.personalized):>12} "
                f"{number(row.control):>9} {number(row.needed):>9} {number(row.size):>9} "
                f"{number(row.per_day, decimals=1):>8} {number(row.days):>5}  {verdict}"
                + (f" — {row.note}" if row.note else "")
            )
        lines.append("")
    return "\n".join(lines)
