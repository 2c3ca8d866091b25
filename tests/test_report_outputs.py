"""Where reports may be written (atomic_content.outputs): ``--out`` of preview, coverage,
privacy and analyze never writes into the content folder or over an input, and replaces an
existing file only when it is the command's own unchanged earlier report or with ``--force``;
and values from data (sample customer ids, segment names
of a results file) cannot forge a line of output."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from atomic_content.cli import main
from conftest import DEMO_CONTENT

DATE = ["--date", "2026-11-22"]
RESULTS = DEMO_CONTENT.parent / "benchmarks" / "data" / "welcome-results.csv"


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo content: a command that wrongly wrote into it must not touch the
    repository's."""
    return Path(shutil.copytree(DEMO_CONTENT, tmp_path_factory.mktemp("demo") / "content"))


def _preview(content: Path) -> list[str]:
    return ["preview", "--content", str(content), "--customer", "anna", "--journey", "welcome",
            "--step", "day-0", "--channel", "email", *DATE]  # fmt: skip


def _coverage(content: Path) -> list[str]:
    return ["coverage", "--content", str(content), "--format", "markdown", "--fail-on", "never",
            *DATE]  # fmt: skip


def _privacy(content: Path) -> list[str]:
    return ["privacy", "--content", str(content), "--format", "markdown", *DATE]


def _analyze(content: Path) -> list[str]:
    pytest.importorskip("scipy")
    return ["analyze", str(RESULTS), "--content", str(content), "--format", "markdown"]


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "preview": _preview,
    "coverage": _coverage,
    "privacy": _privacy,
    "analyze": _analyze,
}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("where", ["content/atomic.yaml", "content/report.md", "content"])
def test_out_never_goes_into_the_content_folder(
    content: Path, command: str, where: str, tmp_path: Path
) -> None:
    before = _snapshot(content)
    out = content.parent / where
    for force in ([], ["--force"]):  # --force replaces a file; it never unlocks the content
        result = CliRunner().invoke(main, [*COMMANDS[command](content), "--out", str(out), *force])
        assert result.exit_code == 2, result.output
        # (the content folder itself: click refuses a folder for a file option first)
        assert "overlaps the content folder" in result.stderr or "is a directory" in result.stderr
        assert "Traceback" not in result.output
    assert _snapshot(content) == before


@pytest.mark.parametrize("command", list(COMMANDS))
def test_out_replaces_an_existing_file_only_with_force(
    content: Path, command: str, tmp_path: Path
) -> None:
    args = COMMANDS[command](content)
    runner = CliRunner()
    new = tmp_path / "reports" / "new" / "report.md"
    written = runner.invoke(main, [*args, "--out", str(new)])
    assert written.exit_code == 0, written.output
    assert new.read_text()
    mine = tmp_path / "notes.md"
    mine.write_text("my notes\n")
    refused = runner.invoke(main, [*args, "--out", str(mine)])
    assert refused.exit_code == 2, refused.output
    assert f"refusing to replace {mine.as_posix()}: the file exists" in refused.stderr
    assert "pass --force to replace it" in refused.stderr
    assert mine.read_text() == "my notes\n"
    forced = runner.invoke(main, [*args, "--out", str(mine), "--force"])
    assert forced.exit_code == 0, forced.output
    assert mine.read_text() == new.read_text()
    empty = tmp_path / "empty.md"
    empty.write_text("")
    assert runner.invoke(main, [*args, "--out", str(empty)]).exit_code == 0
    assert empty.read_text() == new.read_text()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_running_a_report_again_replaces_its_own_unchanged_file(
    content: Path, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's cache remembers what each report wrote (WrittenReports): the same command
    run again replaces its report; a report edited since is the user's file; with the cache
    off nothing is remembered, so replacing needs --force."""
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    args = COMMANDS[command](content)
    runner = CliRunner()
    report = tmp_path / "report.md"
    assert runner.invoke(main, [*args, "--out", str(report)]).exit_code == 0
    again = runner.invoke(main, [*args, "--out", str(report)])
    assert again.exit_code == 0, again.output
    report.write_text(report.read_text() + "my remark\n")
    edited = runner.invoke(main, [*args, "--out", str(report)])
    assert edited.exit_code == 2, edited.output
    assert "refusing to replace" in edited.stderr
    assert report.read_text().endswith("my remark\n")
    monkeypatch.setenv("ATOMIC_CACHE_DIR", "off")
    other = tmp_path / "other.md"
    assert runner.invoke(main, [*args, "--out", str(other)]).exit_code == 0
    assert runner.invoke(main, [*args, "--out", str(other)]).exit_code == 2


def test_out_never_replaces_an_input(content: Path, tmp_path: Path) -> None:
    customer = tmp_path / "me.yaml"
    customer.write_text((content / "customers" / "anna.yaml").read_text())
    before = customer.read_bytes()
    args = ["preview", "--content", str(content), "--customer", str(customer), "--journey",
            "welcome", "--step", "day-0", "--channel", "email", *DATE]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--out", str(customer), "--force"])
    assert result.exit_code == 2
    assert "overlaps the customer file" in result.stderr
    assert customer.read_bytes() == before
    pytest.importorskip("scipy")
    results = tmp_path / "results.csv"
    shutil.copy(RESULTS, results)
    analyze = ["analyze", str(results), "--content", str(content), "--out", str(results)]
    result = CliRunner().invoke(main, [*analyze, "--force"])
    assert result.exit_code == 2
    assert "overlaps the results file" in result.stderr
    assert results.read_bytes() == RESULTS.read_bytes()


FORGED = "x\n::error file=a::pwned\r\nc.jsonl:99: fake"


def test_a_customer_file_name_cannot_forge_lines(content: Path, tmp_path: Path) -> None:
    """A customer file holding only attributes is named by its file name, which may hold
    line breaks: preview and segments show it on one line."""
    customer = tmp_path / f"{FORGED}.yaml"
    attributes = (content / "customers" / "anna.yaml").read_text().split("attributes:\n", 1)[1]
    customer.write_text("\n".join(line[2:] for line in attributes.splitlines()) + "\n")
    runner = CliRunner()
    preview = runner.invoke(main, [*_preview(content)[:4], str(customer), *_preview(content)[5:]])
    assert preview.exit_code == 0, preview.output
    segments = runner.invoke(
        main, ["segments", "--content", str(content), "--customer", str(customer)]
    )
    assert segments.exit_code == 0, segments.output
    for output in (preview.stdout, segments.stdout):
        lines = output.splitlines()
        assert not [line for line in lines if line.startswith(("::", "c.jsonl"))], output
        assert any(
            "customer x%0A::error file=a::pwned%0D%0Ac.jsonl:99: fake" in line for line in lines
        )


def test_analyze_refuses_a_segment_that_would_forge_lines(content: Path, tmp_path: Path) -> None:
    pytest.importorskip("scipy")
    results = tmp_path / "results.csv"
    results.write_text(
        'customer,arm,segment,converted\nC-1,control,"vip\n::error file=a::pwned",1\n'
    )
    result = CliRunner().invoke(main, ["analyze", str(results), "--content", str(content)])
    assert result.exit_code == 2
    assert (
        "results.csv:2: segment 'vip\\n::error file=a::pwned' holds a line break" in result.stderr
    )
    assert not [line for line in result.output.splitlines() if line.startswith("::")]
