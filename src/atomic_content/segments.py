"""Segment membership: which audiences a customer belongs to, and why.

Conditions are compiled once per library (:class:`SegmentIndex`); membership of one customer is
a loop over compiled closures. Consent (:mod:`atomic_content.privacy`): a customer who did not
give a purpose (its consent attribute is not ``true``) is treated as not having the attributes
that need it, so a segment whose condition reads one of them is not considered for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import CompiledCondition, compile_condition, first_match
from .models import GENERIC as GENERIC  # its home: models, where segment ids are checked
from .models import PERSONALIZATION, Journey, Profile, Segment


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
    ``withheld`` are the consent purposes the customer did not give, ``hidden`` the attributes
    treated as absent because of them (tokens too), ``consent_notes`` what that changed;
    ``consent_refused`` is true when some attribute is hidden.
    """

    segment: str | None
    label: str
    consent_refused: bool = False
    customer_id: str | None = None
    matched: frozenset[str] = frozenset()
    reason: str = ""
    withheld: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()
    consent_notes: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class ClauseVerdict:
    """One top-level clause of a segment condition, whether the customer has the attribute
    (``value``: ``given``, ``missing`` or ``withheld``; never the value) and whether it held."""

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


MEMO_SIZE = 4096
"""Most answers an :class:`AudienceRule` remembers per consent state (:class:`_AudienceMemo`)."""


class _Absent:
    """Stands for a path the record does not have, in an :class:`_AudienceMemo` key."""

    __slots__ = ()


_ABSENT = _Absent()
_PLAIN_TYPES = frozenset({str, int, type(None), _Absent})
_TRUE, _FALSE = object(), object()  # booleans in a key: True == 1 and False == 0 in Python


class _AudienceMemo:
    """The audience answers of one rule and consent state, by the values the conditions read.

    Conditions are pure functions of the values at the paths they read
    (:attr:`~.conditions.CompiledCondition.paths`: every path outside an ``$elemMatch``, whose
    list is read whole), so records with the same values there get the same audience, and the
    answer is remembered by those values. Segments mostly read a few attributes of few values
    (a tier, a country, a score band), so a stream of customers repeats them: one dictionary
    look-up then replaces evaluating every segment in turn. Only plain values make a key, each
    with its type (``1``, ``1.0``, ``True`` and ``"1"`` stay apart, a float by its exact bits,
    an absent path apart from null); a record with a list, a mapping or anything else at a read
    path, or a path through something that is not a mapping, is evaluated as before. At most
    :data:`MEMO_SIZE` answers are kept; a memo that fills up having answered fewer records
    than it holds is switched off (the values hardly repeat: building keys would only cost).
    tests/test_router_select.py holds the answers equal to evaluating.
    """

    __slots__ = ("hits", "key", "on", "paths", "table")

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = tuple(tuple(path.split(".")) for path in sorted(paths))
        self.table: dict[tuple[Any, ...], str] = {}
        self.hits = 0
        self.on = True
        self.key: Callable[[Mapping[str, Any]], tuple[Any, ...] | None] = _key_function(self.paths)

    def remember(self, key: tuple[Any, ...], answer: str) -> None:
        if len(self.table) < MEMO_SIZE:
            self.table[key] = answer
        elif self.hits < len(self.table):
            self.on = False


def _consent_mask_function(
    paths: tuple[tuple[tuple[str, ...], bool], ...],
) -> Callable[[Mapping[str, Any]], int | None]:
    """:meth:`SegmentIndex.consent_mask` as straight-line code for a record of plain dicts (it
    runs for every customer); None for anything else (another mapping on the way), which the
    general method answers. ``paths``: each consent attribute's parts and whether its purpose
    is opt-out (a bit is set when an opt-in value is not ``True``, an opt-out one ``False``)."""
    lines = ["def mask(a):", "    if type(a) is not dict:", "        return None", "    m = 0"]
    for bit, (parts, opt_out) in enumerate(paths):
        lines.append(f"    v = a.get({parts[0]!r})")
        for part in parts[1:]:
            lines += [
                "    if type(v) is dict:",
                f"        v = v.get({part!r})",
                "    elif v is not None and isinstance(v, Mapping):",
                "        return None",
                "    else:",
                "        v = None",
            ]
        test = "v is False" if opt_out else "v is not True"
        lines += [f"    if {test}:", f"        m |= {1 << bit}"]
    lines.append("    return m")
    namespace: dict[str, Any] = {"Mapping": Mapping}
    exec(compile("\n".join(lines), "<consent mask>", "exec"), namespace)
    found: Callable[[Mapping[str, Any]], int | None] = namespace["mask"]
    return found


def _key_function(
    paths: tuple[tuple[str, ...], ...],
) -> Callable[[Mapping[str, Any]], tuple[Any, ...] | None]:
    """The key of an :class:`_AudienceMemo`: the values at ``paths``, kept apart by type; None
    when one is not plain or a path runs through something that is not a mapping.

    Generated as straight-line code (it runs for every customer): for ``("tier",)`` and
    ``("cart", "items")`` it reads ``a.get("tier", A)``, then ``a.get("cart", A)`` and, when
    that is a dict, its ``"items"``. Strings, ints, None and absent (its own marker) stand for
    themselves (no two of them are equal); booleans become markers of their own (``True == 1``
    in Python), floats the 1-tuple of their exact ``hex()`` (``1.0 == 1``, ``-0.0 == 0.0``);
    anything else gives None."""
    lines = ["def key(a):", "    if type(a) is not dict:", "        return None"]
    names: list[str] = []
    for i, parts in enumerate(paths):
        value = f"v{i}"
        lines.append(f"    {value} = a.get({parts[0]!r}, A)")
        for part in parts[1:]:
            lines += [
                f"    if type({value}) is dict:",
                f"        {value} = {value}.get({part!r}, A)",
                f"    elif {value} is not A:",
                "        return None",
            ]
        lines += [
            f"    t = type({value})",
            "    if t is bool:",
            f"        {value} = TRUE if {value} else FALSE",
            "    elif t is float:",
            f"        {value} = ({value}.hex(),)",
            "    elif t not in PLAIN:",
            "        return None",
        ]
        names.append(value)
    lines.append(f"    return ({', '.join(names)}{',' if len(names) == 1 else ''})")
    namespace: dict[str, Any] = {
        "A": _ABSENT,
        "PLAIN": _PLAIN_TYPES,
        "TRUE": _TRUE,
        "FALSE": _FALSE,
    }
    exec(compile("\n".join(lines), "<audience memo key>", "exec"), namespace)
    function: Callable[[Mapping[str, Any]], tuple[Any, ...] | None] = namespace["key"]
    return function


class AudienceRule:
    """The audience rule of one journey, made once for the hot path (:meth:`SegmentIndex.rule`).

    :meth:`audience_id` answers what ``SegmentIndex.audience(record, journey).id`` answers, with
    the same evaluation order (the journey's ``audience`` condition, then its segments by
    priority, stopping at the first match) and none of its explanation: no :class:`Audience`,
    no reasons, no notes. Consent is applied without copying the record: a segment whose
    condition reads a hidden attribute is not considered (as :meth:`SegmentIndex.blocked`
    says), and every other condition reads no hidden attribute, so it gives the same answer on
    the record as on the record without them; only a journey condition that reads a hidden
    attribute is evaluated on such a copy. tests/test_router_select.py holds it equal to
    :meth:`SegmentIndex.audience`.
    """

    __slots__ = (
        "_by_hidden",
        "_condition",
        "_condition_paths",
        "_condition_reads",
        "_segments",
        "journey",
    )

    def __init__(self, index: SegmentIndex, journey: Journey) -> None:
        from .privacy import declared_uses

        ordered = index.journey_segments(journey)
        self.journey = journey
        self._condition: CompiledCondition | None = index._journey_segments[journey.id][2]
        self._condition_reads = declared_uses(self._condition.paths, index.declared)
        self._condition_paths = self._condition.paths
        if self._condition.always_true:
            self._condition = None
        self._segments = tuple(
            (seg_id, index._by_id[seg_id], index.reads[seg_id]) for seg_id in ordered
        )
        # hidden attributes -> (the segments considered, in order; whether the journey
        # condition needs the record without them; the answers remembered by the values read)
        self._by_hidden: dict[
            frozenset[str],
            tuple[tuple[tuple[str, CompiledCondition], ...], bool, _AudienceMemo],
        ] = {}

    def audience_id(self, attributes: Mapping[str, Any], hidden: frozenset[str]) -> str:
        """The customer's audience id (a segment id or ``generic``) given the attributes their
        consent hides (:meth:`SegmentIndex.consent_state`)."""
        plan = self._by_hidden.get(hidden)
        if plan is None:
            candidates = tuple(
                (seg_id, condition)
                for seg_id, condition, reads in self._segments
                if not reads & hidden
            )
            paths = set(self._condition_paths if self._condition is not None else ())
            for _, condition in candidates:
                paths |= condition.paths
            plan = (candidates, bool(self._condition_reads & hidden), _AudienceMemo(paths))
            if len(self._by_hidden) < 256:  # one entry per consent combination: a handful
                self._by_hidden[hidden] = plan
        memo = plan[2]
        key = memo.key(attributes) if memo.on else None
        if key is not None:
            found = memo.table.get(key)
            if found is not None:
                memo.hits += 1
                return found
        answer = self._evaluate(attributes, hidden, plan[0], plan[1])
        if key is not None:
            memo.remember(key, answer)
        return answer

    def _evaluate(
        self,
        attributes: Mapping[str, Any],
        hidden: frozenset[str],
        candidates: tuple[tuple[str, CompiledCondition], ...],
        needs_view: bool,
    ) -> str:
        """The audience id by evaluating the conditions (what :meth:`audience_id` remembers)."""
        condition = self._condition
        if condition is not None:
            if needs_view:
                from .privacy import without

                if not condition(without(attributes, hidden)):
                    return GENERIC
            elif not condition(attributes):
                return GENERIC
        found = first_match(candidates, attributes)
        return GENERIC if found is None else found


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
        from .privacy import consent_policy, declared_uses

        self.policy = consent_policy(profile)
        declared = list(profile.attributes) if profile else []
        self.reads = {
            seg_id: declared_uses(cond.paths, declared) for seg_id, cond in self._compiled
        }
        self._journey_segments: dict[str, tuple[Journey, tuple[str, ...], CompiledCondition]] = {}
        self.id_attribute = profile.id_attribute if profile else "id"
        self.declared = tuple(declared)
        # The consent attributes in the policy's order, with whether the purpose is opt-out.
        self._consent_reads = tuple(
            (attribute, purpose in self.policy.opt_out)
            for purpose, attribute in self.policy.consents.items()
        )
        self._consent_paths = tuple(
            (tuple(attribute.split(".")), opt_out) for attribute, opt_out in self._consent_reads
        )
        self._consent_states: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        self._consent_mask = _consent_mask_function(self._consent_paths)
        self._rules: dict[str, AudienceRule] = {}

    def hidden(self, attributes: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
        """(withheld purposes, attributes treated as absent) for this customer."""
        withheld = self.policy.withheld(attributes)
        return withheld, self.policy.hidden(withheld)

    def consent_state(self, attributes: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
        """:meth:`hidden` for the hot path: the consents are read into a bit mask (one bit per
        purpose not given) and the two sets are made once per mask, then shared."""
        mask = self._consent_mask(attributes)
        if mask is None:
            mask = self.consent_mask(attributes)
        state = self._consent_states.get(mask)
        if state is None:
            state = self.hidden(attributes)
            self._consent_states[mask] = state
        return state

    def consent_mask(self, attributes: Mapping[str, Any]) -> int:
        """The bit mask of :meth:`consent_state` for any mapping (the generated function
        answers for plain dicts: see :func:`_consent_mask_function`)."""
        mask = 0
        bit = 1
        for parts, opt_out in self._consent_paths:
            # lookup() inlined (it runs for every customer): a missing step reads as absent,
            # which both tests below treat as "not a boolean".
            value: Any = attributes
            for part in parts:
                if type(value) is dict or isinstance(value, Mapping):
                    value = value.get(part)
                else:
                    value = None
                    break
            if (value is False) if opt_out else (value is not True):
                mask |= bit
            bit <<= 1
        return mask

    def rule(self, journey: Journey) -> AudienceRule:
        """The audience rule of ``journey`` compiled for the hot path (made once per journey)."""
        found = self._rules.get(journey.id)
        if found is None or found.journey is not journey:
            found = AudienceRule(self, journey)
            self._rules[journey.id] = found
        return found

    def consent_refused(self, attributes: Mapping[str, Any]) -> bool:
        """Whether the customer withheld a consent that hides some attribute."""
        return bool(self.hidden(attributes)[1])

    def blocked(self, hidden: frozenset[str]) -> frozenset[str]:
        """Segments whose condition reads a hidden attribute: not considered."""
        if not hidden:
            return frozenset()
        return frozenset(seg_id for seg_id, reads in self.reads.items() if reads & hidden)

    def _consent_notes(
        self, withheld: frozenset[str], hidden: frozenset[str], blocked: Iterable[str]
    ) -> tuple[str, ...]:
        if not hidden:
            return ()
        notes = [
            f"no consent for {', '.join(sorted(withheld))}: "
            f"{', '.join(sorted(hidden))} treated as absent (tokens use their defaults)"
        ]
        for seg_id in blocked:
            needs = self.policy.purposes(self.reads[seg_id] & hidden)
            notes.append(
                f"segment {seg_id!r} not considered: its condition reads "
                f"{', '.join(sorted(self.reads[seg_id] & hidden))} (needs consent for "
                f"{', '.join(sorted(needs))})"
            )
        return tuple(notes)

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
        """Whether the journey's ``audience`` condition holds (no condition: everybody), read
        with the customer's consent: attributes it hides are absent."""
        _withheld, hidden = self.hidden(attributes)
        if hidden:
            from .privacy import without

            attributes = without(attributes, hidden)
        return self._in_journey_audience(attributes, journey)

    def _in_journey_audience(self, view: Mapping[str, Any], journey: Journey) -> bool:
        self.journey_segments(journey)
        return self._journey_segments[journey.id][2](view)

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
        withheld, hidden = self.hidden(attributes)
        blocked = self.blocked(hidden)
        view = attributes
        if hidden:
            from .privacy import without

            view = without(attributes, hidden)
        matched = self.matching(view) - blocked if explain else frozenset()
        ordered = self.journey_segments(journey)
        notes = self._consent_notes(withheld, hidden, [s for s in ordered if s in blocked])

        def audience(segment: str | None, reason: str) -> Audience:
            return Audience(
                segment,
                shown,
                bool(hidden),
                customer_id,
                matched,
                reason,
                withheld,
                hidden,
                notes,
            )

        if not self._in_journey_audience(view, journey):
            return audience(None, f"not in the audience of journey {journey.id!r}: generic content")
        for seg_id in ordered:
            if seg_id not in blocked and self._by_id[seg_id](view):
                others = sorted(matched - {seg_id})
                reason = f"segment {seg_id!r} (priority {self.priorities[seg_id]})" + (
                    f", the highest of the journey's segments the customer is in; "
                    f"also in: {', '.join(others)}"
                    if others
                    else ""
                )
                return audience(seg_id, reason)
        if ordered and all(s in blocked for s in ordered):
            refused = (
                "the customer refused personalization"
                if withheld == {PERSONALIZATION}
                else f"no consent for {', '.join(sorted(withheld))}"
            )
            return audience(None, f"{refused}: generic content only")
        if any(s in blocked for s in ordered):
            return audience(
                None,
                f"in none of the segments journey {journey.id!r} personalizes for that the "
                "customer's consent allows: generic content",
            )
        return audience(
            None,
            f"in none of the segments journey {journey.id!r} personalizes for: generic content",
        )

    def explain(self, attributes: Mapping[str, Any]) -> list[SegmentVerdict]:
        """Per segment (priority order): matched or not, and each top-level clause's verdict.

        Clause verdicts never show a customer value, only ``given`` or ``missing`` (``withheld``
        for an attribute the customer's consent hides); a segment that reads a hidden attribute
        is not matched, with a note saying which consent.
        """
        _withheld, hidden = self.hidden(attributes)
        blocked = self.blocked(hidden)
        if hidden:
            from .privacy import without

            attributes = without(attributes, hidden)
        verdicts = []
        for seg_id, compiled in self._compiled:
            segment = self.segments[seg_id]
            clauses = []
            for key, value in segment.condition.items():
                clause = {key: value}
                passed = compile_condition(clause)(attributes)
                shown_value = "-"
                if not key.startswith("$"):
                    found, _actual = lookup(attributes, key)
                    shown_value = "withheld" if key in hidden else ("given" if found else "missing")
                clauses.append(
                    ClauseVerdict(
                        json.dumps(clause, default=str, ensure_ascii=False), shown_value, passed
                    )
                )
            matched = compiled(attributes)
            note = ""
            if seg_id in blocked:
                reads = self.reads[seg_id] & hidden
                note = (
                    f"not considered: the condition reads {', '.join(sorted(reads))}, which "
                    f"needs consent for {', '.join(sorted(self.policy.purposes(reads)))}"
                )
            verdicts.append(
                SegmentVerdict(
                    seg_id,
                    segment.name or seg_id,
                    matched and seg_id not in blocked,
                    segment.priority,
                    tuple(clauses),
                    note,
                )
            )
        return verdicts
