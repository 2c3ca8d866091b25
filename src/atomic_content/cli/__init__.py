"""The ``atomic`` command line: parse arguments, call one library function, format the result.

This package is the only place that prints. Exit codes (docs/cli.md):

* 0 — success;
* 1 — the content has problems (errors, or warnings with ``--strict``), or a message could not
  be resolved or rendered;
* 2 — usage error (unknown option, journey, customer, revision ...);
* 70 — an internal error (a bug): a one-line message, the traceback only with ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import (
    AtomicError,
    ContentError,
    Diagnostics,
    RenderError,
    ResolutionError,
    UsageError,
)
from ..formatting import format_github, format_json, format_text, summary_line

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_CONTENT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


def content_option(func: F) -> F:
    """``--content DIR``: the content root (default ./content)."""
    return click.option(
        "--content",
        "content",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("content"),
        show_default=True,
        help="Content folder to read.",
    )(func)


def emit_diagnostics(diagnostics: Diagnostics, root: Path | None, fmt: str = "text") -> None:
    """Print diagnostics to stderr (text/github) or stdout (json)."""
    items = diagnostics.sorted()
    if fmt == "json":
        click.echo(format_json(items))
    elif fmt == "github":
        if items:
            click.echo(format_github(items, content_prefix=_repo_prefix(root)))
    else:
        if items:
            click.echo(format_text(items, root), err=True)
        click.echo(summary_line(items), err=True)


def _repo_prefix(root: Path | None) -> str:
    """The content folder as seen from the working directory (``content/``), so that CI
    annotations name files the way the repository does."""
    if root is None:
        return ""
    try:
        relative = root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return ""
    text = relative.as_posix()
    return "" if text in ("", ".") else text + "/"


class AtomicGroup(click.Group):
    """Turns library errors into messages and exit codes; no traceback for a user's mistake."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = "--debug" in sys.argv[1:] or bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except ContentError as exc:
            emit_diagnostics(exc.diagnostics, ctx.meta.get("content_root"))
            ctx.exit(EXIT_CONTENT)
        except ResolutionError as exc:
            emit_diagnostics(exc.diagnostics, ctx.meta.get("content_root"))
            ctx.exit(EXIT_CONTENT)
        except RenderError as exc:
            click.echo(f"error: {exc}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            ctx.exit(EXIT_CONTENT)
        except UsageError as exc:
            click.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            ctx.exit(EXIT_USAGE)
        except AtomicError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_CONTENT)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if debug:
                traceback.print_exc()
            else:
                click.echo(
                    f"internal error: {type(exc).__name__}: {exc}\n"
                    "  hint: this is a bug in atomic-content; run again with --debug and report it",
                    err=True,
                )
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=AtomicGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="atomic-content")
def main(debug: bool) -> None:
    """atomic-content: assemble personalized messages from small content atoms."""


from . import build_cmd as _build_cmd  # noqa: E402,F401  (registers the commands)
from . import commands as _commands  # noqa: E402,F401
from . import coverage_cmd as _coverage_cmd  # noqa: E402,F401
from . import diff_cmd as _diff_cmd  # noqa: E402,F401
from . import preview_cmd as _preview_cmd  # noqa: E402,F401
