"""``atomic coverage`` through click's CliRunner: formats, --out, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import atomic_content.cli.coverage_cmd  # noqa: F401  (registers `atomic coverage` on main)
from atomic_content.cli import main
from test_coverage import write_coverage_tree


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_coverage_tree(tmp_path_factory.mktemp("cli") / "content")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["coverage", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_default_table_fails_on_missing_required(content: Path) -> None:
    code, out, err = run("--content", str(content), "--date", "2026-11-20")
    assert code == 1
    assert out.startswith("Content coverage on 2026-11-20\n")
    assert "\x1b[" not in out  # not a TTY: plain
    assert err == "coverage: 6 required cells missing (--fail-on missing)\n"


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["--fail-on", "never"], 0, ""),
        (["--fail-on", "missing"], 1, "6 required cells missing"),
        (["--fail-on", "generic"], 1, "16 required cells generic or missing"),
        (["--fail-on", "never", "--min-specific", "18.75"], 0, ""),
        (["--fail-on", "never", "--min-specific", "19"], 1, "specific share 18.8% is below"),
        (["--journey", "vip-nudge", "--fail-on", "generic", "--min-specific", "100"], 0, ""),
        (["--journey", "welcome", "--fail-on", "never", "--min-specific", "100"], 1, "13.3%"),
    ],
)
def test_exit_codes(content: Path, args: list[str], code: int, reason: str) -> None:
    status, _out, err = run("--content", str(content), "--date", "2026-11-20", *args)
    assert status == code, err
    assert reason in err
    if code == 0:
        assert err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "20.11.2026"], "is not a date like 2026-12-31"),
        (["--journey", "welcom"], "unknown journey 'welcom'"),
        (["--format", "pdf"], "'pdf' is not one of"),
        (["--fail-on", "sometimes"], "'sometimes' is not one of"),
        (["--horizon", "-1"], "-1 is not in the range x>=0"),
        (["--min-specific", "101"], "101"),
        (["--bogus"], "No such option"),
    ],
)
def test_usage_errors_exit_2(content: Path, args: list[str], message: str) -> None:
    code, _out, err = run("--content", str(content), *args)
    assert code == 2
    assert message in err


def test_invalid_content_exits_1(tmp_path: Path) -> None:
    root = write_coverage_tree(
        tmp_path, {"atoms/broken.yaml": "slot: headline\nsegements: [vip]\n"}
    )
    code, _out, err = run("--content", str(root))
    assert code == 1
    assert "unknown field 'segements'" in err


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "table"])
def test_formats_on_stdout_and_out(content: Path, tmp_path: Path, fmt: str) -> None:
    base = ["--content", str(content), "--date", "2026-11-20", "--fail-on", "never"]
    code, out, err = run(*base, "--format", fmt)
    assert code == 0 and err == ""
    target = tmp_path / "reports" / f"coverage.{fmt}"
    code, out2, err2 = run(*base, "--format", fmt, "--out", str(target))
    assert code == 0 and out2 == ""
    assert err2 == f"wrote {target} (32 cells, 26 gaps)\n"
    assert target.read_text(encoding="utf-8") == out
    if fmt == "json":
        data = json.loads(out)
        assert data["version"] == 1 and data["date"] == "2026-11-20"
        assert len(data["cells"]) == 32
    elif fmt == "markdown":
        assert out.startswith("## Content coverage on 2026-11-20\n")
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and 'id="heatmap-table"' in out


def test_horizon_option(content: Path) -> None:
    base = ["--content", str(content), "--date", "2026-11-20", "--format", "json"]
    _code, out, _err = run(*base, "--horizon", "3")
    data = json.loads(out)
    assert data["horizon_days"] == 3 and data["summary"]["overall"]["expiring"] == 0
    _code, out, _err = run(*base)
    assert json.loads(out)["summary"]["overall"]["expiring"] == 4


def test_same_date_same_bytes(content: Path) -> None:
    args = ["--content", str(content), "--date", "2026-11-20", "--format", "json"]
    assert run(*args)[1] == run(*args)[1]


def test_help_documents_exit_codes() -> None:
    code, out, _err = run("--help")
    assert code == 0
    for text in (
        "--fail-on [missing|generic|never]",
        "--min-specific PCT",
        "Exit codes:",
        "2  usage error",
        "--horizon DAYS",
        "docs/coverage.md",
    ):
        assert text in out


def test_piped_table_fits_80_columns_and_drills_down(content: Path) -> None:
    base = ["--content", str(content), "--date", "2026-11-20", "--fail-on", "never"]
    _code, summary, _err = run(*base)
    assert max(map(len, summary.splitlines())) <= 80 and "…" not in summary
    _code, by_segment, _err = run(*base, "--segment", "vip")
    assert by_segment.startswith("Content coverage on 2026-11-20 (segment vip)\n")
    assert max(map(len, by_segment.splitlines())) <= 80
    _code, wide, _err = run(*base, "--wide")
    assert "…" not in wide
    code, _out, err = run(*base, "--segment", "vipp")
    assert code == 2
    assert "error: unknown segment 'vipp'" in err and "did you mean 'vip'?" in err
