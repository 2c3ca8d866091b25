"""The render stage: every planned variant in template and preview form, limit-checked.

For each variant of a :class:`~atomic_content.plan.Plan` the stage assembles the *template form*
(customer tokens kept, for rendering at send time), renders the *preview form* with the
profile's example values, measures the channel limits on it and describes it in a typed
:class:`~atomic_content.manifest.VariantEntry`. It reuses the plan's resolutions (nothing is
resolved again), takes unchanged variants from a content-addressed cache, and renders the rest
in parallel worker processes on large builds.

``atomic validate`` and ``atomic build`` run this same stage, so a tree that validates clean
builds clean: a layout that fails to render and a message over a hard channel limit are
diagnostics here, positioned at the layout file or at the atom that makes the message too long.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import pickle
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import TypeAdapter

from .assets import asset_files, relative_assets
from .channels import limit_advice, problem_hint
from .channels.base import atom_sources
from .collector import long_lived
from .errors import Diagnostics, RenderError
from .hashing import sha256_hex
from .manifest import (
    FileEntry,
    LimitEntry,
    Manifest,
    ManifestError,
    SlotEntry,
    VariantEntry,
    VariantLines,
    entry_line,
    written_variants,
)
from .parallel import share_work
from .pieces import INDEX, PieceFolder, piece_name, replacing
from .plan import Plan, PlannedVariant
from .render import assemble, check_limits, example_customer, render_message
from .repository import Library
from .tokens import customer_paths, filtered_paths

PARALLEL_THRESHOLD = 64
"""Below this many variants to render, worker start-up costs more than it saves."""

SHARES_PER_PROCESS = 32
"""Shares of the variants to render per process: enough for a slowed process to do fewer."""

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class VariantOutput:
    """What one variant contributed: its files (path below the build root -> bytes), its
    manifest entry, its template form as bundle JSON, and the cache key it was stored under."""

    variant_id: str
    files: dict[str, bytes]
    entry: VariantEntry
    message: bytes
    cache_key: str
    linked_from: Path | None = None
    """Set when the variant is unchanged since the build in that folder (see
    :class:`PreviousBuild`): ``files`` and ``message`` are then empty, and the writer links
    the files ``entry`` lists, and the template form, from there instead of reading them."""
    written: bool = False
    """Set when a :class:`VariantSink` has already written the files ``entry`` lists and the
    template form into the new output tree: ``files`` and ``message`` are then empty."""
    line: str = ""
    """``entry``'s manifest line (:func:`~atomic_content.manifest.entry_line`) when the
    render made it (in a worker, in parallel); empty for a reused variant."""
    entry_only: bool = False
    """Set when a cache that only checks read it (``VariantCache(entries_only=True)``, for
    ``atomic validate``): ``files`` and ``message`` are empty, and nothing may write it."""


class VariantSink(Protocol):
    """Where a parallel render stage writes each variant's files as soon as it is rendered
    (the build's new output tree), so that writing them is parallel work too.

    :meth:`begin` runs in the parent process before the workers start; :meth:`put` runs in the
    process that rendered the variant (a worker, or the parent, which renders shares too),
    after the variant was stored in the cache, and returns the output to keep (without the
    bytes it wrote, marked ``written``).
    """

    def begin(self) -> None: ...

    def put(self, output: VariantOutput) -> VariantOutput: ...


@dataclass(frozen=True)
class VariantFailure:
    """A variant that could not be rendered (a layout error); plain data so that it crosses
    process boundaries whatever the exception was."""

    variant_id: str
    code: str
    message: str
    hint: str
    path: str
    line: int
    col: int


@dataclass
class RenderedPlan:
    """The render stage's result: outputs by variant id, failures, and cache statistics."""

    outputs: dict[str, VariantOutput] = field(default_factory=dict)
    failures: list[VariantFailure] = field(default_factory=list)
    rendered: int = 0
    cached: int = 0


_ENTRY = TypeAdapter(VariantEntry)


@dataclass(frozen=True)
class PreviousBuild:
    """The build an output folder holds: where its tree is, its manifest entries and the cache
    key each variant was rendered under (kept in ``build-info.json``).

    A variant whose key is unchanged has the same files, so a rebuild links them from the
    old tree without reading, hashing or writing them: a one-atom edit writes only what the
    edit changed.
    """

    root: Path
    entries: Mapping[str, VariantEntry]
    keys: Mapping[str, str]
    lines: VariantLines = field(default_factory=dict)
    """Each variant's entry and line in the previous ``manifest.json`` (see
    :func:`~atomic_content.manifest.written_variants`), when the file is byte for byte the one
    that build wrote (its hash is in ``build-info.json``); empty otherwise."""

    @classmethod
    def read(cls, out: Path, memo: EntryMemo | None = None) -> PreviousBuild | None:
        """The previous build in ``out``, or None (no build there, or an unreadable one).
        With ``memo`` its variants are taken from there when it holds this very build's."""
        with long_lived():  # its entries are reused until the build ends
            return cls._read(out, memo)

    @classmethod
    def _read(cls, out: Path, memo: EntryMemo | None) -> PreviousBuild | None:
        try:
            info = json.loads((out / "build-info.json").read_text(encoding="utf-8"))
            keys = info["keys"]
            root = out.resolve()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(keys, dict):
            return None
        written = info.get("manifest")
        lines = memo.read(written) if memo is not None and isinstance(written, str) else None
        if lines is None:
            try:
                raw = (out / "manifest.json").read_bytes()
            except OSError:
                return None
            # The manifest this engine wrote (its hash is in build-info.json): its variants
            # alone, lines included. Anything else (edited by hand, another version): parsed
            # and checked whole, and no line is reused.
            lines = written_variants(raw) if written == sha256_hex(raw) else None
            if lines is None:
                try:
                    return cls(root, Manifest.from_json(raw).by_id, keys)
                except ManifestError:
                    return None
        return cls(root, {key: entry for key, (entry, _line) in lines.items()}, keys, lines)

    def file_hashes(self) -> dict[str, str]:
        """Relative path -> sha256 of every variant file of the previous build."""
        return {
            meta.path: meta.sha256
            for entry in self.entries.values()
            for meta in entry.files.values()
        }

    def reuse(self, key: str, variant: PlannedVariant) -> VariantOutput | None:
        """The variant as the previous build wrote it, when its key is the same."""
        entry = self.entries.get(variant.id)
        if entry is None or self.keys.get(variant.id) != key:
            return None
        entry = with_plan_fields(entry, variant)
        return VariantOutput(variant.id, {}, entry, b"", key, linked_from=self.root)


EntryLines = dict[str, tuple[VariantEntry, str]]
"""Variant id -> its manifest entry and the line ``manifest.json`` holds for it."""

_ENTRY_MEMO_HEADER = b"atomic-content entry memo 1\n"
_ENTRY_CLASSES = {
    (cls.__module__, cls.__qualname__): cls
    for cls in (VariantEntry, FileEntry, SlotEntry, LimitEntry, dt.date)
}


class _EntryUnpickler(pickle.Unpickler):
    """Resolves the manifest's entry classes and nothing else: a hostile memo cannot run code
    (at worst it holds wrong values, as any cache could)."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ENTRY_CLASSES.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of an entry memo")
        return found


class EntryMemo:
    """The variants of the last build of an output folder, each with its manifest entry and
    its line in ``manifest.json``, kept as pickles in the build's cache folder: the next build
    reads them several times faster than it parses the manifest (tens of megabytes for a
    large library), and it reads them for every variant it reuses.

    One file per message, named by the sha256 of its bytes (checked when read), and an index
    naming them and the manifest they are the variants of (its sha256, which the build also
    writes to ``build-info.json``): after a one-atom edit only the messages whose entries
    changed are written. A missing, damaged, foreign or outdated memo is no memo: the build
    then parses the manifest. A memo that read or saved a build's variants answers for that
    build from memory (``atomic build --watch`` builds again and again in one process).
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        # message -> (file name, the variants loaded from or saved to it)
        self._files: dict[str, tuple[str, EntryLines]] = {}
        # The manifest whose variants were last read or saved, and their messages.
        self._manifest: str | None = None
        self._messages: list[str] = []
        self.deferred = False
        """When set, :meth:`save` keeps the variants in memory only, until :meth:`flush`."""
        self._unsaved: tuple[str, VariantLines] | None = None

    def read(self, manifest: str) -> EntryLines | None:
        """The variants of the build whose manifest has the sha256 ``manifest``, or None."""
        if self.folder is None:
            return None
        if self._unsaved is not None and manifest == self._unsaved[0]:
            return dict(self._unsaved[1])
        if manifest == self._manifest:
            found: EntryLines = {}
            for message in self._messages:
                found.update(self._files[message][1])
            return found
        try:
            return self._read(self.folder, manifest)
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                AttributeError, IndexError, RecursionError):  # fmt: skip
            self._files.clear()
            self._manifest = None
            return None

    def _read(self, folder: Path, manifest: str) -> EntryLines | None:
        index = _undump_entries((folder / INDEX).read_bytes())
        if not (
            type(index) is dict
            and index.get("manifest") == manifest
            and type(index.get("files")) is dict
        ):
            return None
        found: EntryLines = {}
        files: dict[str, tuple[str, EntryLines]] = {}
        for message, name in index["files"].items():
            data = (folder / name).read_bytes()
            if type(message) is not str or name != piece_name(data):
                return None
            piece = _undump_entries(data)
            if type(piece) is not dict:
                return None
            for variant_id, item in piece.items():
                if not (
                    type(item) is tuple
                    and len(item) == 2
                    and type(item[0]) is VariantEntry
                    and item[0].id == variant_id
                    and type(item[1]) is str
                    and variant_id not in found
                ):
                    return None
                found[variant_id] = item
            files[message] = (name, piece)
        self._files = files
        self._manifest, self._messages = manifest, list(files)
        return found

    def save(self, manifest: str, lines: VariantLines) -> None:
        """Keep ``lines``, the variants of the build whose manifest has the sha256
        ``manifest``; messages whose variants are the very ones read are not written again
        (at :meth:`flush` when :attr:`deferred`)."""
        if self.folder is None:
            return
        self._unsaved = (manifest, lines)
        if not self.deferred:
            self.flush()

    def flush(self) -> None:
        """Write the variants a deferred :meth:`save` kept in memory only."""
        if self._unsaved is None:
            return
        manifest, lines = self._unsaved
        self._unsaved = None
        assert self.folder is not None
        groups: dict[str, EntryLines] = {}
        for variant_id, item in lines.items():
            entry = item[0]
            message = f"{entry.journey}/{entry.step}/{entry.channel}/{entry.locale}"
            groups.setdefault(message, {})[variant_id] = item
        try:
            folder = PieceFolder(self.folder)
            files: dict[str, str] = {}
            for message, piece in sorted(groups.items()):
                known = self._files.get(message)
                if known is not None and _same_lines(known[1], piece):
                    files[message] = known[0]
                    continue
                name = folder.put(_dump_entries(piece))
                files[message] = name
                self._files[message] = (name, piece)
            folder.commit(_dump_entries({"manifest": manifest, "files": files}), files.values())
        except OSError:
            self._manifest = None
            return  # a memo that cannot be written only costs time next run
        self._manifest, self._messages = manifest, list(files)


def _same_lines(old: EntryLines, new: EntryLines) -> bool:
    if old.keys() != new.keys():
        return False
    for variant_id, (entry, line) in new.items():
        was = old[variant_id]
        if not (was[0] is entry or was[0] == entry) or not (was[1] is line or was[1] == line):
            return False
    return True


def _dump_entries(value: object) -> bytes:
    buffer = io.BytesIO()
    buffer.write(_ENTRY_MEMO_HEADER)
    pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _undump_entries(data: bytes) -> object:
    if not data.startswith(_ENTRY_MEMO_HEADER):
        raise ValueError("not an entry memo")
    handle = io.BytesIO(data)
    handle.seek(len(_ENTRY_MEMO_HEADER))
    return _EntryUnpickler(handle).load()


_VARIANT_HEADER = b"atomic-content variant 1\n"
"""The first line of a :class:`VariantCache` entry (another format is a miss)."""

PRUNE_AFTER_SECONDS = 14 * 24 * 3600
"""A build's variant cache keeps an entry its build does not use for this long after it was
written (the renders of a branch built last week); see :meth:`VariantCache.prune`."""

PRUNE_EVERY_SECONDS = 24 * 3600
"""How often a build looks for entries to delete (a look lists every entry)."""

_PRUNED_MARKER = "pruned"
"""The file in a variant cache folder whose modification time is the last look."""

_ENTRY_FOLDER = re.compile(r"[0-9a-f]{2}")
"""The name of a folder of entries: the first two hex digits of their keys."""

SHARED_FOLDER = "variants-v3"
"""The variant cache's folder in the user's cache folder, for ``atomic validate`` and the
studio (a build keeps its own beside its output); named anew when the entry format changes,
so no run reads another's entries."""


class VariantCache:
    """Rendered variants keyed by content hash, one file per key. A damaged entry is a miss,
    never wrong output. ``folder=None`` disables it. With ``previous``, variants unchanged
    since that build are taken from it first (see :class:`PreviousBuild`).

    An entry is :data:`_VARIANT_HEADER`, one line of JSON (the manifest entry, each file's
    name and size, the template form's size), then those bytes as they are. The rendered
    files are most of it (116 MB for a 10 000-atom library): as JSON strings they were
    decoded, escaped and encoded again on every write and read (a warm ``atomic validate``
    of that library took 2.43-2.63 s with them, 1.93-2.21 s without)."""

    def __init__(
        self,
        folder: Path | None,
        *,
        read: bool = True,
        previous: PreviousBuild | None = None,
        entries_only: bool = False,
    ) -> None:
        self.folder = folder
        self.read = read
        self.previous = previous
        self.entries_only = entries_only
        """Read only each entry's first lines, its manifest entry (:attr:`VariantOutput.
        entry_only`): a run that checks needs each variant's limit problems, not its bytes
        (reading and hashing them took 0.2-0.45 s of a warm ``atomic validate``'s 2 s)."""

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.variant"

    def get(self, key: str, variant: PlannedVariant) -> VariantOutput | None:
        if self.previous is not None and self.read:
            reused = self.previous.reuse(key, variant)
            if reused is not None:
                return reused
        if self.folder is None or not self.read:
            return None
        try:
            with self._path(key).open("rb") as handle:
                # Entries only: the first line and the header line.
                raw = handle.readline() + handle.readline() if self.entries_only else handle.read()
            if not raw.startswith(_VARIANT_HEADER):
                return None
            start = raw.index(b"\n", len(_VARIANT_HEADER)) + 1
            head = json.loads(raw[len(_VARIANT_HEADER) : start])
            entry = _ENTRY.validate_python(head["entry"])
            if self.entries_only:
                entry = with_plan_fields(entry, variant)
                return VariantOutput(variant.id, {}, entry, b"", key, entry_only=True)
            files: dict[str, bytes] = {}
            for rel, size in head["files"]:
                files[str(rel)] = raw[start : start + size]
                start += size
            message = raw[start:]
            if len(message) != head["message"]:
                return None  # cut short, or bytes after its end
            for meta in entry.files.values():
                if sha256_hex(files[meta.path]) != meta.sha256:
                    return None
            if sha256_hex(message) != entry.message:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return VariantOutput(variant.id, files, with_plan_fields(entry, variant), message, key)

    def prune(self, keep: Iterable[str], *, now: float | None = None) -> int | None:
        """Delete the entries written more than :data:`PRUNE_AFTER_SECONDS` ago that ``keep``
        (the cache keys of the run that just finished) does not name, and every other file
        of the entry folders: an older engine's ``*.json``, or a ``*.tmp*`` an interrupted
        write left (over an hour old). Only the two-letter entry folders are looked into:
        the plan memo, the entry memo and the input digests beside them are not the cache's.

        Looks at most once per :data:`PRUNE_EVERY_SECONDS`; returns how many files it
        deleted, None when it did not look. Never raises: a cache that cannot be pruned only
        takes more room. Another build that shares the folder (``build(cache_dir=...)``)
        loses at most entries it will render again."""
        if self.folder is None:
            return None
        now = time.time() if now is None else now
        marker = self.folder / _PRUNED_MARKER
        with contextlib.suppress(OSError):  # no marker: never looked
            if now - marker.stat().st_mtime < PRUNE_EVERY_SECONDS:
                return None
        kept = set(keep)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            marker.touch()
            os.utime(marker, (now, now))
            with os.scandir(self.folder) as found:
                # Never through a link: it could lead to files that are not the cache's.
                folders = [
                    f.path
                    for f in found
                    if _ENTRY_FOLDER.fullmatch(f.name) and f.is_dir(follow_symlinks=False)
                ]
        except OSError:
            return None
        deleted = 0
        for folder in folders:
            with contextlib.suppress(OSError), os.scandir(folder) as files:
                for file in files:
                    with contextlib.suppress(OSError):
                        age = now - file.stat(follow_symlinks=False).st_mtime
                        key, _, suffix = file.name.partition(".")
                        if suffix == "variant":
                            stale = key not in kept and age > PRUNE_AFTER_SECONDS
                        elif suffix.startswith("tmp"):  # put's <key>.tmp... (replacing)
                            stale = age > 3600  # a write in progress is younger
                        else:
                            stale = True  # another format: never read again
                        if stale:
                            Path(file.path).unlink()
                            deleted += 1
        return deleted

    def put(self, output: VariantOutput) -> None:
        if self.folder is None:
            return
        path = self._path(output.cache_key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            head = {
                "entry": _ENTRY.dump_python(output.entry, mode="json"),
                "files": [[rel, len(data)] for rel, data in output.files.items()],
                "message": len(output.message),
            }
            with replacing(path) as handle:
                handle.write(_VARIANT_HEADER)
                handle.write(json.dumps(head, sort_keys=True).encode() + b"\n")
                for data in output.files.values():
                    handle.write(data)
                handle.write(output.message)
        except OSError:
            pass  # a cache that cannot be written only costs time next run


def prune_shared(root: Path | None, keep: Iterable[str], *, now: float | None = None) -> None:
    """Prune the shared variant cache in the user's cache folder ``root`` (see
    :meth:`VariantCache.prune`; ``keep``: the cache keys of the run that just finished), and
    when it looks, delete the folders of older entry formats beside it (``variants-v2``):
    no run reads them again. The entries of a project not checked for two weeks go too; its
    next check renders them again."""
    if root is None or VariantCache(root / SHARED_FOLDER).prune(keep, now=now) is None:
        return
    for folder in root.glob("variants-v*"):
        if folder.name != SHARED_FOLDER and not folder.is_symlink() and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def uses_fields(
    variant: PlannedVariant,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The manifest's (tokens, targeting, personal) of a variant's attribute uses, sorted."""
    uses = variant.uses
    return tuple(sorted(uses.tokens)), tuple(sorted(uses.targeting)), tuple(sorted(uses.personal))


def with_plan_fields(entry: VariantEntry, variant: PlannedVariant) -> VariantEntry:
    """``entry`` (rendered earlier, from a cache or the previous build) with the fields that
    are the plan's, not the render's: the period and the attribute uses. The bytes do not
    depend on them, so they are not in the cache key (a segment's condition is not), and a
    reused entry must take them from this plan, never from the run that rendered it."""
    tokens, targeting, personal = uses_fields(variant)
    fields = (variant.start, variant.until, tokens, targeting, personal)
    if fields == (
        entry.valid_from,
        entry.valid_until,
        entry.tokens,
        entry.targeting,
        entry.personal,
    ):
        return entry  # most reuses: nothing to change, no copy
    return dataclasses.replace(
        entry,
        valid_from=variant.start,
        valid_until=variant.until,
        tokens=tokens,
        targeting=targeting,
        personal=personal,
    )


class VariantRenderer:
    """Renders variants of one library; lives once per process (parent or forked worker)."""

    def __init__(self, library: Library) -> None:
        assert library.settings is not None
        self.library = library
        self.settings = library.settings
        self.example = example_customer(library)
        self.assets = sorted(asset_files(library.root)) if library.root else []

    def render(self, variant: PlannedVariant, key: str) -> VariantOutput:
        """Both forms of one variant; RenderError for a layout that cannot be rendered."""
        assembled = assemble(self.library, variant.resolution)
        preview = render_message(
            self.library.profile, assembled, self.example, customer_id="example"
        )
        files: dict[str, bytes] = {}
        listing: dict[str, FileEntry] = {}
        for part in assembled.parts:
            # The preview form shows the build's copy of the assets (<out>/assets/), so that it
            # opens offline; the template form keeps the production URLs.
            up = variant.id.count("/") + 2 + part.filename.count("/")
            shown = relative_assets(preview.parts[part.name], self.settings.brand, self.assets, up)
            for form, text in (("template", part.source), ("preview", shown)):
                rel = f"{variant.id}/{form}/{part.filename}"
                data = text.encode("utf-8")
                files[rel] = data
                listing[f"{form}/{part.filename}"] = FileEntry(rel, sha256_hex(data), len(data))
        message = assembled.to_json()
        problems = check_limits(self.settings, preview)
        tokens, targeting, personal = uses_fields(variant)
        entry = VariantEntry(
            id=variant.id,
            journey=variant.journey,
            step=variant.step,
            channel=variant.channel,
            locale=variant.locale,
            audience=variant.audience,
            valid_from=variant.start,
            valid_until=variant.until,
            layout=variant.resolution.layout,
            language=variant.resolution.language,
            message=sha256_hex(message),
            files=dict(sorted(listing.items())),
            slots={
                slot: SlotEntry(
                    choice.winner.id,
                    self.library.atom_hash(choice.winner),
                    choice.matched_segment,
                    choice.locale,
                )
                for slot, choice in sorted(variant.resolution.slots.items())
                if choice.winner is not None
            },
            warnings=tuple(
                LimitEntry(p.severity.value, p.code, p.message, p.slot)
                for p in sorted(problems, key=lambda p: (p.code, p.message))
            ),
            tokens=tokens,
            targeting=targeting,
            personal=personal,
        )
        return VariantOutput(variant.id, files, entry, message, key, line=entry_line(entry))

    def render_safely(self, variant: PlannedVariant, key: str) -> VariantOutput | VariantFailure:
        try:
            return self.render(variant, key)
        except RenderError as exc:
            path, line, col, message = self._failure_position(variant, exc)
            return VariantFailure(variant.id, exc.code, message, exc.hint, path, line, col)

    def _failure_position(
        self, variant: PlannedVariant, exc: RenderError
    ) -> tuple[str, int, int, str]:
        """Where an editor fixes a render failure, and its message without the file name.

        A position the error carries wins; then the atom it names (e.g. a subject atom that
        cannot go into a header), or else the only atom of the variant whose tokens read the
        attribute it names (a filter refusing the example value), at its text; then the layout
        template for a failure of the template itself (Jinja, MJML, CSS), else the layout's
        YAML file. The message names the attribute when the error does and its text does not.
        """
        message = str(exc.message)
        if exc.attribute is not None and exc.attribute not in message:
            message = f"attribute {exc.attribute!r}: {message}"
        if exc.path:
            return exc.path, exc.line, exc.col, message
        library = self.library
        atom_id = exc.atom_id or _only_reader(variant, exc.attribute, exc.code)
        if atom_id is not None and atom_id in library.atoms:
            path, line, col = _atom_text_position(library, atom_id)
            return path, line, col, message
        path, template = _layout_files(library, variant)
        if template and exc.code.startswith(("render.layout", "render.mjml", "render.css")):
            path = template
        # The layout's name opens the message of a template failure; the position has it.
        if path and message.startswith(f"{path}: "):
            message = message[len(path) + 2 :]
        return path, exc.line, exc.col, message


def render_plan(
    library: Library,
    plan: Plan,
    *,
    cache: VariantCache | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    sink: VariantSink | None = None,
) -> RenderedPlan:
    """Render every variant of ``plan`` (cache first, the rest in parallel when it pays).

    Never raises for a broken layout: such variants are :class:`VariantFailure` entries (see
    :func:`render_diagnostics`). ``jobs`` defaults to the number of cores. When the render
    runs in several processes and ``sink`` is given, each process hands it every rendered
    variant (see :class:`VariantSink`); otherwise ``sink`` is not used.
    """
    cache = cache or VariantCache(None)
    renderer = VariantRenderer(library)
    result = RenderedPlan()
    todo: list[tuple[PlannedVariant, str]] = []
    for variant in plan.variants:
        key = variant.cache_key
        hit = cache.get(key, variant)
        if hit is not None:
            result.outputs[variant.id] = hit
        else:
            todo.append((variant, key))
    result.cached = len(result.outputs)
    total = len(plan.variants)
    done = len(result.outputs)
    if progress:
        progress(done, total)

    processes = max(1, min(jobs or os.cpu_count() or 1, 32))
    if processes == 1 or len(todo) < PARALLEL_THRESHOLD:
        processes, sink = 1, None  # one process: the write stage writes every file
    elif sink is not None:
        sink.begin()
    # Runs of neighbouring variants (one message's audiences write beside each other).
    size = -(-len(todo) // (processes * SHARES_PER_PROCESS)) or 1
    shares = [todo[i : i + size] for i in range(0, len(todo), size)]

    def render_share(index: int) -> list[VariantOutput | VariantFailure]:
        outputs = []
        for variant, key in shares[index]:
            output = renderer.render_safely(variant, key)
            if isinstance(output, VariantOutput):
                # In parallel, writing the cache and the output tree is parallel work too,
                # and the bytes a worker wrote to the tree need not travel back.
                cache.put(output)
                if sink is not None:
                    output = sink.put(output)
            outputs.append(output)
        return outputs

    def advance(_index: int, outputs: list[VariantOutput | VariantFailure]) -> None:
        nonlocal done
        done += len(outputs)
        if progress:
            progress(done, total)

    for outputs in share_work(len(shares), processes, render_share, finished=advance):
        for output in outputs:
            if isinstance(output, VariantFailure):
                result.failures.append(output)
            else:
                result.outputs[output.variant_id] = output
                result.rendered += 1
    result.failures.sort(key=lambda f: f.variant_id)
    return result


def render_diagnostics(library: Library, plan: Plan, rendered: RenderedPlan) -> Diagnostics:
    """Diagnostics of the render stage: layouts that failed to render (at the layout file) and
    channel limits (errors over a hard limit, warnings over a recommended one), each at the
    atom that fills the measured slot, or at the journey step's channel for a whole-message
    limit. One diagnostic per place and problem, naming how many variants it affects."""
    diagnostics = Diagnostics()
    seen_failures: dict[tuple[str, str, str], list[str]] = {}
    failure_at: dict[tuple[str, str, str], VariantFailure] = {}
    for failure in rendered.failures:
        where = (failure.path, failure.code, failure.message)
        seen_failures.setdefault(where, []).append(failure.variant_id)
        failure_at.setdefault(where, failure)
    for where, ids in seen_failures.items():
        failure = failure_at[where]
        diagnostics.error(
            failure.path,
            failure.line,
            failure.col,
            failure.code,
            failure.message + _affected(ids),
            failure.hint,
        )
    grouped: dict[tuple[str, int, int, str, str, str, str], list[str]] = {}
    # Thousands of variants share a handful of atoms, steps and layouts: position each place
    # once.
    positions: dict[tuple[str, ...], tuple[str, int, int]] = {}
    # Tens of thousands of problems share a few codes: look each code's advice and hint up
    # once (a hint depends on the code, the slot and whether an atom fills it).
    in_layout: dict[str, bool] = {}
    hints: dict[tuple[str, str | None, bool], str] = {}
    for variant_id, output in sorted(rendered.outputs.items()):
        if not output.entry.warnings:
            continue
        variant = plan.variant(variant_id)
        for problem in output.entry.warnings:
            code = problem.code
            layouts = in_layout.get(code)
            if layouts is None:
                advice = limit_advice(code)
                layouts = in_layout[code] = advice is not None and advice.in_layout
            choice = variant.resolution.slots.get(problem.slot) if problem.slot else None
            winner = choice.winner if choice is not None else None
            place: tuple[str, ...]
            if layouts:
                # The layout's own problem: once at its template, for all its messages.
                place = ("layout", variant.channel, variant.resolution.layout)
            elif winner is not None:
                place = ("atom", winner.id)
            else:
                place = ("step", variant.journey, variant.step, variant.channel)
            found = positions.get(place)
            if found is None:
                found = positions[place] = _problem_position(library, variant, place)
            path, line, col = found
            hint = hints.get((code, problem.slot, winner is not None))
            if hint is None:
                hint = problem_hint(code, problem.slot, variant.resolution)
                hints[code, problem.slot, winner is not None] = hint
            key = (path, line, col, problem.severity, code, problem.message, hint)
            grouped.setdefault(key, []).append(variant_id)
    for (path, line, col, severity, code, message, hint), ids in grouped.items():
        text = message + _affected(ids)
        if severity == "error":
            diagnostics.error(path, line, col, code, text, hint)
        else:
            diagnostics.warning(path, line, col, code, text, hint)
    return diagnostics


def _affected(ids: Iterable[str]) -> str:
    ordered = sorted(ids)
    if len(ordered) == 1:
        return f" (in {ordered[0]})"
    return f" (in {len(ordered)} variants, e.g. {ordered[0]})"


def _only_reader(variant: PlannedVariant, attribute: str | None, code: str) -> str | None:
    """The one atom of ``variant`` whose tokens read ``attribute`` (for ``render.bad_value``:
    through a formatting filter, the only way to meet that error); None when none or several
    do, or no attribute is named."""
    if attribute is None:
        return None
    paths = filtered_paths if code == "render.bad_value" else customer_paths
    readers = {
        atom.id
        for atom in variant.resolution.atoms.values()
        if any(attribute in paths(text) for text in atom_sources(atom))
    }
    return readers.pop() if len(readers) == 1 else None


def _atom_text_position(library: Library, atom_id: str) -> tuple[str, int, int]:
    """Where an atom's text (or CTA, image, offer) starts: where an editor fixes what it
    made of a message."""
    atom = library.atoms[atom_id]
    return library.position("atom", atom.id, (atom.content_field,))


def _layout_files(library: Library, variant: PlannedVariant) -> tuple[str, str | None]:
    """The display paths of ``variant``'s layout: its YAML file and its template (None for a
    layout without one)."""
    key = f"{variant.channel}/{variant.resolution.layout}"
    entry = library.layouts.get((variant.channel, variant.resolution.layout))
    return library.paths.get(("layout", key), ""), entry.template_path if entry else None


def _problem_position(
    library: Library, variant: PlannedVariant, place: tuple[str, ...]
) -> tuple[str, int, int]:
    """Where a limit problem of ``variant`` is reported: at the text of the atom
    (``("atom", id)``), at the layout's template (``("layout", channel, layout)``; its YAML
    file when it has none) or at the journey step's channel (``("step", ...)``)."""
    if place[0] == "atom":
        return _atom_text_position(library, place[1])
    if place[0] == "layout":
        path, template = _layout_files(library, variant)
        return template or path, 1, 1
    journey = library.journeys[variant.journey]
    index = next(i for i, s in enumerate(journey.steps) if s.id == variant.step)
    return library.position(
        "journey", variant.journey, ("steps", index, "channels", variant.channel)
    )


__all__ = [
    "EntryMemo",
    "PreviousBuild",
    "RenderedPlan",
    "VariantCache",
    "VariantFailure",
    "VariantOutput",
    "VariantRenderer",
    "VariantSink",
    "render_diagnostics",
    "render_plan",
]
