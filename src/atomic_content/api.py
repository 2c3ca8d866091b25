"""High-level operations behind the CLI commands: one function per command.

Each takes plain arguments (paths, ids, dates), loads and validates the content, and returns
data; none prints. Invalid content raises ContentError, unknown ids raise UsageError.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .customers import CustomerRecord, find_customer
from .repository import Library
from .resolver import Resolution, Resolver
from .segments import SegmentVerdict
from .validate import load_library


@dataclass(frozen=True)
class SegmentReport:
    customer_id: str
    verdicts: list[SegmentVerdict]
    consent_refused: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "customer": self.customer_id,
            "consent_refused": self.consent_refused,
            "segments": [v.segment for v in self.verdicts if v.matched],
            "verdicts": [
                {
                    "segment": v.segment,
                    "name": v.name,
                    "matched": v.matched,
                    "priority": v.priority,
                    "note": v.note,
                    "clauses": [
                        {"clause": c.clause, "customer_value": c.value, "passed": c.passed}
                        for c in v.clauses
                    ],
                }
                for v in self.verdicts
            ],
        }


def customer_segments(content: Path, customer_ref: str) -> SegmentReport:
    """The segments of a customer and, for every segment, why it matched or not."""
    library, _warnings = load_library(content)
    customer = find_customer(library, customer_ref)
    resolver = Resolver(library)
    index = resolver.segment_index
    return SegmentReport(
        customer.id, index.explain(customer.attributes), index.consent_refused(customer.attributes)
    )


@dataclass(frozen=True)
class CustomerMessages:
    """A customer's resolved messages of one journey, with the library they came from."""

    library: Library
    customer: CustomerRecord
    resolver: Resolver
    resolutions: list[Resolution]


def customer_messages(
    content: Path,
    customer_ref: str,
    journey: str,
    *,
    step: str | None = None,
    channel: str | None = None,
    locale: str | None = None,
    on: dt.date | None = None,
    include_drafts: bool = False,
    explain: bool = False,
) -> CustomerMessages:
    """Load and validate ``content`` and resolve a customer's messages of one journey: one per
    step and channel asked for (default: all, in the journey's order); ``on`` defaults to today.
    Raises ContentError for invalid content and UsageError for unknown ids."""
    library, _warnings = load_library(content)
    customer = find_customer(library, customer_ref)
    resolver = Resolver(library)
    resolutions = [
        resolver.resolve_customer(
            customer.attributes,
            journey,
            step_id,
            the_channel,
            locale=locale,
            on=on or dt.date.today(),
            include_drafts=include_drafts,
            explain=explain,
            label=f"customer {customer.id!r}",
        )
        for step_id, the_channel in resolver.select_messages(journey, step, channel)
    ]
    return CustomerMessages(library, customer, resolver, resolutions)


def resolve_for_customer(
    content: Path,
    customer_ref: str,
    journey: str,
    **options: Any,
) -> list[Resolution]:
    """The resolutions of :func:`customer_messages` (same options)."""
    return customer_messages(content, customer_ref, journey, **options).resolutions
