"""Project exceptions: they pickle (also across a process), own their exit code and presentation.

The examples table below must name every :class:`AtomicError` subclass under ``src/``: a new
exception class fails :func:`test_every_error_class_has_an_example` until it gets an example,
and then the round-trip tests check that it survives pickling and a worker process.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import pickle
import pkgutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import atomic_content
from atomic_content.build import BuildLockedError, StaleOutputError, output_lock
from atomic_content.bundle import BundleError
from atomic_content.cli import main
from atomic_content.errors import (
    EXIT_CONTENT,
    EXIT_TEMPFAIL,
    EXIT_USAGE,
    AtomicError,
    ContentError,
    Diagnostic,
    DiagnosticFormat,
    Diagnostics,
    RenderError,
    ResolutionError,
    Severity,
    UsageError,
)
from atomic_content.manifest import ManifestError
from atomic_content.parallel import WorkerDied
from atomic_content.privacy import SuppressedError
from atomic_content.records import RecordError, RecordProblem
from atomic_content.sendtest import SendError
from contentkit import write_tree


def _diagnostics() -> Diagnostics:
    found = Diagnostics()
    found.error("atoms/a.yaml", 3, 7, "schema.string_type", "expected text", "quote the value")
    found.warning("atoms/a.yaml", 0, 0, "atom.unused", "no journey uses this atom")
    found.error("", 0, 0, "io.missing_file", "atomic.yaml is missing")
    return found


# One example per class (and per interesting shape); the id names the example.
EXAMPLES: dict[str, Callable[[], AtomicError]] = {
    "atomic": lambda: AtomicError("refusing to write outside the output folder: '../x'"),
    "content": lambda: ContentError(_diagnostics()),
    "content-message": lambda: ContentError(Diagnostics(), "the bundle has errors"),
    "usage": lambda: UsageError("unknown journey 'welcom'", "did you mean 'welcome'?"),
    "usage-no-hint": lambda: UsageError("unknown customer 'c9'"),
    "resolution": lambda: ResolutionError(_diagnostics()),
    "render": lambda: RenderError(
        "render.missing_attribute",
        "the attribute is missing",
        customer_id="c1",
        atom_id="welcome.body",
        attribute="first_name",
        hint="give the attribute a default",
    ),
    "suppressed": lambda: SuppressedError("email", ("email_marketing",), "NW-1"),
    "render-bare": lambda: RenderError("render.unknown_slot", "slot 'x' is not in atomic.yaml"),
    "render-positioned": lambda: RenderError(
        "render.layout_invalid",
        "the layout does not parse",
        atom_id="welcome.body",
        hint="close the tag",
        path="layouts/email.yaml",
        line=2,
        col=9,
    ),
    "render-file-only": lambda: RenderError(
        "render.layout_invalid", "empty layout", path="layouts/app.yaml"
    ),
    "build-locked": lambda: BuildLockedError(
        "another build is writing dist; try again when it has finished"
    ),
    "stale-output": lambda: StaleOutputError(
        "welcome/day-0/email/en/vip/preview/email.html is missing from the previous build"
    ),
    "bundle": lambda: BundleError("dist/bundle/bundle.json is not a bundle of this version"),
    "manifest": lambda: ManifestError("manifest.json was written by another version"),
    "record": lambda: RecordError(
        (
            RecordProblem(
                "line 3",
                3,
                "C-1",
                "orders",
                "record.type",
                "attribute 'orders' is not a whole number",
                "write a whole number, e.g. 3",
                ("orders",),
            ),
            RecordProblem("line 3", 3, "C-1", "x", "record.unknown", "unknown attribute 'x'"),
        )
    ),
    "record-empty": lambda: RecordError(()),
    "worker-died": lambda: WorkerDied(
        "a worker process ended before its work was done (stopped by SIGKILL)"
    ),
    "send": lambda: SendError(
        "cannot reach the SMTP server localhost:1025 (Connection refused)",
        "check --smtp HOST:PORT and that the server runs",
    ),
}


def _project_error_classes() -> set[type[AtomicError]]:
    """Every AtomicError subclass defined in the package, after importing all of its modules."""
    for module in pkgutil.walk_packages(atomic_content.__path__, "atomic_content."):
        if not module.name.endswith("__main__"):  # runs the CLI on import
            importlib.import_module(module.name)
    found: set[type[AtomicError]] = set()
    pending = [AtomicError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("atomic_content.") and cls not in found:
            found.add(cls)
            pending.extend(cls.__subclasses__())
    return found


def _state(error: BaseException) -> tuple[Any, ...]:
    """What must survive pickling: type, args, every attribute, the text."""
    return (type(error), error.args, vars(error), str(error))


def test_every_error_class_has_an_example() -> None:
    covered = {type(make()) for make in EXAMPLES.values()}
    missing = {cls.__qualname__ for cls in _project_error_classes() - covered}
    assert not missing, f"add an example to EXAMPLES for {sorted(missing)}"


@pytest.mark.parametrize("name", list(EXAMPLES), ids=list(EXAMPLES))
def test_pickle_round_trip(name: str) -> None:
    error = EXAMPLES[name]()
    error.add_note("noted")  # notes travel in the instance dict
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert copy is not error
        assert _state(copy) == _state(error)
        assert copy.exit_code == error.exit_code
        assert copy.format_lines() == error.format_lines()


def _raise_example(name: str) -> None:
    raise EXAMPLES[name]()


@pytest.fixture(scope="module")
def fork_pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool


@pytest.mark.parametrize("name", list(EXAMPLES), ids=list(EXAMPLES))
def test_error_raised_in_a_worker_reaches_the_parent_intact(
    name: str, fork_pool: ProcessPoolExecutor
) -> None:
    future = fork_pool.submit(_raise_example, name)
    with pytest.raises(AtomicError) as caught:
        future.result(timeout=60)
    assert _state(caught.value) == _state(EXAMPLES[name]())


@pytest.mark.parametrize(
    "item",
    [
        Diagnostic("atoms/a.yaml", 3, 7, Severity.ERROR, "schema.string_type", "expected", "h"),
        _diagnostics(),
        Diagnostics(),
    ],
    ids=["diagnostic", "diagnostics", "diagnostics-empty"],
)
def test_diagnostics_pickle(item: Diagnostic | Diagnostics) -> None:
    copy = pickle.loads(pickle.dumps(item))
    assert copy == item
    assert repr(copy) == repr(item)  # severity and hint too, which Diagnostic's == ignores


def test_diagnostics_equality_sees_severity_and_hint() -> None:
    one, other = Diagnostics(), Diagnostics()
    one.error("a.yaml", 1, 1, "x.y", "message", "hint")
    other.warning("a.yaml", 1, 1, "x.y", "message", "hint")
    assert one != other
    other = Diagnostics()
    other.error("a.yaml", 1, 1, "x.y", "message", "another hint")
    assert one != other
    assert one == Diagnostics(one)


def test_diagnostics_keep_order_severity_and_count_as_items_arrive() -> None:
    """The cached order, the severity split and the error count follow every addition,
    and duplicates (same place, code and message) count once."""
    found = Diagnostics()
    found.warning("b.yaml", 2, 1, "w.two", "second")
    assert not found.has_errors
    assert [d.code for d in found.warnings] == ["w.two"]
    found.extend([Diagnostic("a.yaml", 1, 1, Severity.WARNING, "w.one", "first")])
    assert [d.code for d in found.warnings] == ["w.one", "w.two"]
    assert found.errors == []
    found.error("c.yaml", 1, 1, "e.one", "broken")
    found.error("c.yaml", 1, 1, "e.one", "broken", "the same, with a hint")
    assert found.has_errors
    assert len(found) == 3
    assert [d.code for d in found.errors] == ["e.one"]
    assert [d.code for d in found] == ["w.one", "w.two", "e.one"]
    found.warnings.clear()  # a copy: the collection is unchanged
    assert len(found.warnings) == 2
    only = found.warnings_only()
    assert not only.has_errors
    assert only.sorted() == found.warnings
    assert only == Diagnostics(found.warnings)
    only.warning("0.yaml", 1, 1, "w.zero", "earliest")
    assert [d.code for d in only] == ["w.zero", "w.one", "w.two"]
    assert len(found) == 3


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("atomic", EXIT_CONTENT),
        ("content", EXIT_CONTENT),
        ("usage", EXIT_USAGE),
        ("resolution", EXIT_CONTENT),
        ("render", EXIT_CONTENT),
        ("build-locked", EXIT_TEMPFAIL),
        ("worker-died", EXIT_TEMPFAIL),
    ],
    ids=["atomic", "content", "usage", "resolution", "render", "build-locked", "worker-died"],
)
def test_exit_code_per_class(name: str, code: int) -> None:
    assert EXAMPLES[name]().exit_code == code
    assert type(EXAMPLES[name]()).exit_code == code


def test_build_locked_is_ex_tempfail() -> None:
    assert EXIT_TEMPFAIL == 75


ATOM = "id: a\nslot: headline\ntext:  [oops]\n"
LAYOUT = "kind: email\ntemplate: <mj-text>\n"
DIAGNOSTIC_TEXT = [
    "<content>: error[io.missing_file]: atomic.yaml is missing",
    "atoms/a.yaml: warning[atom.unused]: no journey uses this atom",
    "atoms/a.yaml:3:7: error[schema.string_type]: expected text",
    "     3 | text:  [oops]",
    "       |       ^",
    "  hint: quote the value",
    "2 errors, 1 warning",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("atomic", ["error: refusing to write outside the output folder: '../x'"]),
        ("content", DIAGNOSTIC_TEXT),
        ("content-message", ["no problems"]),
        ("usage", ["error: unknown journey 'welcom'", "  hint: did you mean 'welcome'?"]),
        ("usage-no-hint", ["error: unknown customer 'c9'"]),
        ("resolution", DIAGNOSTIC_TEXT),
        (
            "render",
            [
                "error: [render.missing_attribute] customer 'c1', atom 'welcome.body', "
                "attribute 'first_name': the attribute is missing",
                "  hint: give the attribute a default",
            ],
        ),
        ("render-bare", ["error: [render.unknown_slot] slot 'x' is not in atomic.yaml"]),
        (
            "render-positioned",
            [
                "layouts/email.yaml:2:9: error[render.layout_invalid]: atom 'welcome.body': "
                "the layout does not parse",
                "     2 | template: <mj-text>",
                "       |         ^",
                "  hint: close the tag",
            ],
        ),
        (
            "render-file-only",
            ["layouts/app.yaml: error[render.layout_invalid]: empty layout"],
        ),
        (
            "build-locked",
            ["error: another build is writing dist; try again when it has finished"],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_presentation_per_class(name: str, expected: list[str], tmp_path: Path) -> None:
    (tmp_path / "atoms").mkdir()
    (tmp_path / "atoms" / "a.yaml").write_text(ATOM)
    (tmp_path / "layouts").mkdir()
    (tmp_path / "layouts" / "email.yaml").write_text(LAYOUT)
    assert EXAMPLES[name]().format_lines(tmp_path) == expected


def test_position_is_a_field_not_part_of_the_message() -> None:
    error = EXAMPLES["render-positioned"]()
    assert isinstance(error, RenderError)
    assert (error.path, error.line, error.col) == ("layouts/email.yaml", 2, 9)
    assert str(error) == ("[render.layout_invalid] atom 'welcome.body': the layout does not parse")
    assert "layouts/email.yaml" not in error.message


def test_presentation_without_root_has_no_source_line() -> None:
    assert EXAMPLES["render-positioned"]().format_lines() == [
        "layouts/email.yaml:2:9: error[render.layout_invalid]: atom 'welcome.body': "
        "the layout does not parse",
        "  hint: close the tag",
    ]


@pytest.mark.parametrize("name", ["content", "resolution"], ids=["content", "resolution"])
def test_diagnostic_errors_present_as_json_and_github(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = EXAMPLES[name]()
    as_json = json.loads("\n".join(error.format_lines(tmp_path, "json")))
    assert [item["code"] for item in as_json] == [
        "io.missing_file",
        "atom.unused",
        "schema.string_type",
    ]
    root = tmp_path / "content"
    root.mkdir()
    monkeypatch.chdir(tmp_path)
    assert error.format_lines(root, "github") == [
        "::error file=content/,title=io.missing_file::atomic.yaml is missing",
        "::warning file=content/atoms/a.yaml,title=atom.unused::no journey uses this atom",
        "::error file=content/atoms/a.yaml,line=3,col=7,title=schema.string_type::"
        "expected text — hint: quote the value",
    ]


class _Custom(AtomicError):
    """A test-only error (its module is not atomic_content, so the examples table skips it)."""

    exit_code = 42

    def format_lines(self, root: Path | None = None, fmt: DiagnosticFormat = "text") -> list[str]:
        return ["custom", f"root={root}"]


@pytest.fixture
def boom_command() -> Iterator[Callable[[BaseException], None]]:
    """Registers ``atomic boom`` raising whatever the test sets; removes it afterwards."""
    raised: list[BaseException] = []

    @main.command("boom")
    @click.pass_context
    def boom(ctx: click.Context) -> None:
        ctx.meta["content_root"] = Path("content-root")
        raise raised[0]

    try:
        yield raised.append
    finally:
        main.commands.pop("boom", None)


@pytest.mark.parametrize(
    ("error", "code", "stderr"),
    [
        (_Custom("x"), 42, "custom\nroot=content-root\n"),
        (
            UsageError("unknown journey 'x'", "known: a"),
            2,
            "error: unknown journey 'x'\n  hint: known: a\n",
        ),
        (
            EXAMPLES["build-locked"](),
            75,
            "error: another build is writing dist; try again when it has finished\n",
        ),
        (KeyboardInterrupt(), 130, "interrupted\n"),
        (
            ValueError("oops"),
            70,
            "internal error: ValueError: oops\n"
            "  hint: this is a bug in atomic-content; run again with --debug and report it\n",
        ),
    ],
    ids=["custom-class", "usage", "build-locked", "interrupt", "internal"],
)
def test_cli_asks_the_error_to_present_itself(
    boom_command: Callable[[BaseException], None], error: BaseException, code: int, stderr: str
) -> None:
    boom_command(error)
    result = CliRunner().invoke(main, ["boom"])
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", stderr)


def test_locked_build_exits_75(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    with output_lock(out, 0):
        result = CliRunner().invoke(
            main,
            [
                "build",
                "--content",
                str(content),
                "--out",
                str(out),
                "--wait",
                "0",
                "--date",
                "2026-01-05",
            ],
        )
    assert result.exit_code == 75
    # Rendering runs before the output is locked; the error is the last line.
    assert result.stderr.endswith(
        f"\nerror: another build is writing {out.as_posix()}; try again when it has finished\n"
    )
