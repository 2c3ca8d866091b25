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
from .experiments import Assignment
from .formatting import DRAFTS_MARK
from .models import ArmKind
from .plan import Holdout, Plan, PlannedVariant, Route, Router, make_plan
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
                        {"clause": c.clause, "attribute": c.value, "passed": c.passed}
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
    (``variant`` is then the one the personalized arm gets, for reference); ``route`` says what
    the customer's consent hides and whether the message is suppressed."""

    variant: PlannedVariant
    resolution: Resolution
    assignment: Assignment | None = None
    holdout: bool = False
    route: Route | None = None


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
    messages = route_messages(
        library, plan, customer.attributes, journey, step=step, channel=channel, locale=locale,
        on=on, label=f"customer {customer.id!r}", explain=explain, arm=arm,
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
    arm: ArmKind | None = None,
    router: Router | None = None,
    resolver: Resolver | None = None,
) -> list[CustomerMessage]:
    """A customer record's messages of one journey in an existing ``plan`` (made from
    ``library``): one per step and channel asked for, each the planned variant the runtime
    would send. ``router`` and ``resolver`` may be passed in to reuse them across calls (a live
    preview routes many records into one plan). With ``explain`` the variant's slots are
    explained; the explanation must name the plan's winners. ``arm`` forces an experiment arm.
    UsageError for unknown ids or a day outside the plan.
    """
    router = router or Router.for_plan(library, plan)
    if explain and resolver is None:
        resolver = Resolver(library)
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
        routed = router.route(attributes, **options, arm=arm)
        holdout = isinstance(routed, Holdout)
        # A holdout gets nothing; show what the personalized arm gets, marked as not sent.
        route = (
            router.route(attributes, **options, arm=ArmKind.PERSONALIZED)
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
        if explain and resolver is not None:
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
            explained = explain_variant(
                resolver, variant, served, on, include_drafts=plan.include_drafts
            )
            resolution = dataclasses.replace(explained, notes=resolution.notes)
        note = drafts_note(resolution)
        if note is not None:
            resolution = dataclasses.replace(resolution, notes=(note, *resolution.notes))
        messages.append(CustomerMessage(variant, resolution, assignment, holdout, route))
    return messages


def drafts_note(resolution: Resolution) -> str | None:
    """The note that tells a message with draft or review winners (``--include-drafts``)
    from a built one, naming them; None when every winner is approved."""
    drafts = resolution.drafts
    if not drafts:
        return None
    atoms = ", ".join(f"{slot}={atom.id} ({atom.status.value})" for slot, atom in drafts.items())
    return (
        f"{DRAFTS_MARK}: {atoms} {'wins' if len(drafts) == 1 else 'win'} here, and builds use "
        "approved atoms only: no build contains this message"
    )


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
