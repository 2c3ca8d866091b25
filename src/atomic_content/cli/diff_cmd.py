"""``atomic diff``: review a content change — what it does to every message, atom, coverage cell
and warning, and whether it breaks a governance change rule.

Registers the command on :data:`atomic_content.cli.main`; importing this module is enough.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import EXIT_CONTENT, echo_text, main, output_file, report_out_option
from .commands import date_option, parse_date

EPILOG = """\b
BASE and HEAD are git revisions. Default BASE: the merge base of HEAD with the
default branch (origin/HEAD, else main, else master). Default HEAD: the working
tree, uncommitted edits included. Both sides are built with the same date into a
temporary folder; the repository (working tree, index, refs) is never written.

\b
Exit codes:
  0  compared; no governance change rule at level error fired
  1  a side has invalid content, or a change rule at level error fired
  2  usage error (not a git repository, unknown revision, bad date ...)

\b
Details: docs/review.md
"""


@main.command(epilog=EPILOG)
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option(
    "--content",
    "content",
    default="content",
    show_default=True,
    metavar="DIR",
    help="Content folder, relative to the repository root.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for people and CI logs, markdown for a pull-request comment, json for programs.",
)
@report_out_option
@date_option
@click.pass_context
def diff(
    ctx: click.Context,
    base: str | None,
    head: str | None,
    content: str,
    fmt: str,
    out: Path | None,
    force: bool,
    date_text: str | None,
) -> None:
    """Compare the messages built from two git revisions of the content."""
    from ..diff import diff_revisions, working_content  # imported here: building renders
    from ..diff_report import format_report

    start = Path(content) if Path(content).is_absolute() else Path.cwd()
    target = (
        output_file(out, force, ("content folder", working_content(start, content)))
        if out is not None
        else None
    )
    result = diff_revisions(start, base, head, content=content, on=parse_date(date_text))
    report = format_report(result, fmt)
    if target is not None:
        target.write(report)
    elif fmt == "text":
        echo_text(report, nl=False)
    else:
        click.echo(report, nl=False)
    if result.exit_code:
        ctx.exit(EXIT_CONTENT)
