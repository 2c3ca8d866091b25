"""Commands of the ``atomic`` CLI (registered on :data:`atomic_content.cli.main`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import click

from . import EXIT_CONTENT, F, content_option, emit_diagnostics, keep_until_exit, main


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
    library, diagnostics = check_content(
        content, parse_date(date_text), parse_date(until_text, "--until")
    )
    keep_until_exit(library)
    emit_diagnostics(diagnostics, content, fmt)
    if diagnostics.has_errors or (strict and diagnostics.warnings):
        ctx.exit(EXIT_CONTENT)


@main.command()
@content_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write <kind>.schema.json files into (default: schemas/ beside the content).",
)
@click.option(
    "--generic", is_flag=True, help="Schemas for any project, without this project's ids."
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when the written schemas are stale."
)
@click.pass_context
def schema(ctx: click.Context, content: Path, out: Path | None, generic: bool, check: bool) -> None:
    """Write JSON Schemas of the content files (for editor completion).

    The schemas list this project's segment, slot, locale, channel, journey and layout ids, so
    an editor completes them and flags typos; run again after adding or renaming one.
    """
    from ..schema import project_library, schema_folder, stale_schemas, write_schemas

    ctx.meta["content_root"] = content
    library = None if generic else project_library(content)
    folder = out if out is not None else schema_folder(content)
    if check:
        if library is None:
            raise click.UsageError("--check compares the project's schemas; leave out --generic")
        stale = stale_schemas(library, folder, missing_is_stale=True)
        for name in stale:
            click.echo(f"{(folder / name).as_posix()}: out of date", err=True)
        if stale:
            click.echo("  hint: run `atomic schema` to write them again", err=True)
            ctx.exit(EXIT_CONTENT)
        return
    for path in write_schemas(folder, library):
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


@main.command("init")
@click.argument(
    "directory", type=click.Path(path_type=Path, file_okay=False), default=Path(), required=False
)
@click.option("--brand", default="My Brand", show_default=True, help="The brand's name.")
@click.option(
    "--locales",
    default="en",
    show_default=True,
    metavar="CODES",
    help="Comma-separated locales; the first is the default.",
)
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
def init(directory: Path, brand: str, locales: str, force: bool) -> None:
    """Start a brand: a small project that validates, builds and previews at once."""
    from ..errors import plural
    from ..init import init_project

    result = init_project(directory, brand=brand, locales=locales.split(","), force=force)
    for path in result.replaced:
        click.echo(f"replaced {path.as_posix()}", err=True)
    click.echo(f"wrote {plural(len(result.written), 'file')} into {result.root.as_posix()}")
    where = "" if result.root == Path() else f"cd {result.root.as_posix()} && "
    click.echo(
        "next:\n"
        f"  {where}atomic validate\n"
        "  atomic build --out dist\n"
        "  atomic preview --customer ada --journey welcome"
    )
