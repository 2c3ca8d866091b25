"""Source lines in text diagnostics: quoted from regular files inside the content root only,
each diagnostic from its own file, also when a report names many files."""

from __future__ import annotations

from pathlib import Path

from atomic_content.errors import Diagnostic, Severity
from atomic_content.formatting import format_text


def warn(path: str, line: int) -> Diagnostic:
    return Diagnostic(path, line, 1, Severity.WARNING, "atom.x", "m")


def quoted(text: str) -> list[str]:
    """The quoted source lines (``   3 | text``), without the caret lines."""
    return [
        line.split(" | ", 1)[1]
        for line in text.split("\n")
        if " | " in line and line.split(" | ", 1)[0].strip().isdigit()
    ]


def test_each_diagnostic_quotes_its_own_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "atoms" / "j").mkdir(parents=True)
    (tmp_path / "atoms" / "a.yaml").write_text("a1\na2\r\n")
    (tmp_path / "atoms" / "j" / "b.yaml").write_text("b1\nb2\nb3")
    report = [
        warn("atoms/a.yaml", 2),
        warn("atoms/a.yaml", 3),  # past the last line: nothing quoted
        warn("atoms/j/b.yaml", 3),  # the last line, without a line end
        warn("atoms/a.yaml", 1),  # back to a file read before
        warn("atoms/j/../a.yaml", 1),
        warn("atoms/missing.yaml", 1),
        warn("atoms/j", 1),  # a folder
    ]
    assert quoted(format_text(report, tmp_path)) == ["a2", "b3", "a1", "a1"]
    assert quoted(format_text(report, None)) == []


def test_no_line_through_a_link_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "s.yaml").write_text("password\n")
    root = tmp_path / "content"
    (root / "atoms").mkdir(parents=True)
    (root / "atoms" / "in.yaml").write_text("inside\n")
    (root / "atoms" / "link.yaml").symlink_to(outside / "s.yaml")
    (root / "atoms" / "ok.yaml").symlink_to(root / "atoms" / "in.yaml")
    (root / "out").symlink_to(outside)
    report = [
        warn("atoms/link.yaml", 1),
        warn("out/s.yaml", 1),
        warn("../secret/s.yaml", 1),
        warn("..", 1),
        warn("atoms/..", 1),
        warn("atoms/ok.yaml", 1),
    ]
    assert quoted(format_text(report, root)) == ["inside"]
    # The root itself may be a link: the files below it are still inside.
    (tmp_path / "alias").symlink_to(root)
    assert quoted(format_text([warn("atoms/in.yaml", 1)], tmp_path / "alias")) == ["inside"]
