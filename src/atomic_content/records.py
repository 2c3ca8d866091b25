"""The one customer-record check, used by every entry point.

A customer record reaches the engine as a line of JSON Lines, a row of CSV, a sample customer
file (``content/customers/*.yaml``, a ``--customer`` file) or a mapping handed to
:meth:`atomic_content.bundle.Bundle.render`. All of them go through :func:`check_record`, so the
same record gets the same verdict and the same problem codes wherever it comes from:

* declared attributes only (a typo is ``record.unknown_attribute`` with a did-you-mean hint);
* values of the declared type: a string ``"false"`` is not a boolean, ``true`` is not an
  integer, numbers are finite, integers fit in 64 bits, dates are text in the one form
  ``YYYY-MM-DD`` and dates and times in ``YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM]`` (or YAML,
  Arrow and Python date objects), normalized by :func:`atomic_content.dates.iso_date` and
  :func:`~atomic_content.dates.iso_datetime` so that the same day is the same text whatever
  the source;
* required attributes present (``null`` only for optional ones);
* the id (the profile's ``id_attribute``), when given as text, holds a visible character: an
  empty or all-space id is ``record.blank_id`` (it names no one, and the runtime names each
  customer's output and problems by it);
* every consent attribute of the profile (``consents:`` and the legacy ``consent_attribute``)
  is a real boolean when present: anything else is ``record.consent_not_boolean``, an error
  for that record, never a use of the customer's data;
* bounded work: size, nesting depth, string length and list length are capped (see the
  ``MAX_*`` constants).

Problems name the record (``line 12``, ``customer 'anna'``) and the attribute, never the value:
they end up in logs, and customer data must not.

:func:`read_records` streams JSON Lines or CSV: one :class:`RecordResult` per record, whatever is
wrong with it (invalid JSON or UTF-8, absurd nesting, oversized lines or cells) — a bad record
never stops the stream.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from .dates import DATE_FORM, DATETIME_FORM, iso_date, iso_datetime
from .errors import AtomicError, did_you_mean, plural
from .models import AttributeType, Profile

MAX_RECORD_BYTES = 1 << 20
"""1 MiB: the largest JSON Lines line (or CSV line) read, and the budget of characters (keys and
strings) one record may hold from any source. A real customer record is a few KiB; the cap keeps
one runaway export line from taking the memory of the whole batch."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists in a record. Profiles nest a few levels
(``address.country``); the cap turns a 100 000-deep JSON line into a record error instead of a
RecursionError in the JSON parser."""

MAX_STRING_CHARS = 65_536
"""64 KiB: the longest text value (and CSV cell). Names, codes and ISO dates are short; anything
longer is a broken export, and rendering it into a subject line would be worse than refusing."""

MAX_ITEMS = 10_000
"""Most items in one list (and keys in one mapping). Bounds the work of conditions such as
``$in`` and ``$elemMatch`` on one customer."""

MAX_INTEGER_DIGITS = 20
"""Longest integer literal converted: more digits cannot fit in 64 bits, and converting a
5 000-digit literal costs quadratic time (Python refuses over 4 300 digits with ValueError)."""

INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1
"""Integers must fit in a signed 64-bit integer, like the databases that send them."""

MAX_PROBLEMS = 20
"""Most problems reported for one record; the rest are summarized in one last problem."""

RecordFormat = Literal["jsonl", "csv"]

_KIND_NAMES = {
    AttributeType.STRING: "text",
    AttributeType.INTEGER: "an integer",
    AttributeType.NUMBER: "a number",
    AttributeType.BOOLEAN: "true or false",
    AttributeType.DATE: f"a date written {DATE_FORM}",
    AttributeType.DATETIME: f"a date and time written {DATETIME_FORM}",
    AttributeType.LIST: "a list",
}
_TYPE_HINTS = {
    AttributeType.STRING: 'write text, e.g. "gold"',
    AttributeType.INTEGER: "write a whole number, e.g. 3",
    AttributeType.NUMBER: "write a number, e.g. 0.75",
    AttributeType.BOOLEAN: "write true or false",
    AttributeType.DATE: f"write the date as {DATE_FORM}, e.g. 2026-11-01 (other ISO 8601 forms "
    "such as 20261101 or 2026-W44-7 compare differently as text and are refused)",
    AttributeType.DATETIME: f"write the date and time as {DATETIME_FORM}, e.g. "
    "2026-11-01T09:30:00 or 2026-11-01T09:30:00+01:00 (a date alone, a space for the T or "
    "20261101T0930 are refused)",
    AttributeType.LIST: "write a list, e.g. [a, b]",
}


def type_hint(kind: AttributeType) -> str:
    """How to write a value of ``kind`` (the hint of a ``record.type`` problem)."""
    return _TYPE_HINTS[kind]


@dataclass(frozen=True)
class RecordProblem:
    """One thing wrong with one customer record; never holds the customer's value.

    ``where`` names the record (``line 12``, ``customer 'anna'``, ``record``); ``line`` is its
    1-based line in a JSON Lines or CSV file (None for other sources); ``customer_id`` is the
    record's id when it could be read; ``attribute`` the dotted attribute path at fault (None
    for the record as a whole); ``code`` is stable (``record.type``, ...). ``loc`` is the path of
    keys (and list indexes) to the value *as the source wrote it* (``("consent",
    "personalization")`` or ``("consent.personalization",)``) for positioning a diagnostic in a
    YAML file; ``()`` means the record itself. ``at_key`` says the key, not the value, is at
    fault (an unknown attribute).
    """

    where: str
    line: int | None
    customer_id: str | None
    attribute: str | None
    code: str
    message: str
    hint: str = ""
    loc: tuple[str | int, ...] = ()
    at_key: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class RecordError(AtomicError):
    """A customer record failed :func:`check_record`; ``problems`` lists every problem found."""

    def __init__(self, problems: tuple[RecordProblem, ...]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems) or "invalid customer record")


@dataclass(frozen=True)
class RecordResult:
    """One record read by :func:`read_records`: the checked record, or its problems.

    Exactly one of ``record`` (normalized, see :func:`check_record`) and ``problems`` (non-empty)
    is set. ``line`` is the 1-based line the record starts on.
    """

    line: int
    record: dict[str, Any] | None
    problems: tuple[RecordProblem, ...] = ()
    customer_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.record is not None


class _OutOfRange:
    """Stands for an integer literal too long to convert (see MAX_INTEGER_DIGITS)."""

    def __repr__(self) -> str:
        return "<integer out of range>"


_OUT_OF_RANGE = _OutOfRange()


def check_record(
    data: Mapping[str, Any], profile: Profile, *, where: str = "record", line: int | None = None
) -> dict[str, Any]:
    """Check one customer record against ``profile``; return it normalized.

    The result is a new nested mapping: flat dotted keys (``"address.country"``, as CSV columns
    and some exports write them) are nested (``{"address": {"country": ...}}``), dates and
    datetimes become their one ISO text (:func:`~atomic_content.dates.iso_date`,
    :func:`~atomic_content.dates.iso_datetime`: conditions compare dates as text), tuples become
    lists. ``where`` and ``line`` name the record in problems. Raises
    :class:`RecordError` with every problem found (at most :data:`MAX_PROBLEMS` plus a summary).
    """
    schema = _schema(profile)
    if type(data) is dict:
        fast = _shaped_check(data, schema)
        if fast is None:
            fast = _fast_check(data, schema)
        if fast is not None:
            return fast
    record, problems = _Checker(profile, where, line).run(data)
    if record is None:
        raise RecordError(problems)
    return record


def inspect_record(
    data: object, profile: Profile, *, where: str = "record", line: int | None = None
) -> tuple[dict[str, Any] | None, tuple[RecordProblem, ...]]:
    """:func:`check_record` without the exception: (normalized record, ()) or (None, problems).

    Accepts any object (a JSON line may hold a list); never raises for bad data.
    """
    if type(data) is dict:
        schema = _schema(profile)
        fast = _shaped_check(data, schema)
        if fast is None:
            fast = _fast_check(data, schema)
        if fast is not None:
            return fast, ()
    return _Checker(profile, where, line).run(data)


@dataclass(frozen=True)
class _Schema:
    """What the check needs from a profile, computed once per profile (not per record)."""

    profile: Profile
    prefixes: frozenset[str]
    required: tuple[str, ...]
    consent: frozenset[str]  # attributes that must be real booleans when present
    id_parts: tuple[str, ...]  # the id attribute's path, split at the dots
    fast: dict[str, tuple[AttributeType, bool, bool]]  # path -> (type, optional, consent)
    # Compiled checks by key shape (see _shaped_check): group path ("" for the record) ->
    # tuple of the mapping's keys -> the generated function.
    shapes: dict[str, dict[tuple[Any, ...], _ShapeCheck]] = field(
        default_factory=dict, compare=False, repr=False
    )


_SCHEMAS: dict[int, _Schema] = {}


def _schema(profile: Profile) -> _Schema:
    cached = _SCHEMAS.get(id(profile))
    if cached is not None and cached.profile is profile:
        return cached
    if len(_SCHEMAS) >= 16:  # a process uses one or two profiles; never grow without bound
        _SCHEMAS.clear()
    consent = frozenset(profile.consent_attributes.values())
    schema = _Schema(
        profile,
        frozenset(
            ".".join(name.split(".")[:i])
            for name in profile.attributes
            for i in range(1, name.count(".") + 1)
        ),
        tuple(name for name, spec in profile.attributes.items() if not spec.optional),
        consent,
        tuple(profile.id_attribute.split(".")),
        {
            name: (spec.type, spec.optional, name in consent)
            for name, spec in profile.attributes.items()
        },
    )
    _SCHEMAS[id(profile)] = schema
    return schema


_NOT_PLAIN = object()


def _fast_check(data: dict[str, Any], schema: _Schema) -> dict[str, Any] | None:
    """The record normalized as :class:`_Checker` would, or None to let it decide.

    The runtime checks one record per message, so the common case, a plain ``dict`` whose
    every value is fine, takes this loop instead of the general walk. It never decides
    against a record: on anything unusual (a problem, a list, a mapping of another type, an
    attribute given twice, size near the caps) it returns None and the full check runs and
    explains. tests/test_records.py holds it equal to the full check.
    """
    out: dict[str, Any] = {}
    seen: set[str] = set()
    spent = _fast_walk(data, "", 1, schema, out, seen)
    if spent < 0 or spent > MAX_RECORD_BYTES:
        return None
    if any(name not in seen for name in schema.required) or _blank_id(out, schema):
        return None
    return out


def _blank(text: str) -> bool:
    """Whether ``text`` has no visible character: empty or only white space. An id that is
    blank is ``record.blank_id``."""
    return not text or text.isspace()


def _blank_id(record: dict[str, Any], schema: _Schema) -> bool:
    """Whether the normalized ``record``'s id is blank text (the fast paths leave such a record
    to the full check, which reports it)."""
    value: Any = record
    for part in schema.id_parts:
        if type(value) is not dict:
            return False
        value = value.get(part)
    return type(value) is str and _blank(value)


def _fast_walk(
    data: dict[str, Any],
    base: str,
    depth: int,
    schema: _Schema,
    out: dict[str, Any],
    seen: set[str],
) -> int:
    """Characters spent by ``data`` (keys and text), or -1 when the full check must decide.

    ``out`` is the output mapping at ``base``. Keys are visited in the record's order and put
    where the full walk puts them, so both give the same mapping in the same order.
    """
    if len(data) > MAX_ITEMS:
        return -1
    spent = 0
    fast = schema.fast
    for key, value in data.items():
        if type(key) is not str:
            return -1
        path = base + key if base else key
        spent += len(key)
        spec = fast.get(path)
        if spec is None:
            if path not in schema.prefixes:
                return -1
            if value is None:
                continue
            if type(value) is not dict or depth + 1 > MAX_DEPTH or "." in key:
                return -1
            child: dict[str, Any] = {}
            inner = _fast_walk(value, path + ".", depth + 1, schema, child, seen)
            if inner < 0:
                return -1
            spent += inner
            if child:
                existing = out.get(key)
                if type(existing) is dict:
                    existing.update(child)
                else:
                    out[key] = child
            continue
        if path in seen:
            return -1
        seen.add(path)
        kind_of = type(value)
        if kind_of is str and spec[0] is AttributeType.STRING and not spec[2]:
            # The common case, inline: text for a text attribute.
            if len(value) > MAX_STRING_CHARS:
                return -1
            normalized: Any = value
            spent += len(value)
        else:
            normalized = _fast_value(*spec, value)
            if normalized is _NOT_PLAIN:
                return -1
            if kind_of is str:
                spent += len(value)  # as given (a date's normalized text may differ)
            elif kind_of is list:
                spent += sum(len(item) for item in normalized if type(item) is str)
        if "." in key:
            _put(out, key, normalized)
        else:
            out[key] = normalized
    return spent


def _fast_value(kind: AttributeType, optional: bool, consent: bool, value: Any) -> Any:
    """The normalized value of one declared attribute, or _NOT_PLAIN (the full check decides)."""
    if value is None:
        return None if optional else _NOT_PLAIN
    kind_of = type(value)
    if consent and kind_of is not bool:
        return _NOT_PLAIN
    if kind is AttributeType.STRING:
        return value if kind_of is str and len(value) <= MAX_STRING_CHARS else _NOT_PLAIN
    if kind is AttributeType.BOOLEAN:
        return value if kind_of is bool else _NOT_PLAIN
    if kind_of is int and kind in (AttributeType.INTEGER, AttributeType.NUMBER):
        return value if INTEGER_MIN <= value <= INTEGER_MAX else _NOT_PLAIN
    if kind_of is float and kind is AttributeType.NUMBER:
        return value if math.isfinite(value) else _NOT_PLAIN
    if kind is AttributeType.DATE or kind is AttributeType.DATETIME:
        if kind_of is not str and kind_of is not dt.date and kind_of is not dt.datetime:
            return _NOT_PLAIN
        text = iso_date(value) if kind is AttributeType.DATE else iso_datetime(value)
        return _NOT_PLAIN if text is None else text
    if kind_of is list and kind is AttributeType.LIST and len(value) <= MAX_ITEMS:
        for item in value:
            item_kind = type(item)
            if item_kind is str:
                if len(item) > MAX_STRING_CHARS:
                    return _NOT_PLAIN
            elif item_kind is int:
                if not INTEGER_MIN <= item <= INTEGER_MAX:
                    return _NOT_PLAIN
            elif item_kind is float:
                if not math.isfinite(item):
                    return _NOT_PLAIN
            elif item is not None and item_kind is not bool:
                return _NOT_PLAIN
        return list(value)
    return _NOT_PLAIN


# --------------------------------------------------------------------------- compiled shapes

_ShapeCheck = Callable[[dict[str, Any], dict[str, Any]], int]
"""A generated check of one mapping with one key shape: (mapping, output) -> characters spent,
or -1 when the general walk must decide."""

MAX_SHAPES = 64
"""Most key shapes compiled per group of attributes. An export writes a handful (optional
attributes present or not); past the cap new shapes take the general fast walk, so a stream of
records in ever new key orders cannot grow the cache. Shapes the compiled check refuses (an
unknown key, a required attribute missing) are not kept: they take no room."""


def _decline(data: dict[str, Any], out: dict[str, Any]) -> int:
    return -1


def _shaped_check(data: dict[str, Any], schema: _Schema) -> dict[str, Any] | None:
    """:func:`_fast_check` for a record whose key shape (its keys, in order) was seen before.

    Records of one export share a handful of shapes, so each shape is compiled once into a
    straight-line function (:func:`_compile_shape`) that reads each key, checks its value
    inline and builds the normalized record with no per-key dispatch. Like the fast walk it
    never decides against a record: anything it does not handle (an unknown or non-text key, a
    dotted key next to its group, a value of the wrong type, a missing required attribute, a
    blank id) returns None and the fast walk, then the full check, decide and explain.
    tests/test_records.py holds it equal to both.
    """
    table = schema.shapes.get("")
    if table is None:
        table = schema.shapes.setdefault("", {})
    keys = tuple(data)
    check = table.get(keys)
    if check is None:
        check = _shape_check(schema, "", 1, data)
    out: dict[str, Any] = {}
    spent = check(data, out)
    if spent < 0 or spent > MAX_RECORD_BYTES:
        return None
    return out


def _shape_check(schema: _Schema, base: str, depth: int, data: dict[str, Any]) -> _ShapeCheck:
    """The compiled check of ``data``'s key shape at group ``base`` (``""`` or ``"address."``),
    compiled now when new (at most :data:`MAX_SHAPES` per group)."""
    table = schema.shapes.setdefault(base, {})
    keys = tuple(data)
    found = table.get(keys)
    if found is None:
        if len(table) >= MAX_SHAPES:
            return _decline
        found = _compile_shape(schema, base, depth, keys)
        if found is not _decline:  # refusing a shape is cheap: only compiled ones take room
            table[keys] = found
    return found


def _compile_shape(schema: _Schema, base: str, depth: int, keys: tuple[Any, ...]) -> _ShapeCheck:
    """Generate the check of a mapping at group ``base`` whose keys are ``keys`` in this order.

    The generated code does what :func:`_fast_walk` does for such a mapping, statement by
    statement: the same value tests, the same characters spent, the same output keys in the
    same order. Shapes the walk handles with run-time bookkeeping (``seen`` for attributes given
    twice, merging dotted keys into a group) are not compiled: they get :func:`_decline`.
    """
    if len(keys) > MAX_ITEMS or any(type(key) is not str for key in keys):
        return _decline
    names = set(keys)
    groups: set[str] = set()
    for key in keys:
        path = base + key
        if path in schema.fast:
            if "." in key:
                if base:
                    return _decline  # dotted inside a group: the walk's _put and seen decide
                parts = key.split(".")
                if any(".".join(parts[:i]) in names for i in range(1, len(parts))):
                    return _decline  # given both dotted and as (part of) a group
        elif path in schema.prefixes and "." not in key:
            groups.add(key)
        else:
            return _decline
    for name in schema.required:
        if not name.startswith(base):
            continue
        rest = name[len(base) :]
        if rest not in names and rest.split(".")[0] not in groups:
            return _decline  # a required attribute is missing: the full check says so

    namespace: dict[str, Any] = {
        "_fast_value": _fast_value,
        "_NOT_PLAIN": _NOT_PLAIN,
        "_shape_check": _shape_check,
        "_list_chars": _list_chars,
        "isfinite": math.isfinite,
        "SCHEMA": schema,
        "MAXS": MAX_STRING_CHARS,
        "IMIN": INTEGER_MIN,
        "IMAX": INTEGER_MAX,
    }
    lines = ["def check(data, out):", f"    n = {sum(len(key) for key in keys)}"]
    nodes: dict[str, str] = {}
    for i, key in enumerate(keys):
        path = base + key
        lines.append(f"    v = data[{key!r}]")
        if key in groups:
            inner = path + "."
            needed = any(name.startswith(inner) for name in schema.required)
            lines.append("    if v is not None:")
            if depth + 1 > MAX_DEPTH:
                lines.append("        return -1")
            else:
                namespace[f"T{i}"] = schema.shapes.setdefault(inner, {})
                lines += [
                    "        if type(v) is not dict:",
                    "            return -1",
                    f"        f = T{i}.get(tuple(v))",
                    "        if f is None:",
                    f"            f = _shape_check(SCHEMA, {inner!r}, {depth + 1}, v)",
                    "        c = {}",
                    "        s = f(v, c)",
                    "        if s < 0:",
                    "            return -1",
                    "        n += s",
                    "        if c:",
                    f"            out[{key!r}] = c",
                ]
            if needed:
                lines += ["    else:", "        return -1"]
            continue
        kind, optional, consent = schema.fast[path]
        lines += _leaf_lines(kind, optional, consent, i, namespace)
        if path == ".".join(schema.id_parts):
            # A blank id is the full check's to report (record.blank_id, see _blank).
            lines += ["    if type(v) is str and (not v or v.isspace()):", "        return -1"]
        if "." in key:
            parts = key.split(".")
            parent = "out"
            for j in range(1, len(parts)):
                prefix = ".".join(parts[:j])
                var = nodes.get(prefix)
                if var is None:
                    var = nodes[prefix] = f"g{len(nodes)}"
                    lines.append(f"    {var} = {parent}[{parts[j - 1]!r}] = {{}}")
                parent = var
            lines.append(f"    {parent}[{parts[-1]!r}] = v")
        else:
            lines.append(f"    out[{key!r}] = v")
    lines.append("    return n")
    exec(compile("\n".join(lines), f"<record shape {base or '.'}>", "exec"), namespace)
    check: _ShapeCheck = namespace["check"]
    return check


def _leaf_lines(
    kind: AttributeType, optional: bool, consent: bool, index: int, namespace: dict[str, Any]
) -> list[str]:
    """The statements checking one declared attribute's value ``v`` (see :func:`_fast_value`),
    adding its characters to ``n``; ``return -1`` where the general walk must decide."""
    otherwise = (
        ["    elif v is not None:", "        return -1"]
        if optional
        else ["    else:", "        return -1"]
    )
    if kind is AttributeType.BOOLEAN:
        return [
            "    if type(v) is not bool" + (" and v is not None:" if optional else ":"),
            "        return -1",
        ]
    if kind is AttributeType.STRING and not consent:
        return [
            "    if type(v) is str:",
            "        if len(v) > MAXS:",
            "            return -1",
            "        n += len(v)",
            *otherwise,
        ]
    if kind is AttributeType.INTEGER and not consent:
        return [
            "    if type(v) is int:",
            "        if not IMIN <= v <= IMAX:",
            "            return -1",
            *otherwise,
        ]
    if kind is AttributeType.NUMBER and not consent:
        return [
            "    if type(v) is float:",
            "        if not isfinite(v):",
            "            return -1",
            "    elif type(v) is int:",
            "        if not IMIN <= v <= IMAX:",
            "            return -1",
            *otherwise,
        ]
    if kind in (AttributeType.DATE, AttributeType.DATETIME) and not consent:
        # The one date rule (dates.iso_date / iso_datetime) on text and date objects alike.
        namespace[f"P{index}"] = iso_date if kind is AttributeType.DATE else iso_datetime
        namespace["DATE"], namespace["DATETIME"] = dt.date, dt.datetime
        convert = [f"v = P{index}(v)", "if v is None:", "    return -1"]
        return [
            "    if type(v) is str:",
            "        n += len(v)",
            "    elif type(v) is not DATE and type(v) is not DATETIME"
            + (" and v is not None:" if optional else ":"),
            "        return -1",
            *(["    if v is not None:"] if optional else []),
            *(("        " if optional else "    ") + line for line in convert),
        ]
    namespace[f"K{index}"] = kind
    return [
        f"    v = _fast_value(K{index}, {optional}, {consent}, v)",
        "    if v is _NOT_PLAIN:",
        "        return -1",
        "    if type(v) is str:",
        "        n += len(v)",
        "    elif type(v) is list:",
        "        n += _list_chars(v)",
    ]


def _list_chars(items: list[Any]) -> int:
    return sum(len(item) for item in items if type(item) is str)


class _Checker:
    def __init__(self, profile: Profile, where: str, line: int | None) -> None:
        self.profile = profile
        self.declared = profile.attributes
        schema = _schema(profile)
        self.prefixes = schema.prefixes
        self.required = schema.required
        self.consent = schema.consent
        self.where = where
        self.line = line
        self.problems: list[RecordProblem] = []
        self.dropped = 0
        self.budget = MAX_RECORD_BYTES
        self.over_budget = False
        self.seen: set[str] = set()
        self.customer_id: str | None = None
        self.id_attribute = profile.id_attribute

    # -- problems --------------------------------------------------------------------------
    def problem(
        self,
        attribute: str | None,
        code: str,
        message: str,
        hint: str,
        loc: tuple[str | int, ...] = (),
        *,
        at_key: bool = False,
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        self.problems.append(
            RecordProblem(self.where, self.line, None, attribute, code, message, hint, loc, at_key)
        )

    def spend(self, chars: int) -> bool:
        """Charge ``chars`` to the record's size budget; False (once reported) when over."""
        self.budget -= chars
        if self.budget >= 0:
            return True
        if not self.over_budget:
            self.over_budget = True
            self.problem(
                None,
                "record.too_large",
                f"the record holds more than {MAX_RECORD_BYTES} characters",
                "check the export: a customer record is a few KiB",
            )
        return False

    # -- the record ------------------------------------------------------------------------
    def run(self, data: object) -> tuple[dict[str, Any] | None, tuple[RecordProblem, ...]]:
        out: dict[str, Any] = {}
        if not isinstance(data, Mapping):
            self.problem(
                None,
                "record.invalid",
                f"a record must be a mapping of attributes (a JSON object), not {_kind(data)}",
                'write one object per record, e.g. {"id": "C-1", ...}',
            )
        else:
            self.walk(data, "", (), out, 1)
            for name in self.required:
                if name not in self.seen:
                    self.problem(
                        name,
                        "record.missing_attribute",
                        f"required attribute {name!r} is missing",
                        f"add {name} (or mark it optional in profile.yaml)",
                    )
            self.customer_id = _customer_id(out, self.profile.id_attribute)
        if self.dropped:
            self.problems.append(
                RecordProblem(
                    self.where,
                    self.line,
                    None,
                    None,
                    "record.too_many_problems",
                    f"{self.dropped} more problems not shown",
                    "fix the problems above first",
                )
            )
        if self.problems:
            problems = tuple(
                RecordProblem(
                    p.where,
                    p.line,
                    self.customer_id,
                    p.attribute,
                    p.code,
                    p.message,
                    p.hint,
                    p.loc,
                    p.at_key,
                )
                for p in self.problems
            )
            return None, problems
        return out, ()

    def walk(
        self,
        data: Mapping[Any, Any],
        base: str,
        loc: tuple[str | int, ...],
        out: dict[str, Any],
        depth: int,
    ) -> None:
        if len(data) > MAX_ITEMS:
            self.problem(
                base.rstrip(".") or None,
                "record.too_large",
                f"{_shown(base.rstrip('.')) if base else 'the record'} has more than "
                f"{MAX_ITEMS} keys",
                "check the export: a customer record declares a few dozen attributes",
                loc,
            )
            return
        for raw_key, value in data.items():
            key = raw_key if isinstance(raw_key, str) else str(raw_key)
            if not self.spend(len(key)):
                return
            path = base + key
            here = (*loc, raw_key if isinstance(raw_key, str | int) else key)
            spec = self.declared.get(path)
            if spec is not None:
                if path in self.seen:
                    self.problem(
                        path,
                        "record.duplicate_attribute",
                        f"attribute {path!r} is given twice",
                        "give it once, either nested or as a dotted key",
                        here,
                        at_key=True,
                    )
                    continue
                self.seen.add(path)
                ok, normalized = self.value(path, spec.type, spec.optional, value, here, depth + 1)
                if ok:
                    _put(out, path, normalized)
            elif path in self.prefixes:
                if isinstance(value, Mapping):
                    if depth + 1 > MAX_DEPTH:
                        self.too_deep(path, here)
                    else:
                        self.walk(value, path + ".", here, out, depth + 1)
                elif value is not None:  # null: none of the attributes inside is given
                    self.problem(
                        path,
                        "record.type",
                        f"{path} should be a mapping, not {_kind(value)}",
                        f"write {path} as a mapping of {_inner_names(path, self.declared)}",
                        here,
                    )
            else:
                self.unknown(path, here)

    def unknown(self, path: str, loc: tuple[str | int, ...]) -> None:
        known = sorted(self.declared)
        # difflib is quadratic: no suggestion for absurdly long keys.
        suggestion = did_you_mean(path, known) if len(path) <= 200 else ""
        listing = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + ", ..."
        hint = (
            suggestion
            + (" " if suggestion else "")
            + (f"known attributes: {listing}" if known else "no attributes are defined")
        )
        self.problem(
            _shown(path),
            "record.unknown_attribute",
            f"unknown attribute {_shown(path)!r}",
            hint,
            loc,
            at_key=True,
        )

    def too_deep(self, path: str, loc: tuple[str | int, ...]) -> None:
        self.problem(
            path,
            "record.too_deep",
            f"{path} is nested more than {MAX_DEPTH} levels deep",
            "check the export: customer data nests a few levels at most",
            loc,
        )

    # -- one attribute ---------------------------------------------------------------------
    def value(
        self,
        path: str,
        kind: AttributeType,
        optional: bool,
        value: Any,
        loc: tuple[str | int, ...],
        depth: int,
    ) -> tuple[bool, Any]:
        """(ok, normalized value) of a declared attribute; reports the problem when not ok."""
        consent = path in self.consent
        if value is None:
            if optional:
                return True, None
            if consent:
                return self.consent_problem(path, value, loc)
            return self.type_problem(path, kind, value, loc)
        if consent and not isinstance(value, bool):
            return self.consent_problem(path, value, loc)
        if kind is AttributeType.STRING:
            if not isinstance(value, str):
                return self.type_problem(path, kind, value, loc)
            if path == self.id_attribute and _blank(value):
                self.problem(
                    path,
                    "record.blank_id",
                    f"{path} (the customer id) is "
                    + ("empty" if not value else "only white space"),
                    "give every customer an id: the runtime names each customer's message and "
                    "problems by it",
                    loc,
                )
                return False, None
            return self.text(path, value, loc), value
        if kind is AttributeType.BOOLEAN:
            if not isinstance(value, bool):
                return self.type_problem(path, kind, value, loc)
            return True, value
        if kind in (AttributeType.INTEGER, AttributeType.NUMBER):
            return self.number(path, kind, value, loc)
        if kind in (AttributeType.DATE, AttributeType.DATETIME):
            return self.date(path, kind, value, loc)
        if not isinstance(value, list | tuple):
            return self.type_problem(path, kind, value, loc)
        return self.plain(path, value, loc, depth)

    def text(self, path: str, value: str, loc: tuple[str | int, ...]) -> bool:
        if len(value) > MAX_STRING_CHARS:
            self.problem(
                path,
                "record.too_long",
                f"{path} is longer than {MAX_STRING_CHARS} characters",
                "check the export: this looks like a broken field",
                loc,
            )
            return False
        return self.spend(len(value))

    def number(
        self, path: str, kind: AttributeType, value: Any, loc: tuple[str | int, ...]
    ) -> tuple[bool, Any]:
        if value is _OUT_OF_RANGE or (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not INTEGER_MIN <= value <= INTEGER_MAX
        ):
            self.out_of_range(path, loc)
            return False, None
        if isinstance(value, float) and kind is AttributeType.NUMBER:
            if not math.isfinite(value):
                self.problem(
                    path,
                    "record.not_finite",
                    f"{path} should be a finite number, not infinity or NaN",
                    _TYPE_HINTS[kind],
                    loc,
                )
                return False, None
            return True, value
        if isinstance(value, int) and not isinstance(value, bool):
            return True, value
        return self.type_problem(path, kind, value, loc)

    def out_of_range(self, path: str, loc: tuple[str | int, ...]) -> None:
        self.problem(
            path,
            "record.out_of_range",
            f"{path} is outside the 64-bit integer range",
            "check the export: this looks like a broken field",
            loc,
        )

    def date(
        self, path: str, kind: AttributeType, value: Any, loc: tuple[str | int, ...]
    ) -> tuple[bool, Any]:
        """(ok, the one ISO text) of a date or datetime attribute (see
        :func:`~atomic_content.dates.iso_date`, :func:`~atomic_content.dates.iso_datetime`).
        Text in another ISO 8601 form is a ``record.type`` problem whose hint names the form:
        refused, never guessed at."""
        text = iso_date(value) if kind is AttributeType.DATE else iso_datetime(value)
        if text is None:
            if isinstance(value, str):
                self.problem(
                    path,
                    "record.type",
                    f"{path} should be {_KIND_NAMES[kind]}, not text in another form",
                    _TYPE_HINTS[kind],
                    loc,
                )
                return False, None
            return self.type_problem(path, kind, value, loc)
        return (self.spend(len(value)) if isinstance(value, str) else True), text

    def plain(
        self, path: str, value: Any, loc: tuple[str | int, ...], depth: int
    ) -> tuple[bool, Any]:
        """A list attribute's value: any JSON data, bounded, with dates as ISO text.

        ``depth`` counts the containers around ``value`` and ``value`` itself (the record is 1).
        """
        if depth > MAX_DEPTH and isinstance(value, list | tuple | Mapping):
            self.too_deep(path, loc)
            return False, None
        if isinstance(value, str):
            return self.text(path, value, loc), value
        if value is None or isinstance(value, bool):
            return True, value
        if isinstance(value, int | float) or value is _OUT_OF_RANGE:
            if value is _OUT_OF_RANGE or (
                isinstance(value, int) and not INTEGER_MIN <= value <= INTEGER_MAX
            ):
                self.out_of_range(path, loc)
                return False, None
            if isinstance(value, float) and not math.isfinite(value):
                self.problem(
                    path,
                    "record.not_finite",
                    f"{path} holds a number that is infinity or NaN",
                    "write finite numbers only",
                    loc,
                )
                return False, None
            return True, value
        if isinstance(value, dt.date):
            return True, value.isoformat()
        if isinstance(value, list | tuple):
            if len(value) > MAX_ITEMS:
                self.problem(
                    path,
                    "record.too_long",
                    f"{path} holds a list of more than {MAX_ITEMS} items",
                    "check the export: this looks like a broken field",
                    loc,
                )
                return False, None
            items = []
            for index, item in enumerate(value):
                ok, normalized = self.plain(path, item, (*loc, index), depth + 1)
                if not ok:
                    return False, None
                items.append(normalized)
            return True, items
        if isinstance(value, Mapping):
            if len(value) > MAX_ITEMS:
                self.problem(
                    path,
                    "record.too_long",
                    f"{path} holds a mapping of more than {MAX_ITEMS} keys",
                    "check the export: this looks like a broken field",
                    loc,
                )
                return False, None
            mapping = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    return self.not_json(path, loc)
                if not self.spend(len(key)):
                    return False, None
                ok, normalized = self.plain(path, item, (*loc, key), depth + 1)
                if not ok:
                    return False, None
                mapping[key] = normalized
            return True, mapping
        return self.not_json(path, loc)

    def not_json(self, path: str, loc: tuple[str | int, ...]) -> tuple[bool, Any]:
        self.problem(
            path,
            "record.type",
            f"{path} holds a value that is not JSON data (text, number, boolean, null, list or "
            "mapping with text keys)",
            "send the list as JSON",
            loc,
        )
        return False, None

    def type_problem(
        self, path: str, kind: AttributeType, value: Any, loc: tuple[str | int, ...]
    ) -> tuple[bool, Any]:
        self.problem(
            path,
            "record.type",
            f"{path} should be {_KIND_NAMES[kind]}, not {_kind(value)}",
            _TYPE_HINTS[kind],
            loc,
        )
        return False, None

    def consent_problem(
        self, path: str, value: Any, loc: tuple[str | int, ...]
    ) -> tuple[bool, Any]:
        self.problem(
            path,
            "record.consent_not_boolean",
            f"consent attribute {path} must be true or false, not {_kind(value)}",
            'write the JSON literal true or false (not text such as "false"); a record with '
            "unclear consent is never personalized",
            loc,
        )
        return False, None


def _kind(value: object) -> str:
    """What kind of value this is, for messages: never the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float) or value is _OUT_OF_RANGE:
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "a date and time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return "a value of another kind"


def _shown(path: str) -> str:
    """An attribute path as given by the data, shortened for messages."""
    return path if len(path) <= 80 else path[:77] + "..."


def _inner_names(prefix: str, declared: Iterable[str]) -> str:
    inner = sorted(name[len(prefix) + 1 :] for name in declared if name.startswith(prefix + "."))
    return ", ".join(inner[:4]) + (", ..." if len(inner) > 4 else "")


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _customer_id(record: Mapping[str, Any], id_attribute: str) -> str | None:
    current: Any = record
    for part in id_attribute.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    if isinstance(current, str) and 0 < len(current) <= 200:
        return current
    if isinstance(current, int) and not isinstance(current, bool):
        return str(current)
    return None


# --------------------------------------------------------------------------- readers


def read_records(
    source: Path | IO[bytes], fmt: RecordFormat, profile: Profile
) -> Iterator[RecordResult]:
    """Stream the customer records of a JSON Lines or CSV file, each checked by the profile.

    ``source`` is a path or a file opened in *binary* mode: every line is decoded on its own, so
    an invalid UTF-8 byte fails only its own record. Yields exactly one :class:`RecordResult` per
    record (blank lines are not records), in file order, and raises nothing for bad data: invalid
    JSON or UTF-8, nesting deeper than :data:`MAX_DEPTH`, lines over :data:`MAX_RECORD_BYTES`
    and oversized CSV cells are problems of their record. A leading UTF-8 byte order mark is
    ignored.

    CSV: the first row names the columns (dotted names for nested attributes); cells are typed
    by the profile before :func:`check_record` — booleans from ``true``/``false`` (any case),
    integers and numbers from JSON-style numerals, lists split on ``|``; a cell that does not
    convert stays text and gets the same ``record.type`` problem as in JSON. An empty cell is a
    missing attribute. Every row has one cell per column (``record.invalid``); a quoting
    mistake fails its row alone and every record after it is still read (``record.csv_quote``,
    see :func:`_read_csv`).
    """
    if isinstance(source, Path):
        with source.open("rb") as handle:
            yield from read_records(handle, fmt, profile)
        return
    if fmt == "csv":
        yield from _read_csv(source, profile)
    elif fmt == "jsonl":
        yield from _read_jsonl(source, profile)
    else:
        raise ValueError(f"unknown record format {fmt!r}; use 'jsonl' or 'csv'")


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(1-based line number, line bytes or None when longer than MAX_RECORD_BYTES).

    Reads in bounded pieces: an oversized line is skipped without holding it in memory.
    """
    number = 0
    while True:
        chunk = handle.readline(MAX_RECORD_BYTES + 1)
        if not chunk:
            return
        number += 1
        if number == 1 and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        if len(chunk) > MAX_RECORD_BYTES and not chunk.endswith(b"\n"):
            while True:
                rest = handle.readline(MAX_RECORD_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, chunk


def _line_problem(line: int, code: str, message: str, hint: str) -> RecordResult:
    return RecordResult(
        line, None, (RecordProblem(f"line {line}", line, None, None, code, message, hint),)
    )


def _too_large(line: int) -> RecordResult:
    return _line_problem(
        line,
        "record.too_large",
        f"the line is longer than {MAX_RECORD_BYTES} bytes",
        "check the export: a customer record is a few KiB",
    )


def _not_utf8(line: int, offset: int) -> RecordResult:
    return _line_problem(
        line,
        "record.encoding",
        f"invalid UTF-8 at byte {offset + 1} of the line",
        "export the file as UTF-8",
    )


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins (a consent flag given twice could be
    # read as true by one system and false by another): a duplicate is an error.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def _parse_int(text: str) -> int | _OutOfRange:
    digits = len(text) - (text[0] in "+-")
    return int(text) if digits <= MAX_INTEGER_DIGITS else _OUT_OF_RANGE


_PARSE_DEPTH = 4 * MAX_DEPTH
"""Deepest JSON nesting handed to the parser (which recurses). Between MAX_DEPTH and this, the
record check reports ``record.too_deep`` with the attribute; beyond, the line is refused whole."""


def _too_deep_json(text: str) -> bool:
    """Whether JSON text nests deeper than _PARSE_DEPTH (brackets inside strings do not count)."""
    # Cheap test first: fewer opening brackets than the limit cannot nest too deep.
    if text.count("[") + text.count("{") <= _PARSE_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > _PARSE_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _read_jsonl(handle: IO[bytes], profile: Profile) -> Iterator[RecordResult]:
    for number, raw in _lines(handle):
        if raw is None:
            yield _too_large(number)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _not_utf8(number, exc.start)
            continue
        if not text.strip():
            continue
        if _too_deep_json(text):
            yield _line_problem(
                number,
                "record.too_deep",
                f"the record is nested more than {MAX_DEPTH} levels deep",
                "check the export: customer data nests a few levels at most",
            )
            continue
        try:
            data = json.loads(text, parse_int=_parse_int, object_pairs_hook=_object)
        except json.JSONDecodeError as exc:
            # exc.msg is the parser's description ("Expecting value"), never the text.
            yield _line_problem(
                number,
                "record.invalid",
                f"not valid JSON: {exc.msg} (column {exc.colno})",
                "write one JSON object per line",
            )
            continue
        except _DuplicateKey:
            yield _line_problem(
                number,
                "record.duplicate_attribute",
                "a key appears twice in one JSON object",
                "give every attribute once",
            )
            continue
        except (ValueError, RecursionError):
            yield _line_problem(
                number, "record.invalid", "not valid JSON", "write one JSON object per line"
            )
            continue
        yield _checked(data, profile, number)


def _checked(data: object, profile: Profile, line: int) -> RecordResult:
    record, problems = inspect_record(data, profile, where=f"line {line}", line=line)
    if record is None:
        return RecordResult(line, None, problems, problems[0].customer_id)
    return RecordResult(line, record, (), _customer_id(record, profile.id_attribute))


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_NON_FINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan"})


def csv_cell(kind: AttributeType | None, cell: str) -> Any:
    """A CSV cell typed by the declared attribute type, before :func:`check_record`.

    Converts what is unambiguous and leaves everything else as text, so that the check reports a
    wrong value with the same ``record.type`` problem a JSON record would get: ``true``/``false``
    (any case) for booleans only, JSON-style numerals for integers and numbers (``inf``/``nan``
    become non-finite floats, which the check refuses), ``a|b|c`` for lists.
    """
    if kind is AttributeType.BOOLEAN:
        lowered = cell.strip().lower()
        return {"true": True, "false": False}.get(lowered, cell)
    if kind in (AttributeType.INTEGER, AttributeType.NUMBER):
        stripped = cell.strip()
        if _INTEGER.fullmatch(stripped):
            return _parse_int(stripped)
        if _DECIMAL.fullmatch(stripped) or stripped.lower() in _NON_FINITE:
            return float(stripped)
        return cell
    if kind is AttributeType.LIST:
        return [item.strip() for item in cell.split("|") if item.strip()]
    return cell


class _CsvLines:
    """Decoded lines for the csv module, one at a time.

    Remembers the lines of the row being read (``row``: (line number, text), emptied by the
    reader before each row), the lines that could not be read (``bad``: each stands in as an
    empty line), and takes lines back to be read again (:meth:`again`)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._lines = _lines(handle)
        self._again: deque[tuple[int, str]] = deque()
        self.bad: dict[int, RecordResult] = {}
        self.row: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._again:
            number, text = self._again.popleft()
        else:
            number, raw = next(self._lines)
            if raw is None:
                self.bad[number] = _too_large(number)
                text = "\n"
            else:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.bad[number] = _not_utf8(number, exc.start)
                    text = "\n"
        self.row.append((number, text))
        return text

    def again(self, lines: list[tuple[int, str]]) -> None:
        """Read ``lines`` (as :attr:`row` holds them) again, before any line not yet read."""
        self._again.extendleft(reversed(lines))


def _read_csv(handle: IO[bytes], profile: Profile) -> Iterator[RecordResult]:
    """CSV records (see :func:`read_records`): one :class:`RecordResult` per row.

    The csv module reads strictly, so a quoting mistake is an error, never cells silently
    merged. A row over several lines that is not a good row (a quote never closed, or closed
    in the middle of a cell; a quoted cell over the csv module's field limit; more or fewer
    cells than the header) is a stray quote's doing: it fails alone, on its first line, with
    the lines it spans named (``record.csv_quote``), and the lines after its first are read
    again, so each record the quote swallowed is still read and counted. A row over several
    lines with one cell per column is a quoted cell holding line breaks, as CSV allows. On one
    line, more or fewer cells than the header is ``record.invalid``.
    """
    lines = _CsvLines(handle)
    reader = csv.reader(lines, strict=True)
    types = {name: spec.type for name, spec in profile.attributes.items()}
    header: list[str] | None = None
    header_problem: RecordProblem | None = None
    while True:
        lines.row = []
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            span = lines.row
            if not span:  # no line was read: nothing to report it on
                return
            failed = _csv_error(str(exc), span)
            if len(span) > 1:
                # The row's first line fails alone; the others are read again, as rows.
                lines.again(span[1:])
                reader = csv.reader(lines, strict=True)
            if header is None and header_problem is None:
                header_problem = _header_problem(failed.problems[0])
                header = []
            else:
                yield failed
            continue
        span = lines.row
        start = span[0][0]
        bad = next((lines.bad[n] for n, _ in span if n in lines.bad), None)
        if header is None:
            if bad is not None:
                header_problem = _header_problem(bad.problems[0])
                header = []
                continue
            if not row:
                continue
            header = [column.strip() for column in row]
            header_problem = _check_header(header, start)
            continue
        if bad is not None:
            yield bad
            continue
        if not row or row == [""]:
            continue  # a blank line is not a record
        if header_problem is not None:
            yield _line_problem(
                start, header_problem.code, header_problem.message, header_problem.hint
            )
            continue
        if len(row) != len(header):
            yield _cell_count_problem(len(row), len(header), span)
            if len(span) > 1:  # as for a row the csv module refuses (above)
                lines.again(span[1:])
                reader = csv.reader(lines, strict=True)
            continue
        data = {
            column: csv_cell(types.get(column), cell)
            for column, cell in zip(header, row, strict=True)
            if cell != ""
        }
        yield _checked(data, profile, start)


_QUOTE_HINT = (
    "a cell holding a comma, a quote or a line break is quoted, and a quote inside it is "
    'doubled: "Bob ""the Builder"", Jr."'
)


def _csv_error(message: str, span: list[tuple[int, str]]) -> RecordResult:
    """The problem of a row the csv module refused, read over the lines ``span``.

    ``message`` is the csv module's: it describes the syntax, never the cell."""
    start, end = span[0][0], span[-1][0]
    again = f"line {start} fails and the lines after it are read again"
    if "field limit" in message:
        if len(span) == 1:
            return _line_problem(
                start,
                "record.too_long",
                f"a cell is longer than {csv.field_size_limit()} characters",
                "check the export: this looks like a broken field",
            )
        return _line_problem(
            start,
            "record.csv_quote",
            f"a quote opened on line {_opening_quote(span)} is not closed within "
            f"{csv.field_size_limit()} characters: lines {start}–{end} were read as one cell; "
            + again,
            _QUOTE_HINT,
        )
    if "unexpected end of data" in message:
        return _line_problem(
            start,
            "record.csv_quote",
            f"a quote opened on line {_opening_quote(span)} is never closed: lines "
            f"{start}–{end} were read as one cell; " + again,
            _QUOTE_HINT,
        )
    if "expected after" in message:
        if len(span) == 1:
            return _line_problem(
                start,
                "record.csv_quote",
                "a quoted cell is followed by more text before the next comma",
                _QUOTE_HINT,
            )
        return _line_problem(
            start,
            "record.csv_quote",
            f"a quote opened on line {_opening_quote(span)} closes on line {end} in the middle "
            f"of a cell: lines {start}–{end} were read as one row; " + again,
            _QUOTE_HINT,
        )
    where = f"line {start}" if len(span) == 1 else f"lines {start}–{end}"
    return _line_problem(
        start, "record.invalid", f"not valid CSV ({where})", "check the quoting of this row"
    )


def _opening_quote(span: list[tuple[int, str]]) -> int:
    """The line of the quote still open at the end of the row's last line but one: a row goes
    on past the end of a line only inside a quoted cell (a doubled quote changes nothing)."""
    opened = span[0][0]
    inside = False
    for number, text in span[:-1]:
        for char in text:
            if char == '"':
                inside = not inside
                if inside:
                    opened = number
    return opened


def _cell_count_problem(cells: int, columns: int, span: list[tuple[int, str]]) -> RecordResult:
    """The problem of a row of ``cells`` cells under a header of ``columns``, read over the
    lines ``span``: ``record.invalid`` on one line, ``record.csv_quote`` over several."""
    start, end = span[0][0], span[-1][0]
    count = f"{plural(cells, 'cell')} but the header names {plural(columns, 'column')}"
    if len(span) > 1:
        return _line_problem(
            start,
            "record.csv_quote",
            f"a quote opened on line {_opening_quote(span)} runs to line {end}: lines "
            f"{start}–{end} were read as one row of {count}; line {start} fails and the lines "
            "after it are read again",
            _QUOTE_HINT,
        )
    hint = (
        "quote cells that contain commas"
        if cells > columns
        else "write one cell per column (an empty cell for a missing attribute)"
    )
    return _line_problem(start, "record.invalid", f"the row has {count}", hint)


def _header_problem(cause: RecordProblem) -> RecordProblem:
    return RecordProblem(
        cause.where,
        cause.line,
        None,
        None,
        "record.csv_header",
        f"the CSV header is unusable ({cause.message})",
        "fix the first line of the file: the column names",
    )


def _check_header(header: list[str], line: int) -> RecordProblem | None:
    seen: set[str] = set()
    for column in header:
        if not column:
            message = "the CSV header has an empty column name"
        elif column in seen:
            message = f"the CSV header names column {_shown(column)!r} twice"
        else:
            seen.add(column)
            continue
        return RecordProblem(
            f"line {line}",
            line,
            None,
            None,
            "record.csv_header",
            message,
            "fix the first line of the file: one name per column",
        )
    return None
