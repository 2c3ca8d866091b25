"""Load a content folder into validated models, collecting every problem.

:func:`load_files` reads every file of a content tree (see docs/format.md), parses it with
:mod:`atomic_content.yamlio` and validates its shape with the pydantic models. It never stops at
the first problem and never raises for bad content: a file that fails is left out and its
problems are reported with their position. Cross-file checks (references, tokens, conditions)
happen afterwards in :mod:`atomic_content.validate`.

:func:`listed_stats` is the one listing of a content tree: the loader and the build's input
fingerprint both use it, so neither follows a link out of the tree, opens a pipe or a device, or
walks a tree that is absurdly deep or large. :class:`FileDigests` is the one home of the file
digests the build remembers between runs (by lstat, like git's index).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import io
import json
import operator
import os
import pickle
import re
import sys
import time
import types
import typing
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .collector import long_lived, paused
from .errors import Diagnostic, Diagnostics, Severity, did_you_mean
from .hashing import canonical_json, sha256_hex
from .inputs import (
    _YAML_SUFFIXES,
    TOO_MANY_FILES,
    FileDigests,
    Listing,
    check_inside_root,
    display_path,
    listed_stats,
    read_content_bytes,
)
from .manifest import atom_hash
from .models import (
    DEFAULT_SLOTS,
    Atom,
    Channels,
    Customer,
    Experiment,
    Journey,
    Layout,
    Model,
    Profile,
    Segment,
    Settings,
    SlotKind,
    SlotSpec,
    Strings,
    channel_registry,
    channels_model,
)
from .parallel import share_work
from .pieces import replacing
from .yamlio import Loc, YamlDocument, cache_dir, parse_yaml_text

M = TypeVar("M", bound=Model)

_STEM_ID_KINDS = {Segment, Atom, Journey, Layout, Customer, Experiment, Strings}


@dataclass(frozen=True)
class LayoutEntry:
    """A layout with the channel it belongs to and its template source (None when the
    channel's layouts have no template)."""

    channel: str
    layout: Layout
    template_path: str | None
    template_source: str | None


@dataclass
class Library:
    """Everything loaded from a content tree; only files without errors are in it.

    ``documents`` keeps the parsed YAML of every file (by display path) so that later stages can
    position their own diagnostics; ``paths`` maps (kind, id) to that display path.
    ``broken`` maps (kind, id) to the display path of each file that exists but did not load
    (its own diagnostics say why), with the id it states (``id:``) or else its file name's
    (``("layout", "email/basic")`` for layouts): the id is known, so the cross-file checks
    do not report references to it as unknown (:meth:`is_broken`).
    """

    root: Path
    settings: Settings | None = None
    profile: Profile | None = None
    segments: dict[str, Segment] = field(default_factory=dict)
    atoms: dict[str, Atom] = field(default_factory=dict)
    journeys: dict[str, Journey] = field(default_factory=dict)
    layouts: dict[tuple[str, str], LayoutEntry] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    experiments: dict[str, Experiment] = field(default_factory=dict)
    strings: dict[str, Strings] = field(default_factory=dict)
    documents: dict[str, YamlDocument] = field(default_factory=dict)
    paths: dict[tuple[str, str], str] = field(default_factory=dict)
    file_hashes: dict[str, str] = field(default_factory=dict)
    broken: dict[tuple[str, str], str] = field(default_factory=dict)
    load_cache: LoadCache | None = field(default=None, compare=False, repr=False)
    _atom_hashes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def atom_hash(self, atom: Atom) -> str:
        """:func:`~atomic_content.manifest.atom_hash` of one of this library's atoms, computed
        once: the plan's cache keys, the template forms and the manifest ask for it for every
        variant the atom wins in (dumping the atom each time was a tenth of assembling one)."""
        found = self._atom_hashes.get(atom.id)
        if found is None:
            found = self._atom_hashes[atom.id] = atom_hash(atom)
        return found

    def is_broken(self, kind: str, item_id: str) -> bool:
        """Whether ``item_id`` names a file of ``kind`` that exists but did not load (see
        ``broken``): a reference to it is no mistake of the referring file."""
        return (kind, item_id) in self.broken

    def document(self, kind: str, item_id: str) -> YamlDocument | None:
        """The parsed file of an item, for positioning diagnostics about it."""
        path = self.paths.get((kind, item_id))
        return self.documents.get(path) if path is not None else None

    def position(
        self, kind: str, item_id: str, loc: Loc, *, key: bool = False
    ) -> tuple[str, int, int]:
        """(path, line, col) of ``loc`` inside the file of an item; (path, 0, 0) if unknown."""
        path = self.paths.get((kind, item_id), "")
        doc = self.documents.get(path)
        if doc is None:
            return path, 0, 0
        line, col = doc.position(loc, key=key)
        return path, line, col

    def locale_chain(self, locale: str) -> list[str]:
        """``locale`` followed by its fallbacks (de-AT -> de -> en), without repeats."""
        return locale_chain(self.settings, locale)


def locale_chain(settings: Settings | None, locale: str) -> list[str]:
    """``locale`` followed by its fallbacks (de-AT -> de -> en), without repeats (a loop is
    cut where it closes; validate reports it)."""
    chain: list[str] = []
    current: str | None = locale
    locales = settings.locales if settings else {}
    while current is not None and current not in chain:
        chain.append(current)
        spec = locales.get(current)
        current = spec.fallback if spec is not None else None
    return chain


# -- the load cache ----------------------------------------------------------------------------
LOAD_CACHE_FORMAT = 2
_ENGINE: list[str] = []


def engine_fingerprint() -> str:
    """sha256 of this package's own source files (and the cache format): results cached by one
    version of the code are never read by another, even between two commits of a checkout."""
    if not _ENGINE:
        from . import __version__

        package = Path(__file__).resolve().parent
        sources = [
            (source.relative_to(package).as_posix(), sha256_hex(source.read_bytes()))
            for source in sorted(package.rglob("*.py"))
        ]
        _ENGINE.append(sha256_hex(canonical_json([__version__, LOAD_CACHE_FORMAT, sources])))
    return _ENGINE[0]


LOAD_CACHE_MAX_AGE_DAYS = 30


def _prune(folder: Path) -> None:
    """Remove load caches of content folders not loaded for :data:`LOAD_CACHE_MAX_AGE_DAYS`
    (temporary folders, old checkouts); done when a new content folder gets its cache."""
    limit = time.time() - LOAD_CACHE_MAX_AGE_DAYS * 86_400
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                    Path(entry.path).unlink()
    except OSError:
        pass


diagnostic_order = operator.attrgetter("path", "line", "col", "code", "message")
"""Sort key giving :class:`~atomic_content.errors.Diagnostic`'s own order (its compared
fields), compared as a tuple: several times faster than the dataclass's ``<`` on thousands."""


def _restore_model(
    cls: type[BaseModel], values: dict[str, Any], fields_set: set[str], extra: Any, private: Any
) -> BaseModel:
    """A model as :class:`LoadCache` stored it: its validated values, set back without
    validating them again (the cache only holds models that passed validation)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or type(values) is not dict:
        raise pickle.UnpicklingError("not a model")
    item = cls.__new__(cls)
    object.__setattr__(item, "__dict__", values)
    object.__setattr__(item, "__pydantic_fields_set__", fields_set)
    object.__setattr__(item, "__pydantic_extra__", extra)
    object.__setattr__(item, "__pydantic_private__", private)
    return item


class _CachePickler(pickle.Pickler):
    """Writes load results compactly: models as their validated values, documents without the
    round-trip tree, and the registry's channels model (a class made at run time, named like
    its base :class:`~atomic_content.models.Channels`, so pickle cannot find it by name) as a
    call of :func:`~atomic_content.models.channels_model`."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            return (
                _restore_model,
                (
                    type(obj),
                    obj.__dict__,
                    obj.__pydantic_fields_set__,
                    obj.__pydantic_extra__,
                    obj.__pydantic_private__,
                ),
            )
        if isinstance(obj, type) and issubclass(obj, Channels) and obj is not Channels:
            return (channels_model, ())
        if type(obj) is YamlDocument:
            return (YamlDocument, (obj.path, obj.data, obj.text, None, obj.sha256, obj.positions))
        if type(obj) is Diagnostic:
            d = obj
            return (
                Diagnostic,
                (d.path, d.line, d.col, d.severity, d.code, d.message, d.hint, d.personal),
            )
        return NotImplemented


_CACHE_GLOBALS: dict[tuple[str, str], Any] = {
    ("datetime", "date"): dt.date,
    ("datetime", "datetime"): dt.datetime,
    ("datetime", "time"): dt.time,
    ("datetime", "timedelta"): dt.timedelta,
    ("datetime", "timezone"): dt.timezone,
    (__name__, "_restore_model"): _restore_model,
    ("atomic_content.models", "channels_model"): channels_model,
    ("atomic_content.yamlio", "YamlDocument"): YamlDocument,
    ("atomic_content.errors", "Diagnostic"): Diagnostic,
}
"""What :class:`_CacheUnpickler` resolves besides model and enum classes (and :class:`_Parsed`,
added where it is defined)."""


class _CacheUnpickler(pickle.Unpickler):
    """Reads a load cache without ever running foreign code: the only names it resolves are
    those above, and model and enum classes of this package's modules that are already
    imported. Anything else fails the load of the cache, which then counts as no cache."""

    def find_class(self, module: str, name: str) -> Any:
        found = _CACHE_GLOBALS.get((module, name))
        if found is not None:
            return found
        owner = sys.modules.get(module) if module.startswith("atomic_content.") else None
        found = getattr(owner, name, None) if owner is not None and name.isidentifier() else None
        if isinstance(found, type) and (
            issubclass(found, BaseModel) or issubclass(found, enum.Enum)
        ):
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a load cache")


def _dump(value: Any) -> bytes:
    buffer = io.BytesIO()
    _CachePickler(buffer, protocol=5).dump(value)
    return buffer.getvalue()


def _undump(data: bytes) -> Any:
    return _CacheUnpickler(io.BytesIO(data)).load()


_SHARDS = 64  # files are spread over this many pickles: an edit rewrites one of them


def _diagnostics(value: Any) -> bool:
    """Whether a cached value is a tuple of diagnostics (as :class:`LoadCache` stores them)."""
    return type(value) is tuple and (not value or all(type(i) is Diagnostic for i in value))


def _document(value: Any) -> bool:
    """Whether a cached value is a document as :class:`LoadCache` stores it: its remembered
    positions, if any, map ``(loc, key)`` to a ``(line, col)`` of ints."""
    if type(value) is not YamlDocument:
        return False
    positions = value.positions
    return positions is None or (
        type(positions) is dict
        and all(
            type(where) is tuple
            and len(where) == 2
            and type(where[0]) is tuple
            and type(where[1]) is bool
            and type(found) is tuple
            and len(found) == 2
            and type(found[0]) is int
            and type(found[1]) is int
            for where, found in positions.items()
        )
    )


def _fits(item: Any, doc: YamlDocument | None, model: type[Model]) -> bool:
    """Whether cached load results fit a file loaded as ``model``: no model (the file did not
    validate), or one of that very class with its document."""
    return item is None or (type(item) is model and doc is not None)


@functools.lru_cache(maxsize=1 << 16)
def _shard(shown: str) -> int:
    return zlib.crc32(shown.encode("utf-8", "surrogatepass")) % _SHARDS


@dataclass(frozen=True)
class LoadedTree:
    """A load without errors, as a build session keeps it for the next load of the folder:
    the library, the load's diagnostics, the listed files (display paths, in order) with
    their sha256, and each atom file's atom id. Its library's content is not changed
    afterwards; a later load makes a new library from it (see :func:`load_files`)."""

    library: Library
    diagnostics: Diagnostics
    files: tuple[str, ...]
    digests: Mapping[str, str]
    atom_files: Mapping[str, str]


class LoadCache:
    """Per-file results of earlier loads of one content folder, keyed by each file's sha256.

    One file per content folder under the user cache (:func:`~atomic_content.yamlio.
    cache_dir`; ``ATOMIC_CACHE_DIR=off`` disables it). For every file it keeps what depends on
    that file alone: the parsed document, the diagnostics of parsing and of the schema check,
    and the validated model; and per *section* (``hygiene``, ``atom`` checks ...) the
    diagnostics of later per-file checks together with a *context* key naming everything else
    they read. An entry is used only when the file's sha256, its kind and the context match,
    and only by the same engine (:func:`engine_fingerprint`); anything else is recomputed.

    The sha256 of an unchanged file is not computed again: :attr:`digests` (a
    :class:`FileDigests` filled from the entries) remembers it by the file's lstat, with git's
    racy rule, so a warm load reads and parses only the files that changed.

    The entries are pickles, in :data:`_SHARDS` pieces so that saving after an edit re-encodes
    only the pieces that changed. The file starts with a JSON line naming the engine and the
    sha256 and length of every piece: a file damaged anywhere (or written by another engine)
    is ignored as a whole. Pieces are read with an unpickler that resolves only this package's
    model, enum and document classes and a few value types (:class:`_CacheUnpickler`): a
    hostile file cannot run code; it could at worst hold wrong values, as any cache could.
    Models come back without being validated again: the cache only holds validated ones.
    """

    def __init__(self, path: Path | None, root: Path | None = None) -> None:
        self.path = path
        self.engine = engine_fingerprint() if path is not None else ""
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        self.dirty: set[int] = set()  # shards to write again
        self._pieces: dict[int, bytes] = {}  # the pieces as read, rewritten when clean
        self.digests = FileDigests(None, root if root is not None else Path())
        self.known: Mapping[str, str] | None = None
        """Display path -> sha256 of every listed file, when the caller has just computed them
        (a build session, from its input fingerprint): with :attr:`last_load`, a load then
        redoes only the atom files that changed (see :func:`load_files`)."""
        self.last_load: LoadedTree | None = None
        """The last load through this cache that had ``known`` digests and no errors."""
        if path is not None:
            channels_model()  # resolves the registry (and imports its modules) before reading
            with long_lived():  # ~10^5 objects (every file's entry) that live for the run
                self._read(path)
        self._remember_stats()

    def _remember_stats(self) -> None:
        self.digests.old = {
            shown: [*entry["stat"], entry["sha256"]]
            for shown, entry in self.old.items()
            if type(entry.get("stat")) is list
        }

    def carried(self) -> LoadCache:
        """The cache for the next load of the same folder by a process that keeps it
        (``atomic build --watch``): this run's entries, as :meth:`save` wrote them, without
        reading the file back. Call it after the run's last save; the entries are shared, and
        never changed in place (a run replaces an entry it changes)."""
        following = LoadCache(None, Path(self.digests.root))
        following.path, following.engine = self.path, self.engine
        following.old = dict(self.new)
        following.last_load = self.last_load
        # The pieces as last written stay valid for the shards no later change dirtied.
        following._pieces = {} if self.dirty else dict(self._pieces)
        following._remember_stats()
        return following

    def _read(self, path: Path) -> None:
        try:
            with path.open("rb") as handle:
                header = json.loads(handle.readline())
                body = handle.read()
            if not isinstance(header, dict) or header.get("engine") != self.engine:
                return
            pieces: dict[int, bytes] = {}
            offset = 0
            for shard, digest, length in header["pieces"]:
                piece = body[offset : offset + length]
                offset += length
                if len(piece) != length or sha256_hex(piece) != digest:
                    return
                pieces[int(shard)] = piece
            if offset != len(body):
                return
            files: dict[str, Any] = {}
            for shard, piece in pieces.items():
                value = _undump(piece)
                if type(value) is not dict:
                    return
                for shown, entry in value.items():
                    if type(shown) is not str or type(entry) is not dict or _shard(shown) != shard:
                        return
                    files[shown] = entry
        except Exception:  # whatever is wrong with it, a cache is only a cache
            return
        self.old, self._pieces = files, pieces

    @classmethod
    def for_root(cls, root: Path) -> LoadCache:
        folder = cache_dir()
        if folder is None:
            return cls(None, root)
        name = sha256_hex(str(root).encode("utf-8", "surrogatepass"))[:32]
        return cls(folder / f"load-v{LOAD_CACHE_FORMAT}" / f"{name}.cache", root)

    def _entry(self, shown: str, digest: str) -> dict[str, Any] | None:
        entry = self.new.get(shown) or self.old.get(shown)
        if isinstance(entry, dict) and entry.get("sha256") == digest:
            return entry
        return None

    def _keep(self, shown: str, digest: str) -> dict[str, Any]:
        """This run's entry for a file (carried over from the last run when unchanged)."""
        entry = self.new.get(shown)
        if entry is None or entry.get("sha256") != digest:
            old = self.old.get(shown)
            same = isinstance(old, dict) and old.get("sha256") == digest
            entry = dict(old) if same and isinstance(old, dict) else {}
            entry["sha256"] = digest
            self.new[shown] = entry
            if not same:
                self.dirty.add(_shard(shown))
        return entry

    def loaded(
        self, shown: str, digest: str, kind: str
    ) -> tuple[YamlDocument | None, Any, list[Diagnostic]]:
        """``(document, model, diagnostics)`` of an unchanged file, or raise KeyError.
        ``document`` is None when the file did not parse, ``model`` when it did not validate."""
        entry = self.new.get(shown)
        kept = entry is not None and entry["sha256"] == digest
        if not kept:
            entry = self._entry(shown, digest)
        load = entry.get("load") if entry else None
        if type(load) is not tuple or len(load) != 4 or load[0] != kind:
            raise KeyError(shown)
        _kind, doc, item, diagnostics = load
        if (doc is not None and not _document(doc)) or not _diagnostics(diagnostics):
            raise KeyError(shown)
        if not kept:
            self._keep(shown, digest)
        return doc, item, list(diagnostics)

    def store_load(
        self,
        shown: str,
        digest: str,
        kind: str,
        doc: YamlDocument | None,
        item: Any,
        diagnostics: list[Diagnostic],
    ) -> None:
        # Tuples: most are empty, and pickle writes the one empty tuple once per piece.
        self._keep(shown, digest)["load"] = (kind, doc, item, tuple(diagnostics))
        self.dirty.add(_shard(shown))

    def checked(self, section: str, shown: str, digest: str, context: str) -> list[Diagnostic]:
        """The cached diagnostics of a per-file check, or raise KeyError."""
        entry = self.new.get(shown)  # the file was loaded this run: its entry is kept
        if entry is None or entry["sha256"] != digest:
            entry = self._entry(shown, digest)
        stored = entry.get(section) if entry else None
        if (
            type(stored) is not tuple
            or len(stored) != 2
            or stored[0] != context
            or not _diagnostics(stored[1])
        ):
            raise KeyError(shown)
        if entry is not self.new.get(shown):
            self._keep(shown, digest)[section] = stored
        return list(stored[1])

    def checked_files(
        self, section: str, files: list[tuple[str, str]], context: str
    ) -> list[list[Diagnostic] | None]:
        """:meth:`checked` of each ``(display path, sha256)``, None for those without cached
        results (one call for many files: this runs for every atom, several times)."""
        new = self.new
        found: list[list[Diagnostic] | None] = []
        for shown, digest in files:
            entry = new.get(shown)
            stored = entry.get(section) if entry is not None and entry["sha256"] == digest else None
            if (
                type(stored) is tuple
                and len(stored) == 2
                and stored[0] == context
                and _diagnostics(stored[1])
            ):
                found.append(list(stored[1]))
                continue
            try:
                found.append(self.checked(section, shown, digest, context))
            except KeyError:
                found.append(None)
        return found

    def store_check(
        self, section: str, shown: str, digest: str, context: str, found: list[Diagnostic]
    ) -> None:
        self._keep(shown, digest)[section] = (context, tuple(found))
        self.dirty.add(_shard(shown))

    def _grown(self) -> Iterator[tuple[str, YamlDocument]]:
        """The documents of this run that remembered positions since they were loaded or
        last saved (the plan and render stages ask for some after the static checks saved the
        cache), with their display paths."""
        for shown, entry in self.new.items():
            load = entry.get("load")
            if load is not None and load[1] is not None and load[1].grown:
                yield shown, load[1]

    def save_positions(self) -> None:
        """:meth:`save` again when documents remembered positions since the last save."""
        if next(self._grown(), None) is not None:
            self.save()

    def save(self) -> None:
        """Write this run's entries (only the files seen now) when anything changed; pieces
        that did not change are written back as they were read."""
        if self.path is None:
            return
        for shown, doc in list(self._grown()):
            doc.grown = False
            self.dirty.add(_shard(shown))
        remembered, as_read = self.digests.new, self.digests.old
        shards: dict[int, dict[str, Any]] = {}
        for shown, entry in self.new.items():
            shard = _shard(shown)
            known = remembered.get(shown)
            if known is not None and known is as_read.get(shown):
                # Its lstat and digest as read from this entry: nothing to note.
                shards.setdefault(shard, {})[shown] = entry
                continue
            stat_key = known[:5] if known is not None and known[5] == entry["sha256"] else None
            if entry.get("stat") != stat_key:
                entry["stat"] = stat_key
                self.dirty.add(shard)
            shards.setdefault(shard, {})[shown] = entry
        for shown in set(self.old) - set(self.new):
            self.dirty.add(_shard(shown))
        if not self.dirty:
            return
        try:
            # Encoded here even after a cold load: in a forked worker, touching every object
            # (reference counts) would copy every page of this process's memory.
            pieces: dict[int, bytes] = {}
            for shard in sorted(shards):
                old = self._pieces.get(shard)
                clean = shard not in self.dirty and old is not None
                pieces[shard] = old if clean and old is not None else _dump(shards[shard])
            header = json.dumps(
                {
                    "engine": self.engine,
                    "pieces": [[s, sha256_hex(p), len(p)] for s, p in pieces.items()],
                }
            )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                _prune(self.path.parent)
            with replacing(self.path) as handle:
                handle.write(header.encode("ascii") + b"\n")
                for piece in pieces.values():
                    handle.write(piece)
        except (OSError, TypeError, ValueError, pickle.PicklingError, RecursionError):
            return  # a cache that cannot be written only costs speed next time
        self.old = dict(self.new)
        self._pieces = pieces
        self.dirty = set()


def content_files(root: Path) -> tuple[list[Path], Diagnostics]:
    """The paths of :func:`listed_files`, with its diagnostics."""
    files, diagnostics = listed_files(root)
    return [Path(path) for _shown, path in files], diagnostics


def listed_files(root: Path) -> tuple[list[tuple[str, str]], Diagnostics]:
    """``(display path, path as a string)`` of every file :func:`listed_stats` lists."""
    files, diagnostics = listed_stats(root)
    return [(shown, path) for shown, path, _info in files], diagnostics


def _mapping_hint(model: type[Model], loc: tuple[str | int, ...]) -> list[str]:
    """Field names valid at ``loc`` of ``model``, for did-you-mean hints."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _model_in(annotation)
        if current is None:
            return []
        if current is Channels:  # its fields come from the channel registry
            current = channels_model()
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_CODES = {
    "extra_forbidden": "schema.unknown_field",
    "missing": "schema.missing_field",
    "literal_error": "schema.invalid_value",
    "enum": "schema.invalid_value",
    "string_pattern_mismatch": "schema.invalid_format",
    "invalid_format": "schema.invalid_format",  # models._checked (addresses, URLs, colours)
    "string_too_short": "schema.empty",
    "too_short": "schema.empty",
    "too_long": "schema.too_long",
    "value_error": "schema.invalid_value",
    "atom_no_content": "atom.no_content",
    "reserved_id": "segment.reserved_id",  # models.RESERVED_SEGMENT_IDS
}


def schema_diagnostics(
    error: ValidationError,
    doc: YamlDocument,
    model: type[Model],
    diagnostics: Diagnostics,
    slots: Mapping[str, SlotSpec] | None = None,
) -> None:
    """Translate a pydantic ValidationError into positioned diagnostics.

    The key is blamed for an unknown field, the parent mapping for a missing one and the value
    otherwise, which is where an editor has to look. ``slots`` (from atomic.yaml, when it
    loaded) lets an atom without content be told which key its slot's kind needs.
    """
    for item in error.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if not _is_union_tag(part))
        kind = item["type"]
        code = _CODES.get(
            kind,
            "schema.invalid_type"
            if kind.endswith("_type") or "parsing" in kind
            else "schema.invalid_value",
        )
        name = str(loc[-1]) if loc else ""
        where = ".".join(str(p) for p in loc) or "the file"
        if kind == "extra_forbidden":
            line, col = doc.position(loc, key=True)
            suggestion = did_you_mean(name, _mapping_hint(model, loc))
            allowed = ", ".join(_mapping_hint(model, loc))
            message = f"unknown field {name!r}"
            hint = suggestion or (f"allowed fields here: {allowed}" if allowed else "remove it")
            if suggestion:
                hint = f"{suggestion} (allowed: {allowed})"
        elif kind == "missing":
            line, col = doc.position(loc[:-1])
            message = f"missing required field {name!r}"
            hint = f"add `{name}:` here (see docs/format.md)"
        elif loc == ("id",) and kind == "string_pattern_mismatch" and _id_from_file_name(doc):
            line, col = 1, 1
            stem = PurePosixPath(doc.path).stem
            message = f"the id {stem!r} comes from the file name and is not a valid id"
            suggested = _as_identifier(stem)
            hint = (
                f"rename the file to {suggested}.yaml (ids use lower-case letters, digits, "
                "'-' and '_')"
                if suggested
                else "rename the file: ids use lower-case letters, digits, '-' and '_'"
            )
        elif kind == "reserved_id":
            line, col, message, hint = _reserved_id_text(doc, loc, item)
        elif kind == "atom_no_content":
            line, col = doc.position(("slot",)) if _has_key(doc, "slot") else (1, 1)
            message, hint = _no_content_text(doc, slots)
        else:
            line, col = doc.position(loc)
            msg = item["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            message = f"{where}: {msg[0].lower() + msg[1:] if msg else 'invalid value'}"
            hint = _value_hint(kind, item.get("ctx") or {})
            value = item.get("input")
            if kind == "string_pattern_mismatch" and _is_locale_pattern(item.get("ctx") or {}):
                message = f"{where}: {value!r} is not a language tag"
                hint = _locale_suggestion(str(value)) or hint
        diagnostics.error(doc.path, line, col, code, message, hint)


def _reserved_id_text(
    doc: YamlDocument, loc: tuple[str | int, ...], item: Any
) -> tuple[int, int, str, str]:
    """(line, col, message, hint) for a reserved segment id: at the ``id:`` value, or at
    1:1 when the id is the file name (the file is what to rename)."""
    ctx = item.get("ctx") or {}
    advice = str(ctx.get("advice", ""))
    if _id_from_file_name(doc):
        name = PurePosixPath(doc.path).name
        message = (
            f"the segment id {ctx.get('id')!r} comes from the file name {name} and is "
            f"reserved: {ctx.get('reason')}"
        )
        hint = "rename the file (or give it another `id:`)"
        line, col = 1, 1
    else:
        message = str(item["msg"])
        hint = "give the segment another id"
        line, col = doc.position(loc)
    return line, col, message, f"{hint}; {advice}" if advice else hint


def _has_key(doc: YamlDocument, key: str) -> bool:
    return isinstance(doc.data, dict) and key in doc.data


def _id_from_file_name(doc: YamlDocument) -> bool:
    """True when the file sets no ``id:``, so the id was taken from its name."""
    return isinstance(doc.data, dict) and "id" not in doc.data


def _as_identifier(text: str) -> str:
    """``My Headline!`` -> ``my-headline``: the nearest valid id (empty if nothing is left)."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")


_LOCALE_LIKE = re.compile(r"([A-Za-z]{2,3})[-_ ]+([A-Za-z0-9]{2,8})")


def _is_locale_pattern(ctx: dict[str, Any]) -> bool:
    return "A-Za-z0-9]{2,8}" in str(ctx.get("pattern", ""))


def _locale_suggestion(value: str) -> str:
    """``did you mean 'de-AT'?`` for a locale written ``de_AT``, ``DE-at`` ... (else empty)."""
    match = _LOCALE_LIKE.fullmatch(value.strip())
    if match is None:
        return ""
    language, region = match.groups()
    region = region.upper() if len(region) == 2 else region
    return (
        f"did you mean '{language.lower()}-{region}'? locales are language tags written "
        "with '-', such as en, de or de-AT"
    )


_CONTENT_EXAMPLES = {
    SlotKind.LINE: "text: One line of copy",
    SlotKind.MARKDOWN: "text: |  (then the Markdown, indented)",
    SlotKind.CTA: "cta: {label: Shop now, url: https://...}",
    SlotKind.IMAGE: "image: {src: https://..., alt: What the image shows}",
    SlotKind.OFFER: "offer: {code: WELCOME10, headline: 10% off your first order}",
}
_CONTENT_KEYS = {
    SlotKind.LINE: "text",
    SlotKind.MARKDOWN: "text",
    SlotKind.CTA: "cta",
    SlotKind.IMAGE: "image",
    SlotKind.OFFER: "offer",
}


def _no_content_text(doc: YamlDocument, slots: Mapping[str, SlotSpec] | None) -> tuple[str, str]:
    """(message, hint) for an atom with none of text, cta, image or offer."""
    slot = doc.data.get("slot") if isinstance(doc.data, dict) else None
    spec = (slots or DEFAULT_SLOTS).get(slot) if isinstance(slot, str) else None
    if spec is None:
        return (
            "this atom has no content: it needs one of text, cta, image or offer",
            "use the key that fits the slot's kind: text for line and markdown slots, "
            "cta, image or offer for those kinds",
        )
    key = _CONTENT_KEYS[spec.kind]
    return (
        f"this atom has no content: slot {slot!r} is a {spec.kind.value} slot, which needs "
        f"a `{key}:` key",
        f"add `{_CONTENT_EXAMPLES[spec.kind]}`",
    )


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the union member's name ("str", "function-after[...]") into ``loc``.
    return isinstance(part, str) and (
        part in {"str", "int", "float", "bool", "list", "dict", "date", "datetime"}
        or "[" in part
        or part.startswith("function-")
        or part in {"Cta", "Image", "Offer", "Logo"}
    )


def _value_hint(kind: str, ctx: dict[str, Any]) -> str:
    own = ctx.get("hint")
    if isinstance(own, str) and own:  # a model validator's own hint (models._checked)
        return own
    if kind == "too_long":
        return (
            f"at most {ctx.get('max_length')} items are allowed here; split it into smaller parts"
        )
    if kind in {"literal_error", "enum"}:
        expected = ctx.get("expected", "")
        return f"use one of: {expected}" if expected else "use one of the allowed values"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern.startswith("^https://"):
            return "use an https:// address"
        if "A-Za-z0-9]{2,8}" in pattern:  # before the id test: "a-z0-9" is in this one too
            return "use a language tag such as en, de or de-AT"
        if "a-z0-9" in pattern:
            return "ids use lower-case letters, digits, '-' and '_' (e.g. welcome-vip-headline)"
        return "check the format of this value"
    if "int" in kind:
        return "write a whole number, e.g. 10"
    if "float" in kind or "number" in kind:
        return "write a number, e.g. 12.5"
    if "bool" in kind:
        return "write true or false"
    if "date" in kind:
        return "write a date as YYYY-MM-DD, e.g. 2026-12-31"
    if "list" in kind:
        return "write a list, e.g. [vip, new-customer]"
    if "dict" in kind or "model" in kind:
        return "write a mapping of `key: value` lines here"
    if "string" in kind:
        return "write text here (quote it if it starts with a special character)"
    return "see docs/format.md for the allowed values"


# YAML 1.1 boolean words (any case) -> the YAML 1.2 boolean they meant.
_YAML11_BOOLEANS = dict.fromkeys(("yes", "y", "on"), "true") | dict.fromkeys(
    ("no", "n", "off"), "false"
)
# Written numbers YAML 1.1 and 1.2 read differently: a leading zero (1.1: octal) or 0o (octal).
_OCTAL_LOOKING = re.compile(r"[-+]?0(?:[0-9_]+|o[0-7_]+)")
# Cheap test of a whole file for such a number, so most files never ask for a position.
_MAYBE_OCTAL = re.compile(r"(?<![\w.:-])[-+]?0[0-9_o]")
# ... and for a YAML 1.1 boolean word written as a whole value (after `key:`, `- `, `[`, `,`,
# or alone on a line; quoted or not): files without one skip the check.
_MAYBE_YAML11_BOOLEAN = re.compile(
    r"(?:^|[:\-\[{,?])[ \t]*[\"']?[ \t]*(?:yes|no|on|off|y|n)[ \t]*[\"']?[ \t]*(?:$|[,\]}#])",
    re.IGNORECASE | re.MULTILINE,
)
# ... and for a number written with `_` between digits (`1_000`): YAML 1.2 reads it as text.
_MAYBE_SEPARATED = re.compile(r"[0-9]_|_[0-9]")
_NUMBER_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def yaml11_diagnostics(
    doc: YamlDocument, model: type[Model], data: dict[str, Any]
) -> list[Diagnostic]:
    """Values written the YAML 1.1 way where ``model`` expects a boolean or a number.

    Files are read as YAML 1.2, where ``yes``/``no``/``on``/``off``/``y``/``n`` are text and
    ``010`` is ten; pydantic would then silently turn the text into a boolean and the number
    into ten, while the author (thinking YAML 1.1) may have meant eight. Each such value is an
    error (``yaml.ambiguous_boolean``, ``yaml.ambiguous_number``) at the value's own position,
    with the exact replacement in the hint. So is ``1_000``: text in YAML 1.2 (as in a
    customer file, JSON or CSV), which pydantic would still turn into a thousand. Fields typed
    ``Any`` are not checked.
    """
    found: list[Diagnostic] = []
    maybe_octal = _MAYBE_OCTAL.search(doc.text) is not None
    text = doc.text
    maybe_separated = _MAYBE_SEPARATED.search(text) is not None
    if (
        not maybe_octal
        and not maybe_separated
        and "\\" not in text
        and _MAYBE_YAML11_BOOLEAN.search(text) is None
    ):
        return found  # no 1.1 boolean word, leading zero or `_` in a number anywhere
    for loc, expected, value in _typed_scalars(model, data, ()):
        where = ".".join(str(part) for part in loc)
        if expected is bool:
            word = value.strip().lower() if isinstance(value, str) else ""
            if word not in _YAML11_BOOLEANS:
                continue
            line, col = doc.position(loc)
            found.append(
                Diagnostic(
                    doc.path,
                    line,
                    col,
                    Severity.ERROR,
                    "yaml.ambiguous_boolean",
                    f"{where}: {value.strip()} is text in YAML 1.2, not a boolean",
                    f"write {_YAML11_BOOLEANS[word]} (YAML 1.2 booleans are only true and false)",
                )
            )
            continue
        if isinstance(value, str) and maybe_separated and "_" in value:
            separated = _separated_number(doc, loc, where, expected, value)
            if separated is not None:
                found.append(separated)
            continue
        if isinstance(value, bool) or not maybe_octal:
            continue
        if isinstance(value, str):
            # Quoted "010": pydantic would turn it into ten without a word.
            written: str | None = value.strip() if value.strip().lstrip("+-").isdigit() else None
        elif isinstance(value, int | float):
            written = doc.plain_source(loc)
        else:
            continue
        if written is None or not _OCTAL_LOOKING.fullmatch(written):
            continue
        line, col = doc.position(loc)
        message, hint = _octal_text(where, written)
        if isinstance(value, str):
            message = f"{where}: {written!r} is quoted text with a leading zero, not a number"
            hint = hint.replace("without the leading zero", "without quotes and leading zero")
        found.append(
            Diagnostic(doc.path, line, col, Severity.ERROR, "yaml.ambiguous_number", message, hint)
        )
    return found


# Atom fields that hold words for the reader: a ` #` inside them silently ends the text.
_TEXT_FIELDS: tuple[Loc, ...] = (
    ("text",),
    ("cta", "label"),
    ("image", "alt"),
    ("offer", "headline"),
    ("offer", "terms"),
)
_COMMENT_START = re.compile(r"[ \t]#")


def comment_in_text_diagnostics(doc: YamlDocument, data: dict[str, Any]) -> list[Diagnostic]:
    """``yaml.comment_in_text`` for an unquoted text followed by `` #...`` on its line.

    YAML reads `` #`` as the start of a comment, so in
    ``text: Our bestseller, the Fjell 3L #1 rain shell, is back`` the text ends at "3L" and the
    rest vanishes without a word. Positioned at the ``#``; quoted and block texts are exempt
    (there the ``#`` is part of the text).
    """
    if "#" not in doc.text:
        return []
    found: list[Diagnostic] = []
    for loc in _TEXT_FIELDS:
        value: Any = data
        for part in loc:
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value:
            continue
        line, col = doc.position(loc)
        lines = doc.lines
        if not 1 <= line <= len(lines):
            continue
        source = lines[line - 1]
        if source[col - 1 : col] in ("'", '"', "|", ">", ""):
            continue
        comment = _COMMENT_START.search(source, col - 1)
        if comment is None:
            continue
        where = ".".join(str(part) for part in loc)
        lost = source[comment.start() + 1 :].strip()
        shown = lost if len(lost) <= 40 else lost[:37] + "..."
        found.append(
            Diagnostic(
                doc.path,
                line,
                comment.start() + 2,
                Severity.WARNING,
                "yaml.comment_in_text",
                f"{where}: ' #' starts a YAML comment, so {shown!r} is not part of the text",
                f'quote it: {loc[-1]}: "{value} {lost}" (or move the comment to a line of its own)',
            )
        )
    return found


def _separated_number(
    doc: YamlDocument, loc: Loc, where: str, expected: type, value: str
) -> Diagnostic | None:
    """``yaml.ambiguous_number`` for text such as ``1_000`` where ``expected`` (int or float) is
    wanted, when pydantic would silently read it as that number; None when pydantic refuses it
    itself (``0b1``, ``1__0``: its own positioned error follows)."""
    adapter = _NUMBER_ADAPTERS.get(expected)
    if adapter is None:
        adapter = _NUMBER_ADAPTERS[expected] = TypeAdapter(expected)
    try:
        number = adapter.validate_python(value)
    except ValidationError:
        return None
    written = value.strip()
    plain = repr(number) if isinstance(number, float) else str(number)
    line, col = doc.position(loc)
    lines = doc.lines
    if 1 <= line <= len(lines) and lines[line - 1][col - 1 : col] in ("'", '"'):
        # Quoted: text in any YAML version.
        message = f"{where}: {written!r} is quoted text, not a number"
        hint = f"write {plain} without quotes and underscores"
    else:
        message = f"{where}: {written} is text in YAML 1.2, not a number"
        hint = f"write {plain} (YAML 1.2 numbers have no _ between digits)"
    return Diagnostic(doc.path, line, col, Severity.ERROR, "yaml.ambiguous_number", message, hint)


def _octal_text(where: str, written: str) -> tuple[str, str]:
    """(message, hint) for a number written with a leading zero or as ``0o`` octal."""
    sign = "-" if written.startswith("-") else ""
    digits = written.lstrip("+-").replace("_", "")
    if digits.startswith("0o"):
        octal = f"{sign}{int(digits[2:], 8)}"
        return (
            f"{where}: {written} is an octal number ({octal})",
            f"write the decimal number {octal}",
        )
    decimal = f"{sign}{int(digits, 10)}"
    if any(digit in "89" for digit in digits):
        return f"{where}: {written} has a leading zero", f"write {decimal}"
    octal = f"{sign}{int(digits, 8)}"
    return (
        f"{where}: {written} has a leading zero: YAML 1.2 reads it as {decimal}, "
        f"YAML 1.1 as the octal number {octal}",
        f"write {decimal} (or {octal} if an octal number was meant) without the leading zero",
    )


def _typed_scalars(
    model: type[Model], data: dict[str, Any], loc: Loc
) -> Iterator[tuple[Loc, type, Any]]:
    """(loc, bool | int | float, value) of every value of ``data`` the model types as such."""
    for name, value in data.items():
        info = model.model_fields.get(name)
        if info is not None:
            yield from _typed_values(info.annotation, value, (*loc, name))


def _typed_values(annotation: Any, value: Any, loc: Loc) -> Iterator[tuple[Loc, type, Any]]:
    options = _union_members(annotation)
    if isinstance(value, dict):
        for option in options:
            if isinstance(option, type) and issubclass(option, Model):
                yield from _typed_scalars(option, value, loc)
                return
            if typing.get_origin(option) is dict:
                item = typing.get_args(option)[1]
                for key, child in value.items():
                    yield from _typed_values(item, child, (*loc, str(key)))
                return
    elif isinstance(value, list):
        for option in options:
            if typing.get_origin(option) is list:
                item = typing.get_args(option)[0]
                for index, child in enumerate(value):
                    yield from _typed_values(item, child, (*loc, index))
                return
    elif bool in options:
        yield loc, bool, value
    elif int in options or float in options:
        yield loc, int if int in options else float, value


def _union_members(annotation: Any) -> list[Any]:
    """The alternatives of a (possibly Annotated, possibly Optional) annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _union_members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [member for arg in typing.get_args(annotation) for member in _union_members(arg)]
    return [annotation]


@dataclass(frozen=True)
class _Parsed:
    """What :meth:`_Loader.parse_fresh` made of one file: its digest, its document (None when
    it did not parse), its model (None when it did not validate) and its diagnostics; or the
    reason it could not be read."""

    digest: str
    doc: YamlDocument | None
    item: Any
    found: list[Diagnostic]
    unreadable: Diagnostic | None = None


_CACHE_GLOBALS[(__name__, "_Parsed")] = _Parsed


PARALLEL_FILES = 400
"""Below this many files to parse, worker start-up costs more than it saves."""


def share_load_work(shares: int, jobs: int, work: Callable[[int], Any]) -> list[Any]:
    """:func:`~atomic_content.parallel.share_work` for work whose results the load cache can
    hold (models, documents, diagnostics, plain data): they come back from the workers
    through :class:`_CachePickler`."""
    return share_work(shares, jobs, work, remote=lambda index: _dump(work(index)), receive=_undump)


CONTENT_FOLDERS: tuple[tuple[str, type[Model], str, bool], ...] = (
    ("segments", Segment, "segment", False),
    ("atoms", Atom, "atom", True),
    ("journeys", Journey, "journey", False),
    ("customers", Customer, "customer", False),
    ("experiments", Experiment, "experiment", False),
    ("strings", Strings, "strings", False),
)
"""The folders that hold only YAML files, in load order: (folder, model, kind, whether its
sub-folders are read too). The layouts load before the folder at :data:`LAYOUTS_BEFORE`."""

LAYOUTS_BEFORE = 3
"""Where the layouts come in :data:`CONTENT_FOLDERS`' load order: after the journeys."""

PROJECT_FILES = ("atomic.yaml", "profile.yaml")
"""The YAML files at the top of the content folder: the settings and the customer profile."""


def project_file_spelled(name: str) -> str | None:
    """The project file (:data:`PROJECT_FILES`) that ``name``, a file at the top of the content
    folder, is another spelling of (``atomic.yml``, ``Profile.YAML``), or None."""
    lowered = name.lower()
    if not lowered.endswith(_YAML_SUFFIXES):
        return None
    stem = lowered.rpartition(".")[0]
    return next((known for known in PROJECT_FILES if known.startswith(stem + ".")), None)


def read_in_folder(rest: str, recursive: bool) -> bool:
    """Whether the load reads the file ``rest`` (a path below a folder of YAML files) of a
    folder read with its sub-folders or not: the one home of that rule."""
    return rest.endswith(_YAML_SUFFIXES) and (recursive or "/" not in rest)


_YAML_FOLDERS = {folder: recursive for folder, _model, _kind, recursive in CONTENT_FOLDERS}
""":data:`CONTENT_FOLDERS` by name: whether each is read with its sub-folders."""

_OTHER_FOLDERS = ("layouts", "assets")
"""The other folders the load reads (templates and images live there beside YAML)."""


def unread_files(listing: list[tuple[str, str]]) -> Diagnostics:
    """An ``io.not_loaded`` warning, with the fix, for each listed thing the load does not
    read although it looks like content:

    - a file of a :data:`CONTENT_FOLDERS` folder without the ``.yaml``/``.yml`` suffix
      (``offer.YAML``, ``offer.yaml.txt``), or a YAML file in a sub-folder of a folder read
      without them;
    - a top-level folder named like a content folder (``atom/``, ``Journeys/``);
    - a YAML file at the top other than :data:`PROJECT_FILES` (a second spelling of one,
      ``atomic.yml``, only beside it: alone, the missing file's error names it).

    Content an editor wrote is never left out without a word. Hidden files and folders,
    editor backups (``name~``, ``#name#``), README files and folders of other names
    (``drafts/``) are let be."""
    found = Diagnostics()
    top_files = {shown for shown, _path in listing if "/" not in shown}
    looked_at: set[str] = set()  # top-level folders other than the content folders
    for shown, _path in listing:
        top, _, rest = shown.partition("/")
        where = shown  # the file, or for a folder the folder
        if not rest:
            problem = _unread_top_file(top, top_files)
        elif top in _YAML_FOLDERS:
            problem = _unread_in_folder(top, rest)
        elif top not in looked_at:
            looked_at.add(top)
            problem, where = _misnamed_folder(top), top
        else:
            continue
        if problem is not None:
            found.warning(where, 0, 0, "io.not_loaded", *problem)
    return found


def _unread_top_file(name: str, top_files: set[str]) -> tuple[str, str] | None:
    if name in PROJECT_FILES or name.startswith(".") or not name.lower().endswith(_YAML_SUFFIXES):
        return None  # read, or not content (README.md, .gitignore ...)
    twin = project_file_spelled(name)
    if twin is None:
        kinds = [f"{folder}/" for folder in _YAML_FOLDERS]
        kinds.insert(LAYOUTS_BEFORE, "layouts/<channel>/")
        return (
            "this file is not loaded: at the top of the content folder only "
            + " and ".join(PROJECT_FILES)
            + " are read",
            f"move it into the folder of its kind: {', '.join(kinds[:-1])} or {kinds[-1]}",
        )
    if twin in top_files:  # when it is missing, its error names this file
        return (
            f"this file is not loaded: {twin} is read, not {name}",
            f"keep one of them: merge what {name} holds into {twin} and remove it",
        )
    return None


def _unread_in_folder(top: str, rest: str) -> tuple[str, str] | None:
    recursive = _YAML_FOLDERS[top]
    if read_in_folder(rest, recursive):
        return None
    parts = rest.split("/")
    name = parts[-1]
    if (
        any(part.startswith(".") for part in parts)
        or name.endswith("~")
        or (name.startswith("#") and name.endswith("#"))
        or name.upper().startswith("README")
    ):
        return None
    flat = len(parts) == 1 or recursive
    if name.endswith(_YAML_SUFFIXES):  # read, but for the sub-folder
        return (
            f"this file is not loaded: {top}/ is read without its sub-folders",
            f"move it to {top}/{name}",
        )
    if name.lower().endswith(_YAML_SUFFIXES):
        stem, dot, suffix = name.rpartition(".")
        return (
            "this file is not loaded: the .yaml or .yml suffix must be in lower case",
            f"rename it to {stem}{dot}{suffix.lower()}"
            + ("" if flat else f" and move it to {top}/"),
        )
    return (
        f"this file is not loaded: {top}/ holds only .yaml and .yml files",
        "rename it to end in .yaml if it is content; otherwise move it out of the content folder",
    )


def _misnamed_folder(name: str) -> tuple[str, str] | None:
    if name in _OTHER_FOLDERS or name.startswith("."):
        return None
    suggestion = did_you_mean(name, [*_YAML_FOLDERS, *_OTHER_FOLDERS])
    if not suggestion:
        return None  # a folder of the team's own (drafts/)
    return (
        f"this folder is not loaded: {name}/ is not a content folder",
        f"{suggestion} rename the folder",
    )


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.library = Library(root=root)
        self.diagnostics = Diagnostics()
        self.listing: list[tuple[str, str]] = []  # (display path, path) from listed_files
        self.stats: dict[str, os.stat_result | None] = {}  # display path -> its listed lstat
        self.cache = LoadCache(None, root)
        self.refused: set[str] = set()  # display paths content_files already reported
        # display path -> what a worker made of it (see prefetch)
        self.prefetched: dict[str, _Parsed] = {}
        # display path -> (load key, document, model, diagnostics) that prefetch found in
        # the cache: parse takes them as they are instead of looking them up again
        self.hits: dict[str, tuple[str, YamlDocument | None, Any, list[Diagnostic]]] = {}
        self._tasks: dict[str, tuple[str, str, type[Model], str]] = {}
        self._by_top: dict[str, list[tuple[str, str]]] = {}  # listing by first path part
        self._keys: dict[str, str] = {}

    def keep_load(self) -> None:
        """Keep this load for the next one (:attr:`LoadCache.last_load`) when the caller
        gave the files' digests and nothing was refused or wrong."""
        cache, known = self.cache, self.cache.known
        if known is None or self.refused or self.diagnostics.has_errors:
            cache.last_load = None
            return
        files = tuple(shown for shown, _path in self.listing)
        if any(shown not in known for shown in files):
            cache.last_load = None
            return
        atom_files = {
            path: item_id for (kind, item_id), path in self.library.paths.items() if kind == "atom"
        }
        cache.last_load = LoadedTree(
            self.library, self.diagnostics.without_paths(frozenset()), files, known, atom_files
        )

    def patch_last_load(self) -> Library | None:
        """The last load (:attr:`LoadCache.last_load`) with the atom files that changed since
        loaded again, or None when that cannot give what a whole load gives: no last load or
        no digests now, a file added, removed or renamed, a changed file that is not an atom
        or that now fails to load or names another atom. Its diagnostics go to this load's.

        The same library as a whole load (the build session's tests compare every kind of
        edit with a clean build); the load cache's entries of the unchanged files are carried
        as they are, so it saves the same file."""
        cache, last, known = self.cache, self.cache.last_load, self.cache.known
        cache.last_load = None
        if last is None or known is None:
            return None
        files = tuple(shown for shown, _path in self.listing)
        if files != last.files:
            return None
        changed = [shown for shown in files if known.get(shown) != last.digests.get(shown)]
        if any(shown not in last.atom_files for shown in changed):
            return None
        # Every unchanged file's entry and remembered digest, as a whole load keeps them.
        cache.new = {shown: entry for shown, entry in cache.old.items() if shown in known}
        cache.digests.new = dict(cache.digests.old)
        fresh, old = self.library, last.library
        self.library = dataclasses.replace(
            old,
            atoms=dict(old.atoms),
            documents=dict(old.documents),
            file_hashes=dict(old.file_hashes),
            load_cache=cache,
            _atom_hashes={},
        )
        paths = dict(self.listing)
        for shown in changed:
            item, doc = self.parse(shown, paths[shown], Atom, "atom")
            if item is None or doc is None or item.id != last.atom_files[shown]:
                break
            self.library.atoms[item.id] = item
        else:
            if not self.diagnostics.has_errors:
                combined = last.diagnostics.without_paths(frozenset(changed))
                combined.extend(self.diagnostics)
                self.diagnostics = combined
                cache.last_load = LoadedTree(
                    self.library,
                    combined.without_paths(frozenset()),
                    files,
                    known,
                    last.atom_files,
                )
                return self.library
        # A whole load instead, from the start (the entries carried here, and those of the
        # files parsed here, serve it as they would have).
        self.library, self.diagnostics = fresh, Diagnostics()
        cache.digests.new = {}
        return None

    def yaml_files(self, folder: str, *, recursive: bool) -> Iterator[tuple[str, str]]:
        """The listed YAML files in ``folder`` (a display path), in sub-folders if ``recursive``."""
        if not self._by_top:
            for shown, path in self.listing:  # sorted, so each folder's files stay sorted
                top = shown.split("/", 1)[0] if "/" in shown else ""
                self._by_top.setdefault(top, []).append((shown, path))
        prefix = f"{folder}/"
        for shown, path in self._by_top.get(folder.split("/", 1)[0], ()):
            if shown.startswith(prefix) and read_in_folder(shown[len(prefix) :], recursive):
                yield shown, path

    def parse(
        self, shown: str, path: str, model: type[M], kind: str
    ) -> tuple[M | None, YamlDocument | None]:
        """Read one listed file (display path, path) into its model; its problems go to the
        diagnostics. Unchanged files (same bytes, same engine) are not read, parsed or checked
        again: see :class:`LoadCache`."""
        key = self.load_key(kind)
        done = self.prefetched.pop(shown, None)
        hit = self.hits.pop(shown, None)
        if hit is not None and hit[0] == key and _fits(hit[2], hit[1], model):
            return self.take_cached(hit[1], hit[2], hit[3])
        if done is None:
            digest, raw, problem = self.cache.digests.read(shown, path, self.stats.get(shown))
            if digest is None:
                if problem is not None:
                    self.diagnostics.add(problem)
                return None, None
            try:
                doc, item, found = self.cache.loaded(shown, digest, key)
                if not _fits(item, doc, model):
                    raise KeyError(shown)
            except KeyError:
                if raw is None:  # remembered digest, but no results for it: read it now
                    raw, problem = read_content_bytes(path, self.root, listed=True)
                    if raw is None:
                        if problem is not None:
                            self.diagnostics.add(problem)
                        return None, None
                    digest = sha256_hex(raw)
                done = self.parse_fresh(shown, raw, digest, model, kind)
            else:
                return self.take_cached(doc, item, found)
        elif done.unreadable is None:
            self.cache.digests.remember(shown, self.stats.get(shown), done.digest)
        if done.unreadable is not None:
            self.diagnostics.add(done.unreadable)
            return None, None
        if done.doc is not None:
            self.add_document(done.doc)
        self.diagnostics.extend(done.found)
        if done.doc is not None or done.found:
            self.cache.store_load(shown, done.digest, key, done.doc, done.item, done.found)
        return done.item, done.doc

    def take_cached(
        self, doc: YamlDocument | None, item: Any, found: list[Diagnostic]
    ) -> tuple[Any, YamlDocument | None]:
        """A file's results as the load cache kept them: its diagnostics go to this load's."""
        self.diagnostics.extend(found)
        if doc is not None:
            self.add_document(doc)
        return item, doc

    def load_key(self, kind: str) -> str:
        """What a file's load results depend on besides its bytes: its kind and, for every
        file but atomic.yaml itself, atomic.yaml (its slots shape the schema hints)."""
        if kind == "settings":
            return kind
        settings = self.library.file_hashes.get("atomic.yaml", "")
        key = self._keys.get(kind)
        if key is None or not key.endswith(f"@{settings}"):
            key = self._keys[kind] = f"{kind}@{settings}"
        return key

    @staticmethod
    def prepared(shown: str, model: type[Model], data: Any) -> Any:
        if model in _STEM_ID_KINDS and isinstance(data, dict) and "id" not in data:
            name = shown.rsplit("/", 1)[-1]
            stem = name[: name.rindex(".")] if "." in name[1:] else name  # Path.stem, faster
            return {"id": stem, **data}
        return data

    def add_document(self, doc: YamlDocument) -> None:
        self.library.documents[doc.path] = doc
        self.library.file_hashes[doc.path] = doc.sha256

    def parse_fresh(
        self, shown: str, raw: bytes, digest: str, model: type[Model], kind: str
    ) -> _Parsed:
        """Parse and check one file's bytes (no side effects: the caller adds the results)."""
        found = Diagnostics()
        doc, problem = parse_yaml_text(raw, shown)
        if doc is None:
            return _Parsed(digest, None, None, [problem] if problem is not None else [])
        doc.sha256 = digest
        item = self.check_document(doc, model, kind, found)
        return _Parsed(digest, doc, item, list(found))

    def prefetch(self, tasks: list[tuple[str, str, type[Model], str]], jobs: int) -> None:
        """Read, parse and check in ``jobs`` forked worker processes those files of ``tasks``
        (display path, path, model, kind) that the cache has no results for; :meth:`parse`
        then takes their results in its own order, so the library and the diagnostics are
        those of a serial load."""
        todo = []
        for task in tasks:
            shown = task[0]
            digest = self.cache.digests.remembered(shown, self.stats.get(shown))
            if digest is not None:
                key = self.load_key(task[3])
                try:
                    self.hits[shown] = (key, *self.cache.loaded(shown, digest, key))
                    continue
                except KeyError:
                    pass
            todo.append(task)
        if jobs <= 1 or len(todo) < PARALLEL_FILES:
            return
        self._tasks = {task[0]: task for task in todo}
        # Interleaved shares: neighbouring files cost alike (same folder, same kind).
        shares = [[task[0] for task in todo[i::jobs]] for i in range(jobs)]
        try:
            done = share_load_work(
                len(shares),
                jobs,
                lambda index: [(shown, self.parse_task(shown)) for shown in shares[index]],
            )
        finally:
            self._tasks = {}
        for results in done:
            self.prefetched.update(results)

    def parse_task(self, shown: str) -> _Parsed:
        """:meth:`parse_fresh` of a file read now (in a prefetching worker)."""
        _shown, path, model, kind = self._tasks[shown]
        raw, problem = read_content_bytes(path, self.root, listed=True)
        if raw is None:
            return _Parsed("", None, None, [], problem)
        return self.parse_fresh(shown, raw, sha256_hex(raw), model, kind)

    def check_document(
        self, doc: YamlDocument, model: type[M], kind: str, found: Diagnostics
    ) -> M | None:
        """The model of a parsed file; its problems (which depend on this file alone) go to
        ``found``."""
        data = doc.data
        if data is None:
            found.error(
                doc.path,
                1,
                1,
                "content.empty_file",
                "this file is empty",
                f"write the {kind} here (see docs/format.md) or delete the file",
            )
            return None
        if not isinstance(data, dict):
            found.error(
                doc.path,
                1,
                1,
                "schema.not_a_mapping",
                f"a {kind} file must be a mapping of `key: value` lines, not a "
                f"{type(data).__name__}",
                "start the file with `id: ...` or the first field of the format",
            )
            return None
        data = self.prepared(doc.path, model, data)
        ambiguous = yaml11_diagnostics(doc, model, data)
        found.extend(ambiguous)
        if model is Atom:
            found.extend(comment_in_text_diagnostics(doc, data))
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            settings = self.library.settings
            slots = settings.slots if settings is not None else None
            schema_diagnostics(exc, doc, model, found, slots)
            return None
        return None if ambiguous else item

    def register(self, kind: str, store: dict[str, M], item: M, doc: YamlDocument) -> None:
        item_id: str = getattr(item, "id")  # noqa: B009 - every stored model has an id
        existing = self.library.paths.get((kind, item_id))
        if existing is not None:
            line, col = doc.position(("id",), key=False)
            self.diagnostics.error(
                doc.path,
                line,
                col,
                f"{kind}.duplicate_id",
                f"{kind} id {item_id!r} is used by {existing} and {doc.path}",
                f"rename one of them: {kind} ids must be unique",
            )
            return
        store[item_id] = item
        self.library.paths[(kind, item_id)] = doc.path

    def folder_tasks(self) -> list[tuple[str, str, type[Model], str]]:
        """(display path, path, model, kind) of the files the folders hold, in load order
        (layouts of every channel folder; one that is not loaded is simply not asked for)."""
        tasks: list[tuple[str, str, type[Model], str]] = []
        folders: list[tuple[str, type[Model], str, bool]] = [
            *CONTENT_FOLDERS[:LAYOUTS_BEFORE],
            *((f"layouts/{name}", Layout, "layout", False) for name in channel_registry()),
            *CONTENT_FOLDERS[LAYOUTS_BEFORE:],
        ]
        for folder, model, kind, recursive in folders:
            for shown, path in self.yaml_files(folder, recursive=recursive):
                tasks.append((shown, path, model, kind))
        return tasks

    def load_single(self, name: str, model: type[M], kind: str, required: bool) -> M | None:
        path = self.root / name
        if name in self.refused:
            return None  # content_files said why
        if all(shown != name for shown, _path in self.listing):
            if required:
                # atomic.yml, Profile.yaml ...: the two project files have exactly one name.
                near = [
                    shown
                    for shown, _path in self.listing
                    if "/" not in shown and project_file_spelled(shown) == name
                ]
                self.diagnostics.error(
                    name,
                    0,
                    0,
                    "io.missing_file",
                    f"{name} is missing from the content folder",
                    f"rename {near[0]} to {name}"
                    if near
                    else f"create {name} (see docs/format.md) or pass the right folder with "
                    "--content",
                )
            return None
        item, doc = self.parse(name, str(path), model, kind)
        if item is not None and doc is not None:
            self.library.paths[(kind, kind)] = doc.path
        return item

    def load_folder(
        self, folder: str, model: type[M], kind: str, store: dict[str, M], *, recursive: bool
    ) -> None:
        for shown, path in self.yaml_files(folder, recursive=recursive):
            item, doc = self.parse(shown, path, model, kind)
            if item is not None and doc is not None:
                self.register(kind, store, item, doc)
            else:
                self.mark_broken(kind, shown, doc)

    def mark_broken(
        self, kind: str, shown: str, doc: YamlDocument | None, prefix: str = ""
    ) -> None:
        """Remember that the file ``shown`` of ``kind`` exists but did not load
        (:attr:`Library.broken`), under the id it states, else its file name's (as the loader
        names a file without ``id:``); ``prefix`` goes before the id (a layout's channel)."""
        data = doc.data if doc is not None else None
        stated = data.get("id") if isinstance(data, dict) else None
        name = shown.rsplit("/", 1)[-1]
        item_id = stated if isinstance(stated, str) else name[: name.rindex(".")]
        self.library.broken.setdefault((kind, prefix + item_id), shown)

    def mark_refused(self, refused: Diagnostics) -> None:
        """:meth:`mark_broken` for each content file the listing refused (a link out of the
        tree, a pipe ...): it exists, so references to it are not unknown either."""
        layout_channels = set(channel_registry())
        for path in sorted({problem.path for problem in refused}):
            top, _, rest = path.partition("/")
            found = next((entry for entry in CONTENT_FOLDERS if entry[0] == top), None)
            if found is not None and read_in_folder(rest, found[3]):
                self.mark_broken(found[2], path, None)
                continue
            channel, _, name = rest.partition("/")
            if top == "layouts" and channel in layout_channels and read_in_folder(name, False):
                self.mark_broken("layout", path, None, f"{channel}/")

    def load_layouts(self) -> None:
        base = self.root / "layouts"
        if not base.is_dir():
            return
        channels = list(channel_registry())
        for channel_dir in sorted(base.iterdir(), key=lambda p: p.name):
            if not channel_dir.is_dir() or channel_dir.is_symlink():
                continue  # a linked folder is reported by content_files
            channel = channel_dir.name
            if channel not in channels:
                self.diagnostics.error(
                    display_path(channel_dir, self.root),
                    0,
                    0,
                    "ref.unknown_channel",
                    f"layouts/{channel}/ is not a channel",
                    f"layout folders are named after channels: {', '.join(channels)}"
                    + (
                        f"; {did_you_mean(channel, channels)}"
                        if did_you_mean(channel, channels)
                        else ""
                    ),
                )
                continue
            for shown, path in self.yaml_files(f"layouts/{channel}", recursive=False):
                layout, doc = self.parse(shown, path, Layout, "layout")
                if layout is None or doc is None:
                    self.mark_broken("layout", shown, doc, f"{channel}/")
                    continue
                key = (channel, layout.id)
                if key in self.library.layouts:
                    self.diagnostics.error(
                        doc.path,
                        1,
                        1,
                        "layout.duplicate_id",
                        f"layout id {layout.id!r} is used twice in layouts/{channel}/",
                        "rename one of them",
                    )
                    continue
                template_path, template_source = self.read_template(
                    channel, layout, Path(path), doc
                )
                self.library.layouts[key] = LayoutEntry(
                    channel, layout, template_path, template_source
                )
                self.library.paths[("layout", f"{channel}/{layout.id}")] = doc.path

    def read_template(
        self, channel: str, layout: Layout, path: Path, doc: YamlDocument
    ) -> tuple[str | None, str | None]:
        """(display path, source) of the layout's ``template:`` file, named relative to the
        layout file ``path``; (None, None) for a layout without one, a None source when it
        cannot be read. Every problem is reported at the layout's ``template:`` value, except
        those the listing already reported at the template itself: a template must be a
        regular file inside the content folder (``layout.template_outside`` for a name that
        leads out of it, ``io.outside_root`` / ``io.broken_link`` for a link that does)."""
        if layout.template is None:
            pattern = channel_registry()[channel].layout_template
            if pattern is not None:
                line, col = doc.position((), key=False)
                self.diagnostics.error(
                    doc.path,
                    line,
                    col,
                    "layout.missing_template",
                    f"a {channel} layout needs a `template:` file",
                    f"add `template: {pattern}` and create that file beside this one",
                )
            return None, None
        line, col = doc.position(("template",))
        # Named, not resolved: `..` and absolute names are refused before the file system is
        # asked anything (the build's input fingerprint lists only the content folder).
        template = Path(os.path.normpath(path.parent / layout.template))
        if not template.is_relative_to(self.root):
            pattern = channel_registry()[channel].layout_template
            example = pattern.replace("<name>", layout.id) if pattern else template.name
            self.diagnostics.error(
                doc.path,
                line,
                col,
                "layout.template_outside",
                f"template {layout.template!r} is outside the content folder: a layout's "
                "template must be a file inside it, named relative to the layout file",
                f"put the template in the content folder, e.g. beside {path.name}, and name "
                f"it relative to the layout file: `template: {example}`",
            )
            return None, None
        shown = display_path(template, self.root)
        parts = shown.split("/")
        if any("/".join(parts[:end]) in self.refused for end in range(1, len(parts) + 1)):
            # content_files said why, at the template or a folder on its way (a pipe, a link
            # out of the tree ...)
            return shown, None
        problem = (
            check_inside_root(template, self.root)
            if template.exists() or template.is_symlink()
            else None
        )
        if problem is not None:
            # A link (or a linked folder on the way) that leads out: said at `template:`.
            self.diagnostics.error(
                doc.path,
                line,
                col,
                problem.code,
                f"template {layout.template!r}: {problem.message}",
                problem.hint,
            )
            return shown, None
        if not template.is_file():
            self.diagnostics.error(
                doc.path,
                line,
                col,
                "layout.template_not_found",
                f"template file {layout.template!r} does not exist beside {path.name}",
                f"create {shown} or fix the file name",
            )
            return shown, None
        raw, unreadable = read_content_bytes(template, self.root)
        try:
            if raw is None:
                raise ValueError(unreadable.message if unreadable else "unreadable")
            source = raw.decode("utf-8")
        except (UnicodeDecodeError, ValueError) as exc:
            self.diagnostics.error(
                shown,
                0,
                0,
                "layout.template_unreadable",
                f"cannot read template: {exc}",
                "save it as UTF-8 text under 1 MiB",
            )
            return shown, None
        self.library.file_hashes[shown] = sha256_hex(raw)
        return shown, source


def load_files(
    root: Path,
    *,
    cache: bool = True,
    save_cache: bool = True,
    jobs: int | None = 1,
    listing: Listing | None = None,
    load_cache: LoadCache | None = None,
) -> tuple[Library, Diagnostics]:
    """Read and shape-check every file under ``root``.

    Returns the library of everything that loaded cleanly and the diagnostics of everything
    that did not. Raises nothing for bad content; a missing root is reported as a diagnostic.
    With ``cache`` unchanged files reuse their results of an earlier load (:class:`LoadCache`,
    same results by construction and by test); ``save_cache=False`` leaves writing it to the
    caller (``library.load_cache.save()``), which may add per-file check results first.
    ``jobs`` > 1 (None: one per core) parses files the cache does not know in that many forked
    worker processes; the results are those of a serial load. ``listing`` is
    :func:`listed_stats` of the resolved ``root`` when the caller has just taken it (the
    build, for its input fingerprint): the tree is then not walked again. ``load_cache`` is
    the cache to use instead of reading it (:meth:`LoadCache.carried` of the last load, in a
    process that loads the same folder again and again).
    """
    with paused():
        return _load_files(
            Path(root), cache, save_cache, jobs or os.cpu_count() or 1, listing, load_cache
        )


def _load_files(
    root: Path,
    cache: bool,
    save_cache: bool,
    jobs: int,
    listing: Listing | None,
    load_cache: LoadCache | None,
) -> tuple[Library, Diagnostics]:
    loader = _Loader(root)
    if not root.is_dir():
        loader.diagnostics.error(
            display_path(root, None),
            0,
            0,
            "io.missing_content",
            f"content folder {root.as_posix()!r} does not exist",
            "run from your project folder or pass --content DIR",
        )
        return loader.library, loader.diagnostics
    root = root.resolve()
    loader.root = root
    loader.library.root = root
    stats, refused = listing if listing is not None else listed_stats(root)
    loader.diagnostics.extend(refused)
    if any(problem.code == TOO_MANY_FILES for problem in refused):
        return loader.library, loader.diagnostics
    loader.refused = {problem.path for problem in refused}
    loader.listing = [(shown, path) for shown, path, _info in stats]
    loader.stats = {shown: info for shown, _path, info in stats}
    if load_cache is not None:
        loader.cache = load_cache
    else:
        loader.cache = LoadCache.for_root(root) if cache else LoadCache(None, root)
    loader.library.load_cache = loader.cache
    if not refused:
        patched = loader.patch_last_load()
        if patched is not None:
            if save_cache:
                loader.cache.save()
            return patched, loader.diagnostics
    loader.library.settings = loader.load_single("atomic.yaml", Settings, "settings", required=True)
    loader.library.profile = loader.load_single("profile.yaml", Profile, "profile", required=True)
    if jobs > 1:
        loader.prefetch(loader.folder_tasks(), jobs)
    lib = loader.library
    stores: dict[str, dict[str, Any]] = {
        "segment": lib.segments,
        "atom": lib.atoms,
        "journey": lib.journeys,
        "customer": lib.customers,
        "experiment": lib.experiments,
        "strings": lib.strings,
    }
    for index, (folder, model, kind, recursive) in enumerate(CONTENT_FOLDERS):
        if index == LAYOUTS_BEFORE:
            loader.load_layouts()
        loader.load_folder(folder, model, kind, stores[kind], recursive=recursive)
    loader.mark_refused(refused)
    loader.diagnostics.extend(unread_files(loader.listing))
    loader.prefetched.clear()
    loader.hits.clear()
    loader.keep_load()
    if save_cache:
        loader.cache.save()
    return lib, loader.diagnostics
