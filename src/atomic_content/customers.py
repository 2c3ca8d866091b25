"""Sample customers: find one by id or file path, checked against the profile.

Every customer record goes through :func:`atomic_content.records.check_record`; this module
turns its problems into positioned diagnostics (:func:`customer_diagnostics`) for customer files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ContentError, Diagnostic, Diagnostics, Severity, UsageError, did_you_mean
from .models import Customer, Profile
from .records import RecordProblem, inspect_record
from .repository import Library, schema_diagnostics
from .yamlio import Loc, YamlDocument, read_yaml_file

CUSTOMER_CODES = {
    "record.unknown_attribute": "ref.unknown_attribute",
    "record.type": "customer.attribute_type",
    "record.missing_attribute": "customer.missing_attribute",
}
"""Record problem codes reported under their older, documented names in customer files."""

Position = Callable[[Loc, bool], tuple[int, int]]
"""(loc, at_key) -> 1-based (line, column) in a customer file."""


def plain_attributes(value: Any) -> Any:
    """Customer data as a sending system would send it: dates as ISO strings.

    Used only without a profile; with one, :func:`atomic_content.records.check_record`
    normalizes (the same way) and checks.
    """
    if isinstance(value, dict):
        return {str(k): plain_attributes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_attributes(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def customer_diagnostics(
    problems: Iterable[RecordProblem], path: str, position: Position, base: Loc
) -> list[Diagnostic]:
    """Record problems of a customer file as diagnostics at the attribute's YAML position.

    ``base`` is where the attributes live in the file (``("attributes",)`` in a customer file,
    ``()`` in a bare attribute mapping); codes are mapped by :data:`CUSTOMER_CODES`.
    """
    result = []
    for problem in problems:
        line, col = position((*base, *problem.loc), problem.at_key)
        code = CUSTOMER_CODES.get(problem.code, problem.code)
        result.append(
            Diagnostic(
                path, line, col, Severity.ERROR, code, problem.message, problem.hint, personal=True
            )
        )
    return result


def checked_attributes(
    attributes: Mapping[str, Any],
    profile: Profile | None,
    *,
    name: str,
    doc: YamlDocument | None,
    base: Loc,
) -> dict[str, Any]:
    """A customer file's attributes, checked and normalized; ContentError when invalid."""
    if profile is None:
        return dict(plain_attributes(dict(attributes)))
    record, problems = inspect_record(attributes, profile, where=f"customer {name!r}")
    if record is not None:
        return record
    path = doc.path if doc is not None else ""
    position: Position = _document_position(doc) if doc is not None else _nowhere
    raise ContentError(Diagnostics(customer_diagnostics(problems, path, position, base)))


def _nowhere(loc: Loc, at_key: bool) -> tuple[int, int]:
    return 0, 0


def _document_position(doc: YamlDocument) -> Position:
    def position(loc: Loc, at_key: bool) -> tuple[int, int]:
        return doc.position(loc, key=at_key)

    return position


@dataclass(frozen=True)
class CustomerRecord:
    """A customer to preview or render: an id for messages and the attribute record."""

    id: str
    attributes: dict[str, Any]
    description: str = ""


def find_customer(library: Library, ref: str) -> CustomerRecord:
    """The sample customer ``ref`` (an id in content/customers/) or the customer file at ``ref``.

    A file may be a customer file (``id``/``attributes``) or a bare attribute mapping. The
    attributes are checked by :func:`atomic_content.records.check_record` and returned
    normalized (nested, dates as ISO text). Raises UsageError when neither exists and
    ContentError (positioned diagnostics) when the file or its record is invalid.
    """
    profile = library.profile
    if ref in library.customers:
        customer = library.customers[ref]
        attributes = checked_attributes(
            customer.attributes,
            profile,
            name=customer.id,
            doc=library.document("customer", customer.id),
            base=("attributes",),
        )
        return CustomerRecord(customer.id, attributes, customer.description)
    path = Path(ref)
    if path.suffix in (".yaml", ".yml", ".json") and path.exists():
        doc, problem = read_yaml_file(path)
        diagnostics = Diagnostics()
        if problem is not None or doc is None:
            if problem is not None:
                diagnostics.add(problem)
            raise ContentError(diagnostics)
        data = doc.data
        if isinstance(data, dict) and "attributes" in data:
            try:
                customer = Customer.model_validate({"id": path.stem, **data})
            except ValidationError as exc:
                schema_diagnostics(exc, doc, Customer, diagnostics)
                raise ContentError(diagnostics) from None
            attributes = checked_attributes(
                customer.attributes, profile, name=customer.id, doc=doc, base=("attributes",)
            )
            return CustomerRecord(customer.id, attributes, customer.description)
        if isinstance(data, dict):
            attributes = checked_attributes(data, profile, name=path.stem, doc=doc, base=())
            return CustomerRecord(path.stem, attributes)
        diagnostics.error(
            doc.path,
            1,
            1,
            "customer.not_a_mapping",
            "a customer file must be a mapping",
            "write `attributes:` with the customer's attributes",
        )
        raise ContentError(diagnostics)
    known = sorted(library.customers)
    suggestion = did_you_mean(ref, known)
    raise UsageError(
        f"no sample customer {ref!r} and no such file",
        (suggestion + " ").lstrip()
        + (f"sample customers: {', '.join(known)}" if known else "add one in content/customers/"),
    )
