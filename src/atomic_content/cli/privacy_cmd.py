"""``atomic privacy``: which customer data every message uses, why, and under which consent.

Registers the command on :data:`atomic_content.cli.main`; importing this module is enough.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import EXIT_CONTENT, content_option, main, output_file, report_out_option
from .commands import parse_date, until_option_decorator


@main.command()
@content_option
@click.option(
    "--date",
    "date_text",
    metavar="YYYY-MM-DD",
    help="First send date to cover, as for build (default: SOURCE_DATE_EPOCH or today).",
)
@until_option_decorator()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "html", "json"]),  # privacy_report.FORMATS
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a review, html for one page, json for programs.",
)
@report_out_option
@click.option(
    "--fail-over-budget",
    is_flag=True,
    help="Exit 1 when a message is over its channel's creepiness budget.",
)
@click.pass_context
def privacy(
    ctx: click.Context,
    content: Path,
    date_text: str | None,
    until_text: str | None,
    fmt: str,
    out: Path | None,
    force: bool,
    fail_over_budget: bool,
) -> None:
    """Report, per journey, step and channel, which customer attributes each message uses
    (targeting or tokens), their sensitivity, the consents they need and the budget."""
    # Imported here: `atomic --help` must not load the engine (tests/test_startup.py).
    from ..privacy import compute_privacy
    from ..privacy_report import format_privacy

    ctx.meta["content_root"] = content
    target = output_file(out, force, ("content folder", content)) if out is not None else None
    report = compute_privacy(content, parse_date(date_text), parse_date(until_text, "--until"))
    text = format_privacy(report, fmt)
    if target is not None:
        target.write(text)
        click.echo(f"wrote {target.path} ({len(report.messages)} messages)", err=True)
    else:
        click.echo(text, nl=False)
    if fail_over_budget and any(row.over_budget for row in report.messages):
        ctx.exit(EXIT_CONTENT)
