"""The ``atomic`` command line: parse arguments, call one library function, format the result.

This package is the only place that prints. Exit codes (docs/cli.md); an
:class:`~atomic_content.errors.AtomicError` names its own (``exit_code``):

* 0 — success;
* 1 — the content has problems (errors, or warnings with ``--strict``), or a message could not
  be resolved or rendered;
* 2 — usage error (unknown option, journey, customer, revision ...);
* 70 — an internal error (a bug): a one-line message, the traceback only with ``--debug``;
* 75 — another build holds the output folder's lock; try again later;
* 130 — interrupted (Ctrl-C).

Start-up is part of the interface (editors run ``atomic validate`` on every save): this package
and the command modules import only click and :mod:`atomic_content.errors` at module level; each
command imports the library modules it needs inside its function, so ``atomic --help`` costs
little more than importing click (benchmarks/bench_startup.py).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast, get_args

import click

from ..errors import EXIT_CONTENT as EXIT_CONTENT  # re-exported for the commands
from ..errors import EXIT_INTERNAL as EXIT_INTERNAL
from ..errors import EXIT_OK as EXIT_OK
from ..errors import EXIT_USAGE as EXIT_USAGE
from ..errors import AtomicError, DiagnosticFormat, Diagnostics

if TYPE_CHECKING:
    from ..outputs import OutputFile

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports a process ended by SIGINT."""


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


def report_out_option(func: F) -> F:
    """``--out FILE`` (write a command's report to a file instead of standard output) and
    ``--force`` (:func:`force_option`)."""
    return click.option(
        "--out",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write the report to this file instead of standard output.",
    )(force_option(func))


def force_option(func: F) -> F:
    """``--force``: let ``--out`` replace an existing file this command did not write."""
    return click.option(
        "--force",
        is_flag=True,
        help="Let --out replace an existing file that this command did not write.",
    )(func)


def output_file(out: Path, force: bool, *inputs: tuple[str, Path | None]) -> OutputFile:
    """The ``--out`` file of a report, checked now, before the work (UsageError): not in, at
    or around the content folder or an input (``inputs``: label and path, None when there is
    none), and not over a file the command did not write unless ``force``
    (:mod:`atomic_content.outputs`). Write the report with its ``write``."""
    from ..outputs import OutputFile

    found = OutputFile(out, [(label, p) for label, p in inputs if p is not None], force=force)
    found.check()
    return found


def use_color(tty: bool) -> bool:
    """Colour for output to a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return tty and not os.environ.get("NO_COLOR")


def stream_color(err: bool) -> bool:
    """Whether text for stderr (``err``) or stdout gets colours: a terminal and no NO_COLOR."""
    stream = sys.stderr if err else sys.stdout
    return use_color(stream.isatty())


_SGR = {"error": "1;31", "warning": "1;33", "hint": "36", "where": "1"}
# `path:line:col: error[code]: ...`, `error: ...`, `  hint: ...` (any indent, any prefix).
_SEVERITY_LINE = re.compile(
    r"^(?P<lead>\s*)(?P<where>\S[^\s]*?: )?(?P<sev>error|warning|hint)(?P<code>\[[^\]\s]+\])?:"
)


def paint(line: str) -> str:
    """``line`` with ANSI colours when it is a diagnostic (red errors, yellow warnings, cyan
    hints, the position in bold); other lines unchanged. For a terminal only."""
    match = _SEVERITY_LINE.match(line)
    if match is None:
        return line
    lead, where, sev, code = match.group("lead", "where", "sev", "code")
    shown = f"{lead}"
    if where:
        shown += f"\x1b[{_SGR['where']}m{where[:-2]}\x1b[0m: "
    shown += f"\x1b[{_SGR[sev]}m{sev}{code or ''}\x1b[0m:"
    return shown + line[match.end() :]


def echo_text(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print text for people; diagnostic lines in colour on a terminal (see :func:`paint`)."""
    if stream_color(err):
        text = "\n".join(paint(line) for line in text.split("\n"))
        click.echo(text, err=err, nl=nl, color=True)
    else:
        click.echo(text, err=err, nl=nl)


def emit_diagnostics(diagnostics: Diagnostics, root: Path | None, fmt: str = "text") -> None:
    """Print diagnostics: text to stderr (coloured on a terminal), json and github to stdout."""
    from ..formatting import format_report

    if fmt not in get_args(DiagnosticFormat):
        raise ValueError(f"unknown diagnostic format {fmt!r}")
    lines = format_report(diagnostics.sorted(), root, cast(DiagnosticFormat, fmt))
    if fmt == "text":
        echo_text("\n".join(lines), err=True)
        return
    for line in lines:
        click.echo(line)


def json_text(value: Any) -> str:
    """``value`` as the ``--format json`` reports print it: objects indented as by
    ``json.dumps(indent=2)``, but each item of a list on one compact line. Only the compact
    encoder is written in C: indenting a build's tens of thousands of warnings took longer
    than the rebuild itself. Still one JSON document; a line per item is also easy to grep."""
    import json

    compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode  # made once

    def text(item: Any, depth: int) -> str:
        pad = "  " * (depth + 1)
        if isinstance(item, dict) and item:
            body = ",\n".join(
                f"{pad}{json.dumps(key, ensure_ascii=False)}: {text(part, depth + 1)}"
                for key, part in item.items()
            )
            return "{\n" + body + "\n" + "  " * depth + "}"
        if isinstance(item, list) and item:
            body = ",\n".join(pad + compact(part) for part in item)
            return "[\n" + body + "\n" + "  " * depth + "]"
        return json.dumps(item, ensure_ascii=False)

    return text(value, 0)


class LazyChoice(click.Choice):  # type: ignore[type-arg]
    """A :class:`click.Choice` whose choices come from the library, asked for only when the
    command's own help or arguments need them (not for ``atomic --help``)."""

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._choices: tuple[str, ...] | None = None
        super().__init__((), case_sensitive)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        pass  # always the loader's


class LazyHelpOption(click.Option):
    """An option whose help text comes from the library when help is shown
    (``help_factory=``), so building the command imports nothing heavy."""

    def __init__(self, *args: Any, help_factory: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._help_factory = help_factory

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self._help_factory()
        return super().get_help_record(ctx)


QUICK_EXIT_COMMANDS = frozenset({"build", "validate"})
"""Commands whose process ends without the interpreter's teardown (:func:`quick_exit`): once
they return nothing is left to finish (the build joins its workers and its clone process;
the thread emptying the old trees' trash may stop anywhere, the next build goes on)."""


_KEPT: list[object] = []
"""What :func:`keep_until_exit` holds."""
_QUICK_EXIT_RUN = False
"""Whether this process is the command line's own run, which ends with :func:`quick_exit`."""


def keep_until_exit(value: object) -> None:
    """Hold ``value`` until the process ends, in a run that ends with :func:`quick_exit`: a
    command's result can hold a whole library and plan (10^5 objects), and freeing them when
    the command returns cost a one-atom rebuild of a large library a tenth of a second. Holds
    nothing when the command runs inside another program (``CliRunner``, tests)."""
    if _QUICK_EXIT_RUN:
        _KEPT.append(value)


def quick_exit(code: object) -> None:
    """End the process now with exit status ``code`` (None: 0), after flushing
    stdout and stderr, skipping the interpreter's teardown: freeing a 10 000-atom library's
    objects one by one, atexit handlers. Returns (and the caller exits normally) when a
    flush fails or a thread or child process the normal exit would wait for is still
    running."""
    import threading

    waited = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    processes = sys.modules.get("multiprocessing")
    if waited or (processes is not None and processes.active_children()):
        return
    if code is not None and not isinstance(code, int):  # sys.exit("message"): Python prints it
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: let the normal exit report it
        return
    os._exit(EXIT_OK if code is None else code)


class AtomicGroup(click.Group):
    """Turns library errors into messages and exit codes; no traceback for a user's mistake.

    Every :class:`AtomicError` presents itself (``format_lines``, printed to stderr) and names
    its exit code (``exit_code``); click's own errors pass through; Ctrl-C exits 130; anything
    else is a bug: exit 70 with a one-line message, the traceback only with ``--debug``.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line; the process's own run (``atomic ...``: no ``args`` given,
        standalone) collects garbage less often (:func:`~atomic_content.collector.tune_for_batch`)
        and, for a command in :data:`QUICK_EXIT_COMMANDS`, ends with :func:`quick_exit`.

        A caller passing ``args`` (click's ``CliRunner``, tests) gets click's behaviour."""
        real = not args and kwargs.get("args") is None and kwargs.get("standalone_mode", True)
        if not real:
            return super().main(*args, **kwargs)
        global _QUICK_EXIT_RUN
        _QUICK_EXIT_RUN = True
        from ..collector import tune_for_batch

        tune_for_batch()
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exc:
            if self._ran in QUICK_EXIT_COMMANDS:
                quick_exit(exc.code)
            raise

    _ran: str | None = None
    """The sub-command this process ran (set by :meth:`invoke`)."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = "--debug" in sys.argv[1:] or bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except AtomicError as exc:
            echo_text("\n".join(exc.format_lines(ctx.meta.get("content_root"))), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            if debug:
                import traceback

                traceback.print_exc()
            else:
                click.echo(
                    f"internal error: {type(exc).__name__}: {exc}\n"
                    "  hint: this is a bug in atomic-content; run again with --debug and report it",
                    err=True,
                )
            ctx.exit(EXIT_INTERNAL)
        finally:
            self._ran = ctx.invoked_subcommand  # set by click while invoking


@click.group(cls=AtomicGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="atomic-content")
def main(debug: bool) -> None:
    """atomic-content: assemble personalized messages from small content atoms."""


from . import build_cmd as _build_cmd  # noqa: E402,F401  (registers the commands)
from . import commands as _commands  # noqa: E402,F401
from . import coverage_cmd as _coverage_cmd  # noqa: E402,F401
from . import diff_cmd as _diff_cmd  # noqa: E402,F401
from . import experiments_cmd as _experiments_cmd  # noqa: E402,F401
from . import preview_cmd as _preview_cmd  # noqa: E402,F401
from . import privacy_cmd as _privacy_cmd  # noqa: E402,F401
from . import serve_cmd as _serve_cmd  # noqa: E402,F401
