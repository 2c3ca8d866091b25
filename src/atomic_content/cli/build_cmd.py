"""``atomic build`` and ``atomic render``: the CI build and the batch runtime."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import AtomicError, ContentError, Diagnostic, Diagnostics, plural
from . import (
    EXIT_CONTENT,
    content_option,
    echo_text,
    emit_diagnostics,
    json_text,
    keep_until_exit,
    main,
)

if TYPE_CHECKING:
    from ..build import BuildResult, BuildSession
from .commands import date_option, parse_date, until_option_decorator


@contextmanager
def progress_reporter(label: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A rich progress bar on a terminal (stderr), plain lines every 10% elsewhere (CI)."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=total)

            def update(done: int, new_total: int | None = None) -> None:
                bar.update(
                    task, completed=done, total=new_total if new_total is not None else total
                )

            yield update
        return
    last = [-1]

    def plain(done: int, new_total: int | None = None) -> None:
        count = new_total if new_total is not None else total
        if count:
            tenth = done * 10 // count
            if tenth != last[0]:
                last[0] = tenth
                click.echo(f"{label}: {done}/{count}", err=True)
        elif done % 1000 == 0 and done:
            click.echo(f"{label}: {done}", err=True)

    yield plain


@main.command()
@content_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("dist"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--date",
    "date_text",
    metavar="YYYY-MM-DD",
    help="First send date to cover (default: SOURCE_DATE_EPOCH or today).",
)
@until_option_decorator()
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: all cores).")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Render everything again without reading the cache (it is still written).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another build holding the output.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Build again after every change of the content folder, until Ctrl-C (needs "
    "atomic-content[serve]).",
)
@click.pass_context
def build(
    ctx: click.Context,
    content: Path,
    out: Path,
    date_text: str | None,
    until_text: str | None,
    jobs: int | None,
    no_cache: bool,
    fmt: str,
    wait_seconds: float,
    watch: bool,
) -> None:
    """Render every variant of every message into the output folder."""
    from ..build import BuildSession  # imported here: rendering pulls in mrml & co.

    ctx.meta["content_root"] = content
    session = BuildSession(
        content,
        out,
        on=parse_date(date_text),
        until=parse_date(until_text, "--until"),
        jobs=jobs,
        use_cache=not no_cache,
        lock_wait_seconds=wait_seconds,
    )
    if watch:
        _watch(session, fmt)
        return
    with progress_reporter("rendering") as progress:
        result = session.build(lambda done, total: progress(done, total))
    keep_until_exit(result)
    if fmt == "json":
        click.echo(json_text(result.to_dict()))
        return
    _report_build(result, content, out)


def _report_build(
    result: BuildResult, content: Path, out: Path, shown: Diagnostics | None = None
) -> None:
    """The summary of a build, after its warnings (``shown``: those to print, default all)."""
    shown = result.warnings if shown is None else shown
    emit_diagnostics(shown, content) if shown else None
    if result.skipped:
        warned = (
            f", {plural(result.warning_count, 'warning')} in manifest.json"
            if result.warning_count
            else ""
        )
        click.echo(
            f"up to date: {plural(result.variants, 'variant')} in {out.as_posix()}{warned} "
            f"({result.seconds:.2f}s)"
        )
        return
    click.echo(
        f"built {plural(result.variants, 'variant')}, {plural(result.files, 'file')} into "
        f"{out.as_posix()} "
        f"({result.rendered} rendered, {result.cached} from cache, "
        f"{plural(len(result.warnings), 'warning')}, {result.seconds:.2f}s)"
    )


def _watch(session: BuildSession, fmt: str) -> None:
    """``build --watch``: a report per build (one JSON object per line with --format json)
    until Ctrl-C or SIGTERM (a service manager's stop), which end the watch normally (exit 0;
    a build they interrupt leaves the output as it was). In text, a build prints the warnings
    the previous one did not have; its summary counts them all."""
    from ..watch import WatchedBuild, watch_builds

    content = session.content
    printed: set[Diagnostic] = set()  # the last build's warnings: a rebuild prints new ones

    def report(watched: WatchedBuild) -> None:
        if fmt == "json":  # JSON Lines: one compact object per build
            item: dict[str, Any] = {"changed": list(watched.changed)}
            if watched.result is not None:
                item.update(watched.result.to_dict())
            elif watched.error is not None:
                item["error"] = _error_dict(watched.error)
            click.echo(json.dumps(item, ensure_ascii=False))
            sys.stdout.flush()
            return
        if watched.changed:
            more = len(watched.changed) - 3
            shown = ", ".join(watched.changed[:3]) + (f" and {more} more" if more > 0 else "")
            click.echo(f"changed: {shown}")
        if watched.result is not None:
            warnings = watched.result.warnings
            fresh = Diagnostics(d for d in warnings if d not in printed)
            _report_build(watched.result, content, session.out, fresh)
            if not watched.result.skipped:
                printed.clear()
                printed.update(warnings)
        elif watched.error is not None:
            echo_text("\n".join(watched.error.format_lines(content)), err=True)
            click.echo("the output is unchanged; waiting for the next change")
        sys.stdout.flush()

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        watch_builds(session, report)
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _error_dict(error: AtomicError) -> dict[str, Any]:
    """A refused build as ``build --watch --format json`` reports it: the message, the hint,
    the exit code a one-shot build would end with, and the diagnostics of a content error."""
    found: dict[str, Any] = {
        "message": str(error),
        "hint": error.hint,
        "exit_code": error.exit_code,
    }
    if isinstance(error, ContentError):
        found["diagnostics"] = [d.to_dict() for d in error.diagnostics.sorted()]
    return found


@main.command()
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="Build output folder (or its bundle).",
)
@click.option(
    "--customers",
    type=click.Path(path_type=Path, exists=True),
    help="Customers as JSON Lines, CSV or Parquet (.parquet; a folder of part files with "
    "--engine spark); required unless --project-attributes.",
)
@click.option("--journey", required=True)
@click.option("--step", required=True)
@click.option("--channel", required=True)
@click.option("--locale", help="Force a locale (default: each customer's).")
@date_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="A .jsonl file, a .parquet file (one row per customer, with its status), or a folder "
    "for one sub-folder per customer; with --engine spark, a folder of Parquet part files "
    "(required unless --project-attributes).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="Render here, streaming, or on Apache Spark (needs atomic-content[spark]).",
)
@click.option(
    "--master",
    default="local[*]",
    show_default=True,
    help="Spark master URL for --engine spark (local[N] for N local cores).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--project-attributes",
    is_flag=True,
    help="Print the attributes the message reads (the minimal columns to export), one per "
    "line, and render nothing.",
)
@click.pass_context
def render(
    ctx: click.Context,
    bundle_path: Path,
    customers: Path | None,
    journey: str,
    step: str,
    channel: str,
    locale: str | None,
    date_text: str | None,
    out: Path | None,
    engine: str,
    master: str,
    fmt: str,
    project_attributes: bool,
) -> None:
    """Render one message for many customers from a built bundle (streaming, or on Spark)."""
    on = parse_date(date_text) or dt.date.today()
    from ..bundle import load_bundle
    from ..runtime import render_batch

    bundle = load_bundle(bundle_path)
    if project_attributes:
        columns = bundle.required_attributes(journey, step, channel)
        if fmt == "json":
            import json

            click.echo(json.dumps(list(columns), indent=2))
        else:
            click.echo("\n".join(columns))
        return
    if customers is None or out is None:
        raise click.UsageError("--customers and --out are needed to render")
    if engine == "spark":
        from ..spark import render_parquet

        outcome = render_parquet(
            bundle_path,
            customers,
            out,
            journey=journey,
            step=step,
            channel=channel,
            on=on,
            locale=locale,
            master=master,
        )
        if fmt == "json":
            import json

            click.echo(json.dumps(outcome.to_dict(), indent=2))
        else:
            click.echo(
                f"rendered {outcome.rendered}, failed {outcome.failed}, skipped "
                f"{outcome.skipped}"
                + (f", holdout {outcome.holdout}" if outcome.holdout else "")
                + (f", suppressed {outcome.suppressed}" if outcome.suppressed else "")
                + f" ({outcome.seconds:.1f}s on Spark; each row's status and "
                f"error_code are in {out.as_posix()})"
            )
        if outcome.failed:
            ctx.exit(EXIT_CONTENT)
        return

    with progress_reporter("customers") as progress:
        result = render_batch(
            bundle,
            customers,
            journey=journey,
            step=step,
            channel=channel,
            out=out,
            locale=locale,
            on=on,
            progress=lambda n: progress(n),
        )
    if fmt == "json":
        click.echo(json_text(result.to_dict()))
    else:
        from ..formatting import inline

        for problem in result.problems:
            # An id is customer data: shown on one line, so it cannot forge a line of its own.
            who = f" (customer {inline(problem.customer_id)})" if problem.customer_id else ""
            click.echo(
                f"{customers.as_posix()}:{problem.line}: {problem.code}{who}: {problem.reason}",
                err=True,
            )
        click.echo(
            f"rendered {result.rendered}, failed {result.failed}, skipped {result.skipped}"
            + (f", holdout {result.holdout}" if result.holdout else "")
            + (f", suppressed {result.suppressed}" if result.suppressed else "")
        )
    if result.failed:
        ctx.exit(EXIT_CONTENT)
