"""Start-up stays cheap: the CLI imports no heavy library until a command runs.

Editors run ``atomic validate`` on every save; ``atomic --help`` should cost little more than
importing click (figures: benchmarks/bench_startup.py). Timing is not asserted here; what is
asserted is the cause: which modules the help loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
HEAVY = ("pydantic", "ruamel", "jinja2", "rich", "markdown_it", "babel", "mrml", "regex")


def loaded_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom atomic_content.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert heavy(loaded_after(code)) == []


def test_importing_the_package_imports_no_heavy_library() -> None:
    assert heavy(loaded_after("import atomic_content, atomic_content.errors")) == []


def test_build_and_validate_import_no_smtp_nor_studio() -> None:
    """What ``atomic build`` and ``atomic validate`` import: the library for them, never the
    mail client (``send-test``) nor the studio (``serve``), which the CLI imports in those
    commands only, nor the ``regex`` module, which only a ``$regex`` condition needs."""
    code = (
        "from atomic_content.cli import main\n"
        "import atomic_content.build, atomic_content.pipeline, atomic_content.validate"
    )
    loaded = loaded_after(code)
    assert "atomic_content.build" in loaded  # the probe did import the build
    unwanted = {"smtplib", "ssl", "atomic_content.sendtest", "atomic_content.serve", "regex"}
    assert sorted(unwanted & loaded) == []


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """``atomic ARGV`` as its own process (``main()`` without arguments), with an atexit hook
    that says whether the interpreter's normal exit ran."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('normal-exit\\n'))\n"
        f"sys.argv = ['atomic', *{list(argv)!r}]\n"
        "from atomic_content.cli import main\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )


def test_build_and_validate_end_without_the_interpreter_teardown(tmp_path: Path) -> None:
    """``atomic validate`` and ``atomic build`` end with os._exit once their output is flushed:
    same exit status, all of stdout (a pipe, so block-buffered) and stderr; other commands
    exit normally."""
    missing = tmp_path / "none"
    result = run_cli("validate", "--content", str(missing), "--format", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)[0]["code"]  # the whole report arrived
    assert "normal-exit" not in result.stderr
    result = run_cli("build", "--content", str(missing), "--out", str(tmp_path / "dist"))
    assert (result.returncode, "normal-exit" in result.stderr) == (1, False)
    assert "error" in result.stderr
    result = run_cli("--version")
    assert (result.returncode, "normal-exit" in result.stderr) == (0, True)


def test_a_no_op_build_answers_before_the_engine_is_imported(tmp_path: Path) -> None:
    """``atomic build`` when no input changed since the last build reads the content tree's
    lstat and one small file, and imports none of the engine's heavy libraries (it took three
    times as long when it did); a build that has work to do imports them."""
    from contentkit import write_tree

    content = write_tree(tmp_path / "content")
    out = tmp_path / "dist"
    argv = ["build", "--content", str(content), "--out", str(out), "--date", "2026-11-22"]
    code = (
        "import sys\nfrom atomic_content.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code"
    )
    first = loaded_after(code)
    assert "pydantic" in first and "jinja2" in first  # the first build did the work
    again = loaded_after(code)
    assert (out / "manifest.json").is_file()
    assert heavy(again) == []
    assert "atomic_content.models" not in again and "atomic_content.plan" not in again
