"""The memos' content-named piece folder (atomic_content.pieces), on real files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from atomic_content.pieces import INDEX, PieceFolder, piece_name


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
