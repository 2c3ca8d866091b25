"""``atomic coverage``: which segments lack content, where, and which gaps matter most.

Registers the command on :data:`atomic_content.cli.main`; importing this module is enough.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..errors import UsageError, did_you_mean, plural
from . import (
    EXIT_CONTENT,
    LazyChoice,
    content_option,
    main,
    output_file,
    report_out_option,
    use_color,
)

EPILOG = """\b
Exit codes:
  0  coverage is acceptable
  1  --fail-on missing (default): a required slot is missing for some segment;
     --fail-on generic: a required slot is missing or not segment-specific;
     or the specific share is below --min-specific; or the content is invalid
  2  usage error (unknown option, journey, bad date)

\b
Cell statuses: specific, generic, fallback-locale, missing. Flags: expiring, drafts_only,
ambiguous. Gaps are ranked by segment size x value x slot weight x severity.
Details: docs/coverage.md
"""


def _formats() -> tuple[str, ...]:
    from ..coverage_report import FORMATS

    return FORMATS


def _fail_on() -> list[str]:
    from ..coverage import FailOn

    return [f.value for f in FailOn]


def _parse_date(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date like 2026-12-31", param_hint="--date"
        ) from None


@main.command(epilog=EPILOG)
@content_option
@click.option("--journey", help="Only this journey, per step and channel (default: every journey).")
@click.option("--segment", help="Only this segment, one row per journey/step/channel (table).")
@click.option(
    "--wide", is_flag=True, help="The full segment x journey/step/channel matrix (table)."
)
@click.option(
    "--date",
    "date_text",
    metavar="YYYY-MM-DD",
    help="Resolve as of this day (default: today); set it for reproducible reports.",
)
@click.option(
    "--horizon",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Flag cells that get worse within this many days as atoms expire "
    "(default: governance.expiry_horizon_days of atomic.yaml, 14).",
)
@click.option(
    "--format",
    "fmt",
    type=LazyChoice(_formats),
    default="table",
    show_default=True,
    help="table for a terminal, json for CI, markdown for a pull-request comment, "
    "html for one self-contained page.",
)
@report_out_option
@click.option(
    "--fail-on",
    type=LazyChoice(_fail_on),
    default="missing",
    show_default=True,
    help="Exit 1 on required cells that are missing, or generic-or-missing; never: don't.",
)
@click.option(
    "--min-specific",
    type=click.FloatRange(0, 100),
    metavar="PCT",
    help="Also exit 1 when less than PCT percent of all cells are segment-specific.",
)
@click.option(
    "--analysis",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="JSON of `atomic analyze --format json`: rank gaps of measured segments by the "
    "measured lift instead of the assumed value.",
)
@click.pass_context
def coverage(
    ctx: click.Context,
    content: Path,
    journey: str | None,
    segment: str | None,
    wide: bool,
    date_text: str | None,
    horizon: int | None,
    fmt: str,
    out: Path | None,
    force: bool,
    fail_on: str,
    min_specific: float | None,
    analysis: Path | None,
) -> None:
    """Show which segments get content written for them, per journey, step, channel, slot
    and locale, and rank the gaps by what they cost."""
    import shutil

    from ..coverage import FailOn, compute_coverage, threshold_failures
    from ..coverage_report import format_report
    from ..experiment_analysis import load_measured
    from ..validate import load_library

    ctx.meta["content_root"] = content
    target = (
        output_file(out, force, ("content folder", content), ("analysis file", analysis))
        if out is not None
        else None
    )
    on = _parse_date(date_text)
    library, _warnings = load_library(content)
    measured = load_measured(analysis) if analysis is not None else None
    report = compute_coverage(
        library, on=on, horizon_days=horizon, journey=journey, measured=measured
    )

    if segment is not None and segment not in {s.id for s in report.segments}:
        known = [s.id for s in report.segments]
        raise UsageError(
            f"unknown segment {segment!r}",
            (did_you_mean(segment, known) + " " if did_you_mean(segment, known) else "")
            + f"known segments: {', '.join(known) or 'none'}",
        )
    if fmt == "table":
        tty = out is None and sys.stdout.isatty()
        color = use_color(tty)
        view = "segment" if segment else "messages" if wide or journey else "summary"
        # Fit the terminal (80 columns when piped); --wide is as wide as the matrix needs.
        width = None if wide else (shutil.get_terminal_size().columns if tty else 80)
        text = format_report(report, fmt, color=color, width=width, view=view, segment=segment)
    else:
        text = format_report(report, fmt)

    if target is not None:
        target.write(text)
        counts = f"{plural(len(report.cells), 'cell')}, {plural(len(report.gaps), 'gap')}"
        click.echo(f"wrote {out} ({counts})", err=True)
    else:
        click.echo(text, nl=False)

    reasons = threshold_failures(report, FailOn(fail_on), min_specific)
    for reason in reasons:
        click.echo(f"coverage: {reason}", err=True)
    if reasons:
        ctx.exit(EXIT_CONTENT)
