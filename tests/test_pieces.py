"""The memos' content-named piece folder (atomic_content.pieces), on real files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from atomic_content.pieces import INDEX, PieceFolder, piece_name, replacing, write_replacing


def test_pieces_are_named_by_their_bytes_and_the_index_keeps_only_what_it_names(
    tmp_path: Path,
) -> None:
    folder = PieceFolder(tmp_path / "memo")
    first, second = folder.put(b"first"), folder.put(b"second")
    assert first == piece_name(b"first") == f"{hashlib.sha256(b'first').hexdigest()}.pickle"
    assert (tmp_path / "memo" / first).read_bytes() == b"first"
    mtime = (tmp_path / "memo" / first).stat().st_mtime_ns
    assert folder.put(b"first") == first  # already there: not written again
    assert (tmp_path / "memo" / first).stat().st_mtime_ns == mtime
    (tmp_path / "memo" / "notes.txt").write_text("not a piece")
    folder.commit(b"index", [second])
    names = sorted(path.name for path in (tmp_path / "memo").iterdir())
    assert names == sorted([INDEX, second, "notes.txt"])  # no temporary file is left
    assert (tmp_path / "memo" / INDEX).read_bytes() == b"index"


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "inputs-1.json"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"), replacing(target) as handle:
        handle.write(b"half of the ne")
        raise OSError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["inputs-1.json"]


def test_two_writers_of_one_file_never_share_a_temporary_file(tmp_path: Path) -> None:
    """As two threads of a studio, or two containers with the same process id sharing a cache
    folder: each writes its own temporary file; the file is always one writer's whole bytes."""
    target = tmp_path / "abc.variant"
    with replacing(target) as first, replacing(target) as second:
        first.write(b"first writer, whole")
        second.write(b"second writer, whole")
        temporary = sorted(p.name for p in tmp_path.iterdir())
        assert len(temporary) == 2
        # <stem>.tmp...: the name the variant cache's pruning knows as a write in progress.
        assert all(name.startswith("abc.tmp") for name in temporary)
    assert target.read_bytes() == b"first writer, whole"  # the outer block ended last
    assert [p.name for p in tmp_path.iterdir()] == ["abc.variant"]
    write_replacing(target, b"again")
    assert target.read_bytes() == b"again"
