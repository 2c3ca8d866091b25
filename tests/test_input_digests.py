"""The build's no-op check remembers file digests by lstat (inputs.FileDigests, like git's
index): the fingerprint is the same with and without remembered digests, every kind of change
still changes it, and a file changed just before a run is hashed again by the next one (git's
"racy" rule)."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from atomic_content.build import build, input_digests, input_fingerprint
from atomic_content.inputs import RACY_NANOSECONDS, FileDigests, listed_stats
from contentkit import write_tree

DAY = dt.date(2026, 11, 22)
LATER = 3600 * 1_000_000_000  # a run an hour after the files were written
OPTIONS = {"start": "2026-11-22", "until": "2026-12-22"}


def remembered_run(root: Path, store: Path, now_ns: int | None = None) -> tuple[str, FileDigests]:
    """The fingerprint of ``root`` with digests remembered in ``store``, by a run that starts
    at ``now_ns`` (default: an hour from now, so every file is old enough to be remembered)."""
    digests = FileDigests(store, root, now_ns=time.time_ns() + LATER if now_ns is None else now_ns)
    return input_fingerprint(root, OPTIONS, digests), digests


def stored_files(store: Path) -> dict[str, object]:
    """The remembered entries (none when nothing was old enough to be written)."""
    return json.loads(store.read_text())["files"] if store.exists() else {}


def same_size_same_mtime(root: Path) -> None:
    """Rewrite a file with other bytes of the same length and put its mtime back: size and
    mtime say nothing changed (an edit within one second on a coarse clock)."""
    path = root / "atoms/headline.yaml"
    before = path.stat()
    text = path.read_text()
    path.write_text(text.replace("trail", "TRAIL"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def swap_two_files(root: Path) -> None:
    """Two files of the same size change places (each name now has the other's inode)."""
    a, b = root / "atoms/push-title.yaml", root / "atoms/swap.yaml"
    tmp = root / "atoms/tmp.txt"
    os.replace(a, tmp)
    os.replace(b, a)
    os.replace(tmp, b)


def link_out_with_equal_bytes(root: Path) -> None:
    """A file replaced by a link to a file outside the tree with exactly its bytes."""
    path = root / "atoms/headline.yaml"
    outside = root.parent / "outside.yaml"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)


def append(root: Path) -> None:
    with (root / "atoms/cta.yaml").open("a") as handle:
        handle.write("# more\n")


def fifo(root: Path) -> None:
    path = root / "atoms/headline.yaml"
    path.unlink()
    os.mkfifo(path)


def too_large(root: Path) -> None:
    (root / "atoms/headline.yaml").write_bytes(b"text: " + b"x" * (1024 * 1024))


CHANGES: dict[str, Callable[[Path], None]] = {
    "same-size-same-mtime": same_size_same_mtime,
    "appended": append,
    "new-file": lambda root: (root / "atoms/new.yaml").write_text("slot: body\ntext: New\n"),
    "removed": lambda root: (root / "atoms/cta.yaml").unlink(),
    "renamed": lambda root: (root / "atoms/cta.yaml").rename(root / "atoms/cta2.yaml"),
    "swapped": swap_two_files,
    "link-out": link_out_with_equal_bytes,
    "fifo": fifo,
    "too-large": too_large,
    "empty-folder": lambda root: (root / "atoms/later").mkdir(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_change_changes_the_fingerprint_with_remembered_digests(
    tmp_path: Path, change: str
) -> None:
    root = write_tree(tmp_path / "content")
    # Same length as push-title.yaml, other bytes: for the swap.
    title = (root / "atoms/push-title.yaml").read_text()
    (root / "atoms/swap.yaml").write_text(title.replace("Welcome!", "Hello!!!"))
    store = tmp_path / "cache" / "inputs.json"
    before, first = remembered_run(root, store)
    assert first.hashed == len(listed_stats(root)[0]) and first.reused == 0
    assert input_fingerprint(root, OPTIONS) == before
    CHANGES[change](root)
    after, second = remembered_run(root, store)
    # The remembered digests are used (the tree is otherwise unchanged) and give what hashing
    # every file gives, which differs from before.
    assert second.reused > 0
    assert after == input_fingerprint(root, OPTIONS)
    if change != "empty-folder":  # an empty folder holds no input
        assert after != before


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "content")
    store = tmp_path / "cache" / "inputs.json"
    first, digests = remembered_run(root, store)
    count = len(listed_stats(root)[0])
    assert (digests.hashed, digests.reused) == (count, 0)
    again, digests = remembered_run(root, store)
    assert (digests.hashed, digests.reused) == (0, count)
    assert again == first == input_fingerprint(root, OPTIONS)
    (root / "atoms/cta.yaml").write_text("slot: cta\ntext: Other\n")
    edited, digests = remembered_run(root, store)
    assert (digests.hashed, digests.reused) == (1, count - 1)
    assert edited == input_fingerprint(root, OPTIONS) != first


@pytest.mark.parametrize(
    ("age_ns", "remembered"),
    [
        (-1_000_000_000, False),  # changed after the run started
        (0, False),  # in the same tick as the run's start
        (RACY_NANOSECONDS // 3, False),
        (RACY_NANOSECONDS, False),
        (RACY_NANOSECONDS + 1, True),
        (LATER, True),
    ],
)
def test_a_file_changed_just_before_a_run_is_hashed_again(
    tmp_path: Path, age_ns: int, remembered: bool
) -> None:
    root = write_tree(tmp_path / "content")
    path = root / "atoms/cta.yaml"
    info = path.stat()
    store = tmp_path / "inputs.json"
    # The run starts ``age_ns`` after the file's last change (its ctime; its mtime is older).
    remembered_run(root, store, now_ns=max(info.st_ctime_ns, info.st_mtime_ns) + age_ns)
    kept = stored_files(store)
    assert ("atoms/cta.yaml" in kept) is remembered
    # The next run reads exactly the files that were not remembered.
    _fingerprint, digests = remembered_run(root, store)
    assert digests.hashed == len(listed_stats(root)[0]) - len(kept)


def test_racy_edit_in_the_same_tick_is_not_missed(tmp_path: Path) -> None:
    # A run right after an edit does not remember the file; an edit of the same size in the
    # same tick (so the whole lstat could stay the same) is then read by the next run.
    root = write_tree(tmp_path / "content")
    store = tmp_path / "inputs.json"
    path = root / "atoms/headline.yaml"
    info = path.stat()
    first, _digests = remembered_run(root, store, now_ns=info.st_ctime_ns)
    assert "atoms/headline.yaml" not in stored_files(store)
    # Same bytes count, same mtime; only what a racy entry would not notice is left.
    same_size_same_mtime(root)
    second, digests = remembered_run(root, store, now_ns=info.st_ctime_ns)
    assert digests.hashed >= 1
    assert second == input_fingerprint(root, OPTIONS) != first


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        json.dumps({"format": 999, "root": "", "files": {}}),
        "OTHER-ROOT",
        "WRONG-DIGEST-LENGTH",
        "NOT-HEX",
        "[]",
    ],
)
def test_a_damaged_or_foreign_digest_file_is_ignored(tmp_path: Path, damage: str) -> None:
    root = write_tree(tmp_path / "content")
    store = tmp_path / "inputs.json"
    truth, _digests = remembered_run(root, store)
    stored = json.loads(store.read_text())
    # Wrong digests for every file: used, they would hide every edit.
    wrong = {name: [*entry[:5], "0" * 64] for name, entry in stored["files"].items()}
    if damage == "OTHER-ROOT":
        damage = json.dumps({**stored, "root": str(tmp_path / "elsewhere"), "files": wrong})
    elif damage == "WRONG-DIGEST-LENGTH":
        bad = {name: [*entry[:5], "0" * 63] for name, entry in stored["files"].items()}
        damage = json.dumps({**stored, "files": bad})
    elif damage == "NOT-HEX":
        bad = {name: [*entry[:5], "g" * 64] for name, entry in stored["files"].items()}
        damage = json.dumps({**stored, "files": bad})
    store.write_text(damage)
    again, digests = remembered_run(root, store)
    assert digests.reused == 0
    assert again == truth


def test_build_notices_a_same_size_same_mtime_edit_of_a_remembered_file(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "content").resolve()
    out = tmp_path / "dist"
    first = build(root, out, on=DAY, jobs=1)
    assert build(root, out, on=DAY, jobs=1).skipped
    # Remember every file's digest as a run an hour later would (the build's own store).
    folder = out.parent / f".{out.name}.cache"
    store = input_digests(folder, root).path
    assert store is not None
    remembered_run(root, store)
    noop = build(root, out, on=DAY, jobs=1)
    assert noop.skipped and noop.variants == first.variants
    same_size_same_mtime(root)
    edited = build(root, out, on=DAY, jobs=1)
    assert not edited.skipped and edited.rendered > 0
    assert "TRAIL" in json.dumps(
        [p.read_text() for p in out.resolve().rglob("*.json") if "messages" in p.parts]
    )


def test_no_cache_build_reads_every_file(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "content").resolve()
    out = tmp_path / "dist"
    build(root, out, on=DAY, jobs=1)
    folder = out.parent / f".{out.name}.cache"
    store = input_digests(folder, root).path
    assert store is not None
    remembered_run(root, store)
    assert input_digests(folder, root).old  # what a cached build reads
    assert not input_digests(folder, root, read=False).old  # --no-cache reads nothing
