"""Segment membership: which audiences a customer belongs to, and why.

Conditions are compiled once per library (:class:`SegmentIndex`); membership of one customer is
a loop over compiled closures. Consent: when the profile declares a consent attribute and the
customer's value is ``false``, the customer is in *no* segment and gets generic content only.
A missing consent value is not a refusal (the attribute may be optional).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import CompiledCondition, compile_condition
from .models import Journey, Profile, Segment


@dataclass(frozen=True)
class Audience:
    """Who a message speaks to: one segment, or nobody in particular (``generic``).

    The audience rule (README, "Who gets which message"): a customer's audience for a journey is
    the single highest-priority segment that the journey lists and the customer matches; it is
    generic when there is none, when the journey's ``audience`` condition fails, or when the
    customer refused personalization. Every slot of one message resolves for that one audience.

    ``label`` names the audience in explanations and errors (``customer 'anna'``,
    ``segment 'vip'``, ``generic``); ``matched`` lists every segment the customer matched (for
    explanations only: it never changes the message); ``reason`` says why this audience.
    """

    segment: str | None
    label: str
    consent_refused: bool = False
    customer_id: str | None = None
    matched: frozenset[str] = frozenset()
    reason: str = ""

    @property
    def id(self) -> str:
        """The audience as variants name it: the segment id, or ``generic``."""
        return self.segment if self.segment is not None else GENERIC

    @property
    def segments(self) -> frozenset[str]:
        """The audience's segment as a set (empty for generic), for set arithmetic."""
        return frozenset() if self.segment is None else frozenset({self.segment})

    @classmethod
    def generic(cls) -> Audience:
        return cls(None, GENERIC)

    @classmethod
    def for_segment(cls, segment: str) -> Audience:
        return cls(segment, f"segment {segment!r}")

    @classmethod
    def for_id(cls, audience_id: str) -> Audience:
        """The audience a variant names (a segment id or ``generic``)."""
        return cls.generic() if audience_id == GENERIC else cls.for_segment(audience_id)


GENERIC = "generic"
"""The audience id of the message for nobody in particular."""


@dataclass(frozen=True)
class ClauseVerdict:
    """One top-level clause of a segment condition, its customer value and whether it held."""

    clause: str
    value: str
    passed: bool


@dataclass(frozen=True)
class SegmentVerdict:
    """Whether a customer is in a segment, with the clauses that decided it."""

    segment: str
    name: str
    matched: bool
    priority: int
    clauses: tuple[ClauseVerdict, ...]
    note: str = ""


_PATHS: dict[str, tuple[str, ...]] = {}


def lookup(attributes: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path of nested mappings (GrowthBook path semantics)."""
    parts = _PATHS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PATHS) < 4096:  # attribute paths come from the profile: a handful
            _PATHS[path] = parts
    current: Any = attributes
    for part in parts:
        # Checked records are plain dicts; the abstract Mapping check is the slow fallback.
        if (type(current) is dict or isinstance(current, Mapping)) and part in current:
            current = current[part]
        else:
            return False, None
    return True, current


class SegmentIndex:
    """Compiled segment conditions of a library, ordered by priority (highest first), then id."""

    def __init__(self, segments: Mapping[str, Segment], profile: Profile | None) -> None:
        ordered = sorted(segments.values(), key=lambda s: (-s.priority, s.id))
        self.segments = {s.id: s for s in ordered}
        self.priorities = {s.id: s.priority for s in ordered}
        self._compiled: list[tuple[str, CompiledCondition]] = [
            (s.id, compile_condition(s.condition)) for s in ordered
        ]
        self._by_id = dict(self._compiled)
        self.consent_attribute = profile.consent_attribute if profile else None
        self._journey_segments: dict[str, tuple[Journey, tuple[str, ...], CompiledCondition]] = {}
        self.id_attribute = profile.id_attribute if profile else "id"

    def consent_refused(self, attributes: Mapping[str, Any]) -> bool:
        if self.consent_attribute is None:
            return False
        found, value = lookup(attributes, self.consent_attribute)
        return found and value is False

    def customer_id(self, attributes: Mapping[str, Any]) -> str | None:
        found, value = lookup(attributes, self.id_attribute)
        return str(value) if found and value is not None else None

    def matching(
        self, attributes: Mapping[str, Any], only: frozenset[str] | None = None
    ) -> frozenset[str]:
        """Ids of every segment whose condition matches, ignoring consent.

        With ``only``, just those segments are evaluated (the others are left out of the
        result): a message needs only the segments its candidate atoms target.
        """
        if only is None:
            return frozenset(seg_id for seg_id, cond in self._compiled if cond(attributes))
        return frozenset(
            seg_id for seg_id in only if (cond := self._by_id.get(seg_id)) and cond(attributes)
        )

    def journey_segments(self, journey: Journey) -> tuple[str, ...]:
        """The segments ``journey`` personalizes for, highest priority first (then id); all
        segments when the journey does not say. Unknown ids are left out (validate reports
        them)."""
        found = self._journey_segments.get(journey.id)
        if found is None or found[0] is not journey:
            listed = set(journey.segments) if journey.segments is not None else None
            ordered = tuple(
                seg_id for seg_id, _ in self._compiled if listed is None or seg_id in listed
            )
            found = (journey, ordered, compile_condition(journey.audience or {}))
            self._journey_segments[journey.id] = found
        return found[1]

    def in_journey_audience(self, attributes: Mapping[str, Any], journey: Journey) -> bool:
        """Whether the journey's ``audience`` condition holds (no condition: everybody)."""
        self.journey_segments(journey)
        return self._journey_segments[journey.id][2](attributes)

    def audience(
        self,
        attributes: Mapping[str, Any],
        journey: Journey,
        label: str | None = None,
        *,
        explain: bool = False,
    ) -> Audience:
        """The customer's audience for ``journey`` by the audience rule (see :class:`Audience`).

        Segments are evaluated in priority order and evaluation stops at the first match, so a
        customer costs as many condition evaluations as segments before their audience. With
        ``explain`` every segment is evaluated so that ``matched`` lists them all.
        """
        customer_id = self.customer_id(attributes)
        shown = label or (f"customer {customer_id!r}" if customer_id else "customer")
        matched = self.matching(attributes) if explain else frozenset()
        if self.consent_refused(attributes):
            return Audience(
                None,
                shown,
                True,
                customer_id,
                matched,
                "the customer refused personalization: generic content only",
            )
        ordered = self.journey_segments(journey)
        if not self.in_journey_audience(attributes, journey):
            return Audience(
                None,
                shown,
                False,
                customer_id,
                matched,
                f"not in the audience of journey {journey.id!r}: generic content",
            )
        for seg_id in ordered:
            if self._by_id[seg_id](attributes):
                others = sorted(matched - {seg_id})
                reason = f"segment {seg_id!r} (priority {self.priorities[seg_id]})" + (
                    f", the highest of the journey's segments the customer is in; "
                    f"also in: {', '.join(others)}"
                    if others
                    else ""
                )
                return Audience(seg_id, shown, False, customer_id, matched, reason)
        return Audience(
            None,
            shown,
            False,
            customer_id,
            matched,
            f"in none of the segments journey {journey.id!r} personalizes for: generic content",
        )

    def explain(self, attributes: Mapping[str, Any]) -> list[SegmentVerdict]:
        """Per segment (priority order): matched or not, and each top-level clause's verdict."""
        refused = self.consent_refused(attributes)
        verdicts = []
        for seg_id, compiled in self._compiled:
            segment = self.segments[seg_id]
            clauses = []
            for key, value in segment.condition.items():
                clause = {key: value}
                passed = compile_condition(clause)(attributes)
                shown_value = "-"
                if not key.startswith("$"):
                    found, actual = lookup(attributes, key)
                    shown_value = json.dumps(actual, default=str) if found else "missing"
                clauses.append(
                    ClauseVerdict(
                        json.dumps(clause, default=str, ensure_ascii=False), shown_value, passed
                    )
                )
            matched = compiled(attributes)
            note = ""
            if refused and matched:
                note = "condition matches, but the customer refused personalization (consent)"
            verdicts.append(
                SegmentVerdict(
                    seg_id,
                    segment.name or seg_id,
                    matched and not refused,
                    segment.priority,
                    tuple(clauses),
                    note,
                )
            )
        return verdicts
