"""Commands of the ``atomic`` CLI (registered on :data:`atomic_content.cli.main`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import click

from . import EXIT_CONTENT, F, content_option, emit_diagnostics, main


def parse_date(value: str | None, option: str = "--date") -> dt.date | None:
    """A YYYY-MM-DD option value (None when not given)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date like 2026-12-31", param_hint=option
        ) from None


date_option = click.option(
    "--date", "date_text", metavar="YYYY-MM-DD", help="Resolve as of this day (default: today)."
)


def until_option_decorator() -> Callable[[F], F]:
    """``--until YYYY-MM-DD``: the last send date a build covers."""
    return click.option(
        "--until",
        "until_text",
        metavar="YYYY-MM-DD",
        help="Last send date to cover (default: --date + 30 days).",
    )


@main.command()
@content_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for programs, github for annotations.",
)
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option(
    "--date",
    "date_text",
    metavar="YYYY-MM-DD",
    help="First send date to check, as for build (default: SOURCE_DATE_EPOCH or today).",
)
@until_option_decorator()
@click.pass_context
def validate(
    ctx: click.Context,
    content: Path,
    fmt: str,
    strict: bool,
    date_text: str | None,
    until_text: str | None,
) -> None:
    """Check everything `atomic build` checks (without writing) and report all problems."""
    from ..validate import check_content

    ctx.meta["content_root"] = content
    _library, diagnostics = check_content(
        content, parse_date(date_text), parse_date(until_text, "--until")
    )
    emit_diagnostics(diagnostics, content, fmt)
    if diagnostics.has_errors or (strict and len(diagnostics)):
        ctx.exit(EXIT_CONTENT)


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("schemas"),
    show_default=True,
    help="Folder to write <kind>.schema.json files into.",
)
def schema(out: Path) -> None:
    """Write JSON Schemas of the content files (for editor completion)."""
    from ..schema import write_schemas

    for path in write_schemas(out):
        click.echo(path.as_posix())


@main.command()
@content_option
@click.option(
    "--customer",
    "customer_ref",
    required=True,
    metavar="FILE_OR_ID",
    help="Sample customer id (content/customers/) or a customer file.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def segments(ctx: click.Context, content: Path, customer_ref: str, fmt: str) -> None:
    """Show a customer's segments and why each matched or not."""
    from ..api import customer_segments
    from ..formatting import format_segments

    ctx.meta["content_root"] = content
    report = customer_segments(content, customer_ref)
    if fmt == "json":
        import json

        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_segments(report.customer_id, report.verdicts, report.consent_refused))


def message_options(func: F) -> F:
    """The options that pick messages for a customer (resolve and preview share them)."""
    options = [
        click.option("--customer", "customer_ref", required=True, metavar="FILE_OR_ID",
                     help="Sample customer id (content/customers/) or a customer file."),
        click.option("--journey", required=True, help="Journey id."),
        click.option("--step", help="Step id (default: every step)."),
        click.option("--channel", help="Channel (default: every channel of the step)."),
        click.option("--locale", help="Locale (default: the customer's)."),
        date_option,
        click.option("--include-drafts", is_flag=True, help="Let draft and review atoms compete."),
        click.option("--explain", is_flag=True, help="Show why each atom won or lost."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@content_option
@message_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def resolve(
    ctx: click.Context,
    content: Path,
    customer_ref: str,
    journey: str,
    step: str | None,
    channel: str | None,
    locale: str | None,
    date_text: str | None,
    include_drafts: bool,
    explain: bool,
    fmt: str,
) -> None:
    """Show, per slot, which atom a customer gets (and with --explain, why)."""
    from ..api import resolve_for_customer
    from ..formatting import format_resolution

    ctx.meta["content_root"] = content
    resolutions = resolve_for_customer(
        content,
        customer_ref,
        journey,
        step=step,
        channel=channel,
        locale=locale,
        on=parse_date(date_text),
        include_drafts=include_drafts,
        explain=explain,
    )
    if fmt == "json":
        import json

        click.echo(
            json.dumps(
                [r.to_dict(explain=explain) for r in resolutions], indent=2, ensure_ascii=False
            )
        )
    else:
        click.echo("\n\n".join(format_resolution(r, explain=explain) for r in resolutions))
    if any(r.missing_required for r in resolutions):
        ctx.exit(EXIT_CONTENT)
