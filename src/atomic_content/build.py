"""The build: every variant of every message, rendered deterministically into an output tree.

:func:`build` reads as its stages — the checking pipeline that ``atomic validate`` runs too,
then the write stage:

1. :func:`~atomic_content.pipeline.check`: **load** and **check** the content, **plan** every
   variant over the date range, **render** each one (template and preview form) and **check
   limits** — any error stops here and nothing is written;
2. :func:`output_files`: the variant files, the runtime bundle and the typed manifest;
3. :func:`write_output`: a complete new tree beside the old one, switched over atomically.

Guarantees: identical inputs give byte-identical output (no timestamps, sorted JSON, sorted
paths; the only dates are the range, from ``--date``/``--until`` or SOURCE_DATE_EPOCH or today);
the output folder either holds the previous complete build or the new complete build, never a
mix; a second build against the same output waits for the lock or stops with a clear message;
the output folder belongs to the build (an existing folder that is not an earlier build's output
and not empty is refused and left untouched); no file is ever written outside it.

Output layout (documented in docs/build.md)::

    dist/                                    a symlink to .dist.builds/<build id>/
      manifest.json                          atomic_content.manifest.Manifest
      bundle/bundle.json                     what atomic_content.load_bundle() reads
      bundle/messages/<sha256>.json          template forms, by content hash
      <variant id>/template/<files>
      <variant id>/preview/<files>
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import json
import multiprocessing
import multiprocessing.process
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import __version__, hashing
from .collector import collect_all
from .dates import DateRange
from .errors import AtomicError, ContentError, Diagnostic, Diagnostics, Severity, UsageError
from .hashing import canonical_json, sha256_hex
from .inputs import FileDigests, Listing, listed_stats
from .outputs import refuse_overlap

# The stages are imported where they run: a no-op rebuild (nothing changed since the last
# build) needs only the light modules above and answers before the engine is imported, which
# costs several times the rest of it (tests/test_startup.py holds it so).
if TYPE_CHECKING:
    from .manifest import DiagnosticEntry, Manifest, VariantLines
    from .pipeline import Checked
    from .plan import PlanStore, RouteMemo
    from .repository import LoadCache
    from .variants import EntryMemo, PreviousBuild, ProgressCallback, VariantOutput

OUTPUT_MARKER = ".atomic-build"
"""A file at the top of every build tree: what makes a folder the build's to replace."""


class BuildLockedError(AtomicError):
    """Another build holds the output folder's lock: nothing is wrong, try again later."""

    # EX_TEMPFAIL (errors.EXIT_TEMPFAIL), not 1: a CI job can retry instead of blaming content.
    exit_code = 75


@dataclass
class BuildResult:
    """Summary of a build, for the CLI and for tests."""

    out: Path
    variants: int
    files: int
    rendered: int
    cached: int
    warnings: Diagnostics
    seconds: float
    skipped: bool = False
    manifest: Manifest | None = None
    stages: dict[str, float] = field(default_factory=dict)
    warning_count: int = -1  # -1: len(warnings)
    checked: Checked | None = field(default=None, repr=False, compare=False)
    """What the checking stages produced (library, plan, rendered variants) when the build
    ran them: a caller can preview or review the content it just built without checking it
    again. (Handing it back also spares a one-shot command tearing down 10^5 objects at the
    end of the build: it exits without doing so.)"""

    def __post_init__(self) -> None:
        if self.warning_count < 0:
            self.warning_count = len(self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out.as_posix(),
            "variants": self.variants,
            "files": self.files,
            "rendered": self.rendered,
            "cached": self.cached,
            "skipped": self.skipped,
            "warnings": [d.to_dict() for d in self.warnings],
            "warning_count": self.warning_count,
            "seconds": round(self.seconds, 3),
            "stages": {name: round(value, 3) for name, value in self.stages.items()},
        }


def _lock_file(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _locked_now(handle: IO[Any]) -> bool:
    """Take the exclusive lock on an open lock file without waiting: False when taken, True
    when another process holds it."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return True
    return False


@contextlib.contextmanager
def output_lock(out: Path, wait_seconds: float) -> Iterator[None]:
    """Hold ``<out>.lock`` for the build; wait up to ``wait_seconds`` for another build."""
    lock_path = _lock_file(out)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while _locked_now(handle):
            if time.monotonic() >= deadline:
                raise BuildLockedError(
                    f"another build is writing {out.as_posix()}; try again when it has finished"
                )
            time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def output_locked(out: Path) -> bool:
    """Whether another build holds ``out``'s lock at this moment (a look: nothing is kept)."""
    try:
        with _lock_file(out).open("rb") as handle:
            if _locked_now(handle):
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except FileNotFoundError:
        pass  # no build has run yet
    return False


def _check_relative(rel: str) -> None:
    """Refuse a relative output path that could land outside the tree it is written below.

    Every tree is a folder the build has just created, with no links in it, so a relative
    path of plain names stays inside it: no absolute path, no ``..``, ``.`` or empty part, no
    backslash and no NUL. (Resolving every one of tens of thousands of paths took longer than
    writing them; so did making a ``Path`` of each just to check it.)
    """
    if (
        rel.startswith("/")
        or "\\" in rel
        or "\0" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise AtomicError(f"refusing to write outside the output folder: {rel!r}")


def _previous_files(out: Path) -> dict[str, str]:
    """Relative path -> sha256 of the files of the build ``out`` points at now."""
    from .manifest import Manifest, ManifestError

    try:
        manifest = Manifest.from_json((out / "manifest.json").read_bytes())
    except (OSError, ManifestError):
        return {}
    files = {meta.path: meta.sha256 for v in manifest.variants for meta in v.files.values()}
    files[manifest.bundle.path] = manifest.bundle.sha256
    return files


def _write_tree(
    folder: Path,
    files: dict[str, bytes],
    previous: Path | None = None,
    links: Mapping[str, Path] | None = None,
    known: Mapping[str, str] | None = None,
    cloned: Mapping[str, str] | None = None,
    keep: AbstractSet[str] = frozenset(),
    spare: bool = False,
) -> None:
    """Write every file below ``folder`` and link every one of ``links``, folders first.

    A file whose bytes equal the same path in the previous build (``previous``, the folder the
    output pointed at) is hard-linked instead of written: linking is an order of magnitude
    cheaper than writing on slow disks, and safe because no build ever modifies a file in
    place — old trees are only ever deleted as a whole. Files named by their content hash
    (``bundle/messages/<sha256>.json``) are linked whenever the old tree has them.

    ``cloned`` (path -> sha256) are the files ``folder`` already holds as links of the
    previous tree's (see :class:`TreeWriter`): those with the right bytes stay, the others
    are unlinked before the new file is made (never written through: the inode is the live
    tree's too), and those the new tree has not (not in ``files``, ``links`` or ``keep``, the
    paths a render worker wrote) are removed, with the folders that become empty.

    ``spare``: ``folder`` is a spare tree brought up to date (see :func:`_prepare_spare`), not
    one this build made: no file is written through an existing path or a linked folder.
    """
    links = links or {}
    cloned = cloned or {}
    if known is None:
        known = _previous_files(previous) if previous is not None else {}
    old_root = os.fspath(previous.resolve()) if previous is not None and previous.exists() else None
    # Every path something is done at, checked before anything is: the new ones, files that
    # may replace a cloned one, links from elsewhere than the clone's source, cloned files
    # the new tree has not. (The cloned paths that stay as they are, tens of thousands on a
    # rebuild, are not touched.)
    # Each link's source folder as a string; the links of a rebuild share one or two Path
    # objects, and converting tens of thousands of them one by one showed in its profile.
    sources: dict[int, str] = {}
    for source in links.values():
        if id(source) not in sources:
            sources[id(source)] = os.fspath(source)
    # The links the clone did not make already (or that replace one of its files).
    relinked = {
        rel: sources[id(source)]
        for rel, source in links.items()
        if rel not in cloned or sources[id(source)] != old_root
    }
    fresh = {*files, *links} - cloned.keys()
    gone = cloned.keys() - files.keys() - links.keys() - keep
    acted = [
        *fresh,
        *(files.keys() & cloned.keys()),
        *(rel for rel in relinked if rel in cloned),
        *gone,
    ]
    # Plain strings, not Path objects: tens of thousands of paths, and pathlib's parsing
    # cost more than the links.
    root = os.fspath(folder)
    seen: set[str] = {""}
    for rel in acted:
        _check_relative(rel)  # refuses the whole tree before anything is written
        if spare:
            _real_folders(root, rel, seen)
    made = {""}
    for rel in sorted(fresh):
        _make_folders(root, rel, made, existing_ok=True)  # a render worker or the clone
    for rel, data in files.items():
        target = root + "/" + rel
        if rel in cloned:
            if _content_named(rel) or cloned[rel] == sha256_hex(data):
                continue
            Path(target).unlink()
        if old_root is not None and (_content_named(rel) or known.get(rel) == sha256_hex(data)):
            try:
                os.link(old_root + "/" + rel, target)
                continue
            except OSError:
                pass  # another file system, or the old file is gone: write it instead
        if spare:
            Path(target).unlink(missing_ok=True)
        Path(target).write_bytes(data)
    for rel, source_root in relinked.items():
        old, new = source_root + "/" + rel, root + "/" + rel
        if rel in cloned:
            Path(new).unlink()  # linked by the clone, but from elsewhere
        try:
            os.link(old, new)
        except FileNotFoundError:
            raise StaleOutputError(f"{rel} is missing from the previous build") from None
        except OSError:
            try:  # another file system: copy instead
                shutil.copyfile(old, new)
            except FileNotFoundError:
                raise StaleOutputError(f"{rel} is missing from the previous build") from None
    emptied: set[str] = set()
    for rel in gone:
        Path(root + "/" + rel).unlink(missing_ok=True)
        parent = rel.rpartition("/")[0]
        while parent and parent not in emptied:
            emptied.add(parent)
            parent = parent.rpartition("/")[0]
    for folder_rel in sorted(emptied, key=lambda f: -f.count("/")):  # deepest first
        with contextlib.suppress(OSError):  # not empty: the new tree uses it
            Path(root + "/" + folder_rel).rmdir()


def _make_folders(root: str, rel: str, made: set[str], *, existing_ok: bool = False) -> None:
    """Make the folders of ``rel`` below ``root`` that are not in ``made`` (and add them).

    Outermost first, one call per folder: ``mkdir(parents=True)`` tries the folder before its
    parents, which doubles the calls on a fresh tree. ``existing_ok``: another process may
    have made some of them.
    """
    parent = rel.rpartition("/")[0]
    missing = []
    while parent not in made:
        missing.append(parent)
        parent = parent.rpartition("/")[0]
    for folder_rel in reversed(missing):
        try:
            Path(root + "/" + folder_rel).mkdir()
        except FileExistsError:
            if not existing_ok:
                raise
        made.add(folder_rel)


def _link_tree(source: str, target: str, paths: list[str]) -> None:
    """Hard-link ``paths`` (sorted) from ``source`` into ``target``, folders first (the
    clone's child process; it exits with status 1 when a file cannot be linked)."""
    made = {"", "bundle", "bundle/messages"}
    try:
        for rel in paths:
            _make_folders(target, rel, made)
            os.link(source + "/" + rel, target + "/" + rel)
    except OSError:
        raise SystemExit(1) from None  # the parent starts over from an empty tree


def _content_named(rel: str) -> bool:
    """Whether the file's name is the hash of its bytes (a bundle message)."""
    from .bundle import message_path

    head, _, name = rel.rpartition("/")
    return message_path(name.removesuffix(".json")) == rel and bool(head)


def switch_output(out: Path, new_tree: Path) -> None:
    """Point ``out`` at ``new_tree`` atomically and remove older trees.

    ``out`` is a symlink into ``.<name>.builds/``; replacing a symlink with ``os.replace`` is
    atomic, so a reader sees the old complete tree or the new one. A real folder left at
    ``out`` by an older tool is moved into the builds folder first.
    """
    builds = new_tree.parent
    live = None  # the tree out points at now: the next build's spare
    if out.is_symlink():
        live = builds / out.readlink().name  # as builds.iterdir() names it (no resolving)
    elif out.exists():
        os.replace(out, _free_path(builds, f"legacy-{os.getpid()}"))
    link = out.parent / f".{out.name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(new_tree.relative_to(out.parent))
    os.replace(link, out)
    # Old trees are renamed into a trash folder (instant) and deleted by a detached process:
    # on some disks removing thousands of small files takes longer than the whole build, and
    # nothing waits for it. Whatever an interrupted deletion leaves is removed next time.
    # The tree that was live is kept as the spare (see SpareTree), in place of any older one.
    trash = trash_folder(out)
    trash.mkdir(exist_ok=True)
    spare = spare_folder(out)
    keep = live if live is not None and (live / "build-info.json").is_file() else None
    old_spares = list(spare.iterdir()) if keep is not None and spare.is_dir() else []
    for old in [*old_spares, *builds.iterdir()]:
        if old == new_tree:
            continue
        try:
            if old == keep:
                spare.mkdir(exist_ok=True)
                os.replace(old, spare / old.name)
            else:
                os.replace(old, trash / f"{old.parent.name}-{old.name}")
        except OSError:
            shutil.rmtree(old, ignore_errors=True)
    empty_trash_in_background(out)


def spare_folder(out: Path) -> Path:
    """Where the tree replaced by the last switch-over waits to be brought up to date by the
    next build (see :class:`SpareTree`)."""
    return out.parent / f".{out.name}.spare"


def trash_folder(out: Path) -> Path:
    """Where replaced output trees wait to be deleted."""
    return out.parent / f".{out.name}.trash"


def build_folders(out: Path) -> tuple[Path, ...]:
    """``out`` and the folders beside it that builds into ``out`` fill and empty: its trees
    (``.<name>.builds``), the spare tree, the trash and the default cache. A file another
    command wrote into any of them would be moved or deleted by a later build."""
    return (
        out,
        out.parent / f".{out.name}.builds",
        spare_folder(out),
        trash_folder(out),
        out.parent / f".{out.name}.cache",
    )


def build_folder_of(bundle_root: Path) -> Path | None:
    """The build output folder a bundle folder (``<out>/bundle``) belongs to, as builds name
    it: ``dist`` for ``dist/bundle`` and for ``.dist.builds/<tree>/bundle`` alike. None when
    the bundle is not in a build tree (no :data:`OUTPUT_MARKER` beside it)."""
    tree = bundle_root.parent
    if not (tree / OUTPUT_MARKER).is_file():
        return None
    builds = tree.parent
    if builds.name.startswith(".") and builds.name.endswith(".builds") and len(builds.name) > 8:
        return builds.parent / builds.name[1 : -len(".builds")]
    return tree


def active_marker(out: Path) -> Path:
    """The file every running build of ``out`` holds a shared lock on (see :func:`building`)."""
    return out.parent / f".{out.name}.active"


_DELETERS: set[int] = set()
"""Process ids of trash deleters this process started and has not reaped yet."""


def empty_trash_in_background(out: Path) -> int | None:
    """Delete the trash folder's contents in a detached child process; returns its pid (None
    when there is no trash, or the platform cannot fork: then it is deleted here).

    Not a thread: a build exits as soon as it has switched over, which killed a deleting
    thread after a few files, and old trees piled up in the trash build after build. The
    child is in a session of its own (Ctrl-C on the build does not stop it) and first closes
    every inherited file descriptor (the output lock's, a pipe the build's output goes to) and
    points its standard streams at /dev/null. One deleter at a time (see :func:`_empty_trash`):
    rebuilds in quick succession do not start one each on the same trees.
    """
    _reap_deleters()
    trash = trash_folder(out)
    if not trash.is_dir() or not any(trash.iterdir()):
        return None
    if not hasattr(os, "fork"):
        shutil.rmtree(trash, ignore_errors=True)
        return None
    pid = os.fork()
    if pid == 0:  # the child: only os calls and rmtree, then leave without any clean-up
        try:
            os.setsid()
            # Not even standard output: `atomic build | tee log` would wait for the deleter.
            quiet = os.open(os.devnull, os.O_RDWR)
            for descriptor in (0, 1, 2):
                os.dup2(quiet, descriptor)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            _empty_trash(out)
        finally:
            os._exit(0)
    _DELETERS.add(pid)
    return pid


def _empty_trash(out: Path) -> None:
    """Delete what the trash of ``out`` holds, trees moved in meanwhile included, unless a deleter
    already holds the trash's lock (``.<out>.trash.lock``): that one is at it.

    It deletes a few hundred files at a time and, between two batches, waits while a build
    of the same output runs (see :func:`building`): on a slow disk, deleting a tree of tens of
    thousands of files beside a rebuild that links as many made the rebuild wait for the disk.
    """
    trash = trash_folder(out)
    handle = os.open(trash.parent / f"{trash.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return
    active = os.open(active_marker(out), os.O_RDWR | os.O_CREAT, 0o644)

    def wait_for_builds() -> None:
        while True:
            try:
                fcntl.flock(active, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                time.sleep(0.2)  # a build runs: let it have the disk
                continue
            fcntl.flock(active, fcntl.LOCK_UN)
            return

    left: list[str] = []
    while True:
        try:
            names = sorted(entry.name for entry in trash.iterdir())
        except OSError:
            return
        if not names or names == left:  # empty, or what is left cannot be deleted
            break
        for name in names:
            _delete_tree(trash / name, wait_for_builds)
        left = names
    with contextlib.suppress(OSError):
        trash.rmdir()


def _delete_tree(root: Path, pause: Callable[[], None], batch: int = 256) -> None:
    """Delete ``root`` and everything below it (links are removed, never followed), calling
    ``pause`` before every ``batch`` removals; what cannot be removed stays."""
    done = 0
    pause()
    for folder, folders, files in os.walk(root, topdown=False):
        base = Path(folder)
        for path in (*(base / name for name in files), *(base / name for name in folders)):
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()  # bottom-up: emptied already
                else:
                    path.unlink()
            done += 1
            if done % batch == 0:
                pause()
    with contextlib.suppress(OSError):
        if root.is_symlink() or not root.is_dir():
            root.unlink()
        else:
            root.rmdir()


def _reap_deleters() -> None:
    """Collect the exit status of finished deleters (a long-lived process, e.g. the studio,
    would otherwise keep them as zombies)."""
    for pid in list(_DELETERS):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid  # reaped elsewhere
        if done:
            _DELETERS.discard(pid)


def input_fingerprint(
    content: Path,
    extra: dict[str, Any],
    digests: FileDigests | None = None,
    listing: Listing | None = None,
) -> str:
    """Hash of every byte under the content root plus the build options: the no-op check.

    ``digests`` (for ``content``) remembers each file's sha256 by its lstat between builds, so
    an unchanged file is not read again (:class:`~atomic_content.inputs.FileDigests`, with
    git's racy rule); the result is the same with or without it. ``listing`` is
    :func:`~atomic_content.inputs.listed_stats` of ``content`` when the caller has it.
    """
    digest = hashlib.sha256()
    # Read at call time: one engine format for this no-op check and the variant cache keys.
    format_ = hashing.ENGINE_FORMAT
    digest.update(canonical_json({"engine": __version__, "format": format_, **extra}))
    # listed_stats: no link out, no pipe or device, limits before reading (see inputs.py).
    files, refused = listing if listing is not None else listed_stats(content)
    if digests is None:
        digests = FileDigests(None, content)
    for shown, path, info in files:  # sorted: the digest does not depend on the file system's order
        sha256, problem = digests.digest(shown, path, info)
        digest.update(shown.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(
            bytes.fromhex(sha256)
            if sha256 is not None
            else hashlib.sha256(repr(problem).encode()).digest()
        )
    for problem in refused:  # a refused file still changes the digest (and fails the load)
        digest.update(repr(problem).encode())
    digests.save()
    return digest.hexdigest()


def input_digests(folder: Path, content: Path, *, read: bool = True) -> FileDigests:
    """The remembered file digests of ``content`` for builds that use the cache ``folder``."""
    name = sha256_hex(os.fsencode(content))[:24]
    return FileDigests(folder / f"inputs-{name}.json", content, read=read)


def build(
    content: Path,
    out: Path = Path("dist"),
    *,
    on: dt.date | None = None,
    until: dt.date | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    lock_wait_seconds: float = 0.0,
    checked: Checked | None = None,
) -> BuildResult:
    """Build every variant of ``content`` for the send dates ``on``..``until`` into ``out``.

    ``on`` defaults to SOURCE_DATE_EPOCH or today, ``until`` to ``on`` + 30 days. Raises
    ContentError (every problem validate reports) before anything is written, UsageError for an
    output folder that is not the build's, BuildLockedError when another build holds it.
    ``jobs`` defaults to the number of cores; ``progress(done, total)`` is called as variants
    finish; ``use_cache=False`` renders everything again (and still refreshes the cache).
    ``checked`` is the result of :func:`~atomic_content.pipeline.check` when the caller has it.
    """
    session = BuildSession(
        content,
        out,
        on=on,
        until=until,
        jobs=jobs,
        use_cache=use_cache,
        cache_dir=cache_dir,
        lock_wait_seconds=lock_wait_seconds,
    )
    return session.build(progress, checked=checked)


@contextlib.contextmanager
def building(out: Path) -> Iterator[None]:
    """Mark a build of ``out`` as running, for as long as it runs: a shared lock on
    ``.<out>.active`` (any number of builds at once; waiting only for a trash deleter's
    instant look). The deleter (:func:`_empty_trash`) pauses while any build holds it, so
    deleting old trees never competes with a build for the disk."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with active_marker(out).open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class BuildSession:
    """Builds one content folder into one output folder, once (:func:`build`) or again and
    again in one process (``atomic build --watch``).

    A one-shot build reads back from its caches what the last build left: each input file's
    digest, the load cache (parsed files and per-file check results), the plan memo and the
    previous manifest's entries. A session keeps them in memory from one of its builds to the
    next, which is most of what a one-atom rebuild of a large library costs in a new process.
    Every build is exactly the one :func:`build` makes from the same files (tested), the
    caches on disk are still written (a later one-shot build is incremental too; the plan
    and entry memos at :meth:`save_caches` after a build with ``defer_saves``), and each
    build takes the output lock and switches the output over atomically, as any build does.

    ``on``/``until`` as for :func:`build`, taken again at each build (a session that runs past
    midnight builds from the new day when ``on`` is not given). ``use_cache=False`` applies
    until a build of the session finishes: it reads no cache, and the later builds start
    from it.
    """

    def __init__(
        self,
        content: Path,
        out: Path = Path("dist"),
        *,
        on: dt.date | None = None,
        until: dt.date | None = None,
        jobs: int | None = None,
        use_cache: bool = True,
        cache_dir: Path | None = None,
        lock_wait_seconds: float = 0.0,
    ) -> None:
        self.content = Path(content)
        self.out = Path(out).absolute()
        self.on, self.until = on, until
        self.jobs = jobs
        self.use_cache = use_cache
        # The caches: beside the output unless the caller names a folder.
        self.folder = cache_dir or self.out.parent / f".{self.out.name}.cache"
        self.lock_wait_seconds = lock_wait_seconds
        self.builds = 0
        """Builds run so far (finished or refused)."""
        self._built = False  # whether a build of this session has finished
        self._digests: FileDigests | None = None
        self._load_cache: LoadCache | None = None
        self._plans: PlanStore | None = None
        self._entries: EntryMemo | None = None
        self._output_memo = OutputMemo()

    def build(
        self,
        progress: ProgressCallback | None = None,
        *,
        checked: Checked | None = None,
        defer_saves: bool = False,
    ) -> BuildResult:
        """One build of the session (see :func:`build` for what it raises).

        ``defer_saves`` leaves writing the plan and entry memos to disk (for a later
        process) to :meth:`save_caches`, which :meth:`tidy` calls: a watch reports the build
        first, and its edits wait for neither. The session's next build reads them from
        memory either way."""
        check_output_folder(self.out, self.content)  # before anything is made beside it
        with building(self.out):
            try:
                result = self._build(progress, checked, defer_saves)
            finally:
                self.builds += 1
        self._built = True
        return result

    def save_caches(self) -> None:
        """Write to disk what builds with ``defer_saves`` kept in memory only."""
        for store in (self._plans, self._entries):
            if store is not None:
                store.flush()

    def tidy(self) -> None:
        """Between builds (a watch calls it while it waits for changes): write the caches the
        last build deferred (:meth:`save_caches`), and collect the garbage it left (see
        :func:`~atomic_content.collector.collect_all`). Without it, a session's memory would
        grow a little with every build."""
        self.save_caches()
        collect_all()

    def _build(
        self, progress: ProgressCallback | None, checked: Checked | None, defer_saves: bool
    ) -> BuildResult:
        started = time.perf_counter()
        content, out, folder = self.content, self.out, self.folder
        dates = checked.dates if checked is not None else DateRange.of(self.on, self.until)
        # --no-cache only skips *reading* the cache, and only until a build of the session has
        # finished: the renders are still written, so the next one-atom edit re-renders what
        # it touches.
        use_cache = self.use_cache or self._built
        root = content.resolve()
        # One walk of the content tree for the fingerprint and the load.
        listing = listed_stats(root) if content.is_dir() else None
        fingerprint = ""
        if listing is not None:
            digests = (
                self._digests.carried()
                if self._digests is not None and self._digests.root == os.fspath(root)
                else input_digests(folder, root, read=use_cache)
            )
            fingerprint = input_fingerprint(root, _options(dates), digests, listing)
            self._digests = digests
        unchanged = _unchanged(out, fingerprint) if use_cache and checked is None else None
        if unchanged is not None:
            unchanged.seconds = time.perf_counter() - started
            return unchanged
        stages: dict[str, float] = {"fingerprint": time.perf_counter() - started}
        mark = time.perf_counter()
        # Imported here, after the no-op check: a no-op rebuild needs none of them.
        from .pipeline import check
        from .plan import PlanStore
        from .repository import LoadCache
        from .variants import EntryMemo, PreviousBuild, VariantCache

        stages["imports"] = time.perf_counter() - mark

        if self._plans is None:
            self._plans = PlanStore(folder / "plan", read=use_cache)
        self._plans.read = use_cache
        if self._entries is None:
            self._entries = EntryMemo(folder / "entries")
        entries = self._entries
        self._plans.deferred = entries.deferred = defer_saves
        previous: PreviousBuild | None = None
        # A parallel render writes each variant into the new tree as soon as it is rendered
        # (see TreeWriter); the tree, and the lock, are taken when the workers start.
        writer = TreeWriter(out, fingerprint, self.lock_wait_seconds)
        try:
            if checked is None:
                mark = time.perf_counter()
                if use_cache and out.is_symlink():
                    previous = PreviousBuild.read(out, entries)
                if previous is not None:
                    writer.clone(previous)
                loads = self._load_cache
                if loads is None or loads.digests.root != os.fspath(root):
                    loads = LoadCache.for_root(root)
                if self._digests is not None:
                    # The digests just taken for the fingerprint: the load then redoes only
                    # the atom files that changed since the session's last load.
                    loads.known = self._digests.found
                checked = check(
                    content,
                    dates,
                    cache=VariantCache(folder, read=use_cache, previous=previous),
                    jobs=self.jobs,
                    progress=progress,
                    plans=self._plans,
                    sink=writer,
                    listing=listing,
                    load_cache=loads,
                )
                self._load_cache = loads.carried()
                stages["check"] = time.perf_counter() - mark
            if not checked.ok:
                raise ContentError(checked.diagnostics)
            assert checked.plan is not None and checked.rendered is not None

            mark = time.perf_counter()
            tree = output_files(checked, fingerprint, previous, self._output_memo)
            stages["bundle"] = time.perf_counter() - mark
            mark = time.perf_counter()
            try:
                write_output(
                    out,
                    tree.files,
                    fingerprint,
                    self.lock_wait_seconds,
                    links=tree.links,
                    known=previous.file_hashes() if previous is not None else None,
                    tree=writer,
                    written=tree.written,
                    keys=tree.keys,
                    fresh=tree.fresh,
                )
            except StaleOutputError:
                # The previous tree lost files it lists (removed by hand): render those
                # variants again, from the cache, instead of linking them.
                writer.discard()
                checked = check(
                    content, dates, cache=VariantCache(folder, read=use_cache), jobs=self.jobs
                )
                if not checked.ok:
                    raise ContentError(checked.diagnostics) from None
                tree = output_files(checked, fingerprint)
                write_output(out, tree.files, fingerprint, self.lock_wait_seconds)
            stages["write"] = time.perf_counter() - mark
            entries.save(tree.manifest_sha, tree.lines)  # for the next build (see EntryMemo)
            # Renders no build has used for two weeks go (at most one look a day).
            VariantCache(folder).prune(tree.keys.values())
        except OSError as exc:
            writer.discard()
            if exc.errno == errno.ENOSPC:  # in the parallel render, writing the new tree
                raise AtomicError(
                    f"the disk is full while writing {out.as_posix()}; the previous output is "
                    "unchanged"
                ) from None
            raise
        finally:
            writer.discard()  # after a switch-over: only releases the lock
        manifest = tree.manifest
        assert checked.rendered is not None
        return BuildResult(
            out,
            len(manifest.variants),
            len(tree.files) + len(tree.links) + len(tree.written),
            checked.rendered.rendered,
            checked.rendered.cached,
            checked.diagnostics.warnings_only(),
            time.perf_counter() - started,
            manifest=manifest,
            stages=stages,
            checked=checked,
        )


def _options(dates: DateRange) -> dict[str, Any]:
    return {"start": dates.start.isoformat(), "until": dates.until.isoformat()}


def _unchanged(out: Path, fingerprint: str) -> BuildResult | None:
    """The previous build's summary when every input byte and option is the same (a no-op
    rebuild reads one small file and the content tree, nothing else)."""
    try:
        info = json.loads((out / "build-info.json").read_text(encoding="utf-8"))
        if info["input"] != fingerprint:
            return None
        return BuildResult(
            out,
            int(info["variants"]),
            int(info["files"]),
            0,
            0,
            Diagnostics(),
            0.0,
            skipped=True,
            warning_count=int(info["warnings"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class OutputTree:
    """What the build writes: new files (relative path -> bytes), files unchanged since the
    previous build (relative path -> the old tree to link them from), and the manifest.
    ``written`` are the paths the render stage has already written into the new tree (see
    :class:`TreeWriter`); the three sets of paths are disjoint."""

    files: dict[str, bytes]
    links: dict[str, Path]
    manifest: Manifest
    written: frozenset[str] = frozenset()
    keys: Mapping[str, str] = field(default_factory=dict)
    """Variant id -> the cache key its files were rendered under."""
    fresh: frozenset[str] = frozenset()
    """The variants whose files are among ``written``."""
    lines: VariantLines = field(default_factory=dict)
    """Variant id -> its entry and its line in ``manifest.json`` (for the :class:`EntryMemo`)."""
    manifest_sha: str = ""
    """The sha256 of ``manifest.json``."""


WarningLines = dict[int, tuple[Diagnostic, "DiagnosticEntry", str]]
"""``id()`` of a warning of the last build -> that warning, its manifest entry and its line in
``manifest.json``. Keyed by identity: a rebuild reuses the very diagnostics of the files,
checks and messages it did not redo (15 400 of 15 700 warnings after a one-atom edit), and
looking them up by their six fields cost more than the rest of the manifest's warnings.
The memo holds each warning, so no other object can take its ``id`` while it is kept."""


@dataclass
class OutputMemo:
    """What a build session keeps of its last output for the next: the warnings' manifest
    lines and the routing table's encoded messages. A new build replaces them with its own."""

    warnings: WarningLines = field(default_factory=dict)
    routes: RouteMemo = field(default_factory=dict)


def output_files(
    checked: Checked,
    fingerprint: str,
    previous: PreviousBuild | None = None,
    memo: OutputMemo | None = None,
) -> OutputTree:
    """Every file of the output tree and the typed manifest. With the ``previous`` build, the
    manifest lines of variants whose entries are unchanged are taken from its manifest.
    ``memo`` (a build session's :class:`OutputMemo`) holds what the last build made of its
    warnings and routes: the same part is not made again, and the memo is replaced by this
    build's."""
    from .assets import asset_files
    from .bundle import bundle_files, message_path
    from .experiments import experiment_entries, variant_arms
    from .manifest import MANIFEST_VERSION, FileEntry, Manifest

    assert checked.plan is not None and checked.rendered is not None
    library, rendered = checked.library, checked.rendered
    files: dict[str, bytes] = {}
    links: dict[str, Path] = {}
    messages: dict[str, bytes] = {}
    written: set[str] = set()
    fresh: set[str] = set()
    entries = []
    arms = variant_arms(checked.plan)
    for variant in checked.plan.variants:
        output = rendered.outputs[variant.id]
        assert not output.entry_only, "a variant read without its bytes cannot be written"
        entry, arm = output.entry, arms.get(variant.id, ())
        # Most entries already carry their arms (reused ones): keeping the very object lets
        # the manifest writer recognise the previous line by identity.
        entries.append(entry if entry.arms == arm else dataclasses.replace(entry, arms=arm))
        if output.written:
            fresh.add(variant.id)
            written.update(meta.path for meta in output.entry.files.values())
            written.add(message_path(output.entry.message))
            continue
        if output.linked_from is not None:
            for meta in output.entry.files.values():
                links[meta.path] = output.linked_from
            links[message_path(output.entry.message)] = output.linked_from
            continue
        files.update(output.files)
        messages[output.entry.message] = output.message
    bundle = bundle_files(
        library,
        checked.plan,
        {e.id: e.message for e in entries},
        messages,
        memo.routes if memo is not None else None,
    )
    files.update(bundle)
    # The files that are neither a variant's nor a template form: the next build that brings
    # this tree up to date (see SpareTree) removes them first.
    others = [rel for rel in bundle if not _content_named(rel)]
    # The content's images, for the preview forms (they point here) and for upload to
    # brand.asset_base_url.
    for name, path in asset_files(library.root).items():
        files[name] = path.read_bytes()
        others.append(name)
    others += ["manifest.json", "build-info.json", OUTPUT_MARKER]
    for rel in set(links) & set(files):  # a template form another variant rendered anew
        del links[rel]
    for rel in written:  # already in the new tree
        files.pop(rel, None)
        links.pop(rel, None)
    index = files["bundle/bundle.json"]
    warnings, warning_items = _warning_entries(
        checked.diagnostics, memo.warnings if memo is not None else None
    )
    manifest = Manifest(
        manifest_version=MANIFEST_VERSION,
        engine=__version__,
        start=checked.dates.start,
        until=checked.dates.until,
        input=fingerprint,
        # + manifest, build-info and the marker
        file_count=len(files) + len(links) + len(written) + 3,
        bundle=FileEntry("bundle/bundle.json", sha256_hex(index), len(index)),
        variants=tuple(entries),
        warnings=warnings,
        experiments=experiment_entries(checked.plan, library),
    )
    # Lines the render workers made, then the previous build's: each is used only for an
    # entry equal to the one it was made from.
    known = dict(previous.lines) if previous is not None else {}
    known.update(
        (output.variant_id, (output.entry, output.line))
        for output in rendered.outputs.values()
        if output.line
    )
    items = manifest.variant_items(known)
    files["manifest.json"] = manifest.to_json(variant_items=items, warning_items=warning_items)
    # A small file for the no-op check, so an unchanged rebuild never parses the manifest.
    # It also keeps each variant's cache key, so the next build links unchanged variants.
    keys = {v.id: rendered.outputs[v.id].cache_key for v in checked.plan.variants}
    manifest_sha = sha256_hex(files["manifest.json"])
    info = {
        "input": fingerprint,
        "variants": len(entries),
        "files": len(files) + len(links) + len(written) + 2,
        "warnings": len(warnings),
        "keys": keys,
        "others": sorted(others),
        # The next build reuses this manifest's lines only if the file is exactly this one.
        "manifest": manifest_sha,
    }
    # Compact: the indenting encoder is pure Python, and this file lists every variant.
    files["build-info.json"] = json.dumps(info, sort_keys=True).encode() + b"\n"
    files[OUTPUT_MARKER] = b"atomic-content build output; replaced by every build\n"
    lines = {entry.id: (entry, line) for entry, line in zip(manifest.variants, items, strict=True)}
    return OutputTree(
        files,
        links,
        manifest,
        frozenset(written),
        keys,
        frozenset(fresh),
        lines,
        manifest_sha,
    )


def _warning_entries(
    diagnostics: Diagnostics, memo: WarningLines | None
) -> tuple[tuple[DiagnosticEntry, ...], list[str] | None]:
    """The manifest's entries of the warnings, and their lines when ``memo`` is given (see
    :func:`output_files`)."""
    from .manifest import DiagnosticEntry, warning_line

    def entry_of(d: Diagnostic) -> DiagnosticEntry:
        return DiagnosticEntry(
            d.path, d.line, d.col, _SEVERITY[d.severity], d.code, d.message, d.hint
        )

    if memo is None:
        return tuple(entry_of(d) for d in diagnostics.warnings), None
    entries: list[DiagnosticEntry] = []
    lines: list[str] = []
    kept: WarningLines = {}
    for d in diagnostics.warnings:
        found = memo.get(id(d))  # the memo holds its warnings: an id found is this one's
        if found is None:
            entry = entry_of(d)
            found = (d, entry, warning_line(entry))
        kept[id(d)] = found
        entries.append(found[1])
        lines.append(found[2])
    memo.clear()
    memo.update(kept)
    return tuple(entries), lines


_SEVERITY = {severity: severity.value for severity in Severity}
"""The manifest's name of each severity (``Enum.value`` is a property: slow on 10^4 warnings)."""


def check_output_folder(out: Path, content: Path) -> None:
    """Refuse an output folder that is not the build's to replace: it must be absent, empty,
    or an earlier build's output (a link into ``.<name>.builds`` or a folder with the marker
    file), and it must neither be nor contain nor lie inside the content folder
    (:func:`atomic_content.outputs.refuse_overlap`)."""
    refuse_overlap(
        out,
        content,
        "content folder",
        verb="build into",
        hint="choose an output folder outside the content, e.g. --out dist",
    )
    if out.is_symlink():
        target = out.readlink()
        if target.parent.name == f".{out.name}.builds" and not target.is_absolute():
            return
        raise UsageError(
            f"refusing to replace {out.as_posix()}: it is a link that no build made",
            "remove it, or choose another --out",
        )
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(
            f"refusing to build into {out.as_posix()}: it is a file",
            "choose another --out",
        )
    if (out / OUTPUT_MARKER).is_file() or not any(out.iterdir()):
        return
    raise UsageError(
        f"refusing to build into {out.as_posix()}: the folder has files that no build wrote",
        "choose an empty or new folder for --out (the build replaces the whole folder)",
    )


class StaleOutputError(AtomicError):
    """A file the previous build lists is gone, so it cannot be linked into the new tree."""


def write_output(
    out: Path,
    files: dict[str, bytes],
    fingerprint: str,
    lock_wait_seconds: float = 0.0,
    *,
    links: Mapping[str, Path] | None = None,
    known: Mapping[str, str] | None = None,
    tree: TreeWriter | None = None,
    written: AbstractSet[str] = frozenset(),
    keys: Mapping[str, str] | None = None,
    fresh: AbstractSet[str] = frozenset(),
) -> None:
    """Write ``files`` (and link ``links`` from the trees they name) as a complete new tree and
    switch ``out`` over to it atomically; the previous tree stays intact until then (Ctrl-C,
    a full disk, a crash). StaleOutputError when a file to link is gone; nothing changes.
    ``known`` is the previous build's path -> sha256 when the caller has read it already.
    With an open ``tree`` (begun by the render stage or a clone; it holds the lock) the files
    are added to it, ``written`` being the paths the parallel render wrote; otherwise the lock
    is taken and a new tree made here. ``keys`` (variant id -> cache key) and ``fresh`` (the
    variants the parallel render wrote) let a tree that is a spare brought up to date (see
    :class:`SpareTree`) keep the variants it already holds."""
    if tree is not None and tree.folder is not None:
        folder, cloned = tree.ready(keys, fresh)
        _complete_and_switch(out, folder, files, links, known, cloned, written, tree.spare)
        tree.switched()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out, lock_wait_seconds):
        _complete_and_switch(out, _new_tree(out, fingerprint), files, links, known)


def _new_tree(out: Path, fingerprint: str, *, make: bool = True) -> Path:
    """A new empty folder for the next build tree, beside the current one (the lock is held);
    ``make=False``: only its free path.

    Never an existing folder: the live tree can have the very name this build would give
    its own (the same inputs built again in one process, or a container whose every build
    runs with the same process id), and it must stay whole until the switch-over. A tree an
    interrupted build left is moved to the trash by the next switch-over."""
    builds = out.parent / f".{out.name}.builds"
    builds.mkdir(exist_ok=True)
    new_tree = _free_path(builds, f"{fingerprint[:16]}-{os.getpid()}")
    if make:
        new_tree.mkdir()
    return new_tree


def _free_path(folder: Path, name: str) -> Path:
    """``folder / name``, or ``name-2``, ``name-3`` ... : the first that nothing is at."""
    path, number = folder / name, 1
    while os.path.lexists(path):
        number += 1
        path = folder / f"{name}-{number}"
    return path


def _complete_and_switch(
    out: Path,
    new_tree: Path,
    files: dict[str, bytes],
    links: Mapping[str, Path] | None,
    known: Mapping[str, str] | None,
    cloned: Mapping[str, str] | None = None,
    written: AbstractSet[str] = frozenset(),
    spare: bool = False,
) -> None:
    """Write the rest of ``new_tree`` and switch ``out`` to it; remove it on any failure."""
    try:
        _write_tree(
            new_tree,
            files,
            out if out.is_symlink() else None,
            links or {},
            known,
            cloned,
            written,
            spare,
        )
    except StaleOutputError:
        shutil.rmtree(new_tree, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(new_tree, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise AtomicError(
                f"the disk is full while writing {out.as_posix()}; the previous output is unchanged"
            ) from None
        raise
    except BaseException:
        # Ctrl-C or a crash: the previous output stays where it was.
        shutil.rmtree(new_tree, ignore_errors=True)
        raise
    switch_output(out, new_tree)


@dataclass(frozen=True)
class SpareTree:
    """The tree a build replaced (kept in ``.<out>.spare/``), claimed by the next build to
    become its new tree: the build only replaces what differs, instead of making a new tree
    of tens of thousands of folders and links (see :class:`TreeWriter`).

    A spare was a complete build: ``keys`` are the cache keys its variants were rendered under
    (from its ``build-info.json``), and ``others`` its files that are neither a variant's nor a
    template form. Its files may be hard links of the live tree's, so a file in it is never
    written: a variant that changed loses its folder, and new files are new inodes.
    """

    folder: Path
    keys: Mapping[str, str]
    others: tuple[str, ...]


def _claim_spare(out: Path, fingerprint: str) -> SpareTree | None:
    """Move the spare tree of ``out`` to where the new tree is made (the lock is held), or
    None when there is none with a readable ``build-info.json``."""
    folder = spare_folder(out)
    try:
        names = sorted(entry.name for entry in folder.iterdir())
    except OSError:
        return None
    for name in names:
        try:
            info = json.loads((folder / name / "build-info.json").read_text(encoding="utf-8"))
            keys, others = info["keys"], info["others"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # the next switch-over moves it to the trash
        if not (
            isinstance(keys, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items())
            and isinstance(others, list)
            and all(isinstance(rel, str) for rel in others)
        ):
            continue
        new_tree = _new_tree(out, fingerprint, make=False)
        try:
            os.replace(folder / name, new_tree)
        except OSError:
            continue
        return SpareTree(new_tree, keys, tuple(others))
    return None


def _verify_spare(root: str, keys: Mapping[str, str], previous: PreviousBuild, report: Any) -> None:
    """Send the variants of a claimed spare whose files are not all there (the clone's child
    process; see :meth:`TreeWriter.clone`).

    Only variants with the live tree's cache key are candidates to keep, so their files are
    the ones the live tree's manifest lists: each must be a regular file of the listed size
    (a file removed or cut short by hand is not carried into the next tree)."""
    bad = []
    for variant_id, key in keys.items():
        entry = previous.entries.get(variant_id)
        if entry is None or previous.keys.get(variant_id) != key:
            continue
        try:
            for meta in entry.files.values():
                status = os.lstat(root + "/" + meta.path)
                if not stat.S_ISREG(status.st_mode) or status.st_size != meta.bytes:
                    bad.append(variant_id)
                    break
        except OSError:
            bad.append(variant_id)
    report.send(bad)


def _real_folders(root: str, rel: str, seen: set[str]) -> None:
    """Refuse to write ``rel`` below ``root`` through a folder that is a link (a spare tree is
    not one the build has just made); folders already in ``seen`` or missing pass."""
    parent = rel.rpartition("/")[0]
    missing = []
    while parent and parent not in seen:
        missing.append(parent)
        parent = parent.rpartition("/")[0]
    for folder_rel in reversed(missing):
        try:
            status = os.lstat(root + "/" + folder_rel)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(status.st_mode):
            raise AtomicError(f"refusing to write through {folder_rel!r}: it is not a folder")
        seen.add(folder_rel)


def _prepare_spare(
    spare: SpareTree,
    verified: AbstractSet[str],
    previous: PreviousBuild,
    keys: Mapping[str, str],
    fresh: AbstractSet[str],
) -> dict[str, str]:
    """Bring a claimed spare to what a clone of the live tree would hold for this build, and
    return that as :func:`_write_tree`'s ``cloned`` (path -> sha256).

    Kept: the folders of ``verified`` variants whose key is this build's (their files are the
    live tree's: see :func:`_verify_spare`), the ``fresh`` ones the render workers wrote, and
    the template forms (named by their hash). Every other variant folder and the ``others``
    are removed, then the folders left empty."""
    root = os.fspath(spare.folder)
    kept = {v for v in verified if keys.get(v) == spare.keys[v] and v not in fresh}
    removed = [*(spare.keys.keys() - kept - fresh), *spare.others, "bundle/messages/"]
    seen: set[str] = {""}
    for rel in removed:  # all checked first: nothing is removed through a linked folder
        _check_relative(rel.rstrip("/"))
        _real_folders(root, rel, seen)
    emptied: set[str] = set()
    for rel in spare.keys.keys() - kept - fresh:
        shutil.rmtree(root + "/" + rel, ignore_errors=True)  # never follows a link itself
        emptied.add(rel.rpartition("/")[0])
    for rel in spare.others:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            Path(root + "/" + rel).unlink()
        emptied.add(rel.rpartition("/")[0])
    parents = set()
    for rel in emptied:
        while rel:
            parents.add(rel)
            rel = rel.rpartition("/")[0]
    for rel in sorted(parents, key=lambda f: -f.count("/")):  # deepest first
        with contextlib.suppress(OSError):  # not empty: still in use
            Path(root + "/" + rel).rmdir()
    cloned = {meta.path: meta.sha256 for v in kept for meta in previous.entries[v].files.values()}
    with contextlib.suppress(FileNotFoundError):
        for entry in Path(root + "/bundle/messages").iterdir():
            name = entry.name
            rel = "bundle/messages/" + name
            if _content_named(rel):
                cloned[rel] = name.removesuffix(".json")
    return cloned


class TreeWriter:
    """The build's new output tree, begun by a parallel render stage
    (:class:`~atomic_content.variants.VariantSink`): each worker writes the variants it renders
    straight into it, so the files are written in parallel and their bytes never travel back
    to the parent.

    :meth:`begin` takes the output lock (waiting as :func:`output_lock` does) and makes the
    tree; the lock is held until :meth:`discard`, because a concurrent build's switch-over
    would move the unfinished tree to the trash. A serial render never begins it: the lock and
    the tree are then taken by :func:`write_output` as before.

    A rebuild starts from an existing tree, while the parent checks, plans and renders (on
    slow disks making tens of thousands of folders is most of a rebuild's write stage):

    * the spare (:class:`SpareTree`): the tree the last build replaced. A child process checks
      that the files of its variants unchanged since then are all there; the write stage
      removes what this build changes and adds the rest, so an edit touches the disk only for
      what it changed;
    * otherwise a clone of the live tree: its folders and hard links of its variant files and
      template forms, made in a child process.

    The write stage then only replaces what changed (see :func:`_write_tree`).
    """

    def __init__(self, out: Path, fingerprint: str, lock_wait_seconds: float) -> None:
        self.out = out
        self.fingerprint = fingerprint
        self.lock_wait_seconds = lock_wait_seconds
        self.folder: Path | None = None
        self._lock = contextlib.ExitStack()
        # Folders this process has made or seen: each forked worker keeps its own copy.
        self._made = {"", "bundle", "bundle/messages"}
        self._clone: multiprocessing.process.BaseProcess | None = None
        self._cloned: dict[str, str] = {}  # path -> sha256 of the clone's files
        self._previous: PreviousBuild | None = None
        self._spare: SpareTree | None = None
        self._report: Any = None  # the spare check's pipe
        self._verified: frozenset[str] = frozenset()
        self._touched = False  # whether anything in a claimed spare was changed
        self._prepared = False

    def clone(self, previous: PreviousBuild) -> None:
        """Start from the spare tree, or start copying ``previous``'s tree as links, in a child
        process, when the lock is free right now (otherwise the build goes on as if there were
        neither)."""
        if self.folder is not None or "fork" not in multiprocessing.get_all_start_methods():
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.enter_context(output_lock(self.out, 0))
        except BuildLockedError:
            return
        context = multiprocessing.get_context("fork")
        self._previous = previous
        try:
            spare = _claim_spare(self.out, self.fingerprint)
            if spare is None:
                folder = _new_tree(self.out, self.fingerprint)
                (folder / "bundle" / "messages").mkdir(parents=True)
        except BaseException:
            self._lock.close()
            raise
        if spare is not None:
            self.folder, self._spare = spare.folder, spare
            self._report, sender = context.Pipe(duplex=False)
            self._clone = context.Process(
                target=_verify_spare, args=(os.fspath(spare.folder), spare.keys, previous, sender)
            )
            self._clone.start()
            sender.close()
            return
        from .bundle import message_path

        self.folder = folder
        paths = previous.file_hashes()
        for entry in previous.entries.values():
            paths[message_path(entry.message)] = entry.message
        self._cloned = paths
        self._clone = context.Process(
            target=_link_tree, args=(os.fspath(previous.root), os.fspath(folder), sorted(paths))
        )
        self._clone.start()

    def _join(self) -> None:
        """Wait for the clone or the spare check; start over from an empty tree if the clone
        failed (e.g. a file gone from the previous tree: everything is written then)."""
        if self._clone is None:
            return
        if self._spare is not None:
            candidates = {v for v, key in self._spare.keys.items() if self._previous_key(v) == key}
            try:
                bad = self._report.recv()
            except (EOFError, OSError):
                bad = candidates  # the check died: keep nothing
            self._report.close()
            self._report = None
            self._clone.join()
            self._clone = None
            self._verified = frozenset(candidates - set(bad))
            return
        self._clone.join()
        failed = self._clone.exitcode != 0
        self._clone = None
        if failed:
            assert self.folder is not None
            shutil.rmtree(self.folder)
            self.folder.mkdir()
            (self.folder / "bundle" / "messages").mkdir(parents=True)
            self._cloned = {}

    def _previous_key(self, variant_id: str) -> str | None:
        return self._previous.keys.get(variant_id) if self._previous is not None else None

    def ready(
        self, keys: Mapping[str, str] | None = None, fresh: AbstractSet[str] = frozenset()
    ) -> tuple[Path, dict[str, str]]:
        """The tree to complete and the files it holds already (path -> sha256); waits for the
        clone or the spare check. A spare is brought to what this build keeps of it, given
        every variant's cache key (``keys``) and the variants the workers wrote (``fresh``)."""
        assert self.folder is not None
        self._join()
        if self._spare is not None and not self._prepared:
            assert self._previous is not None
            self._touched = self._prepared = True
            self._cloned = _prepare_spare(
                self._spare, self._verified, self._previous, keys or {}, fresh
            )
        return self.folder, self._cloned

    @property
    def spare(self) -> bool:
        """Whether the tree is a claimed spare (folders in it may predate this build)."""
        return self._spare is not None

    def begin(self) -> None:
        """Lock the output and make the empty tree (in the parent, before the workers)."""
        if self.folder is not None:
            self._join()  # the workers write into the finished clone, or the checked spare
            self._touched = True  # a spare: the workers replace variant folders in it
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock.enter_context(output_lock(self.out, self.lock_wait_seconds))
        try:
            folder = _new_tree(self.out, self.fingerprint)
            (folder / "bundle" / "messages").mkdir(parents=True)
        except BaseException:
            self._lock.close()
            raise
        self.folder = folder

    def put(self, output: VariantOutput) -> VariantOutput:
        """Write one rendered variant's files and template form (in the process that rendered
        it: a worker, or the build's, which renders shares too); the output without their
        bytes, marked ``written``."""
        from .bundle import message_path

        assert self.folder is not None
        message = message_path(output.entry.message)
        for rel in output.files:
            _check_relative(rel)
        root = os.fspath(self.folder)
        if self._spare is not None:
            # The spare's folder of this variant holds an older version (whose files may be
            # the live tree's too): replace the whole folder, never a file in it.
            _check_relative(output.variant_id)
            _real_folders(root, output.variant_id + "/", self._made)
            shutil.rmtree(root + "/" + output.variant_id, ignore_errors=True)
            self._made.discard(output.variant_id)
        for rel, data in output.files.items():
            _make_folders(root, rel, self._made, existing_ok=True)  # or another worker
            if rel in self._cloned:  # never write through a link of the live tree's file
                Path(root + "/" + rel).unlink(missing_ok=True)
            with Path(root + "/" + rel).open("xb" if self._spare is not None else "wb") as handle:
                handle.write(data)
        # Named by its hash: another variant with the same template form may have written it.
        with contextlib.suppress(FileExistsError), Path(root + "/" + message).open("xb") as handle:
            handle.write(output.message)
        return dataclasses.replace(output, files={}, message=b"", written=True)

    def switched(self) -> None:
        """The tree is the output now: nothing to remove any more."""
        self.folder = None

    def discard(self) -> None:
        """Remove an unfinished tree (if any) and release the lock. A claimed spare that
        nothing has changed yet goes back to being the spare."""
        if self._clone is not None:
            self._clone.terminate()
            self._clone.join()
            self._clone = None
        if self._report is not None:
            self._report.close()
            self._report = None
        if self.folder is not None:
            if self._spare is not None and not self._touched:
                with contextlib.suppress(OSError):
                    spare_folder(self.out).mkdir(exist_ok=True)
                    os.replace(self.folder, spare_folder(self.out) / self.folder.name)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self._lock.close()
