"""The load cache changes nothing but speed: cached, partly cached and uncached loads give
equal libraries and equal diagnostics (positions, codes, messages, hints, severities)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content.pipeline import DateRange, check
from atomic_content.repository import Library
from atomic_content.validate import static_check
from contentkit import write_tree
from test_bad_inputs import CASES, CLEAN

DAY = dt.date(2026, 11, 22)
FILE_CASES = [case for case in CASES if all(isinstance(v, str) for v in case.files.values())]


def full(diagnostics: Any) -> list[tuple[Any, ...]]:
    return [
        (d.path, d.line, d.col, d.severity.value, d.code, d.message, d.hint) for d in diagnostics
    ]


def shape(library: Library) -> dict[str, Any]:
    return {
        "settings": library.settings,
        "profile": library.profile,
        "segments": library.segments,
        "atoms": library.atoms,
        "journeys": library.journeys,
        "layouts": library.layouts,
        "customers": library.customers,
        "paths": library.paths,
        "file_hashes": library.file_hashes,
        "broken": library.broken,
        "documents": {
            path: (doc.path, doc.data, doc.text, doc.sha256)
            for path, doc in library.documents.items()
        },
    }


def load(root: Path, cache: Path | None, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(cache) if cache is not None else "off")
    library, diagnostics = static_check(root, DAY)
    return shape(library), full(diagnostics)


cases = st.lists(st.sampled_from(FILE_CASES), min_size=1, max_size=4, unique_by=lambda c: c.id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(first=cases, then=cases)
def test_cached_and_uncached_loads_agree(
    monkeypatch: pytest.MonkeyPatch, first: list[Any], then: list[Any]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root, cache = Path(folder) / "content", Path(folder) / "cache"
        files: dict[str, str | bytes | None] = {}
        for case in first:
            files.update(case.files)
        write_tree(root, files)
        plain = load(root, None, monkeypatch)
        assert load(root, cache, monkeypatch) == plain  # cold: fills the cache
        assert load(root, cache, monkeypatch) == plain  # warm: everything from the cache
        # Edit: other broken files on top; the unchanged files come from the cache.
        for case in then:
            for name, text in case.files.items():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                assert isinstance(text, str)
                target.write_text(text, encoding="utf-8")
        edited = load(root, None, monkeypatch)
        assert load(root, cache, monkeypatch) == edited


def test_an_edit_of_settings_rechecks_every_atom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Atom checks read the settings (slots, locales ...): their cached results are keyed by
    every non-atom file too, so a settings edit shows up in every atom it affects."""
    root = write_tree(tmp_path / "content", CLEAN)
    cache = tmp_path / "cache"
    _shape, before = load(root, cache, monkeypatch)
    assert before == []
    settings_file = root / "atomic.yaml"
    settings_file.write_text(
        settings_file.read_text().replace("  headline: {kind: line}\n", ""), encoding="utf-8"
    )
    _shape, after = load(root, cache, monkeypatch)
    assert after == load(root, None, monkeypatch)[1]
    assert any(d[4] == "ref.unknown_slot" and d[0].startswith("atoms/") for d in after)


def test_a_journey_that_does_not_parse_is_known_and_a_deleted_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Atom checks read which ids belong to files that did not load (a reference to one is no
    error): a file that does not even parse has no digest, so the cached atom results are
    keyed by those ids too, and deleting the file shows the reference as unknown."""
    atom = "slot: headline\nstatus: approved\njourneys: [welcome]\ntext: Hi\n"
    root = write_tree(tmp_path / "content", {"atoms/welcome-headline.yaml": atom})
    cache = tmp_path / "cache"
    (root / "journeys" / "welcome.yaml").write_text("name: Welcome\nsteps: [\n")
    _shape, broken = load(root, cache, monkeypatch)
    assert [(d[0], d[4]) for d in broken] == [("journeys/welcome.yaml", "yaml.syntax")]
    (root / "journeys" / "welcome.yaml").unlink()
    _shape, deleted = load(root, cache, monkeypatch)
    assert deleted == load(root, None, monkeypatch)[1]
    assert [(d[0], d[4]) for d in deleted] == [
        ("atoms/welcome-headline.yaml", "ref.unknown_journey")
    ]


def test_a_damaged_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "content", {"atoms/typo.yaml": "slot: headline\nsegements: []\n"})
    cache = tmp_path / "cache"
    expected = load(root, None, monkeypatch)
    assert load(root, cache, monkeypatch) == expected
    entries = list(cache.rglob("*.cache"))
    assert entries and all(b"segements" in entry.read_bytes() for entry in entries)
    for entry in entries:
        entry.write_bytes(entry.read_bytes().replace(b"segements", b"segments"))
    assert load(root, cache, monkeypatch) == expected
    for entry in cache.rglob("*.cache"):
        entry.write_text('{"engine": 1, "files": []')
    assert load(root, cache, monkeypatch) == expected
    for entry in cache.rglob("*.cache"):
        entry.write_bytes(entry.read_bytes()[:-20])
    assert load(root, cache, monkeypatch) == expected


def test_a_new_asset_file_rechecks_the_atoms_that_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Atom checks read the names under assets/ (an image `src: assets/...` must exist)."""
    atom = "slot: image\nstatus: approved\nsegments: [vip]\nimage: {src: assets/hero.png, alt: A}\n"
    root = write_tree(tmp_path / "content", {"atoms/hero.yaml": atom})
    cache = tmp_path / "cache"
    _shape, before = load(root, cache, monkeypatch)
    assert any(d[4] == "ref.unknown_asset" for d in before)
    (root / "assets").mkdir()
    (root / "assets" / "hero.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _shape, after = load(root, cache, monkeypatch)
    assert after == load(root, None, monkeypatch)[1]
    assert not any(d[4] == "ref.unknown_asset" for d in after)


def test_positions_the_tree_answered_are_kept_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A position only the round-trip tree can answer (here a limit problem at a journey's
    step, which the render stage reports) is kept with its document in the load cache: the
    next run answers it without building the tree, and answers it the same."""
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    root = write_tree(tmp_path / "content")
    checked = check(root, DateRange.of(DAY))
    assert [(d.code, d.path, d.line, d.col) for d in checked.diagnostics.warnings] == [
        ("rank.shadowed", "atoms/subject-de.yaml", 1, 7),
        ("email.preheader_short", "journeys/welcome.yaml", 7, 23),
    ]
    loc = ("steps", 0, "channels", "email")
    library, _diagnostics = static_check(root, DAY)
    doc = library.documents["journeys/welcome.yaml"]
    assert doc.positions == {(loc, False): (7, 23)} and not doc.grown
    assert doc.position(loc) == (7, 23)
    assert doc._parsed_tree is None  # answered from the cache
    # Not yet asked: answered by the tree, remembered and saved with the document.
    other = ("steps", 0, "channels")
    assert doc.position(other, key=True) == (7, 5)
    assert doc.grown and doc._parsed_tree is not None
    library, _diagnostics = static_check(root, DAY, keep_cache=True)
    assert library.load_cache is not None
    doc = library.documents["journeys/welcome.yaml"]
    doc.position(other, key=True)
    library.load_cache.save_positions()
    doc = static_check(root, DAY)[0].documents["journeys/welcome.yaml"]
    assert doc.positions == {(loc, False): (7, 23), (other, True): (7, 5)}
    fresh = static_check(root, DAY, keep_cache=False)  # the same answers as a tree's
    assert fresh[0].documents["journeys/welcome.yaml"]._tree_position(other, True) == (7, 5)


def test_cached_positions_that_are_not_positions_refuse_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    root = write_tree(tmp_path / "content")
    loc = ("steps", 0, "channels", "email")
    for bad in ("7:23", (7,), (7, "23"), (7.0, 23)):
        library, _diagnostics = static_check(root, DAY, keep_cache=True)
        assert library.load_cache is not None
        doc = library.documents["journeys/welcome.yaml"]
        doc.positions = {(loc, False): bad}  # type: ignore[dict-item]
        doc.grown = True
        library.load_cache.save_positions()
        doc = static_check(root, DAY)[0].documents["journeys/welcome.yaml"]
        assert doc.positions is None  # read again from the file, not taken from the cache
        assert doc.position(loc) == (7, 23)


def test_validate_reads_the_limit_problems_from_the_cache_without_the_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm ``atomic validate`` reads each variant's manifest entry from the shared variant
    cache, not its rendered bytes, and reports exactly what the run that rendered them did."""
    from atomic_content import variants
    from atomic_content.validate import check_content

    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(tmp_path / "cache"))
    root = write_tree(tmp_path / "content")
    read: list[variants.VariantOutput | None] = []
    original = variants.VariantCache.get

    def get(
        self: variants.VariantCache, key: str, variant: variants.PlannedVariant
    ) -> variants.VariantOutput | None:
        found = original(self, key, variant)
        read.append(found)
        return found

    monkeypatch.setattr(variants.VariantCache, "get", get)
    _library, rendering = check_content(root, DAY)
    assert read and all(found is None for found in read)  # the first run renders them all
    read.clear()
    _library, cached = check_content(root, DAY)
    assert read and all(found is not None and found.entry_only for found in read)
    assert all(not found.files and not found.message for found in read if found is not None)
    assert list(cached) == list(rendering)
    assert "email.preheader_short" in {d.code for d in cached}  # from the entries read
    # A damaged entry is a miss here too: rendered again, and the same problems.
    for entry in (tmp_path / "cache").rglob("*.variant"):
        entry.write_bytes(entry.read_bytes().replace(b'"warnings": [', b'"warnings": ['[:-1]))
    read.clear()
    _library, again = check_content(root, DAY)
    assert read and all(found is None for found in read)
    assert list(again) == list(rendering)


def test_validate_prunes_the_shared_variant_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared cache does not grow without end: a validate that looks (once a day) deletes
    entries no run wrote for two weeks that it does not use, and older formats' folders."""
    import os
    import time

    from atomic_content.validate import check_content
    from atomic_content.variants import PRUNE_AFTER_SECONDS, SHARED_FOLDER

    cache = tmp_path / "cache"
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(cache))
    root = write_tree(tmp_path / "content")
    check_content(root, DAY)
    shared = cache / SHARED_FOLDER
    used = sorted(shared.glob("??/*.variant"))
    assert used
    old = time.time() - PRUNE_AFTER_SECONDS - 3600
    unused = shared / "ab" / ("ab" + "1" * 62 + ".variant")
    unused.parent.mkdir(exist_ok=True)
    unused.write_bytes(b"x")
    for path in [*used, unused]:
        os.utime(path, (old, old))
    retired = cache / "variants-v2" / "ab" / ("ab" + "2" * 62 + ".json")
    retired.parent.mkdir(parents=True)
    retired.write_text("{}")
    check_content(root, DAY)  # looked less than a day ago: nothing goes
    assert unused.exists() and retired.exists()
    (shared / "pruned").unlink()
    check_content(root, DAY)
    assert not unused.exists() and not (cache / "variants-v2").exists()
    assert all(path.exists() for path in used)
