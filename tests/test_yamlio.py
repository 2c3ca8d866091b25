"""yamlio: safe parsing never raises, positions are right, the quick position path agrees with
the round-trip tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomic_content.yamlio import YamlDocument, parse_yaml_text

REPO = Path(__file__).resolve().parent.parent


def slow_position(doc: YamlDocument, loc: tuple[str | int, ...], key: bool) -> tuple[int, int]:
    fresh = YamlDocument(doc.path, doc.data, doc.text)
    fresh._top_level_position = lambda loc, key: None  # type: ignore[method-assign]
    return fresh.position(loc, key=key)


def test_quick_positions_agree_with_the_tree_on_the_demo() -> None:
    checked = 0
    for path in sorted((REPO / "content").rglob("*.yaml")):
        doc, problem = parse_yaml_text(path.read_bytes(), path.name)
        assert problem is None and doc is not None
        for name in [*doc.data, "no-such-key"]:
            for key in (True, False):
                quick = doc._top_level_position((name,), key)
                if quick is not None:
                    assert quick == slow_position(doc, (name,), key), (path, name, key)
                    checked += 1
    assert checked > 1000


def test_positions_of_nested_keys_and_items() -> None:
    doc, _ = parse_yaml_text(b"a: 1\nb:\n  c: [x, y]\n  d: |\n    text\n", "t.yaml")
    assert doc is not None
    assert doc.position(("a",)) == (1, 4)
    assert doc.position(("a",), key=True) == (1, 1)
    assert doc.position(("b", "c", 1)) == (3, 10)
    assert doc.position(("b", "d")) == (4, 6)
    assert doc.position(("b", "missing")) == (3, 3)  # the deepest existing parent


def test_yaml_12_semantics_and_plain_types() -> None:
    doc, _ = parse_yaml_text(b"a: yes\nb: 2026-01-31\nc: 1.5\nd: ~\n", "t.yaml")
    assert doc is not None
    assert doc.data == {
        "a": "yes",
        "b": __import__("datetime").date(2026, 1, 31),
        "c": 1.5,
        "d": None,
    }


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    doc, problem = parse_yaml_text(raw, "fuzz.yaml")
    assert (doc is None) != (problem is None)
    if problem is not None:
        assert problem.code.startswith(("yaml.", "io."))
        assert problem.line >= 0 and problem.col >= 0


yaml_ish = st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>#'\" \n\t,?%@`0x")), max_size=200)


@settings(max_examples=200, deadline=None)
@given(yaml_ish)
def test_yaml_like_text_never_raises_and_positions_stay_in_the_file(text: str) -> None:
    doc, problem = parse_yaml_text(text, "fuzz.yaml")
    if problem is not None:
        assert problem.code.startswith("yaml.")
        assert problem.line <= text.count("\n") + 2
        return
    assert doc is not None
    if isinstance(doc.data, dict):
        for name in doc.data:
            line, _col = doc.position((name,), key=True)
            assert 1 <= line <= text.count("\n") + 1


def test_parse_cache_gives_the_same_data_and_survives_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atomic_content import yamlio

    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    files = sorted((REPO / "content").rglob("*.yaml"))[:40]
    first = [yamlio.read_yaml_file(p)[0] for p in files]
    entries = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == len({d.sha256 for d in first if d is not None and d.data is not None})
    second = [yamlio.read_yaml_file(p)[0] for p in files]
    for a, b in zip(first, second, strict=True):
        assert a is not None and b is not None
        assert a.data == b.data and a.text == b.text  # dates come back as dates
    for entry in entries:
        entry.write_text("{not json")
    third = [yamlio.read_yaml_file(p)[0] for p in files]
    assert [d.data for d in third if d] == [d.data for d in first if d]


def test_parse_cache_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from atomic_content import yamlio

    monkeypatch.setenv("ATOMIC_CACHE_DIR", "off")
    assert yamlio.cache_dir() is None
    source = tmp_path / "a.yaml"
    source.write_text("a: 2026-01-31\n")
    doc, _ = yamlio.read_yaml_file(source)
    assert doc is not None and doc.data == {"a": __import__("datetime").date(2026, 1, 31)}
