"""A folder of pickled pieces named by their content, with an index: how the build's memos
(the plan memo, :class:`~atomic_content.plan.PlanStore`, and the entry memo,
:class:`~atomic_content.variants.EntryMemo`) keep one file per message, so that saving after
a one-atom edit writes the few messages that changed and an index, not the whole memo.

A piece is named by the sha256 of its bytes: one that is already there is not written again,
and a reader can check a piece against its name. Every file is written to a temporary name
and moved into place, so a reader never sees half a file (:func:`replacing`, which every
cache of the package writes its files with). What the pieces and the index hold is the
memo's business.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .hashing import sha256_hex

INDEX = "index.pickle"


def piece_name(data: bytes) -> str:
    """The file name of a piece with these bytes."""
    return f"{sha256_hex(data)}.pickle"


class PieceFolder:
    """Pieces and the index of one memo (see the module docstring). Raises OSError."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, data: bytes) -> str:
        """Keep a piece (unless a piece with these bytes is there) and return its name."""
        name = piece_name(data)
        if not (self.folder / name).exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_replacing(self.folder / name, data)
        return name

    def commit(self, index: bytes, pieces: Iterable[str]) -> None:
        """Write the index, then remove every piece it does not name (``pieces``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_replacing(self.folder / INDEX, index)
        wanted = {*pieces, INDEX}
        for path in self.folder.iterdir():
            if path.name not in wanted and path.suffix == ".pickle":
                path.unlink(missing_ok=True)


def write_replacing(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder (see
    :func:`replacing`)."""
    with replacing(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path``'s new bytes into: a temporary file beside it, moved into
    place when the block ends, removed when it raises. A reader never sees half a file.

    The temporary name is this writer's alone (process id and a random part): two writers
    of one cache file, in threads of one process or in processes of two machines that share
    the folder and the process id (containers), do not write into each other's.
    It is ``<stem>.tmp...``, which is what the caches' pruning looks for. Raises OSError."""
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}-{os.urandom(4).hex()}")
    try:
        with tmp.open("xb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
