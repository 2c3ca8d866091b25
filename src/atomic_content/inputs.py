"""The content tree as files: listing it, reading a file safely, and each file's sha256
remembered between runs. No parsing and nothing outside the standard library: the build's
no-op check (:func:`atomic_content.build.build` when no input changed) needs only this, and
starts in a fraction of the time the whole engine takes to import.

:mod:`atomic_content.repository` and :mod:`atomic_content.yamlio` import what they use of it
from here; tests and callers patch or import its names here, their one home.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from .errors import Diagnostic, Diagnostics, Severity
from .hashing import sha256_hex
from .pieces import write_replacing

MAX_FILE_BYTES = 1024 * 1024
"""Content files are small by design; a larger file is almost certainly a mistake."""


def _error(path: str, line: int, col: int, code: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(path, line, col, Severity.ERROR, code, message, hint)


MAX_CONTENT_FILES = 50_000
"""Most files and folders a content tree may hold; the demo has about 250, a large brand a few
thousand. Past it nothing is loaded: the tree is almost certainly the wrong folder."""

MAX_FOLDER_DEPTH = 16
"""Deepest folder level below the content root (``atoms/a/b`` is level 3); deeper folders are
refused, not walked."""

TOO_MANY_FILES = "io.too_many_files"
_YAML_SUFFIXES = (".yaml", ".yml")


def display_path(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` with POSIX separators, or as given when outside it."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def check_inside_root(path: Path, root: Path) -> Diagnostic | None:
    """A diagnostic when ``path`` (after following symlinks) lies outside ``root``."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return _error(
            display_path(path, root),
            0,
            0,
            "io.broken_link",
            "this path is a link that points nowhere (or loops)",
            "remove the link or point it at a file inside the content folder",
        )
    if not real.is_relative_to(root.resolve()):
        return _error(
            display_path(path, root),
            0,
            0,
            "io.outside_root",
            "this path is a link that points outside the content folder",
            "copy the file into the content folder instead of linking to it",
        )
    return None


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def file_kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words for a diagnostic (``a named pipe (FIFO)``)."""
    return next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")


def not_a_file(shown: str, mode: int, *, link: bool) -> Diagnostic:
    """The diagnostic for a path that is (or links to) a folder, pipe, socket or device."""
    kind = file_kind(mode)
    if stat.S_ISDIR(mode):
        if not link:
            return _error(
                shown,
                0,
                0,
                "io.is_directory",
                "expected a YAML file here but found a folder",
                "rename the folder or move its files to where they belong",
            )
        return _error(
            shown,
            0,
            0,
            "io.linked_folder",
            "this path is a link to a folder; links to folders are not followed",
            "move or copy the folder into the content folder instead of linking to it",
        )
    return _error(
        shown,
        0,
        0,
        "io.special_file",
        f"this path is {'a link to ' if link else ''}{kind}, not a regular file",
        "remove it; the content folder may hold only regular files and folders",
    )


def read_content_bytes(
    path: Path | str,
    root: Path | None = None,
    limit: int = MAX_FILE_BYTES,
    *,
    listed: bool = False,
) -> tuple[bytes | None, Diagnostic | None]:
    """Read a content file without trusting it: ``(bytes, None)`` or ``(None, diagnostic)``.

    Refused before opening: a link that is broken or leaves ``root`` (when given), anything that
    is not a regular file after following links (folder, named pipe, socket, device — opening a
    pipe would block, reading ``/dev/zero`` would never end) and a file over ``limit`` bytes. The
    file is then opened non-blocking and checked again on the open descriptor, so a file
    swapped for a pipe in between is refused too, and at most ``limit`` bytes are ever read.
    Raises nothing for bad files.

    ``listed=True`` says that :func:`~atomic_content.repository.content_files` listed ``path``
    a moment ago (so it was inside ``root``): a path that is not a link is then opened at once
    (``O_NOFOLLOW``, so a link swapped in meanwhile is refused) and checked on the descriptor,
    which spares resolving the path; a link takes the full road above.
    """
    if listed:
        quick = _read_listed(path, limit)
        if quick is not None:
            return quick, None
    path = Path(path)
    shown = display_path(path, root)
    if root is not None and (problem := check_inside_root(path, root)) is not None:
        return None, problem
    link = path.is_symlink()
    too_large = "split the content into several small files (one atom per file)"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, not_a_file(shown, info.st_mode, link=link)
        if info.st_size > limit:
            return None, _error(
                shown,
                0,
                0,
                "io.too_large",
                f"file is {info.st_size:,} bytes; content files may be at most {limit:,} bytes",
                too_large,
            )
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(descriptor, "rb") as handle:
            opened = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(opened):
                return None, not_a_file(shown, opened, link=link)
            raw = handle.read(limit + 1)
    except OSError as exc:
        return None, _error(
            shown,
            0,
            0,
            "io.unreadable",
            f"cannot read this file: {exc.strerror or exc}",
            "check that the file exists and is readable",
        )
    if len(raw) > limit:  # the file grew after the size check
        return None, _error(shown, 0, 0, "io.too_large", f"file is over {limit:,} bytes", too_large)
    return raw, None


def _read_listed(path: Path | str, limit: int) -> bytes | None:
    """The bytes of a regular file that is not a link and not over ``limit``; None otherwise
    (the caller then takes the careful road, which says why)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if not nofollow:
        return None
    flags = os.O_RDONLY | nofollow | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    raw = b"".join(chunks)
    return raw if len(raw) <= limit else None


Listing = tuple[list[tuple[str, str, os.stat_result | None]], Diagnostics]
"""What :func:`listed_stats` returns: the files with their lstat, and the refused entries."""


def listed_stats(root: Path) -> Listing:
    """``(display path, path as a string, lstat)`` of every regular file under ``root`` that
    may be read, and a diagnostic for everything else. The lstat is the one the walk took
    (None for a link to a file inside ``root``): what :class:`FileDigests` compares.

    Files come sorted by POSIX path relative to ``root``, as paths below ``root`` (links are
    not replaced by their targets). Nothing is opened: the tree is walked with ``lstat`` and
    links are resolved, so refusing costs no read. Refused, each with a whole-file diagnostic:
    links that are broken or leave ``root`` (``io.broken_link``, ``io.outside_root``), links to
    folders (``io.linked_folder``, never followed), named pipes, sockets and devices and links
    to them (``io.special_file``), folders named like YAML files (``io.is_directory``) and
    folders more than :data:`MAX_FOLDER_DEPTH` levels down (``io.too_deep``, not walked). A tree
    with more than :data:`MAX_CONTENT_FILES` entries yields no files and only the diagnostic
    :data:`TOO_MANY_FILES`. The walk is iterative; a missing or unreadable ``root`` yields
    nothing. Read the files with :func:`read_content_bytes`.
    """
    root = Path(root)
    diagnostics = Diagnostics()
    files: list[tuple[str, str, os.stat_result | None]] = []
    prefix = str(root).rstrip(os.sep) + os.sep
    count = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError as exc:
            if folder != root:
                diagnostics.error(
                    display_path(folder, root),
                    0,
                    0,
                    "io.unreadable",
                    f"cannot read this folder: {exc.strerror or exc}",
                    "check that the folder exists and is readable",
                )
            continue
        count += len(entries)
        if count > MAX_CONTENT_FILES:
            too_many = Diagnostics()
            too_many.error(
                ".",
                0,
                0,
                TOO_MANY_FILES,
                f"the content folder holds more than {MAX_CONTENT_FILES:,} files and folders",
                "point --content at the content folder itself, not at a parent folder",
            )
            return [], too_many
        for entry in entries:
            if entry.path.startswith(prefix):  # the common case, without pathlib's cost
                shown = entry.path[len(prefix) :].replace(os.sep, "/")
            else:
                shown = display_path(Path(entry.path), root)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished while we looked
            mode = info.st_mode
            if stat.S_ISREG(mode):
                files.append((shown, entry.path, info))
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                problem = _link_problem(path, root, shown)
                if problem is None:
                    files.append((shown, entry.path, None))
                else:
                    diagnostics.add(problem)
            elif entry.is_dir(follow_symlinks=False):
                if path.suffix in _YAML_SUFFIXES:
                    diagnostics.add(not_a_file(shown, mode, link=False))
                if depth + 1 > MAX_FOLDER_DEPTH:
                    diagnostics.error(
                        shown,
                        0,
                        0,
                        "io.too_deep",
                        f"this folder is more than {MAX_FOLDER_DEPTH} levels below the content "
                        "folder; nothing in it is read",
                        "keep content within a few folder levels (e.g. atoms/<campaign>/)",
                    )
                else:
                    stack.append((path, depth + 1))
            else:
                diagnostics.add(not_a_file(shown, mode, link=False))
    files.sort(key=lambda item: item[0])
    return files, diagnostics


def _link_problem(path: Path, root: Path, shown: str) -> Diagnostic | None:
    """None for a link to a regular file inside ``root``; otherwise why it is refused."""
    problem = check_inside_root(path, root)
    if problem is not None:
        return problem
    try:
        mode = path.stat().st_mode
    except OSError:  # changed since it was resolved: refuse it as not a regular file
        mode = 0
    return None if stat.S_ISREG(mode) else not_a_file(shown, mode, link=True)


DIGEST_CACHE_FORMAT = 1

RACY_NANOSECONDS = 3_000_000_000
"""How much older than the start of a run a file's mtime and ctime must be for
:class:`FileDigests` to remember its digest (git's rule for "racily clean" index entries)."""

_StatKey = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _stat_key(info: os.stat_result) -> _StatKey:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


class FileDigests:
    """The sha256 of each listed content file, remembered between runs by the file's lstat,
    the way git's index spares hashing unchanged files.

    :meth:`digest` returns the remembered digest when the file's lstat (size, mtime, ctime,
    inode, device: see :func:`listed_stats`) equals the one remembered with it; otherwise it
    reads the file with :func:`read_content_bytes` (which refuses what
    the loader refuses) and hashes it. Links (to files inside the root) are read every time.

    Racy rule: a digest is remembered only when the file's mtime and ctime are both more than
    :data:`RACY_NANOSECONDS` older than the start of the run (``now_ns``) and the lstat was
    taken before the bytes were read. Any later change sets the ctime to the time of that
    change (no program can set a ctime), so it cannot leave the lstat as remembered; a change
    within the same clock tick as the remembered state could, which is why a file changed just
    before a run is hashed again by the next run. This assumes the content's file system and
    this machine agree on the time within that margin.

    ``path`` is a small JSON file (None: nothing is remembered or saved); ``read=False`` hashes
    every file and only writes it. A damaged file, another format or another root is ignored
    as a whole, and so is any entry that is not an lstat and a sha256 as written here. The
    build's no-op check keeps its digests in its own cache folder, beside its output; the
    load cache (:class:`LoadCache`) keeps them with each file's load results, so an unchanged
    file is neither hashed nor read by the load either. :meth:`read` also returns the bytes it
    had to read, for the caller to parse.
    """

    def __init__(
        self,
        path: Path | None,
        root: Path,
        *,
        read: bool = True,
        now_ns: int | None = None,
    ) -> None:
        self.path = path
        self.root = os.fspath(root)
        self._root = Path(root)
        self.started = time.time_ns() if now_ns is None else now_ns
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        self.hashed = 0
        # Display path -> sha256 of every file :meth:`digest` answered for this run.
        self.found: dict[str, str] = {}
        self.reused = 0
        if path is not None and read:
            self.old = self._read(path)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            stored = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if (
            not isinstance(stored, dict)
            or stored.get("format") != DIGEST_CACHE_FORMAT
            or stored.get("root") != self.root
            or not isinstance(stored.get("files"), dict)
        ):
            return {}
        files: dict[str, Any] = stored["files"]
        return files  # each entry is checked when it is used (see digest)

    def digest(
        self, shown: str, path: str, info: os.stat_result | None
    ) -> tuple[str | None, Diagnostic | None]:
        """``(sha256 hex, None)`` of the listed file ``path`` (display path ``shown``, lstat
        ``info`` from :func:`listed_stats`), or ``(None, why it cannot be read)``."""
        digest, _raw, problem = self.read(shown, path, info)
        if digest is not None:
            self.found[shown] = digest
        return digest, problem

    def read(
        self, shown: str, path: str, info: os.stat_result | None
    ) -> tuple[str | None, bytes | None, Diagnostic | None]:
        """:meth:`digest`, with the file's bytes when it had to be read: ``(sha256, None,
        None)`` for a remembered digest, ``(sha256, bytes, None)`` for a file read now (the
        digest is that of these bytes) and ``(None, None, why)`` for a file that cannot be
        read."""
        remembered = self.remembered(shown, info)
        if remembered is not None:
            return remembered, None, None
        raw, problem = read_content_bytes(path, self._root, listed=True)
        if raw is None:
            return None, None, problem
        digest = sha256_hex(raw)
        self.remember(shown, info, digest)
        return digest, raw, None

    def remembered(self, shown: str, info: os.stat_result | None) -> str | None:
        """The digest remembered for ``shown`` with this lstat (kept for the next run), or
        None."""
        old = self.old.get(shown)
        if info is None or type(old) is not list:
            return None
        if (
            len(old) == 6
            and old[0] == info.st_size
            and old[1] == info.st_mtime_ns
            and old[2] == info.st_ctime_ns
            and old[3] == info.st_ino
            and old[4] == info.st_dev
            and type(old[5]) is str
            and _SHA256_HEX.fullmatch(old[5]) is not None
        ):
            self.reused += 1
            self.new[shown] = old
            return str(old[5])
        return None

    def remember(self, shown: str, info: os.stat_result | None, digest: str) -> None:
        """Note ``digest``, just computed from the bytes of a file read after its lstat
        ``info`` was taken, for the next run (when the racy rule allows)."""
        self.hashed += 1
        if info is None:
            return
        key = list(_stat_key(info))
        if max(key[1], key[2]) < self.started - RACY_NANOSECONDS:
            self.new[shown] = [*key, digest]

    def carried(self) -> FileDigests:
        """The digests for the next run of a process that keeps them (``atomic build
        --watch``): what this run remembered, as if saved and read back, with the racy rule
        applied from now."""
        following = FileDigests(self.path, self._root, read=False)
        following.old = dict(self.new)
        return following

    def save(self) -> None:
        """Write the digests of this run's files when they differ from the ones read."""
        if self.path is None or self.new == self.old:
            return
        body = {"format": DIGEST_CACHE_FORMAT, "root": self.root, "files": self.new}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_replacing(self.path, json.dumps(body, separators=(",", ":")).encode())
        except (OSError, ValueError):
            pass  # not remembering only costs speed next time
        self.old = dict(self.new)
