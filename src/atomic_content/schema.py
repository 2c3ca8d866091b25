"""JSON Schemas of the content file kinds, for editor completion and inline errors.

The schemas come from the pydantic models, so they can never disagree with the loader. Content
files point at them with a ``# yaml-language-server: $schema=...`` comment.

Written for a project (:func:`json_schemas` with a library), the schemas also know the
project's ids: the segment, slot, locale, channel, journey (and ``journey/step``) and layout
ids become ``enum`` lists, so an editor completes them and flags ``segments: [vipp]`` as you
type. Such schemas go stale when an id is added or renamed. Each project schema records what
it was written from (``x-atomic-content``: the package version and a hash of the ids), so
``atomic validate`` can tell cheaply, without generating any schema, and report it as a hint
(``schema.stale``); ``atomic schema --check`` compares the files byte for byte
(:func:`stale_schemas`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic, Severity, plural
from .models import FILE_KINDS

if TYPE_CHECKING:
    from .repository import Library

STAMP = "x-atomic-content"
"""Key of a project schema's stamp (see :meth:`ProjectIds.stamp`); editors ignore x- keys."""

SCHEMA_FOLDER = "schemas"
"""Where a project keeps its schemas: beside the content folder (``../schemas`` from it)."""


@dataclass(frozen=True)
class ProjectIds:
    """The ids of one project that its schemas list as ``enum`` values (all sorted)."""

    segments: list[str]
    slots: list[str]
    locales: list[str]
    channels: list[str]
    journeys: list[str]  # journey ids, then journey/step
    layouts: dict[str, list[str]]  # channel -> layout ids

    @classmethod
    def of(cls, library: Library) -> ProjectIds:
        settings = library.settings
        slots = sorted(settings.slots) if settings is not None else []
        locales = sorted(settings.locales) if settings is not None else []
        channels = sorted(settings.channels.enabled()) if settings is not None else []
        journeys = sorted(library.journeys)
        steps = sorted(
            f"{journey_id}/{step.id}"
            for journey_id, journey in library.journeys.items()
            for step in journey.steps
        )
        layouts: dict[str, list[str]] = {}
        for channel, layout_id in sorted(library.layouts):
            layouts.setdefault(channel, []).append(layout_id)
        return cls(sorted(library.segments), slots, locales, channels, journeys + steps, layouts)

    def stamp(self) -> dict[str, str]:
        """What a project schema was written from: package version and a hash of the ids."""
        from . import __version__
        from .hashing import canonical_json, sha256_hex

        digest = sha256_hex(canonical_json(dataclasses.asdict(self)))
        return {"version": __version__, "ids": digest[:16]}


def json_schemas(library: Library | None = None) -> dict[str, dict[str, Any]]:
    """File kind -> JSON Schema (draft 2020-12), in a fixed order.

    Without ``library`` the schemas fit any project; with it, the ids the project defines are
    ``enum`` values (see the module docstring). Kinds of id the project has none of stay open.
    """
    schemas: dict[str, dict[str, Any]] = {}
    for kind, model in FILE_KINDS.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"atomic-content {kind} file"
        if kind in {"segment", "atom", "journey", "layout", "customer", "experiment"}:
            # The id defaults to the file name, so it is optional in the file.
            required = [name for name in schema.get("required", []) if name != "id"]
            schema["required"] = required
        schemas[kind] = schema
    if library is not None:
        ids = ProjectIds.of(library)
        _add_project_ids(schemas, ids)
        for schema in schemas.values():
            schema[STAMP] = ids.stamp()
    # Not a content file: the build's manifest.json, published for sending systems.
    from .manifest import manifest_schema

    schemas["manifest"] = manifest_schema()
    return schemas


def _add_project_ids(schemas: dict[str, dict[str, Any]], ids: ProjectIds) -> None:
    atom = schemas["atom"]["properties"]
    _enum(atom["slot"], ids.slots)
    _enum(atom["segments"], ids.segments)
    _enum(atom["channels"], ids.channels)
    _enum(atom["locale"], ids.locales)
    _enum(atom["journeys"], ids.journeys)
    journey = schemas["journey"]
    _enum(journey["properties"]["segments"], ids.segments)
    _enum(journey["properties"]["locales"], ids.locales)
    step_channels = journey["$defs"]["Step"]["properties"]["channels"]
    if ids.layouts:
        patterns = step_channels.pop("patternProperties")
        item = next(iter(patterns.values()))
        step_channels["properties"] = {
            channel: {**copy.deepcopy(item), "enum": layouts}
            for channel, layouts in ids.layouts.items()
        }
        step_channels["additionalProperties"] = False
    if ids.slots:
        schemas["layout"]["properties"]["slots"]["propertyNames"]["enum"] = ids.slots
    settings = schemas["settings"]["properties"]
    _enum(settings["default_locale"], ids.locales)


def _enum(prop: dict[str, Any], values: list[str]) -> None:
    """Restrict a string property (or the items of a list property) to ``values``."""
    if not values:
        return
    for option in prop.get("anyOf", [prop]):
        if option.get("type") == "string":
            option["enum"] = values
        elif option.get("type") == "array":
            option["items"] = {**option.get("items", {}), "enum": values}


def render_schemas(library: Library | None = None) -> dict[str, str]:
    """File name -> text of every schema file: sorted keys, two-space indent, final newline."""
    return {
        f"{kind}.schema.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for kind, schema in json_schemas(library).items()
    }


def write_schemas(out: Path, library: Library | None = None) -> list[Path]:
    """Write ``<kind>.schema.json`` files into ``out`` (created if needed); returns their paths.

    Output is deterministic. ``library``: write the project's schemas (see :func:`json_schemas`).
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas(library).items():
        target = out / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def project_library(root: Path) -> Library:
    """Whatever of the project at ``root`` loads (its ids), even when some files have errors:
    the schemas help most while content is being fixed. UsageError when ``root`` is missing."""
    from .errors import UsageError
    from .repository import load_files

    if not Path(root).is_dir():
        raise UsageError(
            f"content folder {Path(root).as_posix()!r} does not exist",
            "pass --content DIR, or --generic for schemas without a project's ids",
        )
    library, _diagnostics = load_files(root)
    return library


def schema_folder(root: Path) -> Path:
    """The schemas folder of the project whose content folder is ``root``."""
    root = Path(root)
    return (root.parent if root.name else root.resolve().parent) / SCHEMA_FOLDER


def stale_schemas(
    library: Library, folder: Path | None = None, *, missing_is_stale: bool = False
) -> list[str]:
    """Names of the schema files in ``folder`` (default: :func:`schema_folder`) that differ
    from what ``atomic schema`` would write now. A project that keeps no schemas (no
    ``atom.schema.json``) has none stale, unless ``missing_is_stale``."""
    folder = schema_folder(library.root) if folder is None else folder
    if not missing_is_stale and not (folder / "atom.schema.json").is_file():
        return []
    stale = []
    for name, text in render_schemas(library).items():
        try:
            current = (folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != text:
            stale.append(name)
    return stale


def stamped_stale(library: Library, folder: Path | None = None) -> list[str]:
    """Like :func:`stale_schemas`, from the stamps alone (fast: no schema is generated): the
    content kinds' schema files whose stamp differs from the project's current one. A file
    without a stamp was written by ``--generic`` (or by hand) and is left alone."""
    folder = schema_folder(library.root) if folder is None else folder
    if not (folder / "atom.schema.json").is_file():
        return []
    expected = ProjectIds.of(library).stamp()
    stale = []
    for kind in FILE_KINDS:
        name = f"{kind}.schema.json"
        try:
            written = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            stale.append(name)
            continue
        stamp = written.get(STAMP) if isinstance(written, dict) else None
        if stamp is not None and stamp != expected:
            stale.append(name)
    return stale


def freshness_diagnostics(library: Library) -> list[Diagnostic]:
    """A ``schema.stale`` hint when the project's schemas no longer match its content; none
    while a content file does not load (``library.broken``): its ids are missing from the
    library, so the schemas would only look stale, and writing them again then would drop
    those ids."""
    if library.settings is None or library.broken:
        return []
    stale = stamped_stale(library)
    if not stale:
        return []
    return [
        Diagnostic(
            f"../{SCHEMA_FOLDER}",
            0,
            0,
            Severity.HINT,
            "schema.stale",
            "the editor schemas are out of date: they list other segment, slot, locale, "
            f"channel, journey or layout ids than the content has ({plural(len(stale), 'file')})",
            "run `atomic schema` to write them again, so your editor completes the current "
            "segment, slot, locale, journey and layout ids",
        )
    ]
