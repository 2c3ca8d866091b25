"""High-level operations behind the CLI commands: one function per command.

Each takes plain arguments (paths, ids, dates), loads and validates the content, and returns
data; none prints. Invalid content raises ContentError, unknown ids raise UsageError.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .customers import find_customer
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


def resolve_for_customer(
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
) -> list[Resolution]:
    """Resolutions of a customer for one journey: one per step and channel asked for.

    ``on`` defaults to today. Steps and channels default to all of the journey's.
    """
    library, _warnings = load_library(content)
    customer = find_customer(library, customer_ref)
    resolver = Resolver(library)
    the_journey = resolver.journey(journey)
    steps = [s for s in the_journey.steps if step is None or s.id == step]
    if step is not None and not steps:
        resolver.resolve(journey, step, channel or "", resolver.segment_index.audience({}))
    results = []
    for the_step in steps:
        channels = [channel] if channel is not None else sorted(the_step.channels)
        for the_channel in channels:
            results.append(
                resolver.resolve_customer(
                    customer.attributes,
                    journey,
                    the_step.id,
                    the_channel,
                    locale=locale,
                    on=on or dt.date.today(),
                    include_drafts=include_drafts,
                    explain=explain,
                    label=f"customer {customer.id!r}",
                )
            )
    return results
