"""High-level operations behind the CLI commands: one function per command.

Each takes plain arguments (paths, ids, dates), loads and validates the content, and returns
data; none prints. Invalid content raises ContentError, unknown ids raise UsageError.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .customers import find_customer
from .errors import UsageError, did_you_mean
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


def select_messages(
    resolver: Resolver, journey: str, step: str | None = None, channel: str | None = None
) -> list[tuple[str, str]]:
    """(step id, channel) of every message of ``journey`` that ``step``/``channel`` select, in
    the journey's order. Raises UsageError (with the known ids) when nothing matches."""
    the_journey = resolver.journey(journey)
    steps = list(the_journey.steps)
    if step is not None:
        steps = [s for s in steps if s.id == step]
        if not steps:
            known = [s.id for s in the_journey.steps]
            raise UsageError(
                f"journey {journey!r} has no step {step!r}",
                (did_you_mean(step, known) + " ").lstrip() + f"steps: {', '.join(known)}",
            )
    if channel is not None:
        with_channel = [s for s in steps if channel in s.channels]
        if not with_channel:
            where = f"step {journey}/{step}" if step else f"journey {journey!r}"
            used = sorted({c for s in steps for c in s.channels})
            raise UsageError(
                f"{where} has no {channel!r} message", f"channels used: {', '.join(used)}"
            )
        steps = with_channel
    return [
        (s.id, c) for s in steps for c in ([channel] if channel is not None else list(s.channels))
    ]


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
    return [
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
        for step_id, the_channel in select_messages(resolver, journey, step, channel)
    ]
