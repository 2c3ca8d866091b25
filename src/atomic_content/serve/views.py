"""What the studio's pages show, as typed data: made from the pipeline's results, shown by the
templates (which only escape and lay out). How each channel's message is drawn and measured is
the channels' business (:mod:`atomic_content.channels.studio`).

* :func:`slot_views` — per slot the winner, the losers and rejections with reasons, each atom
  with its file and line and an editor link;
* :func:`attribute_fields` / :func:`record_from_form` — the customer form generated from
  ``profile.yaml`` and its way back into a record (checked by ``records.check_record``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..models import AttributeType, Profile
from ..records import csv_cell
from ..repository import Library
from ..resolver import Resolution

# --------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtomRef:
    """An atom with where it is written: ``path:line``, an editor link and a studio link."""

    id: str
    path: str
    line: int
    editor_href: str
    file_href: str


@dataclass(frozen=True)
class CandidateView:
    atom: AtomRef
    verdict: str
    reason: str


@dataclass(frozen=True)
class SlotView:
    slot: str
    required: bool
    winner: AtomRef | None
    reason: str
    candidates: tuple[CandidateView, ...]


def editor_href(template: str, absolute_path: str, line: int, col: int) -> str:
    """An editor link from ``template`` (``{path}``, ``{line}``, ``{col}`` filled; the path
    URL-quoted). An empty template gives no link."""
    if not template:
        return ""
    return template.format(path=quote(absolute_path), line=max(line, 1), col=max(col, 1))


def atom_ref(library: Library, atom_id: str, link_template: str, *, exact: bool = False) -> AtomRef:
    """Where an atom is written. ``exact``: the line of its content (``text:``, ``cta:`` ...),
    which parses the file for positions (a few ms); else the file's first line."""
    path, line, col = library.paths.get(("atom", atom_id), ""), 1, 1
    atom = library.atoms.get(atom_id)
    if exact and atom is not None:
        field = next(
            (name for name in ("text", "cta", "image", "offer") if getattr(atom, name, None)),
            "slot",
        )
        path, line, col = library.position("atom", atom_id, (field,))
    absolute = (library.root / path).as_posix() if path else ""
    return AtomRef(
        atom_id,
        path,
        line,
        editor_href(link_template, absolute, line, col) if path else "",
        f"/files/content/{quote(path)}" if path else "",
    )


def slot_views(library: Library, resolution: Resolution, link_template: str) -> list[SlotView]:
    """Every slot of the resolution with its winner and the other candidates."""
    views = []
    for name, choice in resolution.slots.items():
        winner = (
            atom_ref(library, choice.winner.id, link_template, exact=True)
            if choice.winner
            else None
        )
        others = tuple(
            CandidateView(atom_ref(library, c.atom_id, link_template), c.verdict.value, c.reason)
            for c in choice.candidates
            if choice.winner is None or c.atom_id != choice.winner.id
        )
        views.append(SlotView(name, choice.required, winner, choice.reason, others))
    return views


# --------------------------------------------------------------------------------------------
# The customer form
# --------------------------------------------------------------------------------------------

FIELD_PREFIX = "a."
"""Form field names are ``a.<attribute path>``."""


@dataclass(frozen=True)
class AttributeField:
    """One input of the customer form, generated from a profile attribute."""

    path: str
    name: str
    kind: str
    input_type: str
    value: str
    optional: bool
    description: str
    choices: tuple[str, ...] = ()


def _lookup(record: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(str(item) for item in value)
    return str(value)


_INPUTS = {
    AttributeType.DATE: "date",
    AttributeType.INTEGER: "number",
}


def attribute_fields(profile: Profile, record: Mapping[str, Any]) -> list[AttributeField]:
    """One field per declared attribute, holding the record's value (empty when absent)."""
    fields = []
    for path, spec in sorted(profile.attributes.items()):
        found, value = _lookup(record, path)
        kind = spec.type
        choices: tuple[str, ...] = ()
        if kind is AttributeType.BOOLEAN:
            choices = ("true", "false")
        fields.append(
            AttributeField(
                path,
                FIELD_PREFIX + path,
                kind.value,
                _INPUTS.get(kind, "text"),
                _shown(value) if found else "",
                spec.optional,
                spec.description or "",
                choices,
            )
        )
    return fields


def record_from_form(profile: Profile, form: Mapping[str, str]) -> dict[str, Any]:
    """The flat record a submitted customer form describes (``a.<path>`` fields): empty fields
    are left out, the rest typed as CSV cells are (:func:`~atomic_content.records.csv_cell`).
    Not checked: pass it to ``records.check_record``."""
    record: dict[str, Any] = {}
    for name, text in form.items():
        if not name.startswith(FIELD_PREFIX) or text == "":
            continue
        path = name[len(FIELD_PREFIX) :]
        spec = profile.attributes.get(path)
        record[path] = csv_cell(spec.type if spec is not None else None, text)
    return record


__all__ = [
    "AtomRef",
    "AttributeField",
    "SlotView",
    "atom_ref",
    "attribute_fields",
    "editor_href",
    "record_from_form",
    "slot_views",
]
