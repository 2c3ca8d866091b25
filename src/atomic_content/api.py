"""High-level operations behind the CLI commands: one function per command.

Each takes plain arguments (paths, ids, dates), loads and validates the content, and returns
data; none prints. Invalid content raises ContentError, unknown ids raise UsageError.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .customers import CustomerRecord, find_customer
from .plan import Plan, PlannedVariant, Router, make_plan
from .repository import Library
from .resolver import Resolution, Resolver, select_messages
from .segments import Audience, SegmentIndex, SegmentVerdict
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
    index = SegmentIndex(library.segments, library.profile)
    return SegmentReport(
        customer.id, index.explain(customer.attributes), index.consent_refused(customer.attributes)
    )


@dataclass(frozen=True)
class CustomerMessage:
    """One message of a customer: the planned variant it is and its resolution as the customer
    sees it (the variant's winners, the customer's audience and notes)."""

    variant: PlannedVariant
    resolution: Resolution


@dataclass(frozen=True)
class CustomerMessages:
    """A customer's messages of one journey, with the library and plan they came from."""

    library: Library
    customer: CustomerRecord
    plan: Plan
    messages: list[CustomerMessage]

    @property
    def resolutions(self) -> list[Resolution]:
        return [m.resolution for m in self.messages]


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
    """A customer's messages of one journey on day ``on`` (default: today): one per step and
    channel asked for (default: all, in the journey's order).

    Each is the planned variant the runtime would send (:class:`~atomic_content.plan.Router`):
    the plan for that day is made once and the customer routed into it, exactly as
    ``Bundle.render`` routes. With ``explain`` the variant's slots are explained (every loser
    and rejection with its reason). Raises ContentError for invalid content and UsageError for
    unknown ids.
    """
    on = on or dt.date.today()
    library, _warnings = load_library(content, on)
    customer = find_customer(library, customer_ref)
    plan = make_plan(library, on, on, include_drafts=include_drafts)
    messages = route_messages(
        library, plan, customer.attributes, journey, step=step, channel=channel, locale=locale,
        on=on, label=f"customer {customer.id!r}", explain=explain,
    )  # fmt: skip
    return CustomerMessages(library, customer, plan, messages)


def route_messages(
    library: Library,
    plan: Plan,
    attributes: Mapping[str, Any],
    journey: str,
    *,
    step: str | None = None,
    channel: str | None = None,
    locale: str | None = None,
    on: dt.date,
    label: str | None = None,
    explain: bool = False,
    router: Router | None = None,
    resolver: Resolver | None = None,
) -> list[CustomerMessage]:
    """A customer record's messages of one journey in an existing ``plan`` (made from
    ``library``): one per step and channel asked for, each the planned variant the runtime
    would send. ``router`` and ``resolver`` may be passed in to reuse them across calls (a live
    preview routes many records into one plan). With ``explain`` the variant's slots are
    explained; the explanation must name the plan's winners. UsageError for unknown ids or a
    day outside the plan.
    """
    router = router or Router.for_plan(library, plan)
    if explain and resolver is None:
        resolver = Resolver(library)
    messages = []
    for step_id, the_channel in select_messages(library.journeys, journey, step, channel):
        route = router.route(
            attributes,
            journey=journey,
            step=step_id,
            channel=the_channel,
            on=on,
            locale=locale,
            label=label,
            explain=True,
        )
        variant = plan.variant(route.variant_id)
        resolution = dataclasses.replace(
            variant.resolution,
            audience=route.audience,
            notes=(*route.notes, *variant.resolution.notes),
        )
        if explain and resolver is not None:
            explained = explain_variant(
                resolver, variant, route.audience, on, include_drafts=plan.include_drafts
            )
            resolution = dataclasses.replace(explained, notes=resolution.notes)
        messages.append(CustomerMessage(variant, resolution))
    return messages


def explain_variant(
    resolver: Resolver,
    variant: PlannedVariant,
    audience: Audience,
    on: dt.date,
    *,
    include_drafts: bool = False,
) -> Resolution:
    """The variant's resolution with every slot explained (winner, losers, rejections and
    their reasons) for ``audience`` on day ``on``; it names the plan's winners."""
    explained = resolver.resolve(
        variant.journey,
        variant.step,
        variant.channel,
        audience,
        locale=variant.locale,
        on=on,
        include_drafts=include_drafts,
        explain=True,
    )
    # The explanation re-ranks the same candidates with reasons attached; it must name the
    # plan's winners, or the explanation would describe another message.
    assert explained.atoms == variant.resolution.atoms, "explanation diverged from plan"
    return explained


def resolve_for_customer(
    content: Path,
    customer_ref: str,
    journey: str,
    **options: Any,
) -> list[Resolution]:
    """The resolutions of :func:`customer_messages` (same options)."""
    return customer_messages(content, customer_ref, journey, **options).resolutions
