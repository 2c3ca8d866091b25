"""Where a command may write: the one rule for every output path a user names (``--out``).

Every command that writes follows it (``build``, ``render``, and the report files of
``preview``, ``coverage``, ``diff``, ``privacy`` and ``analyze``; ``init`` has its own
``--force`` rule for a whole project):

* **Never over an input.** An output is not, does not lie inside and does not contain the content
  folder, a build's output folder (with the folders beside it that builds manage) or an input
  file, links resolved (:func:`refuse_overlap`). No option overrides this.
* **Never over a user's file.** A folder output must be absent, empty or marked as the command's
  earlier output (a marker file: ``.atomic-build``, ``.atomic-render``). A file output
  (:class:`OutputFile`) goes where nothing is, over an empty file, over a file the command
  recognizes as its own earlier output (``ours``), over a report atomic-content wrote there
  that nobody changed since (:class:`WrittenReports`: running the same command again just
  works), or, with ``--force``, over any file; never over a folder. A command that replaces
  the file by renaming a finished temporary file onto it (``render``) refuses a link there
  (the rename would replace the link); a report written in place follows a link and applies
  the rule to its target (``--out /dev/stdout`` works).

Refusals are :class:`~atomic_content.errors.UsageError` (exit 2), raised before anything is
written.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError


def overlaps(out: Path, source: Path) -> bool:
    """Whether ``out`` is ``source``, lies inside it or contains it, once links are resolved."""
    target = out.resolve()
    where = source.resolve()
    return target == where or target.is_relative_to(where) or where.is_relative_to(target)


def refuse_overlap(
    out: Path, source: Path, label: str, *, verb: str = "write", hint: str = ""
) -> None:
    """Raise UsageError when ``out`` overlaps (:func:`overlaps`) the input ``source``, named
    ``label`` in the message (``refusing to <verb> OUT: it overlaps the <label> SOURCE``)."""
    if overlaps(out, source):
        raise UsageError(
            f"refusing to {verb} {out.as_posix()}: it overlaps the {label} {source.as_posix()}",
            hint or "choose an --out outside it",
        )


@dataclass(frozen=True)
class OutputFile:
    """A file a command writes at a path the user named, under the rule above.

    ``inputs`` are (label, path) of what the output must not overlap (the content folder, input
    files); ``ours`` recognizes the command's own earlier output (None: nothing is recognized,
    so an existing non-empty file needs ``force``); ``replaces`` says the file is replaced by a
    rename (a link there is refused) rather than written in place (a link is followed).
    ``force_option`` names the option that allows replacing any file (None: the command has
    none). :meth:`check` raises UsageError; call it before the work, :meth:`write` checks again.
    """

    path: Path
    inputs: Sequence[tuple[str, Path]] = ()
    ours: Callable[[Path], bool] | None = None
    force: bool = False
    replaces: bool = False
    force_option: str | None = "--force"

    def check(self) -> None:
        """Raise UsageError when the file may not be written (see the module docs)."""
        path = self.path
        for label, source in self.inputs:
            refuse_overlap(path, source, label, hint="write it somewhere else")
        if path.is_symlink():
            if self.replaces:
                raise UsageError(
                    f"refusing to replace {path.as_posix()}: it is a link",
                    "name a file that is not a link (writing would replace the link)",
                )
            path = path.resolve()
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UsageError(
                f"cannot write {self.path.as_posix()}: {exc.strerror or exc}"
            ) from None
        if stat.S_ISDIR(mode):
            raise UsageError(
                f"refusing to write {self.path.as_posix()}: it is a folder", "name a file"
            )
        if not stat.S_ISREG(mode) or self.force or path.stat().st_size == 0:
            return  # a device or pipe (nothing is replaced), --force, or an empty file
        if self.ours is not None and self.ours(path):
            return
        if WrittenReports.for_user().holds(path):
            return
        why = (
            "the file exists (nothing marks it as this command's output)"
            if self.ours is None
            else "the file exists and is not this command's earlier output"
        )
        how = (
            f"choose another --out, or pass {self.force_option} to replace it"
            if self.force_option
            else "choose another --out, or move the file away first"
        )
        raise UsageError(f"refusing to replace {self.path.as_posix()}: {why}", how)

    def write(self, data: str | bytes) -> None:
        """Check, then write ``data`` (text as UTF-8), making missing parent folders.

        Raises UsageError when the file may not or cannot be written."""
        self.check()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            raw = data if isinstance(data, bytes) else data.encode("utf-8")
            self.path.write_bytes(raw)
        except OSError as exc:
            raise UsageError(
                f"cannot write {self.path.as_posix()}: {exc.strerror or exc}"
            ) from None
        WrittenReports.for_user().remember(self.path, raw)


class WrittenReports:
    """The report files atomic-content wrote, each with the sha256 of its bytes, kept in the
    user's cache folder (``reports-written.json``; :func:`~atomic_content.yamlio.cache_dir`):
    a file still holding exactly those bytes is the command's own earlier output, one with
    any other bytes is the user's (edited since, or another file now). With the cache off
    nothing is remembered, so replacing an existing report needs ``--force``.

    Best effort by design: a ledger that cannot be read or written remembers nothing, which
    only ever makes a command refuse (never replace) a file. The newest :data:`MAX_ENTRIES`
    paths are kept."""

    MAX_ENTRIES = 256

    def __init__(self, ledger: Path | None) -> None:
        self.ledger = ledger

    @classmethod
    def for_user(cls) -> WrittenReports:
        """The ledger in the user's cache folder (none when the cache is off)."""
        from .yamlio import cache_dir

        folder = cache_dir()
        return cls(folder / "reports-written.json" if folder is not None else None)

    def holds(self, path: Path) -> bool:
        """Whether ``path`` holds exactly the bytes this ledger remembers writing there."""
        known = self._read().get(_key(path))
        if known is None:
            return False
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest() == known
        except OSError:
            return False

    def remember(self, path: Path, data: bytes) -> None:
        """Note that ``data`` was just written to ``path``."""
        if self.ledger is None:
            return
        entries = self._read()
        entries.pop(_key(path), None)
        entries[_key(path)] = hashlib.sha256(data).hexdigest()
        kept = dict(list(entries.items())[-self.MAX_ENTRIES :])
        try:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.ledger.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(kept, stream)
            os.replace(temporary, self.ledger)
        except OSError:
            return  # not remembered: the next run asks for --force, nothing is lost

    def _read(self) -> dict[str, str]:
        if self.ledger is None:
            return {}
        try:
            found = json.loads(self.ledger.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(found, dict):
            return {}
        return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def _key(path: Path) -> str:
    """A report's ledger key: its absolute path, links resolved."""
    return os.fspath(path.resolve())


__all__ = ["OutputFile", "WrittenReports", "overlaps", "refuse_overlap"]
