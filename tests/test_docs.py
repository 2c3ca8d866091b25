"""The documentation is well-formed and its examples are true.

Every Markdown file (docs/*.md, README.md) is parsed with markdown-it: a code fence that is not
closed swallows the rest of the page (a `governance:` block once fell outside its fence). Every
```yaml block parses as YAML 1.2; a block marked as a whole file with
``<!-- file: content/<path> -->`` on the line before its fence is written at that path into a
copy of the demo content, which must then validate without an error in that file.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from atomic_content.errors import Diagnostic, Severity
from atomic_content.repository import Library
from atomic_content.validate import static_check
from atomic_content.yamlio import parse_yaml_text

REPO = Path(__file__).resolve().parent.parent
PAGES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
MARKER = re.compile(r"<!-- file: (content/[^\s>]+)")


@dataclass(frozen=True)
class Example:
    page: str
    line: int  # 1-based line of the opening fence
    info: str
    text: str
    file: str | None  # path inside the content folder, for a whole-file example


def examples() -> list[Example]:
    found = []
    for page in PAGES:
        source = page.read_text(encoding="utf-8")
        lines = source.split("\n")
        for token in MarkdownIt("commonmark").parse(source):
            if token.type != "fence" or token.map is None:
                continue
            start = token.map[0]
            before = lines[start - 1] if start else ""
            marker = MARKER.search(before)
            found.append(
                Example(
                    page.name,
                    start + 1,
                    token.info.strip(),
                    token.content,
                    marker.group(1).removeprefix("content/") if marker else None,
                )
            )
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_fence_is_closed(page: Path) -> None:
    source = page.read_text(encoding="utf-8")
    lines = source.split("\n")
    for token in MarkdownIt("commonmark").parse(source):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        opening = FENCE.match(lines[start])
        closing = FENCE.match(lines[end - 1]) if end - 1 > start else None
        assert opening is not None
        assert closing is not None and closing.group(1)[0] == opening.group(1)[0], (
            f"{page.name}:{start + 1}: this code fence is never closed; it swallows the rest of "
            "the page"
        )


def test_markers_sit_on_yaml_fences() -> None:
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines):
            if MARKER.search(line):
                nxt = lines[number + 1].strip() if number + 1 < len(lines) else ""
                assert nxt == "```yaml", (
                    f"{page.name}:{number + 1}: a file marker must precede a ```yaml fence"
                )


YAML = [e for e in examples() if e.info == "yaml"]
WHOLE_FILES = [e for e in YAML if e.file is not None]


def test_the_whole_file_examples_are_marked() -> None:
    # Guard against markers disappearing: the content format shows one of each file kind.
    assert {e.file.split("/")[0] for e in WHOLE_FILES if e.file} >= {
        "atomic.yaml",
        "profile.yaml",
        "segments",
        "atoms",
        "journeys",
        "layouts",
        "customers",
    }


@pytest.mark.parametrize("example", YAML, ids=[f"{e.page}:{e.line}" for e in YAML])
def test_every_yaml_example_parses(example: Example) -> None:
    doc, problem = parse_yaml_text(example.text, f"{example.page}:{example.line}")
    assert problem is None, problem
    assert doc is not None


@pytest.fixture(scope="module")
def docs_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, list[Diagnostic]]:
    """The demo content with every whole-file example written over it: together they are one
    consistent project (the customer example matches the profile example, ...)."""
    root = Path(shutil.copytree(REPO / "content", tmp_path_factory.mktemp("docs") / "content"))
    for example in WHOLE_FILES:
        assert example.file is not None
        target = root / example.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(example.text, encoding="utf-8")
    library, diagnostics = static_check(root)
    return library, list(diagnostics)


@pytest.mark.parametrize("example", WHOLE_FILES, ids=[e.file or "" for e in WHOLE_FILES])
def test_whole_file_examples_validate(
    example: Example, docs_project: tuple[Library, list[Diagnostic]]
) -> None:
    """The example loads and has no error (other demo files may break: not its concern)."""
    library, diagnostics = docs_project
    errors = [
        f"{d.path}:{d.line}:{d.col}: {d.code}: {d.message}"
        for d in diagnostics
        if d.severity is Severity.ERROR and d.path == example.file
    ]
    assert errors == [], f"{example.page}:{example.line}"
    assert example.file in set(library.paths.values()), f"{example.file} did not load"
