"""The build: every variant of every message, rendered deterministically into an output tree.

:func:`build` reads as its stages:

1. **load** and validate the content (any error stops here; nothing is written);
2. **resolve** every variant — journey × step × channel × locale × audience (each segment the
   journey personalizes for, plus ``generic``); a required slot that nothing fills stops here;
3. **render** each variant twice: the *template form* (customer tokens kept, for rendering at
   send time) and the *preview form* (rendered with the profile's example values), reusing the
   cache for variants whose inputs did not change, in parallel on large builds;
4. **write** a complete new tree beside the old one, with ``manifest.json`` and the runtime
   bundle, and switch over atomically.

Guarantees: identical inputs give byte-identical output (no timestamps, sorted JSON, sorted
paths; the only date is the resolution date, from ``--date`` or SOURCE_DATE_EPOCH or today);
the output folder either holds the previous complete build or the new complete build, never a
mix; a second build against the same output waits for the lock or stops with a clear message;
no file is ever written outside the output folder.

Output layout (documented in docs/build.md)::

    dist/                                    a symlink to .dist.builds/<build id>/
      manifest.json
      bundle/bundle.json                     what atomic_content.load_bundle() reads
      <journey>/<step>/<channel>/<locale>/<audience>/template/<files>
      <journey>/<step>/<channel>/<locale>/<audience>/preview/<files>
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .analysis import Variant, resolve_variant, variants
from .errors import AtomicError, ContentError, Diagnostics, ResolutionError
from .render import assemble, check_limits, example_customer, render_message
from .repository import Library, content_files
from .resolver import Resolution, Resolver
from .validate import load_library
from .yamlio import read_content_bytes

ENGINE_FORMAT = 1
"""Bumped whenever rendering changes output; part of every cache key."""

PARALLEL_THRESHOLD = 64
"""Below this many variants to render, worker start-up costs more than it saves."""

ProgressCallback = Callable[[int, int], None]


class BuildLockedError(AtomicError):
    """Another build holds the output folder's lock."""


@dataclass(frozen=True)
class VariantOutput:
    """What one variant contributed: files (relative path -> bytes) and its manifest entry."""

    variant_id: str
    files: dict[str, bytes]
    entry: dict[str, Any]
    cache_key: str


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
    manifest: dict[str, Any] = field(default_factory=dict)
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


def resolution_date(explicit: dt.date | None) -> dt.date:
    """``--date``, else SOURCE_DATE_EPOCH (reproducible builds), else today (UTC)."""
    if explicit is not None:
        return explicit
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        with contextlib.suppress(ValueError):
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.datetime.now(tz=dt.UTC).date()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode()


def atom_hash(library: Library, atom_id: str) -> str:
    """Content hash of an atom: its validated fields (not its file, so comments don't count)."""
    return _sha(_canonical(library.atoms[atom_id].model_dump(mode="json")))[:16]


def variant_id(variant: Variant) -> str:
    return "/".join(
        (variant.journey, variant.step, variant.channel, variant.locale, variant.audience)
    )


class _Renderer:
    """Renders variants of one library; lives once per process (parent or forked worker)."""

    def __init__(self, library: Library, on: dt.date, global_key: str) -> None:
        self.library = library
        self.on = on
        self.global_key = global_key
        self.resolver = Resolver(library)
        self.example = example_customer(library)

    def cache_key(self, variant: Variant, resolution: Resolution) -> str:
        """Everything the rendered bytes depend on: engine, settings, profile, the layout files,
        the winning atoms' content and the variant itself. Never modification times."""
        layout_key = f"{variant.channel}/{resolution.layout}"
        layout_path = self.library.paths.get(("layout", layout_key), "")
        entry = self.library.layouts[(variant.channel, resolution.layout)]
        parts = {
            "global": self.global_key,
            "variant": variant_id(variant),
            "layout": self.library.file_hashes.get(layout_path, ""),
            "template": self.library.file_hashes.get(entry.template_path or "", ""),
            "atoms": {slot: atom_hash(self.library, a.id) for slot, a in resolution.atoms.items()},
        }
        return _sha(_canonical(parts))

    def render(self, variant: Variant, resolution: Resolution, key: str) -> VariantOutput:
        assembled = assemble(self.library, resolution)
        preview = render_message(self.library, assembled, self.example, customer_id="example")
        base = variant_id(variant)
        files: dict[str, bytes] = {}
        listing: dict[str, dict[str, Any]] = {}
        for part in assembled.parts:
            for form, text in (("template", part.source), ("preview", preview.parts[part.name])):
                rel = f"{base}/{form}/{part.filename}"
                data = text.encode("utf-8")
                files[rel] = data
                listing[f"{form}/{part.filename}"] = {
                    "path": rel,
                    "sha256": _sha(data),
                    "bytes": len(data),
                }
        problems = check_limits(self.library, preview)
        entry = {
            "id": base,
            "journey": variant.journey,
            "step": variant.step,
            "channel": variant.channel,
            "locale": variant.locale,
            "audience": variant.audience,
            "layout": resolution.layout,
            "files": dict(sorted(listing.items())),
            "slots": {
                slot: {
                    "atom": choice.winner.id,
                    "hash": atom_hash(self.library, choice.winner.id),
                    "segment": choice.matched_segment,
                    "locale": choice.locale,
                }
                for slot, choice in sorted(resolution.slots.items())
                if choice.winner is not None
            },
            "warnings": [
                {"severity": str(p.severity), "code": p.code, "message": p.message}
                for p in sorted(problems, key=lambda p: (p.code, p.message))
            ],
        }
        return VariantOutput(base, files, entry, key)


# A forked worker inherits this instead of reloading the content.
_WORKER: _Renderer | None = None


def _render_in_worker(task: tuple[Variant, str]) -> VariantOutput:
    variant, key = task
    assert _WORKER is not None
    resolution = resolve_variant(_WORKER.resolver, variant, on=_WORKER.on)
    return _WORKER.render(variant, resolution, key)


class _Cache:
    """Rendered variants keyed by content hash, one JSON file per key."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> VariantOutput | None:
        if self.folder is None:
            return None
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            files = {rel: text.encode("utf-8") for rel, text in data["files"].items()}
            # A damaged entry is a miss, never wrong output.
            for meta in data["entry"]["files"].values():
                if _sha(files[meta["path"]]) != meta["sha256"]:
                    return None
            return VariantOutput(data["entry"]["id"], files, data["entry"], key)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, output: VariantOutput) -> None:
        if self.folder is None:
            return
        path = self._path(output.cache_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "entry": output.entry,
            "files": {rel: data.decode("utf-8") for rel, data in output.files.items()},
        }
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)


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
    """``root/rel``, refusing anything that would land outside ``root``."""
    if (
        rel.startswith("/")
        or "\\" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise AtomicError(f"refusing to write outside the output folder: {rel!r}")
    target = root / rel
    if not target.resolve().is_relative_to(root.resolve()):
        raise AtomicError(f"refusing to write outside the output folder: {rel!r}")
    return target


def _previous_files(out: Path) -> dict[str, str]:
    """Relative path -> sha256 of the variant files of the build ``out`` points at now."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        return {
            meta["path"]: meta["sha256"]
            for variant in manifest["variants"]
            for meta in variant["files"].values()
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_tree(folder: Path, files: dict[str, bytes], previous: Path | None = None) -> None:
    """Write every file below ``folder``, folders first.

    A file whose bytes equal the same path in the previous build (``previous``, the folder the
    output pointed at) is hard-linked instead of written: linking is an order of magnitude
    cheaper than writing on slow disks, and safe because no build ever modifies a file in
    place — old trees are only ever deleted as a whole.
    """
    targets = {rel: _safe_target(folder, rel) for rel in sorted(files)}
    for parent in sorted({t.parent for t in targets.values()}):
        parent.mkdir(parents=True, exist_ok=True)
    known = _previous_files(previous) if previous is not None else {}
    old_root = previous.resolve() if previous is not None and previous.exists() else None
    for rel, target in targets.items():
        data = files[rel]
        if old_root is not None and known.get(rel) == _sha(data):
            try:
                os.link(old_root / rel, target)
                continue
            except OSError:
                pass  # another file system, or the old file is gone: write it instead
        target.write_bytes(data)


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


def input_fingerprint(content: Path, on: dt.date, extra: dict[str, Any]) -> str:
    """Hash of every byte under the content root plus the build options: the no-op check."""
    digest = hashlib.sha256()
    digest.update(
        _canonical(
            {"engine": __version__, "format": ENGINE_FORMAT, "date": on.isoformat(), **extra}
        )
    )
    # content_files: no link out, no pipe or device, limits before reading (see repository.py).
    paths, refused = content_files(content)
    for path in paths:  # sorted: the digest does not depend on the file system's order
        raw, problem = read_content_bytes(path, content)
        digest.update(path.relative_to(content).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(raw if raw is not None else repr(problem).encode()).digest())
    for problem in refused:  # a refused file still changes the digest (and fails the load)
        digest.update(repr(problem).encode())
    return digest.hexdigest()


def build(
    content: Path,
    out: Path = Path("dist"),
    *,
    on: dt.date | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    lock_wait_seconds: float = 0.0,
    checked: tuple[Library, Diagnostics] | None = None,
) -> BuildResult:
    """Build every variant of ``content`` into ``out``.

    Raises ContentError (validation errors) or ResolutionError (required slots without content)
    before anything is written, BuildLockedError when another build holds the output, and
    AtomicError for an output path that would leave ``out``. ``jobs`` defaults to the number of
    cores; ``progress(done, total)`` is called as variants finish. ``checked`` is the result of
    ``check_content(content, on)`` when the caller has it, so the tree is not loaded twice.
    """
    started = time.perf_counter()
    content = Path(content)
    out = Path(out).absolute()
    on = resolution_date(on)
    cache = _Cache((cache_dir or out.parent / f".{out.name}.cache") if use_cache else None)

    # 0. nothing changed? Every input byte, the engine and the date are in the fingerprint,
    # so a no-op rebuild costs one read of the content tree and nothing else.
    fingerprint = input_fingerprint(content.resolve(), on, {}) if content.is_dir() else ""
    info_path = out / "build-info.json"
    if use_cache and info_path.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            info = json.loads(info_path.read_text(encoding="utf-8"))
            if info["input"] == fingerprint:
                return BuildResult(
                    out,
                    int(info["variants"]),
                    int(info["files"]),
                    0,
                    0,
                    Diagnostics(),
                    time.perf_counter() - started,
                    skipped=True,
                    warning_count=int(info["warnings"]),
                )

    stages: dict[str, float] = {"fingerprint": time.perf_counter() - started}
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stages[name] = now - mark
        mark = now

    empty_trash_in_background(out)  # left over from an interrupted deletion, if any

    # 1. load
    if checked is not None:
        # The caller validated ``content`` already (check_content with the same date).
        library, warnings = checked
        if warnings.has_errors or library.settings is None or library.profile is None:
            raise ContentError(warnings)
    else:
        library, warnings = load_library(content, on)
    stage("load")

    # 2. resolve
    global_key = _sha(
        _canonical(
            {
                "engine": __version__,
                "format": ENGINE_FORMAT,
                "date": on.isoformat(),
                "settings": library.file_hashes.get(
                    library.paths.get(("settings", "settings"), ""), ""
                ),
                "profile": library.file_hashes.get(
                    library.paths.get(("profile", "profile"), ""), ""
                ),
            }
        )
    )
    renderer = _Renderer(library, on, global_key)
    gaps = Diagnostics()
    planned: list[tuple[Variant, Resolution, str]] = []
    for variant in variants(library):
        resolution = resolve_variant(renderer.resolver, variant, on=on)
        try:
            renderer.resolver.require_complete(resolution)
        except ResolutionError as exc:
            gaps.extend(exc.diagnostics)
            continue
        planned.append((variant, resolution, renderer.cache_key(variant, resolution)))
    if gaps:
        raise ResolutionError(gaps)
    stage("resolve")

    # 3. render (cache first, then the rest, in parallel when it pays)
    outputs: dict[str, VariantOutput] = {}
    todo: list[tuple[Variant, Resolution, str]] = []
    for variant, resolution, key in planned:
        hit = cache.get(key)
        if hit is not None:
            outputs[variant_id(variant)] = hit
        else:
            todo.append((variant, resolution, key))
    total = len(planned)
    done = len(outputs)
    if progress:
        progress(done, total)
    workers = max(1, min(jobs or os.cpu_count() or 1, 32))
    if (
        workers > 1
        and len(todo) >= PARALLEL_THRESHOLD
        and "fork" in multiprocessing.get_all_start_methods()
    ):
        global _WORKER
        _WORKER = renderer
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                tasks = [(variant, key) for variant, _resolution, key in todo]
                for output in pool.map(
                    _render_in_worker, tasks, chunksize=max(1, len(tasks) // (workers * 8))
                ):
                    outputs[output.variant_id] = output
                    cache.put(output)
                    done += 1
                    if progress:
                        progress(done, total)
        finally:
            _WORKER = None
    else:
        for variant, resolution, key in todo:
            output = renderer.render(variant, resolution, key)
            outputs[output.variant_id] = output
            cache.put(output)
            done += 1
            if progress:
                progress(done, total)

    stage("render")

    # A hard channel limit (subject over 150 characters, push payload over 4 KB ...) is an
    # error: such a message would be cut or refused by the platform, so nothing is written.
    over_limit = Diagnostics()
    for vid in sorted(outputs):
        for problem in outputs[vid].entry["warnings"]:
            journey = outputs[vid].entry["journey"]
            path = library.paths.get(("journey", journey), "")
            hint = "shorten the atoms of this message (see the manifest for which)"
            if problem["severity"] == "error":
                over_limit.error(path, 0, 0, problem["code"], f"{vid}: {problem['message']}", hint)
            else:
                warnings.warning(path, 0, 0, problem["code"], f"{vid}: {problem['message']}", hint)
    if over_limit:
        raise ContentError(over_limit)

    # 4. write
    from .bundle import bundle_payload

    files: dict[str, bytes] = {}
    entries = []
    for vid in sorted(outputs):
        files.update(outputs[vid].files)
        entries.append(outputs[vid].entry)
    bundle_bytes = _canonical(bundle_payload(library, variant_ids=outputs, on=on))
    files["bundle/bundle.json"] = bundle_bytes
    manifest: dict[str, Any] = {
        "manifest_version": 1,
        "engine": __version__,
        "date": on.isoformat(),
        "input": fingerprint,
        "file_count": len(files) + 2,
        "bundle": {"path": "bundle/bundle.json", "sha256": _sha(bundle_bytes)},
        "variants": entries,
        "warnings": [d.to_dict() for d in warnings],
    }
    files["manifest.json"] = (
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
    )
    # A small file for the no-op check, so an unchanged rebuild never parses the manifest.
    info = {"input": fingerprint, "variants": len(entries), "files": len(files) + 1,
            "warnings": len(warnings)}  # fmt: skip
    files["build-info.json"] = json.dumps(info, indent=2, sort_keys=True).encode() + b"\n"
    stage("bundle")

    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out, lock_wait_seconds):
        builds = out.parent / f".{out.name}.builds"
        builds.mkdir(exist_ok=True)
        new_tree = builds / f"{fingerprint[:16]}-{os.getpid()}"
        if new_tree.exists():
            shutil.rmtree(new_tree)
        new_tree.mkdir()
        try:
            _write_tree(new_tree, files, out if out.is_symlink() else None)
        except BaseException:
            # Ctrl-C, a full disk or a crash: the previous output stays where it was.
            shutil.rmtree(new_tree, ignore_errors=True)
            raise
        stage("write")
        switch_output(out, new_tree)
    stage("switch")
    return BuildResult(
        out,
        len(entries),
        len(files),
        len(todo),
        total - len(todo),
        warnings,
        time.perf_counter() - started,
        manifest=manifest,
        stages=stages,
    )
