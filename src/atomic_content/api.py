"""High-level operations behind the CLI commands: one function per command.

Each takes plain arguments (paths, ids, dates), loads and validates the content, and returns
data; none prints. Invalid content raises ContentError, unknown ids raise UsageError.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .customers import CustomerRecord, find_customer
from .experiments import Assignment
from .models import ArmKind
from .plan import Holdout, Plan, PlannedVariant, Router, make_plan
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
    sees it (the variant's winners, the customer's audience and notes).

    ``assignment`` is the customer's experiment arm; ``holdout`` means no message is sent
    (``variant`` is then the one the personalized arm gets, for reference)."""

    variant: PlannedVariant
    resolution: Resolution
    assignment: Assignment | None = None
    holdout: bool = False


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
    arm: ArmKind | None = None,
) -> CustomerMessages:
    """A customer's messages of one journey on day ``on`` (default: today): one per step and
    channel asked for (default: all, in the journey's order).

    Each is the planned variant the runtime would send (:class:`~atomic_content.plan.Router`):
    the plan for that day is made once and the customer routed into it, exactly as
    ``Bundle.render`` routes. With ``explain`` the variant's slots are explained (every loser
    and rejection with its reason). ``arm`` forces an experiment arm (``--arm``). Raises
    ContentError for invalid content and UsageError for unknown ids (and for ``arm`` on a
    message no experiment covers).
    """
    on = on or dt.date.today()
    library, _warnings = load_library(content, on)
    customer = find_customer(library, customer_ref)
    plan = make_plan(library, on, on, include_drafts=include_drafts)
    router = Router.for_plan(library, plan)
    resolver = Resolver(library) if explain else None
    label = f"customer {customer.id!r}"
    messages = []
    for step_id, the_channel in select_messages(library.journeys, journey, step, channel):
        options: dict[str, Any] = {
            "journey": journey,
            "step": step_id,
            "channel": the_channel,
            "on": on,
            "locale": locale,
            "label": label,
            "explain": True,
        }
        routed = router.route(customer.attributes, **options, arm=arm)
        holdout = isinstance(routed, Holdout)
        # A holdout gets nothing; show what the personalized arm gets, marked as not sent.
        route = (
            router.route(customer.attributes, **options, arm=ArmKind.PERSONALIZED)
            if isinstance(routed, Holdout)
            else routed
        )
        assert not isinstance(route, Holdout)
        assignment = routed.assignment
        notes = list(route.notes)
        if holdout:
            notes = ["holdout arm: no message is sent (shown: what the personalized arm gets)"]
        if assignment is not None:
            notes.append(f"arm: {assignment.reason}")
        variant = plan.variant(route.variant_id)
        resolution = dataclasses.replace(
            variant.resolution,
            audience=route.audience,
            notes=(*notes, *variant.resolution.notes),
        )
        if resolver is not None:
            served = route.audience
            if route.arm == ArmKind.CONTROL.value:
                served = Audience(
                    None,
                    route.audience.label,
                    route.audience.consent_refused,
                    route.audience.customer_id,
                    route.audience.matched,
                    "control arm of the experiment: the generic message",
                )
            explained = resolver.resolve(
                journey,
                step_id,
                the_channel,
                served,
                locale=variant.locale,
                on=on,
                include_drafts=include_drafts,
                explain=True,
            )
            # The explanation re-ranks the same candidates with reasons attached; it must
            # name the plan's winners, or the explanation would describe another message.
            assert explained.atoms == variant.resolution.atoms, "explanation diverged from plan"
            resolution = dataclasses.replace(explained, notes=resolution.notes)
        messages.append(CustomerMessage(variant, resolution, assignment, holdout))
    return CustomerMessages(library, customer, plan, messages)


def resolve_for_customer(
    content: Path,
    customer_ref: str,
    journey: str,
    **options: Any,
) -> list[Resolution]:
    """The resolutions of :func:`customer_messages` (same options)."""
    return customer_messages(content, customer_ref, journey, **options).resolutions
