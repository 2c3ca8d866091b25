"""Sample customers: find one by id or file path, validated against the profile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ContentError, Diagnostics, UsageError, did_you_mean
from .models import Customer
from .repository import Library, schema_diagnostics
from .yamlio import read_yaml_file


def plain_attributes(value: Any) -> Any:
    """Customer data as a sending system would send it: dates as ISO strings.

    YAML turns ``2026-09-01`` into a date object, but conditions compare dates as ISO text
    (GrowthBook semantics) and JSON records carry strings; normalizing here makes a sample
    customer behave exactly like the same record arriving as JSON.
    """
    if isinstance(value, dict):
        return {str(k): plain_attributes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_attributes(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class CustomerRecord:
    """A customer to preview or render: an id for messages and the attribute record."""

    id: str
    attributes: dict[str, Any]
    description: str = ""


def find_customer(library: Library, ref: str) -> CustomerRecord:
    """The sample customer ``ref`` (an id in content/customers/) or the customer file at ``ref``.

    A file may be a customer file (``id``/``attributes``) or a bare attribute mapping. Raises
    UsageError when neither exists and ContentError when the file is invalid.
    """
    if ref in library.customers:
        customer = library.customers[ref]
        return CustomerRecord(
            customer.id, plain_attributes(customer.attributes), customer.description
        )
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
            return CustomerRecord(
                customer.id, plain_attributes(customer.attributes), customer.description
            )
        if isinstance(data, dict):
            return CustomerRecord(path.stem, plain_attributes(data))
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
