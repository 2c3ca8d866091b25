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
from .models import Profile, Segment


@dataclass(frozen=True)
class Audience:
    """Who a message is for: a set of segments, plus whether personalization was refused.

    ``label`` names the audience in explanations and errors: ``customer 'anna'``,
    ``segment 'vip'`` or ``generic``.
    """

    segments: frozenset[str]
    label: str
    consent_refused: bool = False
    customer_id: str | None = None

    @classmethod
    def generic(cls) -> Audience:
        return cls(frozenset(), "generic")

    @classmethod
    def for_segment(cls, segment: str) -> Audience:
        return cls(frozenset({segment}), f"segment {segment!r}")


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


def lookup(attributes: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path of nested mappings (GrowthBook path semantics)."""
    current: Any = attributes
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
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

    def audience(
        self,
        attributes: Mapping[str, Any],
        label: str | None = None,
        only: frozenset[str] | None = None,
    ) -> Audience:
        """The customer's audience: matching segments (of ``only``, when given), or none when
        consent was refused."""
        customer_id = self.customer_id(attributes)
        shown = label or (f"customer {customer_id!r}" if customer_id else "customer")
        if self.consent_refused(attributes):
            return Audience(frozenset(), shown, consent_refused=True, customer_id=customer_id)
        return Audience(self.matching(attributes, only), shown, customer_id=customer_id)

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
