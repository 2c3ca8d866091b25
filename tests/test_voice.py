"""One voice: one diagnostic format, lower-case messages without full stops, correct plurals,
colour on a terminal for every command (and never when piped or with NO_COLOR)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

import atomic_content
from atomic_content.errors import Diagnostic, Severity, plural
from atomic_content.formatting import format_text, summary_line
from atomic_content.validate import check_content
from contentkit import write_tree
from test_bad_inputs import ALONE, CASES, RENDER_CASES

SRC = Path(atomic_content.__file__).resolve().parents[1]
CAPITALISED = re.compile(r"^[A-Z][a-z]")  # "This token", not "YAML syntax error"


def _voice_problems(diagnostics: list[Diagnostic]) -> list[str]:
    found = []
    for d in diagnostics:
        for kind, text in (("message", d.message), ("hint", d.hint)):
            if text and (CAPITALISED.match(text) or text.endswith(".")):
                found.append(f"{d.code} {kind}: {text}")
    return found


def test_every_bad_input_speaks_in_one_voice(tmp_path: Path) -> None:
    files: dict[str, str | bytes | None] = {}
    for case in CASES:
        if case.id not in ALONE:
            files.update(case.files)
    write_tree(tmp_path / "all", files)
    _library, diagnostics = check_content(tmp_path / "all")
    seen = list(diagnostics)
    for case in [*RENDER_CASES, *(c for c in CASES if c.id in ALONE or c.id == "unused-atom")]:
        write_tree(tmp_path / case.id, case.files)
        seen.extend(check_content(tmp_path / case.id)[1])
    assert len({d.code for d in seen}) >= 35
    assert _voice_problems(seen) == []


def test_plurals() -> None:
    assert plural(1, "warning") == "1 warning"
    assert plural(0, "warning") == "0 warnings"
    assert plural(2, "variant") == "2 variants"

    def diag(severity: Severity) -> Diagnostic:
        return Diagnostic("a.yaml", 1, 1, severity, "x.y", "m")

    assert summary_line([diag(Severity.WARNING)]) == "1 warning"
    assert summary_line([diag(Severity.ERROR), diag(Severity.ERROR)]) == "2 errors"
    assert summary_line([diag(Severity.ERROR), diag(Severity.HINT)]) == "1 error, 1 hint"
    assert summary_line([]) == "no problems"


def test_one_diagnostic_format() -> None:
    d = Diagnostic("atoms/a.yaml", 3, 7, Severity.HINT, "schema.stale", "msg", "do this")
    assert format_text([d]).splitlines() == [
        "atoms/a.yaml:3:7: hint[schema.stale]: msg",
        "  hint: do this",
    ]


def _run_in_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; returns what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "atomic_content.cli", *args],
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


SGR = re.compile(r"\x1b\[[0-9;]*m")
BROKEN = {"atoms/h.yaml": "slot: headlin\nstatus: approved\ntext: Hi\n"}


@pytest.mark.skipif(sys.platform != "linux", reason="needs a Linux pseudo-terminal")
@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--content", "content"],
        ["build", "--content", "content", "--out", "dist"],
        ["segments", "--content", "content", "--customer", "ada"],
    ],
    ids=["validate", "build", "segments"],
)
def test_colour_on_a_terminal_only(tmp_path: Path, args: list[str]) -> None:
    write_tree(tmp_path / "content", BROKEN)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONPATH"] = str(SRC)
    env["TERM"] = "xterm"
    shown = _run_in_terminal(args, env, tmp_path)
    assert "\x1b[1;31merror[ref.unknown_slot]\x1b[0m" in shown, shown
    assert "\x1b[36mhint\x1b[0m:" in shown
    plain = _run_in_terminal(args, {**env, "NO_COLOR": "1"}, tmp_path)
    assert "atoms/h.yaml:1:7: error[ref.unknown_slot]" in plain
    assert not SGR.search(plain)  # no colour (a progress bar may still move the cursor)
    piped = subprocess.run(
        [sys.executable, "-m", "atomic_content.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert "atoms/h.yaml:1:7: error[ref.unknown_slot]" in piped.stderr
    assert "\x1b[" not in piped.stdout + piped.stderr


def test_a_hint_is_a_notice_on_github() -> None:
    from atomic_content.formatting import format_github

    d = Diagnostic("../schemas", 0, 0, Severity.HINT, "schema.stale", "stale", "run it")
    assert format_github([d]).startswith("::notice file=../schemas,title=schema.stale::stale")
