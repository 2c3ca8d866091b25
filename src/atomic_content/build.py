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
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, variants
from .assets import asset_files
from .bundle import bundle_files, message_path
from .errors import AtomicError, ContentError, Diagnostics, UsageError
from .experiments import experiment_entries, variant_arms
from .manifest import (
    MANIFEST_VERSION,
    DiagnosticEntry,
    FileEntry,
    Manifest,
    ManifestError,
    canonical_json,
    sha256_hex,
)
from .pipeline import Checked, DateRange, check
from .plan import PlanStore
from .repository import FileDigests, listed_stats
from .variants import PreviousBuild, ProgressCallback, VariantCache

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


@contextlib.contextmanager
def output_lock(out: Path, wait_seconds: float) -> Iterator[None]:
    """Hold ``<out>.lock`` for the build; wait up to ``wait_seconds`` for another build."""
    lock_path = out.parent / f".{out.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise BuildLockedError(
                        f"another build is writing {out.as_posix()}; try again when it has finished"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _safe_target(root: Path, rel: str) -> Path:
    """``root/rel``, refusing anything that would land outside ``root``.

    ``root`` is a folder the build has just created, with no links in it, so a relative path
    of plain names stays inside it: no absolute path, no ``..``, ``.`` or empty part, no
    backslash and no NUL. (Resolving every one of tens of thousands of paths took longer than
    writing them.)
    """
    if (
        rel.startswith("/")
        or "\\" in rel
        or "\0" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise AtomicError(f"refusing to write outside the output folder: {rel!r}")
    return root / rel


def _previous_files(out: Path) -> dict[str, str]:
    """Relative path -> sha256 of the files of the build ``out`` points at now."""
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
) -> None:
    """Write every file below ``folder`` and link every one of ``links``, folders first.

    A file whose bytes equal the same path in the previous build (``previous``, the folder the
    output pointed at) is hard-linked instead of written: linking is an order of magnitude
    cheaper than writing on slow disks, and safe because no build ever modifies a file in
    place — old trees are only ever deleted as a whole. Files named by their content hash
    (``bundle/messages/<sha256>.json``) are linked whenever the old tree has them.
    """
    links = links or {}
    for rel in (*files, *links):
        _safe_target(folder, rel)  # refuses the whole tree before anything is written
    # Plain strings, not Path objects: tens of thousands of paths, and pathlib's parsing
    # cost more than the links. Every part was checked above.
    root = os.fspath(folder)
    made = {""}
    for rel in sorted({*files, *links}):
        parent = rel.rpartition("/")[0]
        if parent not in made:
            # Outermost first, one call per folder: mkdir(parents=True) tries the folder
            # before its parents, which doubles the calls on a fresh tree.
            missing = []
            while parent not in made:
                missing.append(parent)
                parent = parent.rpartition("/")[0]
            for folder_rel in reversed(missing):
                Path(root + "/" + folder_rel).mkdir()
                made.add(folder_rel)
    if known is None:
        known = _previous_files(previous) if previous is not None else {}
    old_root = os.fspath(previous.resolve()) if previous is not None and previous.exists() else None
    for rel, data in files.items():
        target = root + "/" + rel
        if old_root is not None and (_content_named(rel) or known.get(rel) == sha256_hex(data)):
            try:
                os.link(old_root + "/" + rel, target)
                continue
            except OSError:
                pass  # another file system, or the old file is gone: write it instead
        Path(target).write_bytes(data)
    for rel, source in links.items():
        old, new = os.fspath(source) + "/" + rel, root + "/" + rel
        try:
            os.link(old, new)
        except FileNotFoundError:
            raise StaleOutputError(f"{rel} is missing from the previous build") from None
        except OSError:
            try:  # another file system: copy instead
                shutil.copyfile(old, new)
            except FileNotFoundError:
                raise StaleOutputError(f"{rel} is missing from the previous build") from None


def _content_named(rel: str) -> bool:
    """Whether the file's name is the hash of its bytes (a bundle message)."""
    head, _, name = rel.rpartition("/")
    return message_path(name.removesuffix(".json")) == rel and bool(head)


def switch_output(out: Path, new_tree: Path) -> None:
    """Point ``out`` at ``new_tree`` atomically and remove older trees.

    ``out`` is a symlink into ``.<name>.builds/``; replacing a symlink with ``os.replace`` is
    atomic, so a reader sees the old complete tree or the new one. A real folder left at
    ``out`` by an older tool is moved into the builds folder first.
    """
    builds = new_tree.parent
    if out.exists() and not out.is_symlink():
        legacy = builds / f"legacy-{os.getpid()}"
        os.replace(out, legacy)
    link = out.parent / f".{out.name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(new_tree.relative_to(out.parent))
    os.replace(link, out)
    # Old trees are renamed into a trash folder (instant) and deleted by a background thread:
    # on some disks removing thousands of small files takes longer than the whole build, and
    # nothing waits for it. Whatever an interrupted deletion leaves is removed next time.
    trash = trash_folder(out)
    trash.mkdir(exist_ok=True)
    for old in builds.iterdir():
        if old != new_tree:
            try:
                os.replace(old, trash / old.name)
            except OSError:
                shutil.rmtree(old, ignore_errors=True)
    empty_trash_in_background(out)


def trash_folder(out: Path) -> Path:
    """Where replaced output trees wait to be deleted."""
    return out.parent / f".{out.name}.trash"


def empty_trash_in_background(out: Path) -> threading.Thread | None:
    """Delete the trash folder's contents in a daemon thread; returns the thread (or None)."""
    trash = trash_folder(out)
    if not trash.is_dir():
        return None
    thread = threading.Thread(
        target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True}, daemon=True
    )
    thread.start()
    return thread


def input_fingerprint(
    content: Path, extra: dict[str, Any], digests: FileDigests | None = None
) -> str:
    """Hash of every byte under the content root plus the build options: the no-op check.

    ``digests`` (for ``content``) remembers each file's sha256 by its lstat between builds, so
    an unchanged file is not read again (:class:`~atomic_content.repository.FileDigests`, with
    git's racy rule); the result is the same with or without it.
    """
    digest = hashlib.sha256()
    # Read at call time: one engine format for this no-op check and the variant cache keys.
    format_ = variants.ENGINE_FORMAT
    digest.update(canonical_json({"engine": __version__, "format": format_, **extra}))
    # listed_stats: no link out, no pipe or device, limits before reading (see repository.py).
    files, refused = listed_stats(content)
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
    started = time.perf_counter()
    content = Path(content)
    out = Path(out).absolute()
    dates = checked.dates if checked is not None else DateRange.of(on, until)
    check_output_folder(out, content)
    # --no-cache only skips *reading* the cache: the renders are still written, so the next
    # one-atom edit re-renders what it touches, not everything.
    folder = cache_dir or out.parent / f".{out.name}.cache"
    root = content.resolve()
    fingerprint = (
        input_fingerprint(root, _options(dates), input_digests(folder, root, read=use_cache))
        if content.is_dir()
        else ""
    )
    unchanged = _unchanged(out, fingerprint) if use_cache and checked is None else None
    if unchanged is not None:
        unchanged.seconds = time.perf_counter() - started
        return unchanged
    stages: dict[str, float] = {"fingerprint": time.perf_counter() - started}

    previous: PreviousBuild | None = None
    if checked is None:
        mark = time.perf_counter()
        previous = PreviousBuild.read(out) if use_cache and out.is_symlink() else None
        checked = check(
            content,
            dates,
            cache=VariantCache(folder, read=use_cache, previous=previous),
            jobs=jobs,
            progress=progress,
            plans=PlanStore(folder / "plan", read=use_cache),
        )
        stages["check"] = time.perf_counter() - mark
    if not checked.ok:
        raise ContentError(checked.diagnostics)
    assert checked.plan is not None and checked.rendered is not None

    mark = time.perf_counter()
    tree = output_files(checked, fingerprint)
    stages["bundle"] = time.perf_counter() - mark
    mark = time.perf_counter()
    try:
        write_output(
            out,
            tree.files,
            fingerprint,
            lock_wait_seconds,
            links=tree.links,
            known=previous.file_hashes() if previous is not None else None,
        )
    except StaleOutputError:
        # The previous tree lost files it lists (removed by hand): render those variants
        # again, from the cache, instead of linking them.
        checked = check(content, dates, cache=VariantCache(folder, read=use_cache), jobs=jobs)
        if not checked.ok:
            raise ContentError(checked.diagnostics) from None
        tree = output_files(checked, fingerprint)
        write_output(out, tree.files, fingerprint, lock_wait_seconds)
    stages["write"] = time.perf_counter() - mark
    manifest = tree.manifest
    assert checked.rendered is not None
    return BuildResult(
        out,
        len(manifest.variants),
        len(tree.files) + len(tree.links),
        checked.rendered.rendered,
        checked.rendered.cached,
        Diagnostics(checked.diagnostics.warnings),
        time.perf_counter() - started,
        manifest=manifest,
        stages=stages,
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
    previous build (relative path -> the old tree to link them from), and the manifest."""

    files: dict[str, bytes]
    links: dict[str, Path]
    manifest: Manifest


def output_files(checked: Checked, fingerprint: str) -> OutputTree:
    """Every file of the output tree and the typed manifest."""
    assert checked.plan is not None and checked.rendered is not None
    library, rendered = checked.library, checked.rendered
    files: dict[str, bytes] = {}
    links: dict[str, Path] = {}
    messages: dict[str, bytes] = {}
    entries = []
    arms = variant_arms(checked.plan)
    for variant in checked.plan.variants:
        output = rendered.outputs[variant.id]
        entries.append(dataclasses.replace(output.entry, arms=arms.get(variant.id, ())))
        if output.linked_from is not None:
            for meta in output.entry.files.values():
                links[meta.path] = output.linked_from
            links[message_path(output.entry.message)] = output.linked_from
            continue
        files.update(output.files)
        messages[output.entry.message] = output.message
    bundle = bundle_files(library, checked.plan, {e.id: e.message for e in entries}, messages)
    files.update(bundle)
    # The content's images, for the preview forms (they point here) and for upload to
    # brand.asset_base_url.
    for name, path in asset_files(library.root).items():
        files[name] = path.read_bytes()
    for rel in set(links) & set(files):  # a template form another variant rendered anew
        del links[rel]
    index = files["bundle/bundle.json"]
    warnings = tuple(
        DiagnosticEntry(d.path, d.line, d.col, d.severity.value, d.code, d.message, d.hint)
        for d in checked.diagnostics.warnings
    )
    manifest = Manifest(
        manifest_version=MANIFEST_VERSION,
        engine=__version__,
        start=checked.dates.start,
        until=checked.dates.until,
        input=fingerprint,
        file_count=len(files) + len(links) + 3,  # + manifest, build-info and the marker
        bundle=FileEntry("bundle/bundle.json", sha256_hex(index), len(index)),
        variants=tuple(entries),
        warnings=warnings,
        experiments=experiment_entries(checked.plan, library),
    )
    files["manifest.json"] = manifest.to_json()
    # A small file for the no-op check, so an unchanged rebuild never parses the manifest.
    # It also keeps each variant's cache key, so the next build links unchanged variants.
    info = {
        "input": fingerprint,
        "variants": len(entries),
        "files": len(files) + len(links) + 2,
        "warnings": len(warnings),
        "keys": {v.id: rendered.outputs[v.id].cache_key for v in checked.plan.variants},
    }
    files["build-info.json"] = json.dumps(info, indent=1, sort_keys=True).encode() + b"\n"
    files[OUTPUT_MARKER] = b"atomic-content build output; replaced by every build\n"
    return OutputTree(files, links, manifest)


def check_output_folder(out: Path, content: Path) -> None:
    """Refuse an output folder that is not the build's to replace: it must be absent, empty,
    or an earlier build's output (a link into ``.<name>.builds`` or a folder with the marker
    file), and it must neither be nor contain nor lie inside the content folder."""
    resolved = out.resolve()
    source = content.resolve()
    if resolved == source or source.is_relative_to(resolved) or resolved.is_relative_to(source):
        raise UsageError(
            f"refusing to build into {out.as_posix()}: it overlaps the content folder "
            f"{content.as_posix()}",
            "choose an output folder outside the content, e.g. --out dist",
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
) -> None:
    """Write ``files`` (and link ``links`` from the trees they name) as a complete new tree and
    switch ``out`` over to it atomically; the previous tree stays intact until then (Ctrl-C,
    a full disk, a crash). StaleOutputError when a file to link is gone; nothing changes.
    ``known`` is the previous build's path -> sha256 when the caller has read it already."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out, lock_wait_seconds):
        builds = out.parent / f".{out.name}.builds"
        builds.mkdir(exist_ok=True)
        new_tree = builds / f"{fingerprint[:16]}-{os.getpid()}"
        if new_tree.exists():
            shutil.rmtree(new_tree)
        new_tree.mkdir()
        try:
            _write_tree(new_tree, files, out if out.is_symlink() else None, links or {}, known)
        except StaleOutputError:
            shutil.rmtree(new_tree, ignore_errors=True)
            raise
        except OSError as exc:
            shutil.rmtree(new_tree, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                raise AtomicError(
                    f"the disk is full while writing {out.as_posix()}; the previous output is "
                    "unchanged"
                ) from None
            raise
        except BaseException:
            # Ctrl-C or a crash: the previous output stays where it was.
            shutil.rmtree(new_tree, ignore_errors=True)
            raise
        switch_output(out, new_tree)
