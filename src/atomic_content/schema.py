"""JSON Schemas of the content file kinds, for editor completion and inline errors.

The schemas come from the pydantic models, so they can never disagree with the loader. Content
files point at them with a ``# yaml-language-server: $schema=...`` comment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .models import FILE_KINDS


def json_schemas() -> dict[str, dict[str, Any]]:
    """File kind -> JSON Schema (draft 2020-12), in a fixed order."""
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
    # Not a content file: the build's manifest.json, published for sending systems.
    from .manifest import manifest_schema

    schemas["manifest"] = manifest_schema()
    return schemas


def write_schemas(out: Path) -> list[Path]:
    """Write ``<kind>.schema.json`` files into ``out`` (created if needed); returns their paths.

    Output is deterministic: sorted keys, two-space indent, trailing newline.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, schema in json_schemas().items():
        target = out / f"{kind}.schema.json"
        target.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(target)
    return written
