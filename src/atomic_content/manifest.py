"""The build manifest: what a build produced, typed, versioned and published as a JSON Schema.

``manifest.json`` lists every variant the build rendered — its message, audience and period,
the winning atom per slot with the atom's content hash, its files with their sizes and hashes,
and the channel-limit warnings it carries. Sending systems, ``atomic diff`` and the build cache
read it through :meth:`Manifest.from_json`; nothing reads it by string keys.

This module is also the one home of content hashing: :func:`atom_hash` (an atom's validated
fields, so comments and formatting do not count) and :func:`sha256_hex`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from json.encoder import encode_basestring
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .collector import paused
from .errors import AtomicError
from .hashing import canonical_json, sha256_hex
from .models import Atom

MANIFEST_VERSION = 2
"""Bumped on any incompatible change of the manifest's shape (docs/build.md)."""


def atom_hash(atom: Atom) -> str:
    """The content hash of an atom: its validated fields, not its file (comments, key order and
    quoting do not count). 16 hex digits. The only atom hash of the engine (a library
    remembers its atoms' hashes: :meth:`~atomic_content.repository.Library.atom_hash`)."""
    return sha256_hex(canonical_json(atom.model_dump(mode="json")))[:16]


@dataclass(frozen=True)
class FileEntry:
    """One output file: its path below the build root, SHA-256 and size in bytes."""

    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class SlotEntry:
    """The atom that fills a slot of a variant: id, content hash, the audience segment it
    targets (None: generic) and its locale."""

    atom: str
    hash: str
    segment: str | None
    locale: str | None


@dataclass(frozen=True)
class LimitEntry:
    """A channel limit a variant is close to or over (``severity`` ``warning`` or ``error``)."""

    severity: str
    code: str
    message: str
    slot: str | None = None


@dataclass(frozen=True)
class VariantEntry:
    """One variant: a message (journey, step, channel, locale) for one audience over the
    days ``valid_from``..``valid_until`` (inclusive).

    ``files`` maps ``<form>/<filename>`` (form ``template`` or ``preview``) to the file;
    ``message`` is the content hash of the variant's template form, the name of its entry in
    ``bundle/messages/``; ``language`` the language the whole message is written in.
    ``tokens`` and ``targeting`` are the customer attributes the variant reads in its atoms'
    tokens and in its audience segment's condition; ``personal`` those of them that are
    personal data (what the channel's creepiness budget counts).
    """

    id: str
    journey: str
    step: str
    channel: str
    locale: str
    audience: str
    valid_from: dt.date
    valid_until: dt.date
    layout: str
    language: str
    message: str
    files: dict[str, FileEntry]
    slots: dict[str, SlotEntry]
    warnings: tuple[LimitEntry, ...] = ()
    tokens: tuple[str, ...] = ()
    targeting: tuple[str, ...] = ()
    personal: tuple[str, ...] = ()
    arms: tuple[str, ...] = ()
    """``<experiment>/<arm>`` of every experiment arm that sends this variant (a generic
    variant serves the control arm and generic customers of the personalized arm)."""


VariantLines = Mapping[str, tuple[VariantEntry, str]]
"""Variant id -> its entry and the line :meth:`Manifest.to_json` writes for it (what a
rebuild reuses of the previous manifest)."""


@dataclass(frozen=True)
class ArmEntry:
    """An experiment arm: its share of customers and what it sends (``generic``: the generic
    variant, ``audience``: the audience's variant, ``none``: nothing)."""

    arm: str
    weight: float
    sends: str


@dataclass(frozen=True)
class ExperimentEntry:
    """An experiment running during the build's range, as registered (the bundle assigns arms
    with it; ``atomic diff`` guards its variants)."""

    id: str
    key: str
    journey: str
    steps: tuple[str, ...] | None
    status: str
    start: dt.date
    end: dt.date | None
    metric: str
    alpha: float
    hash_attribute: str
    hash_version: int
    coverage: float
    namespace: tuple[str, float, float] | None
    arms: tuple[ArmEntry, ...]


@dataclass(frozen=True)
class DiagnosticEntry:
    """A content warning of the build, as ``atomic validate --format json`` shows it."""

    path: str
    line: int
    col: int
    severity: str
    code: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``: everything one build produced (docs/build.md).

    ``start``/``until`` is the range of send dates the build covers; ``input`` the fingerprint
    of every input byte (the no-op check); ``bundle`` the runtime bundle's index file.
    """

    manifest_version: int
    engine: str
    start: dt.date
    until: dt.date
    input: str
    file_count: int
    bundle: FileEntry
    variants: tuple[VariantEntry, ...]
    warnings: tuple[DiagnosticEntry, ...] = ()
    experiments: tuple[ExperimentEntry, ...] = ()

    @cached_property
    def by_id(self) -> dict[str, VariantEntry]:
        """Variant id -> entry."""
        return {v.id: v for v in self.variants}

    def to_json(
        self,
        known_lines: VariantLines | None = None,
        *,
        variant_items: list[str] | None = None,
        warning_items: list[str] | None = None,
    ) -> bytes:
        """The manifest as key-sorted JSON (deterministic), ending in a newline: one line per
        top-level field, and one line per variant and warning, so a diff of two manifests
        shows the variants that changed. (Compact lines keep it fast: the indenting encoder is
        pure Python and took seconds on large libraries.)

        ``known_lines`` maps a variant id to an entry and its line as this method wrote it
        (see :func:`written_variants`): a variant whose entry equals the known one takes that
        line instead of being serialized again, which is most of a rebuild's manifest;
        ``variant_items`` are the lines :meth:`variant_items` made for this manifest, when
        the caller has them, and ``warning_items`` the :func:`warning_line` of each warning."""
        data = _adapter().dump_python(
            dataclasses.replace(self, variants=(), warnings=()), mode="json"
        )
        if variant_items is None:
            variant_items = self.variant_items(known_lines)
        lines = ["{"]
        keys = sorted(data)
        for position, key in enumerate(keys):
            tail = "," if position < len(keys) - 1 else ""
            name = _compact(key)
            items = (
                variant_items
                if key == "variants"
                else (warning_items or [warning_line(item) for item in self.warnings])
                if key == "warnings"
                else [_compact(item) for item in data[key]]
                if isinstance(data[key], list)
                else None
            )
            if items:
                body = ",\n".join(f"    {item}" for item in items)
                lines.append(f"  {name}: [\n{body}\n  ]{tail}")
            else:
                lines.append(f"  {name}: {_compact(data[key])}{tail}")
        lines.append("}")
        return ("\n".join(lines) + "\n").encode()

    def variant_items(self, known_lines: VariantLines | None = None) -> list[str]:
        """Each variant's line in :meth:`to_json` (``known_lines`` as there), in order."""
        known = known_lines or {}
        items = []
        for entry in self.variants:
            found = known.get(entry.id)
            if found is not None and (found[0] is entry or found[0] == entry):
                items.append(found[1])
            else:
                items.append(entry_line(entry))
        return items

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        """Parse and check a manifest. Raises ManifestError for anything that is not a
        manifest of this version (a damaged file, an older build)."""
        # A manifest of a large library is ~10^5 objects that all stay alive: hold the cyclic
        # collector meanwhile (it walked them again and again: half the time of a 17 MB one).
        with paused():
            # pydantic's own JSON parser first (a third faster than json.loads + validation);
            # anything it refuses goes the long way below, which says what is wrong.
            with contextlib.suppress(ValidationError):
                manifest = _adapter().validate_json(data)
                if manifest.manifest_version == MANIFEST_VERSION:
                    return manifest
            try:
                raw = json.loads(data)
            except ValueError as exc:
                raise ManifestError(f"the manifest is not valid JSON: {exc}") from None
            version = raw.get("manifest_version") if isinstance(raw, dict) else None
            if version != MANIFEST_VERSION:
                raise ManifestError(
                    f"manifest version {version!r} is not supported (expected "
                    f"{MANIFEST_VERSION}); rebuild with this version of atomic-content"
                )
            try:
                return _adapter().validate_python(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                raise ManifestError(f"the manifest is damaged at {where}: {first['msg']}") from None


def written_variants(data: bytes) -> dict[str, tuple[VariantEntry, str]] | None:
    """Variant id -> (entry, its line) of ``data``, the bytes :meth:`Manifest.to_json` wrote
    (for its ``known_lines``), parsing the variants only: a rebuild reuses the previous
    build's variants, and its thousands of warnings are made again anyway. The caller makes
    sure the bytes are what this engine wrote (the build checks their hash): a line is
    reused verbatim. None when ``data`` is not such a manifest (another version, another
    layout, a damaged entry)."""
    version = f'\n  "manifest_version": {MANIFEST_VERSION},\n'.encode()
    lines = _variant_region(data)
    if version not in data or lines is None:
        return None
    try:
        with paused():  # ~10^5 objects, all kept (see Manifest.from_json)
            entries = _entries_adapter().validate_json("[" + "\n".join(lines) + "]")
    except ValidationError:
        return None
    if len(entries) != len(lines):
        return None
    found = {}
    for entry, line in zip(entries, lines, strict=True):
        text = line.removeprefix("    ").removesuffix(",")
        if f'"id": {encode_basestring(entry.id)},' not in text or entry.id in found:
            return None
        found[entry.id] = (entry, text)
    return found


def _variant_region(data: bytes) -> list[str] | None:
    """The lines of the ``variants`` list of a manifest :meth:`Manifest.to_json` wrote, as
    written (indent and comma included); None when there is none."""
    opening = b'\n  "variants": [\n'
    start = data.find(opening)
    if start < 0:
        return None
    start += len(opening)
    end = data.find(b"\n  ]", start)
    if end < 0:
        return None
    return data[start:end].decode("utf-8").split("\n")


def entry_line(entry: VariantEntry) -> str:
    """``entry``'s line in ``manifest.json`` (:meth:`Manifest.to_json`'s ``known_lines``
    take such lines): the render workers make it along with the entry, in parallel."""
    return _compact(_entry_adapter().dump_python(entry, mode="json"))


def warning_line(entry: DiagnosticEntry) -> str:
    """``entry``'s line in ``manifest.json``: what :func:`_compact` makes of its JSON form
    (keys sorted), formatted directly. A large library has tens of thousands of warnings, and
    going through the generic encoder cost a tenth of a one-atom rebuild."""
    text = encode_basestring
    return (
        f'{{"code": {text(entry.code)}, "col": {int(entry.col)}, "hint": {text(entry.hint)}, '
        f'"line": {int(entry.line)}, "message": {text(entry.message)}, '
        f'"path": {text(entry.path)}, "severity": {text(entry.severity)}}}'
    )


def _compact(value: Any) -> str:
    return _COMPACT(value)


# One encoder for every call: json.dumps with options makes a new one each time.
_COMPACT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(", ", ": ")).encode


class ManifestError(AtomicError):
    """A manifest that cannot be read (damaged, or written by another version)."""


@cache
def _adapter() -> TypeAdapter[Manifest]:
    return TypeAdapter(Manifest)


@cache
def _entry_adapter() -> TypeAdapter[VariantEntry]:
    return TypeAdapter(VariantEntry)


@cache
def _entries_adapter() -> TypeAdapter[list[VariantEntry]]:
    return TypeAdapter(list[VariantEntry])


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of ``manifest.json`` (written by ``atomic schema``)."""
    schema = _adapter().json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "atomic-content build manifest"
    return schema
