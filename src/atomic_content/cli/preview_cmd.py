"""``atomic preview``: one customer's messages of a journey, rendered and checked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import (
    EXIT_CONTENT,
    LazyChoice,
    LazyHelpOption,
    content_option,
    echo_text,
    force_option,
    main,
    output_file,
)
from .commands import message_options, parse_date

if TYPE_CHECKING:
    from ..channels.base import Export


def _exports() -> dict[str, Export]:
    """The channels' export formats (eml ...), read from the channel registry when needed."""
    from ..channels import export_formats

    return {fmt: export for fmt, (_channel, export) in export_formats().items()}


def _arms() -> list[str]:
    from ..models import ArmKind

    return [arm.value for arm in ArmKind]


def _formats() -> list[str]:
    return ["text", "html", "json", *_exports()]


def _format_help() -> str:
    return (
        "text for the terminal, html for a browser, json"
        + "".join(f", {fmt} {export.help}" for fmt, export in _exports().items())
        + "."
    )


_SUFFIX = {"text": ".txt", "html": ".html", "json": ".json"}


@main.command()
@content_option
@message_options
@click.option(
    "--format",
    "fmt",
    type=LazyChoice(_formats),
    default="text",
    show_default=True,
    cls=LazyHelpOption,
    help_factory=_format_help,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of stdout.",
)
@force_option
@click.option(
    "--to",
    "to",
    metavar="ADDRESS",
    help="Recipient of an exported message (default: the customer's address attribute).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the result in the web browser.")
@click.option(
    "--arm",
    type=LazyChoice(_arms),
    help="Show the message of this experiment arm (control, personalized, holdout).",
)
@click.pass_context
def preview(
    ctx: click.Context, content: Path, customer_ref: str, journey: str, step: str | None,
    channel: str | None, locale: str | None, date_text: str | None, include_drafts: bool,
    explain: bool, fmt: str, out: Path | None, force: bool, to: str | None,
    open_browser: bool, arm: str | None,
) -> None:  # fmt: skip
    """Render a journey's messages for one customer and check them against channel limits.

    Exits 1 when a message breaks a hard limit (errors); warnings are shown but do not fail.
    """
    from ..api import drafts_note
    from ..models import ArmKind
    from ..preview import format_export, format_html, format_json, format_problems, format_text
    from ..preview import preview as run_preview

    ctx.meta["content_root"] = content
    customer_file = Path(customer_ref) if Path(customer_ref).is_file() else None
    written = (
        output_file(out, force, ("content folder", content), ("customer file", customer_file))
        if out is not None
        else None
    )
    exports = _exports()
    date = parse_date(date_text)
    results = run_preview(
        content, customer_ref, journey, step=step, channel=channel, locale=locale, on=date,
        include_drafts=include_drafts, explain=explain, arm=ArmKind(arm) if arm else None,
    )  # fmt: skip
    output: str | bytes
    if fmt == "html":
        output = format_html(results)
    elif fmt == "json":
        output = format_json(results, explain=explain)
    elif fmt in exports:
        output = format_export(results, fmt, date=date, to=to)
    else:
        output = format_text(results, explain=explain)
    if fmt == "html" or fmt in exports:
        # The document goes to stdout or a file; problems go to stderr so they stay visible,
        # and so does the note that a message with drafts is in no build.
        for result in results:
            note = drafts_note(result.resolution)
            if note is not None:
                click.echo(f"{result.resolution.key}: note: {note}", err=True)
            for line, hint in format_problems(result):
                click.echo(f"{result.resolution.key}: {line}\n  hint: {hint}", err=True)
    target = out
    if open_browser and target is None:
        import tempfile

        suffix = _SUFFIX.get(fmt) or exports[fmt].suffix
        with tempfile.NamedTemporaryFile(
            "w", suffix=suffix, prefix="atomic-preview-", delete=False, encoding="utf-8"
        ) as handle:
            target = Path(handle.name)
    if target is not None:
        if written is not None:
            written.write(output)
        elif isinstance(output, bytes):  # the temporary file of --open
            target.write_bytes(output)
        else:
            target.write_text(output, encoding="utf-8")
        click.echo(f"wrote {target.as_posix()}", err=True)
        if open_browser:
            import webbrowser

            webbrowser.open(target.resolve().as_uri())
    else:
        newline = output.endswith(b"\n") if isinstance(output, bytes) else output.endswith("\n")
        if isinstance(output, str) and fmt == "text":
            echo_text(output, nl=not newline)  # its checks in colour on a terminal
        else:
            click.echo(output, nl=not newline)
    if any(result.has_errors for result in results):
        ctx.exit(EXIT_CONTENT)
