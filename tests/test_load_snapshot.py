"""The load cache keeps validated models and remembers digests by lstat, and ``jobs`` > 1 loads
and checks in forked workers: none of it may change a library or a diagnostic.

Every test compares with a load without any cache (``ATOMIC_CACHE_DIR=off``, one process),
field by field (see :func:`test_load_cache.shape` and :func:`test_load_cache.full`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atomic_content import inputs, repository, validate
from atomic_content.manifest import sha256_hex
from atomic_content.validate import static_check
from test_load_cache import full, shape

REPO = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 11, 22)
_TICK = [0]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the demo content whose digests the load cache remembers at once (the racy
    rule would otherwise make it hash every file just written again, which hides bugs)."""
    root = tmp_path / "content"
    shutil.copytree(REPO / "content", root)
    monkeypatch.setattr(inputs, "RACY_NANOSECONDS", -(10**18))
    return root


def check(
    root: Path, cache: Path | None, monkeypatch: pytest.MonkeyPatch, jobs: int = 1, on: Any = DAY
) -> tuple[Any, Any]:
    monkeypatch.setenv("ATOMIC_CACHE_DIR", str(cache) if cache is not None else "off")
    library, diagnostics = static_check(root, on, jobs=jobs)
    return shape(library), full(diagnostics)


def write(path: Path, text: str) -> None:
    """Write ``path`` and give it an mtime of its own: two writes within one clock tick of the
    file system could otherwise leave the same lstat (the racy rule is off here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _TICK[0] += 1
    os.utime(path, ns=(1_700_000_000 * 10**9 + _TICK[0], 1_700_000_000 * 10**9 + _TICK[0]))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    write(path, text.replace(old, new, 1))


ATOM = "atoms/welcome/welcome-day0-body-app-de.yaml"
EDITS: list[tuple[str, Callable[[Path], None]]] = [
    ("atom text", lambda r: edit(r / ATOM, "Hier merken", "Hier notieren")),
    ("atom text, same size", lambda r: edit(r / ATOM, "Hier notieren", "Dort notieren")),
    ("atom status", lambda r: edit(r / ATOM, "status: approved", "status: draft")),
    (
        "atom added",
        lambda r: write(
            r / "atoms/welcome/extra.yaml",
            (r / ATOM).read_text().replace("welcome-day0-body-app-de", "extra"),
        ),
    ),
    ("atom duplicate id", lambda r: write(r / "atoms/shared/dup.yaml", (r / ATOM).read_text())),
    ("duplicate removed", lambda r: (r / "atoms/shared/dup.yaml").unlink()),
    (
        "atom renamed",
        lambda r: (r / "atoms/welcome/extra.yaml").rename(r / "atoms/winback/extra-moved.yaml"),
    ),
    ("atom deleted", lambda r: (r / ATOM).unlink()),
    (
        "atom invalid",
        lambda r: edit(
            r / "atoms/winback/extra-moved.yaml", "slot: body", "slot: body\nsegements: [vip]"
        ),
    ),
    ("atom unparsable", lambda r: write(r / "atoms/shared/broken.yaml", "slot: [body\n")),
    ("atom repaired", lambda r: write(r / "atoms/shared/broken.yaml", "slot: body\ntext: Hi\n")),
    (
        "atom valid again",
        lambda r: edit(r / "atoms/winback/extra-moved.yaml", "segements: [vip]\n", ""),
    ),
    ("segment", lambda r: edit(r / "segments/vip.yaml", "priority: 90", "priority: 91")),
    (
        "journey step removed",
        lambda r: edit(
            r / "journeys/welcome.yaml",
            "    channels: {email: standard, app: push-card}",
            "    channels: {email: standard}",
        ),
    ),
    ("layout", lambda r: edit(r / "layouts/email/promo.yaml", "  image: optional\n", "")),
    ("template", lambda r: write(r / "layouts/email/standard.mjml", "<mjml></mjml>\n")),
    ("settings", lambda r: edit(r / "atomic.yaml", "default_locale: en", "default_locale: de")),
    ("segment deleted", lambda r: (r / "segments/lapsed.yaml").unlink()),
]


SHOWS = {
    "atom duplicate id": (ATOM, "atom.duplicate_id"),  # atoms/shared/ is read first
    "atom invalid": ("atoms/winback/extra-moved.yaml", "schema.unknown_field"),
    "atom unparsable": ("atoms/shared/broken.yaml", "yaml.syntax"),
    "journey step removed": ("atoms/welcome/welcome-day0-body-app.yaml", "atom.unused"),
}


def test_each_kind_of_edit_gives_what_a_load_without_cache_gives(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    assert check(tree, cache, monkeypatch) == check(tree, None, monkeypatch)
    for name, change in EDITS:
        change(tree)
        cold = check(tree, None, monkeypatch)
        if name in SHOWS:  # the edit does what it is meant to
            assert SHOWS[name] in {(d[0], d[4]) for d in cold[1]}, name
        assert check(tree, cache, monkeypatch) == cold, name
        assert check(tree, cache, monkeypatch) == cold, f"{name}, again"


def test_a_warm_load_reads_no_unchanged_file(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    check(tree, cache, monkeypatch)
    read = counting_reads(monkeypatch, tmp_path / "reads.log")
    edit(tree / ATOM, "Hier merken", "Hier notieren")
    check(tree, cache, monkeypatch)
    assert sorted(set(read) - templates(tree)) == [Path(ATOM).name]


def templates(root: Path) -> set[str]:
    """Names of the layout templates (read on every load: they are not YAML files)."""
    return {p.name for p in (root / "layouts").rglob("*") if p.suffix in {".mjml", ".j2"}}


class _Reads:
    """The names of the files read, by this process or a forked worker (which may parse any
    share of the files: each name is appended to a log file, one short line at a time)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        log.write_text("")

    def add(self, name: str) -> None:
        with self.log.open("a") as handle:
            handle.write(name + "\n")

    def __iter__(self) -> Iterator[str]:
        return iter(self.log.read_text().splitlines())


def counting_reads(monkeypatch: pytest.MonkeyPatch, log: Path) -> _Reads:
    """The names of the files read from now on, in this process or its workers (``log``:
    where they are noted)."""
    read = _Reads(log)
    reader = inputs.read_content_bytes

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        read.add(Path(path).name)
        return reader(path, *args, **kwargs)

    # The loader reads through its own name for it, the remembered digests through theirs.
    monkeypatch.setattr(repository, "read_content_bytes", counting)
    monkeypatch.setattr(inputs, "read_content_bytes", counting)
    return read


def test_the_date_and_the_rules_are_part_of_the_governance_findings(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    check(tree, cache, monkeypatch)
    later = dt.date(2027, 6, 1)
    cold = check(tree, None, monkeypatch, on=later)
    assert cold != check(tree, None, monkeypatch)  # the date changes some findings
    assert check(tree, cache, monkeypatch, on=later) == cold


@pytest.mark.usefixtures("workers_take_part")
def test_parallel_loads_and_checks_equal_serial_ones(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "PARALLEL_FILES", 1)  # the demo is small: fork anyway
    monkeypatch.setattr(validate, "PARALLEL_ATOMS", 1)
    write(tree / "atoms/shared/dup.yaml", (tree / ATOM).read_text())  # which one is first?
    write(tree / "atoms/shared/typo.yaml", "slot: body\ntext: Hi\nsegements: [vip]\n")
    write(tree / "atoms/shared/broken.yaml", "slot: [body\n")
    serial = check(tree, None, monkeypatch)
    assert any(d[4] == "atom.duplicate_id" for d in serial[1])
    assert check(tree, None, monkeypatch, jobs=2) == serial
    assert check(tree, None, monkeypatch, jobs=3) == serial
    cache = tmp_path / "cache"
    assert check(tree, cache, monkeypatch, jobs=2) == serial  # cold cache, filled by workers
    edit(tree / ATOM, "Hier merken", "Hier notieren")
    expected = check(tree, None, monkeypatch)
    read = counting_reads(monkeypatch, tmp_path / "reads.log")
    assert check(tree, cache, monkeypatch, jobs=2) == expected
    assert sorted(set(read) - templates(tree)) == [Path(ATOM).name]  # the cache was used


class _Runs:
    """Unpickling this calls os.system: what a hostile cache file would try."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class _Prunes:
    """A function of this package that is not a model: refused like any other callable."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __reduce__(self) -> tuple[Any, ...]:
        return (repository._prune, (Path(self.folder),))


@pytest.mark.parametrize("payload", ["system", "package function"])
def test_a_hostile_cache_file_runs_nothing_and_counts_as_no_cache(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    cache = tmp_path / "cache"
    expected = check(tree, None, monkeypatch)
    check(tree, cache, monkeypatch)
    [path] = cache.rglob("*.cache")
    marker = tmp_path / "ran"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "old").write_text("x")
    os.utime(victim / "old", (0, 0))
    evil: Any = _Runs(f"touch {marker}") if payload == "system" else _Prunes(str(victim))
    piece = pickle.dumps({ATOM: {"sha256": "0" * 64, "load": evil}}, protocol=5)
    header = {
        "engine": repository.engine_fingerprint(),
        "pieces": [[repository._shard(ATOM), sha256_hex(piece), len(piece)]],
    }
    path.write_bytes(json.dumps(header).encode() + b"\n" + piece)
    assert check(tree, cache, monkeypatch) == expected
    assert not marker.exists()
    assert (victim / "old").exists()
