"""CLI tests through click's runner: output, formats and exit codes of validate, schema,
segments and resolve; plus the docs checks (every command documented, README == .ci/run)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from atomic_content.cli import json_text, main
from contentkit import write_tree

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# The base tree minus what the plan warns about: a German subject that never wins (one message,
# one language: without a German headline and body every message is English) and an empty
# preheader (the inbox fills it with body text).
CLEAN: dict[str, str | bytes | None] = {
    "atoms/subject-de.yaml": None,
    "atoms/preheader.yaml": "slot: preheader\nstatus: approved\n"
    "text: Everything you need for your first trail, picked by our team\n",
}


def test_validate_clean(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path, CLEAN)
    result = runner.invoke(main, ["validate", "--content", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no problems"


def test_validate_warnings_only_exit_0(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path)
    result = runner.invoke(main, ["validate", "--content", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(d["path"], d["line"], d["code"]) for d in json.loads(result.stdout)] == [
        ("atoms/subject-de.yaml", 1, "rank.shadowed"),
        ("journeys/welcome.yaml", 7, "email.preheader_short"),
    ]
    strict = runner.invoke(main, ["validate", "--content", str(tmp_path), "--strict"])
    assert strict.exit_code == 1


def test_validate_text_shows_source_caret_and_hint(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(
        tmp_path, {"atoms/h.yaml": "slot: headline\nstatus: approved\nsegments: [vipp]\ntext: Hi\n"}
    )
    result = runner.invoke(main, ["validate", "--content", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[:4] == [
        "atoms/h.yaml:3:12: error[ref.unknown_segment]: unknown segment 'vipp'",
        "     3 | segments: [vipp]",
        "       |            ^",
        "  hint: did you mean 'vip'? known segments: new, vip",
    ]
    assert result.output.splitlines()[-1] == "1 error"


def test_validate_json(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(
        tmp_path, {"atoms/h.yaml": "slot: headline\nstatus: approved\nsegments: [vipp]\ntext: Hi\n"}
    )
    result = runner.invoke(main, ["validate", "--content", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {
            "path": "atoms/h.yaml",
            "line": 3,
            "col": 12,
            "severity": "error",
            "code": "ref.unknown_segment",
            "message": "unknown segment 'vipp'",
            "hint": "did you mean 'vip'? known segments: new, vip",
        }
    ]


def test_validate_github_annotations_are_escaped(tmp_path: Path, runner: CliRunner) -> None:
    # A segment id cannot hold a newline, but a customer's locale value can: it is echoed in
    # the message and must not be able to start a workflow command of its own.
    write_tree(
        tmp_path,
        {
            "customers/evil.yaml": 'attributes:\n  id: X\n  locale: "fr\\n::set-output name=x::1"\n'
            "  tier: gold\n  orders: 1\n"
        },
    )
    result = runner.invoke(main, ["validate", "--content", str(tmp_path), "--format", "github"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "::error file=customers/evil.yaml,line=3,col=11,"
    )


def test_github_format_escapes_workflow_commands() -> None:
    from atomic_content.errors import Diagnostic, Severity
    from atomic_content.formatting import format_github

    evil = Diagnostic(
        "atoms/a,b:c.yaml", 2, 3, Severity.ERROR, "x.y", "bad\n::set-output name=x::1 100%", ""
    )
    assert format_github([evil]) == (
        "::error file=atoms/a%2Cb%3Ac.yaml,line=2,col=3,title=x.y::bad%0A::set-output name=x::1 100%25"
    )


def test_validate_strict_fails_on_warnings(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(
        tmp_path, {"atoms/u.yaml": "slot: offer\nstatus: approved\noffer: {code: X, headline: Y}\n"}
    )
    assert runner.invoke(main, ["validate", "--content", str(tmp_path)]).exit_code == 0
    assert runner.invoke(main, ["validate", "--content", str(tmp_path), "--strict"]).exit_code == 1


def test_usage_error_exit_code(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path)
    result = runner.invoke(main, ["validate", "--content", str(tmp_path), "--format", "xml"])
    assert result.exit_code == 2
    result = runner.invoke(
        main, ["resolve", "--content", str(tmp_path), "--customer", "zed", "--journey", "welcome"]
    )
    assert result.exit_code == 2
    assert "error: no sample customer 'zed' and no such file" in result.output
    result = runner.invoke(
        main, ["resolve", "--content", str(tmp_path), "--customer", "ada", "--journey", "welcom"]
    )
    assert result.exit_code == 2
    assert "did you mean 'welcome'?" in result.output


def test_commands_on_invalid_content_exit_1_with_diagnostics(
    tmp_path: Path, runner: CliRunner
) -> None:
    write_tree(tmp_path, {"atoms/h.yaml": "slot: headlin\ntext: Hi\n"})
    result = runner.invoke(main, ["segments", "--content", str(tmp_path), "--customer", "ada"])
    assert result.exit_code == 1
    assert "atoms/h.yaml:1:7: error[ref.unknown_slot]" in result.output
    assert "Traceback" not in result.output


def test_schema_writes_every_kind(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["schema", "--content", str(REPO / "content"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        f"{k}.schema.json"
        for k in sorted(
            [
                "atom",
                "customer",
                "experiment",
                "journey",
                "layout",
                "manifest",
                "profile",
                "segment",
                "settings",
                "strings",
            ]
        )
    ]
    atom = json.loads((tmp_path / "atom.schema.json").read_text())
    assert "segments" in atom["properties"] and atom["additionalProperties"] is False


def test_committed_schemas_are_current(tmp_path: Path, runner: CliRunner) -> None:
    runner.invoke(main, ["schema", "--content", str(REPO / "content"), "--out", str(tmp_path)])
    for fresh in tmp_path.iterdir():
        committed = REPO / "schemas" / fresh.name
        assert committed.read_text() == fresh.read_text(), (
            f"run `atomic schema` to refresh {committed}"
        )


def test_segments_text_and_json(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path)
    result = runner.invoke(main, ["segments", "--content", str(tmp_path), "--customer", "ada"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "customer ada: vip",
        "✓ vip (priority 50) — VIP",
        '    pass: {"tier": {"$in": ["gold", "platinum"]}}   attribute: given',
    ]
    data = json.loads(
        runner.invoke(
            main, ["segments", "--content", str(tmp_path), "--customer", "ada", "--format", "json"]
        ).stdout
    )
    assert data["segments"] == ["vip"] and data["consent_refused"] is False


def test_resolve_json_and_explain(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path)
    args = [
        "resolve",
        "--content",
        str(tmp_path),
        "--customer",
        "ada",
        "--journey",
        "welcome",
        "--step",
        "day-0",
        "--channel",
        "email",
        "--date",
        "2026-11-22",
        "--format",
        "json",
        "--explain",
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    (res,) = json.loads(result.stdout)
    assert res["audience"]["id"] == "vip"
    assert res["audience"]["segment"] == "vip"
    assert res["audience"]["matched_segments"] == ["vip"]
    assert res["slots"]["headline"]["atom"] == "headline-vip"
    assert {
        "atom": "headline",
        "verdict": "lost",
        "reason": "outranked by headline-vip: generic loses to segment-targeted",
    } in res["slots"]["headline"]["candidates"]
    text = runner.invoke(main, [*args[:-3], "--explain"])
    flat = [" ".join(line.split()) for line in text.output.splitlines()]
    assert (
        "headline headline-vip [required] targets the audience's segment 'vip', locale en" in flat
    )


def test_resolve_customer_file(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path)
    customer = tmp_path / "me.json"
    customer.write_text(json.dumps({"id": "C-7", "locale": "de", "tier": "gold", "orders": 1}))
    result = runner.invoke(
        main,
        [
            "resolve",
            "--content",
            str(tmp_path),
            "--customer",
            str(customer),
            "--journey",
            "welcome",
            "--step",
            "day-0",
            "--channel",
            "email",
            "--date",
            "2026-11-22",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "welcome / day-0 / email / de" in result.output


def test_bad_date_is_a_usage_error(tmp_path: Path, runner: CliRunner) -> None:
    write_tree(tmp_path)
    result = runner.invoke(
        main,
        [
            "resolve",
            "--content",
            str(tmp_path),
            "--customer",
            "ada",
            "--journey",
            "welcome",
            "--date",
            "31.12.2026",
        ],
    )
    assert result.exit_code == 2
    assert "is not a date like 2026-12-31" in result.output


def test_demo_content_validates(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "--content", str(REPO / "content")])
    assert result.exit_code == 0, result.output


# -- documentation checks ---------------------------------------------------------------------


def test_every_command_is_documented() -> None:
    reference = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, command in sorted(main.commands.items()):
        assert f"## atomic {name}" in reference, f"docs/cli.md has no section for `atomic {name}`"
        assert f"`atomic {name}" in readme, f"README's command table lacks `atomic {name}`"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in reference, (
                        f"docs/cli.md does not mention {opt} of `atomic {name}`"
                    )


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.S)
    install_and_run, install_and_test = blocks[0], blocks[1]
    assert install_and_run.startswith("python3 -m venv .venv && ")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test in ci.splitlines()


def test_github_annotations_name_files_from_the_repository_root(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "content", {"atoms/h.yaml": "slot: headlin\ntext: Hi\n"})
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["validate", "--format", "github"])
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "::error file=content/atoms/h.yaml,line=1,col=7,title=ref.unknown_slot::"
    )


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_JSON_VALUES)
def test_json_reports_are_the_same_document_as_the_standard_encoder(value: object) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_json_reports_put_each_list_item_on_one_line() -> None:
    value = {"out": "dist", "warnings": [{"code": "a", "line": 1}, {"code": "b\nc", "line": 2}]}
    assert json_text(value) == (
        "{\n"
        '  "out": "dist",\n'
        '  "warnings": [\n'
        '    {"code": "a", "line": 1},\n'
        '    {"code": "b\\nc", "line": 2}\n'
        "  ]\n"
        "}"
    )
    assert json_text({"nested": {"empty": [], "none": {}}}) == (
        '{\n  "nested": {\n    "empty": [],\n    "none": {}\n  }\n}'
    )


def test_build_and_validate_keep_their_results_until_the_quick_exit(
    tmp_path: Path, runner: CliRunner
) -> None:
    """The command line's own run of `build` and `validate` holds the result (a whole
    library, plan and rendered variants) until quick_exit ends the process, so that nothing
    is freed object by object first; run inside another program, it holds nothing."""
    from atomic_content import cli

    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    assert (
        runner.invoke(main, ["build", "--content", str(content), "--out", str(out)]).exit_code == 0
    )
    assert runner.invoke(main, ["validate", "--content", str(content)]).exit_code == 0
    assert cli._KEPT == []
    script = (
        "import sys\n"
        "import atomic_content.cli as cli\n"
        "ending = cli.quick_exit\n"
        "def report(code):\n"
        "    print(sys.argv[1], [type(kept).__name__ for kept in cli._KEPT], file=sys.stderr)\n"
        "    ending(code)\n"
        "cli.quick_exit = report\n"
        "cli.main()\n"
    )
    for args in (
        ["build", "--content", str(content), "--out", str(out), "--format", "json"],
        ["validate", "--content", str(content)],
    ):
        done = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        kept = {"build": "['BuildResult']", "validate": "['Library']"}[args[0]]
        assert f"{args[0]} {kept}" in done.stderr


def test_only_the_command_lines_own_process_collects_less_often(runner: CliRunner) -> None:
    """The command line's own run raises the collector's thresholds (a rebuild of a large
    library spent a tenth of a second in collections that freed nothing); a program that runs
    it through CliRunner keeps its own."""
    import gc

    from atomic_content.collector import BATCH_THRESHOLDS

    before = gc.get_threshold()
    assert before != BATCH_THRESHOLDS
    assert runner.invoke(main, ["--version"]).exit_code == 0
    assert gc.get_threshold() == before
    script = (
        "import gc, sys\n"
        "import atomic_content.cli as cli\n"
        "try:\n"
        "    cli.main()\n"
        "finally:\n"
        "    print('thresholds', gc.get_threshold(), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"thresholds {BATCH_THRESHOLDS}" in done.stderr
