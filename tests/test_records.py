"""The one customer-record check (records.py): the same record gets the same verdict and code
from every source — a mapping, a customer YAML file, a JSON Lines line, a CSV row — and reading
a file never stops at a bad record nor echoes a customer's value."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content.customers import CUSTOMER_CODES, find_customer
from atomic_content.errors import ContentError
from atomic_content.models import AttributeSpec, AttributeType, Profile
from atomic_content.records import (
    MAX_DEPTH,
    MAX_RECORD_BYTES,
    MAX_STRING_CHARS,
    RecordError,
    RecordProblem,
    RecordResult,
    check_record,
    read_records,
)
from atomic_content.validate import check_content, load_library
from conftest import flat_keys
from contentkit import write_tree

PROFILE_YAML = """\
id_attribute: id
locale_attribute: locale
consent_attribute: consent.personalization
attributes:
  id: {type: string}
  first_name: {type: string, optional: true}
  locale: {type: string}
  tier: {type: string}
  orders: {type: integer}
  age: {type: integer, optional: true}
  score: {type: number, optional: true}
  signup: {type: date, optional: true}
  tags: {type: list, optional: true}
  address.country: {type: string, optional: true}
  consent.personalization: {type: boolean, optional: true}
"""
PROFILE = Profile(
    consent_attribute="consent.personalization",
    locale_attribute="locale",
    attributes={
        "id": AttributeSpec(type=AttributeType.STRING),
        "first_name": AttributeSpec(type=AttributeType.STRING, optional=True),
        "locale": AttributeSpec(type=AttributeType.STRING),
        "tier": AttributeSpec(type=AttributeType.STRING),
        "orders": AttributeSpec(type=AttributeType.INTEGER),
        "age": AttributeSpec(type=AttributeType.INTEGER, optional=True),
        "score": AttributeSpec(type=AttributeType.NUMBER, optional=True),
        "signup": AttributeSpec(type=AttributeType.DATE, optional=True),
        "tags": AttributeSpec(type=AttributeType.LIST, optional=True),
        "address.country": AttributeSpec(type=AttributeType.STRING, optional=True),
        "consent.personalization": AttributeSpec(type=AttributeType.BOOLEAN, optional=True),
    },
)
BASE = {"id": "C-1", "locale": "en", "tier": "gold", "orders": 1}
SOURCES = ("dict", "yaml", "jsonl", "csv")


class Huge:
    """An integer literal of 5 000 digits (Python refuses to print or parse it by default)."""

    digits = "9" * 5000


def nested_list(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@dataclass(frozen=True)
class Case:
    id: str
    changes: dict[str, Any]
    expected: tuple[str, str | None] | None  # (code, attribute) or None for a valid record
    sources: tuple[str, ...] = SOURCES
    drop: tuple[str, ...] = ()
    normalized: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("valid", {}, None, normalized=BASE),
    Case(
        "valid-full",
        {
            "first_name": "Ada",
            "age": 40,
            "score": 0.5,
            "signup": "2026-09-01",
            "tags": ["a", "b"],
            "address.country": "AT",
            "consent.personalization": False,
        },
        None,
        normalized={
            **BASE,
            "first_name": "Ada",
            "age": 40,
            "score": 0.5,
            "signup": "2026-09-01",
            "tags": ["a", "b"],
            "address": {"country": "AT"},
            "consent": {"personalization": False},
        },
    ),
    Case("optional-null", {"age": None}, None, ("dict", "yaml", "jsonl")),
    Case(
        "consent-string-false",
        {"consent.personalization": "false"},
        ("record.consent_not_boolean", "consent.personalization"),
        ("dict", "yaml", "jsonl"),  # a CSV cell "false" *is* the boolean
    ),
    Case(
        "consent-no",
        {"consent.personalization": "no"},
        ("record.consent_not_boolean", "consent.personalization"),
    ),
    Case(
        "consent-zero",
        {"consent.personalization": 0},
        ("record.consent_not_boolean", "consent.personalization"),
    ),
    Case("age-forty", {"age": "forty"}, ("record.type", "age")),
    Case("bool-is-not-integer", {"orders": True}, ("record.type", "orders")),
    Case("float-is-not-integer", {"orders": 2.5}, ("record.type", "orders")),
    Case("inf", {"score": math.inf}, ("record.not_finite", "score")),
    Case("nan", {"score": math.nan}, ("record.not_finite", "score")),
    Case(
        "huge-int", {"orders": Huge()}, ("record.out_of_range", "orders"), ("dict", "jsonl", "csv")
    ),
    Case("int-over-64-bit", {"orders": 2**64}, ("record.out_of_range", "orders")),
    Case("bad-date", {"signup": "2026-13-01"}, ("record.type", "signup")),
    Case(
        "mapping-for-string", {"tier": {"a": 1}}, ("record.type", "tier"), ("dict", "yaml", "jsonl")
    ),
    Case("list-for-string", {"tier": ["gold"]}, ("record.type", "tier"), ("dict", "yaml", "jsonl")),
    Case(
        "text-for-mapping",
        {"consent": "yes"},
        ("record.type", "consent"),
        ("dict", "yaml", "jsonl"),
    ),
    Case("unknown-attribute", {"teir": "gold"}, ("record.unknown_attribute", "teir")),
    # An id names no one when it is blank (the runtime names folders and problems by it).
    Case(
        "empty-id",
        {"id": ""},
        ("record.blank_id", "id"),
        ("dict", "yaml", "jsonl"),  # an empty CSV cell is a missing attribute
    ),
    Case("spaces-id", {"id": "   "}, ("record.blank_id", "id")),
    Case("tab-id", {"id": "\t"}, ("record.blank_id", "id")),
    Case(
        "line-break-id",
        {"id": "\r\n"},
        ("record.blank_id", "id"),
        ("dict", "jsonl", "csv"),  # a quoted CSV cell; in YAML also text.control_character
    ),
    Case("id-with-spaces-around", {"id": " C-1 "}, None),
    Case("missing-required", {}, ("record.missing_attribute", "orders"), drop=("orders",)),
    Case(
        "null-required",
        {"orders": None},
        ("record.type", "orders"),
        ("dict", "yaml", "jsonl"),  # an empty CSV cell is a missing attribute
    ),
    Case(
        "too-deep",
        {"tags": nested_list(MAX_DEPTH + 5)},
        ("record.too_deep", "tags"),
        ("dict", "yaml", "jsonl"),
    ),
    Case(
        "oversize-string",
        {"first_name": "x" * (MAX_STRING_CHARS + 1)},
        ("record.too_long", "first_name"),
    ),
    Case(
        "duplicate-attribute",
        {"consent.personalization": True, "consent": {"personalization": False}},
        ("record.duplicate_attribute", "consent.personalization"),
        ("dict", "yaml", "jsonl"),
    ),
]


def record_of(case: Case) -> dict[str, Any]:
    data = {k: v for k, v in BASE.items() if k not in case.drop}
    data.update(case.changes)
    return data


def as_python(value: Any) -> Any:
    if isinstance(value, Huge):
        return 10**5000
    if isinstance(value, dict):
        return {k: as_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_python(v) for v in value]
    return value


def as_json(value: Any) -> str:
    if isinstance(value, Huge):
        return value.digits
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {as_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(as_json(v) for v in value) + "]"
    return json.dumps(value)


def as_yaml(value: Any) -> str:
    """Flow YAML; JSON strings are valid YAML double-quoted scalars."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {as_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(as_yaml(v) for v in value) + "]"
    return json.dumps(value)


def as_cell(value: Any) -> str:
    if isinstance(value, Huge):
        return value.digits
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(value)
    if value is None:
        return ""
    return str(value)


def verdict(problems: tuple[RecordProblem, ...]) -> tuple[str, str | None] | None:
    if not problems:
        return None
    assert len(problems) == 1, problems
    return problems[0].code, problems[0].attribute


def through(source: str, case: Case, tmp_path: Path) -> Any:
    """The verdict of one source: (code, attribute) or None; the normalized record when valid."""
    data = record_of(case)
    if source == "dict":
        try:
            return None, check_record(as_python(data), PROFILE, where="record")
        except RecordError as exc:
            assert all(p.where == "record" for p in exc.problems)
            return verdict(exc.problems), None
    if source == "yaml":
        content = write_tree(
            tmp_path / "content",
            {"profile.yaml": PROFILE_YAML, "customers/x.yaml": f"attributes: {as_yaml(data)}\n"},
        )
        _library, diagnostics = check_content(content)
        found = [d for d in diagnostics.errors if d.path == "customers/x.yaml"]
        if not found:
            library, _warnings = load_library(content)
            return None, find_customer(library, "x").attributes
        assert len(found) == 1, found
        back = {new: old for old, new in CUSTOMER_CODES.items()}
        assert found[0].line == 1 and found[0].col > 1  # positioned inside the mapping
        return (back.get(found[0].code, found[0].code), case.expected and case.expected[1]), None
    path = tmp_path / f"customers.{source}"
    if source == "jsonl":
        path.write_text('{"id": "C-0", "locale": "en", "tier": "x", "orders": 0}\n\n')
        with path.open("a") as handle:
            handle.write(as_json(data) + "\n")
        expected_line = 3
    else:
        flat = flat_keys(data)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(list(flat))
        writer.writerow([as_cell(v) for v in flat.values()])
        path.write_text(buffer.getvalue())
        expected_line = 2
    results = list(read_records(path, "jsonl" if source == "jsonl" else "csv", PROFILE))
    last = results[-1]
    assert last.line == expected_line
    assert all(p.where == f"line {expected_line}" for p in last.problems)
    return verdict(last.problems), last.record


@pytest.mark.parametrize(
    ("case", "source"),
    [(case, source) for case in CASES for source in case.sources],
    ids=[f"{case.id}-{source}" for case in CASES for source in case.sources],
)
def test_same_verdict_from_every_source(case: Case, source: str, tmp_path: Path) -> None:
    got, record = through(source, case, tmp_path)
    assert got == case.expected
    if case.expected is None and case.normalized:
        assert record == case.normalized


def test_problem_messages_and_hints() -> None:
    data = {**BASE, "teir": "gold", "age": "CANARY-forty", "consent": {"personalization": "false"}}
    with pytest.raises(RecordError) as info:
        check_record(data, PROFILE, where="customer 'anna'")
    assert info.value.problems == (
        RecordProblem(
            "customer 'anna'",
            None,
            "C-1",
            "teir",
            "record.unknown_attribute",
            "unknown attribute 'teir'",
            "did you mean 'tier'? known attributes: address.country, age, consent.personalization, "
            "first_name, id, locale, orders, score, signup, tags, tier",
            ("teir",),
            True,
        ),
        RecordProblem(
            "customer 'anna'",
            None,
            "C-1",
            "age",
            "record.type",
            "age should be an integer, not text",
            "write a whole number, e.g. 3",
            ("age",),
        ),
        RecordProblem(
            "customer 'anna'",
            None,
            "C-1",
            "consent.personalization",
            "record.consent_not_boolean",
            "consent attribute consent.personalization must be true or false, not text",
            'write the JSON literal true or false (not text such as "false"); a record with '
            "unclear consent is never personalized",
            ("consent", "personalization"),
        ),
    )
    assert "CANARY" not in str(info.value)


def test_yaml_dates_become_iso_text() -> None:
    import datetime as dt

    record = check_record({**BASE, "signup": dt.date(2026, 9, 1)}, PROFILE)
    assert record["signup"] == "2026-09-01"


def test_customer_file_problems_are_positioned(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content")
    library, _warnings = load_library(content)
    customer = tmp_path / "me.yaml"
    customer.write_text("id: C-7\nlocale: en\ntier: gold\norders: many\n")
    with pytest.raises(ContentError) as info:
        find_customer(library, str(customer))
    [diagnostic] = list(info.value.diagnostics)
    assert (diagnostic.line, diagnostic.col, diagnostic.code, diagnostic.message) == (
        4,
        9,
        "customer.attribute_type",
        "orders should be an integer, not text",
    )


# --------------------------------------------------------------------------- streams


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


GOOD = json.dumps(BASE).encode()


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"not json", "record.invalid"),
        (b"[1, 2]", "record.invalid"),
        (b"[" * 100_000 + b"]" * 100_000, "record.too_deep"),
        (b'{"id": "C-1", "orders": ' + b"9" * 5000 + b"}", "record.out_of_range"),
        (b'{"id": "caf\xe9"}', "record.encoding"),
        (b'{"id": "' + b"x" * MAX_RECORD_BYTES + b'"}', "record.too_large"),
        (b'{"id": "C-1", "id": "C-2"}', "record.duplicate_attribute"),
    ],
    ids=["not-json", "not-object", "nested-100000", "5000-digits", "utf8", "1MiB", "dup-key"],
)
def test_jsonl_bad_line_fails_alone(tmp_path: Path, bad: bytes, code: str) -> None:
    path = write_lines(tmp_path / "c.jsonl", [GOOD, bad, GOOD])
    results = list(read_records(path, "jsonl", PROFILE))
    assert [r.line for r in results] == [1, 2, 3]
    assert [r.ok for r in results] == [True, False, True]
    assert code in [p.code for p in results[1].problems]


def test_invalid_utf8_at_line_5000_fails_only_that_line(tmp_path: Path) -> None:
    lines = [GOOD] * 6000
    lines[4999] = b'{"id": "\xff"}'
    results = list(read_records(write_lines(tmp_path / "c.jsonl", lines), "jsonl", PROFILE))
    assert len(results) == 6000
    assert [r.line for r in results if not r.ok] == [5000]
    assert results[4999].problems[0].code == "record.encoding"


@pytest.mark.parametrize(
    ("row", "code"),
    [
        (b"C-2,en,gold," + b"9" * 200_000, "record.too_long"),
        (b"C-2,en,gold,1,extra", "record.invalid"),
        (b"C-2,\xffen,gold,1", "record.encoding"),
        (b"C-2,en,gold,1," + b"x" * MAX_RECORD_BYTES, "record.too_large"),
    ],
    ids=["cell-over-field-limit", "extra-cell", "utf8", "1MiB"],
)
def test_csv_bad_row_fails_alone(tmp_path: Path, row: bytes, code: str) -> None:
    path = write_lines(
        tmp_path / "c.csv",
        [b"\xef\xbb\xbfid,locale,tier,orders", b"C-1,en,gold,1", row, b"C-3,en,gold,3"],
    )
    results = list(read_records(path, "csv", PROFILE))
    assert [(r.line, r.ok) for r in results] == [(2, True), (3, False), (4, True)]
    assert results[1].problems[0].code == code
    assert results[2].customer_id == "C-3"


def test_csv_bad_header_fails_every_row(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "c.csv", [b"id,id,tier,orders", b"C-1,en,gold,1", b"C-2,en,gold,1"]
    )
    results = list(read_records(path, "csv", PROFILE))
    assert [(r.line, r.problems[0].code) for r in results] == [
        (2, "record.csv_header"),
        (3, "record.csv_header"),
    ]


def _rows(*rows: bytes) -> list[bytes]:
    return [b"id,locale,tier,orders", *rows]


_WIDE = b"x" * 60_000  # three of these lines are over the csv module's 128 KiB field limit


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            _rows(*(b"C-%d,en,gold,%d" % (i, i) for i in range(1, 7)))[:2]
            + [b'C-2,"en,gold,2']
            + [b"C-%d,en,gold,%d" % (i, i) for i in range(3, 7)],
            [(2, "C-1"), (3, "record.csv_quote"), (4, "C-3"), (5, "C-4"), (6, "C-5"), (7, "C-6")],
            id="quote-never-closed",
        ),
        pytest.param(
            _rows(b"C-1,en,gold,1", b'C-2,"en,gold,2', b"C-3,en,gold,3", b'C-4,"en",gold,4'),
            [(2, "C-1"), (3, "record.csv_quote"), (4, "C-3"), (5, "C-4")],
            id="quote-closed-by-a-later-cell",
        ),
        pytest.param(
            _rows(b"C-1,en,gold,1", b'C-2,"en"x,gold,2', b"C-3,en,gold,3"),
            [(2, "C-1"), (3, "record.csv_quote"), (4, "C-3")],
            id="text-after-a-closing-quote",
        ),
        pytest.param(
            _rows(b'C-1,en,"gold', b'and silver",1', b'C-2,en,"a ""b"", c",2'),
            [(2, "C-1"), (4, "C-2")],
            id="legal-multi-line-and-doubled-quotes",
        ),
        pytest.param(
            _rows(b"C-1,en,gold", b"C-2,en,gold,2"),
            [(2, "record.invalid"), (3, "C-2")],
            id="fewer-cells",
        ),
        pytest.param(
            _rows(b"C-1,en,gold,1,x", b"C-2,en,gold,2"),
            [(2, "record.invalid"), (3, "C-2")],
            id="more-cells",
        ),
        pytest.param(
            _rows(b'C-1,en,"gold', b'silver"', b"C-2,en,gold,2"),
            [(2, "record.csv_quote"), (3, "record.invalid"), (4, "C-2")],
            id="fewer-cells-over-two-lines",
        ),
        pytest.param(
            _rows(b'C-1,"en,gold,1', b"C-2,en,gold,2", b'C-3,",en",gold,3', b"C-4,en,gold,4"),
            [(2, "record.csv_quote"), (3, "C-2"), (4, "C-3"), (5, "C-4")],
            id="quote-closed-before-a-comma",
        ),
        pytest.param(
            _rows(b'C-1,"en' + _WIDE, _WIDE, _WIDE, b"C-2,en,gold,2"),
            [(2, "record.csv_quote"), (3, "record.invalid"), (4, "record.invalid"), (5, "C-2")],
            id="quote-runs-past-the-field-limit",
        ),
        pytest.param(
            [b'id,"locale,tier,orders', b"C-1,en,gold,1", b"C-2,en,gold,2"],
            [(2, "record.csv_header"), (3, "record.csv_header")],
            id="quote-in-the-header",
        ),
    ],
)
def test_csv_quoting_problems_fail_their_row_alone(
    tmp_path: Path, lines: list[bytes], expected: list[tuple[int, str]]
) -> None:
    """Every record is counted once: a row the csv module cannot read fails on its first line
    and the lines it swallowed are read again; a row with the wrong number of cells is one
    record.invalid, never a record of missing attributes."""
    path = write_lines(tmp_path / "c.csv", lines)
    results = list(read_records(path, "csv", PROFILE))
    got = [(r.line, r.customer_id if r.ok else r.problems[0].code) for r in results]
    assert got == expected
    assert all(len(r.problems) <= 1 for r in results)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [b"id,locale,tier,orders", b'C-2,"en,gold,2', b"C-3,en,gold,3"],
            "a quote opened on line 2 is never closed: lines 2–3 were read as one cell; line 2 "
            "fails and the lines after it are read again",
        ),
        (
            [b"id,locale,tier,orders", b'C-2,"en,gold,2', b"C-3,en,gold,3", b'C-4,"en",gold,4'],
            "a quote opened on line 2 closes on line 4 in the middle of a cell: lines 2–4 were "
            "read as one row; line 2 fails and the lines after it are read again",
        ),
        (
            [b"id,locale,tier,orders", b"C-1,en,gold"],
            "the row has 3 cells but the header names 4 columns",
        ),
        (
            [b"id,locale,tier,orders", b'C-1,en,"gold', b'silver"'],
            "a quote opened on line 2 runs to line 3: lines 2–3 were read as one row of 3 cells "
            "but the header names 4 columns; line 2 fails and the lines after it are read again",
        ),
    ],
)
def test_csv_quoting_messages_name_the_lines(
    tmp_path: Path, lines: list[bytes], message: str
) -> None:
    results = list(read_records(write_lines(tmp_path / "c.csv", lines), "csv", PROFILE))
    assert results[0].problems[0].message == message


_CELL = st.text(alphabet="ab ,", max_size=5).filter(lambda cell: not cell.startswith(","))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(_CELL, min_size=4, max_size=4), min_size=1, max_size=8),
    st.data(),
)
def test_csv_a_stray_quote_loses_no_record(rows: list[list[str]], data: st.DataObject) -> None:
    """A quote put at the start of any cell of a well-formed file (one line per row, commas
    in cells quoted): every line after the header still gets exactly one result, in order.

    (A stray quote that pairs with a later quote followed by a comma can make a good row of
    several lines, which no reader can tell from a quoted cell holding line breaks: no cell
    here starts with a comma.)"""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "locale", "tier", "orders"])
    writer.writerows(rows)
    lines = buffer.getvalue().splitlines()
    row = data.draw(st.integers(min_value=1, max_value=len(lines) - 1))
    cells = lines[row].split(",")
    cell = data.draw(st.integers(min_value=0, max_value=len(cells) - 1))
    cells[cell] = '"' + cells[cell]
    lines[row] = ",".join(cells)
    text = "\n".join(lines) + "\n"
    results = list(read_records(io.BytesIO(text.encode()), "csv", PROFILE))
    assert [r.line for r in results] == list(range(2, len(lines) + 1))


# --------------------------------------------------------------------------- properties

CANARY = st.text(alphabet="abcdefghijklmnop0123456789", min_size=4, max_size=12).map(
    lambda s: f"CANARY-{s}"
)
KEYS = st.sampled_from([*PROFILE.attributes, "consent", "address", "teir", "x.y", "extra"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    CANARY,
    st.builds(lambda c, t: c + t, CANARY, st.text(max_size=20)),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
RECORDS = st.dictionaries(KEYS, JSON_VALUES, max_size=8)
JUNK = st.builds(
    lambda c, b: c.encode() + b, CANARY, st.binary(max_size=40).filter(lambda b: b"\n" not in b)
)


def assert_no_canary(results: list[RecordResult]) -> None:
    for result in results:
        for problem in result.problems:
            text = " ".join([problem.where, problem.message, problem.hint])
            assert "CANARY" not in text, problem


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(RECORDS.map(lambda r: json.dumps(r).encode()), JUNK), max_size=12))
def test_jsonl_one_result_per_record_and_no_values_in_messages(lines: list[bytes]) -> None:
    # Keys are attribute names and are named in messages (``unknown attribute 'x'``); the
    # customer data is in the values, and every value holds a CANARY.
    results = list(read_records(io.BytesIO(b"\n".join(lines) + b"\n"), "jsonl", PROFILE))

    def is_record(line: bytes) -> bool:
        try:
            return bool(line.decode("utf-8").strip())
        except UnicodeDecodeError:
            return True

    expected = [n for n, line in enumerate(lines, start=1) if is_record(line)]
    assert [r.line for r in results] == expected
    assert all((r.record is None) == bool(r.problems) for r in results)
    assert_no_canary(results)


CELLS = st.one_of(
    st.just(""),
    CANARY,
    st.builds(
        lambda c, t: c + t,
        CANARY,
        # A CSV file is UTF-8 text: a lone surrogate cannot be in it (bad bytes: see JUNK).
        st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=20),
    ),
    st.sampled_from(["true", "FALSE", "3", "-0", "1e999", "nan", "2026-09-01", "a|b", "9" * 30]),
)
COLUMNS = st.lists(KEYS, min_size=2, max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(
    COLUMNS.flatmap(
        lambda cols: st.tuples(
            st.just(cols),
            st.lists(st.lists(CELLS, min_size=len(cols), max_size=len(cols)), max_size=8),
        )
    )
)
def test_csv_one_result_per_row_and_no_values_in_messages(
    table: tuple[list[str], list[list[str]]],
) -> None:
    columns, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    results = list(read_records(io.BytesIO(buffer.getvalue().encode()), "csv", PROFILE))
    assert len(results) == len(rows)
    assert all((r.record is None) == bool(r.problems) for r in results)
    assert_no_canary(results)


# --------------------------------------------------------------------------- the fast path

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["2026-11-01", "2026-13-01", "2026-11-01T09:30:00", "x" * 70]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
_EDGES = st.sampled_from(
    [
        math.inf,
        -math.inf,
        math.nan,
        2**63,
        -(2**63) - 1,
        2**63 - 1,
        True,
        "false",
        "DE",
        "",
        "2026-13-01",
        "2026-11-01",
        1.5,
        3,
        None,
        [1, [2]],
        ["a", None, True, 1.5],
        {"country": "DE"},
        {"personalization": "true"},
        "x" * (MAX_STRING_CHARS + 1),
    ]
)
_KEYS = st.sampled_from(
    [*PROFILE.attributes, "address", "consent", "orderz", "address.city", "consent.x"]
)


def _valid_record(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {
        # Any id but a blank one (record.blank_id).
        "id": draw(st.text(min_size=1, max_size=6).filter(lambda t: not t.isspace())),
        "locale": draw(st.sampled_from(["de", "en-GB"])),
        "tier": draw(st.text(max_size=6)),
        "orders": draw(st.integers(min_value=0, max_value=99)),
    }
    if draw(st.booleans()):
        record["address"] = {"country": draw(st.sampled_from(["DE", "AT"]))}
    else:
        record["address.country"] = "DE"
    if draw(st.booleans()):
        record["consent"] = {"personalization": draw(st.booleans())}
    if draw(st.booleans()):
        record["tags"] = draw(
            st.lists(st.one_of(st.text(max_size=4), st.integers(-(2**63), 2**63 - 1)), max_size=3)
        )
    if draw(st.booleans()):
        record["signup"] = draw(st.sampled_from(["2026-11-01", "2019-03-14"]))
    return record


@st.composite
def _records(draw: st.DrawFn) -> dict[Any, Any]:
    """Valid records with a few keys replaced, added or broken: most of them fail somewhere."""
    record: dict[Any, Any] = _valid_record(draw)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        record[draw(_KEYS)] = draw(_EDGES | _VALUES)
    if draw(st.booleans()):
        record.pop(draw(st.sampled_from(sorted(record))), None)
    return record


def _full_check(record: Any) -> tuple[Any, tuple[RecordProblem, ...]]:
    from atomic_content.records import _Checker

    return _Checker(PROFILE, "record", None).run(record)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_fast_path_agrees_with_the_full_check(record: dict[Any, Any]) -> None:
    """check_record takes a fast path for plain dicts; it must give the full check's verdict
    and the same normalized record, key order included."""
    from atomic_content.records import _fast_check, _schema, _shaped_check

    expected, problems = _full_check(record)
    fast = _fast_check(record, _schema(PROFILE))
    if fast is not None:  # the fast path decided: it must have decided as the full check
        assert expected is not None, problems
        assert json.dumps(fast) == json.dumps(expected)
    _schema(PROFILE).shapes.clear()  # room for this record's shape (see MAX_SHAPES)
    shaped = _shaped_check(record, _schema(PROFILE))
    if shaped is not None:  # so must the compiled check of the record's key shape
        assert expected is not None, problems
        assert json.dumps(shaped) == json.dumps(expected)
    if expected is None:
        with pytest.raises(RecordError) as caught:
            check_record(record, PROFILE)
        assert caught.value.problems == problems
    else:
        assert json.dumps(check_record(record, PROFILE)) == json.dumps(expected)


@given(st.data())
def test_fast_path_takes_plain_valid_records(data: st.DataObject) -> None:
    """Valid plain records do not fall back to the slow walk (the point of the fast path)."""
    from atomic_content.records import _fast_check, _schema, _shaped_check

    record = _valid_record(data.draw)
    assert _fast_check(record, _schema(PROFILE)) is not None
    _schema(PROFILE).shapes.clear()  # other tests may have filled it with other shapes
    assert _shaped_check(record, _schema(PROFILE)) is not None


_BASE = {"id": "C-1", "locale": "de", "tier": "gold", "orders": 3}
_TRICKY = {
    "nested and dotted twice": {**_BASE, "address": {"country": "DE"}, "address.country": "AT"},
    "dotted then nested": {**_BASE, "address.country": "AT", "address": {"country": "DE"}},
    "infinite number": {**_BASE, "score": math.inf},
    "not a number": {**_BASE, "score": math.nan},
    "integer over 64 bits": {**_BASE, "orders": 2**63},
    "integer at the 64-bit edge": {**_BASE, "orders": 2**63 - 1},
    "boolean for an integer": {**_BASE, "orders": True},
    "float for an integer": {**_BASE, "orders": 3.0},
    "text consent": {**_BASE, "consent": {"personalization": "false"}},
    "null consent (optional)": {**_BASE, "consent": {"personalization": None}},
    "null group": {**_BASE, "address": None},
    "text for a group": {**_BASE, "address": "DE"},
    "impossible date": {**_BASE, "signup": "2026-13-01"},
    "date": {**_BASE, "signup": "2026-11-01"},
    "nested list": {**_BASE, "tags": [1, [2]]},
    "list of scalars": {**_BASE, "tags": ["a", None, True, 1.5, 2]},
    "infinite in a list": {**_BASE, "tags": [math.inf]},
    "overlong text": {**_BASE, "tier": "x" * (MAX_STRING_CHARS + 1)},
    "text at the cap": {**_BASE, "tier": "x" * MAX_STRING_CHARS},
    "missing required": {"id": "C-1", "locale": "de", "tier": "gold"},
    "unknown attribute": {**_BASE, "orderz": 3},
    "non-text key": {**_BASE, 7: "x"},
    "null required": {**_BASE, "tier": None},
    "empty id": {**_BASE, "id": ""},
    "blank id": {**_BASE, "id": " \t "},
    "id around spaces": {**_BASE, "id": " C-1"},
    "over the size budget": {
        **_BASE,
        "tags": ["x" * MAX_STRING_CHARS] * (MAX_RECORD_BYTES // MAX_STRING_CHARS + 1),
    },
}


@pytest.mark.parametrize("record", list(_TRICKY.values()), ids=list(_TRICKY))
def test_fast_path_agrees_on_tricky_records(record: dict[Any, Any]) -> None:
    from atomic_content.records import _fast_check, _schema, _shaped_check

    expected, problems = _full_check(record)
    for fast in (_fast_check(record, _schema(PROFILE)), _shaped_check(record, _schema(PROFILE))):
        if expected is None:
            assert fast is None, problems
        elif fast is not None:  # it may leave unusual records (nested lists) to the full walk
            assert json.dumps(fast) == json.dumps(expected)


# --------------------------------------------------------------------------- compiled shapes
# check_record compiles one straight-line check per key shape of a record (records._shaped_check).
# This profile has what the generated code treats specially: a group nested two deep with a
# required attribute inside, a group that is also declared itself, dates and datetimes, a
# consent that is not a boolean type, lists, and integers and numbers at their edges.

DEEP = Profile(
    consents={"personalization": "consent.personalization", "email": "consent.email"},
    attributes={
        "id": AttributeSpec(type=AttributeType.STRING),
        "name": AttributeSpec(type=AttributeType.STRING, optional=True),
        "n": AttributeSpec(type=AttributeType.INTEGER),
        "x": AttributeSpec(type=AttributeType.NUMBER, optional=True),
        "on": AttributeSpec(type=AttributeType.DATE, optional=True),
        "at": AttributeSpec(type=AttributeType.DATETIME, optional=True),
        "tags": AttributeSpec(type=AttributeType.LIST, optional=True),
        "flag": AttributeSpec(type=AttributeType.BOOLEAN, optional=True),
        "a.b.c": AttributeSpec(type=AttributeType.INTEGER),
        "a.b.d": AttributeSpec(type=AttributeType.STRING, optional=True),
        "a.e": AttributeSpec(type=AttributeType.DATE, optional=True),
        "g": AttributeSpec(type=AttributeType.STRING, optional=True),
        "g.h": AttributeSpec(type=AttributeType.STRING, optional=True),
        "consent.personalization": AttributeSpec(type=AttributeType.BOOLEAN),
        "consent.email": AttributeSpec(type=AttributeType.STRING, optional=True),
    },
)
_DEEP_LEAVES = {
    "id": st.text(max_size=5),
    "name": st.one_of(st.none(), st.text(max_size=5)),
    "n": st.integers(-(2**63), 2**63 - 1),
    "x": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 9)),
    "on": st.sampled_from(["2026-11-01", "2019-03-14", None]),
    "at": st.sampled_from(["2026-11-01T09:30:00", "2026-11-01", None]),
    "tags": st.lists(st.one_of(st.text(max_size=3), st.integers(0, 9), st.none()), max_size=3),
    "flag": st.one_of(st.none(), st.booleans()),
}
_DEEP_EDGE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**63) - 1,
    2**63 - 1,
    -(2**63),
    1.5,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "x",
    "false",
    "2026-13-01",
    "2026-11-01",
    "2026-11-01T09:30:00",
    "9" * 65,
    "x" * (MAX_STRING_CHARS + 1),
    [],
    ["a", 1, None, True, 2.5],
    [math.inf],
    [[1]],
    {},
    {"c": 1},
    {"b": {"c": 1}},
    {"b": {"c": 1, "d": "x"}, "e": "2026-11-01"},
    {"b": None},
    {"b": {"c": None}},
    {"b.c": 1},
    {"personalization": True},
    {"personalization": True, "email": "yes"},
    {"personalization": "true"},
    {"h": "x"},
]
_DEEP_EDGES = st.sampled_from(_DEEP_EDGE_VALUES)
_DEEP_KEYS = st.sampled_from(
    [*DEEP.attributes, "a", "a.b", "consent", "unknown", "a.b.z", "g.h.i", "consent.x"]
)


@st.composite
def _deep_records(draw: st.DrawFn) -> dict[Any, Any]:
    """Valid records in many key shapes (orders, dotted or nested groups, optional keys left
    out), then a few keys replaced, added, moved or removed."""
    record: dict[Any, Any] = {"id": draw(_DEEP_LEAVES["id"]), "n": draw(_DEEP_LEAVES["n"])}
    for name in draw(st.permutations(["name", "x", "on", "at", "tags", "flag"])):
        if draw(st.booleans()):
            record[name] = draw(_DEEP_LEAVES[name])
    c = draw(st.integers(0, 99))
    style = draw(st.sampled_from(["nested", "dotted", "half"]))
    if style == "nested":
        inner: dict[str, Any] = {"c": c}
        if draw(st.booleans()):
            inner["d"] = draw(st.text(max_size=3))
        record["a"] = {"b": inner, **({"e": "2026-11-01"} if draw(st.booleans()) else {})}
    elif style == "dotted":
        record["a.b.c"] = c
        if draw(st.booleans()):
            record["a.e"] = "2026-10-02"
    else:
        record["a.b"] = {"c": c}
    consent: dict[str, Any] = {"personalization": draw(st.booleans())}
    if draw(st.booleans()):
        consent["email"] = None
    if draw(st.booleans()):
        record["consent"] = consent
    else:
        record.update({f"consent.{key}": value for key, value in consent.items()})
    if draw(st.booleans()):
        # A copy: a fault below may write into it, and the edges are shared between examples
        # (changing one would change what later examples draw).
        record["g"] = copy.deepcopy(draw(st.one_of(st.none(), st.text(max_size=3), _DEEP_EDGES)))
    fault = draw(st.sampled_from(["none", "value", "value", "keys"]))
    if fault == "value":  # one value or group, in place, replaced by an edge
        leaves = _leaf_slots(record)
        holder, key = leaves[draw(st.integers(0, len(leaves) - 1))]
        holder[key] = copy.deepcopy(draw(_DEEP_EDGES))  # the edges are shared
    elif fault == "keys":
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            record[draw(_DEEP_KEYS)] = copy.deepcopy(draw(_DEEP_EDGES | _VALUES))
        if draw(st.booleans()):
            record.pop(draw(st.sampled_from(sorted(record, key=str))), None)
    if draw(st.booleans()):  # move a key to the end: the same keys in another order
        key = draw(st.sampled_from(sorted(record, key=str)))
        record[key] = record.pop(key)
    return record


def _leaf_slots(record: dict[Any, Any]) -> list[tuple[dict[Any, Any], Any]]:
    """(mapping, key) of every value in ``record``, groups and the values inside them."""
    found = []
    for key, value in record.items():
        found.append((record, key))
        if isinstance(value, dict):
            found += _leaf_slots(value)
    return found


@settings(
    max_examples=2000,
    deadline=None,
    database=None,  # replays are not needed: a failure prints the record
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_deep_records())
def test_compiled_shape_check_agrees_with_the_full_check(record: dict[Any, Any]) -> None:
    """The compiled check of a record's key shape decides only as the full check does, with
    the same normalized record (key order included); check_record as a whole agrees too."""
    from atomic_content.records import _Checker, _schema, _shaped_check

    expected, problems = _Checker(DEEP, "record", None).run(record)
    _schema(DEEP).shapes.clear()  # room for this record's shape (see MAX_SHAPES)
    shaped = _shaped_check(record, _schema(DEEP))
    if shaped is not None:
        assert expected is not None, problems
        assert json.dumps(shaped) == json.dumps(expected)
    if expected is None:
        with pytest.raises(RecordError) as caught:
            check_record(record, DEEP)
        assert caught.value.problems == problems
    else:
        assert json.dumps(check_record(record, DEEP)) == json.dumps(expected)


_DEEP_VALID = [
    {"id": "C-1", "n": 3, "a": {"b": {"c": 1}}, "consent": {"personalization": True}},
    # An empty text value (an empty id is record.blank_id: the edges below try it).
    {"consent.personalization": False, "a.b.c": 1, "a.e": "2026-11-01", "n": 0, "id": "0", "g": ""},
    {
        "id": "C-2",
        "name": None,
        "n": 2**63 - 1,
        "x": -0.0,
        "on": "2026-11-01",
        "at": "2026-11-01T09:30:00",
        "tags": ["a", 1, None, True, 2.5],
        "flag": None,
        "a": {"b": {"c": -(2**63), "d": "x"}, "e": None},
        "g": "text",
        "consent": {"personalization": True, "email": None},
    },
]


@pytest.mark.parametrize("record", _DEEP_VALID)
def test_compiled_shape_check_takes_valid_records(record: dict[str, Any]) -> None:
    """Plain valid records of these shapes are decided by the compiled check (its point),
    as the full check decides them."""
    from atomic_content.records import _Checker, _schema, _shaped_check

    expected, problems = _Checker(DEEP, "record", None).run(record)
    assert expected is not None, problems
    _schema(DEEP).shapes.clear()  # the property test may have filled it with other shapes
    shaped = _shaped_check(record, _schema(DEEP))
    assert shaped is not None
    assert json.dumps(shaped) == json.dumps(expected)


def test_compiled_shapes_are_capped() -> None:
    """A stream of records in ever new key shapes compiles at most MAX_SHAPES of them (per
    group); the rest are still checked, by the fast walk and the full check."""
    from atomic_content.records import MAX_SHAPES, _schema

    profile = Profile(
        attributes={f"k{i}": AttributeSpec(type=AttributeType.INTEGER) for i in range(12)}
        | {"id": AttributeSpec(type=AttributeType.STRING)}
    )
    rng = random.Random(7)
    records = []
    for i in range(3 * MAX_SHAPES):
        names = ["id", *(f"k{j}" for j in range(12))]
        rng.shuffle(names)
        records.append({name: "C" if name == "id" else i for name in names})
    shapes = {tuple(record) for record in records}
    assert len(shapes) > MAX_SHAPES
    for record in records:
        assert check_record(record, profile) == record
    assert len(_schema(profile).shapes[""]) == MAX_SHAPES
    bad = {**records[-1], "k0": "0"}
    with pytest.raises(RecordError):
        check_record(bad, profile)


def test_compiled_shape_check_agrees_on_every_single_fault() -> None:
    """Exhaustively: every valid record above with any one value or group replaced, in place,
    by any edge value (over a thousand records, most wrong in exactly that place). The compiled
    check decides them as the full check does or leaves them to it."""
    from atomic_content.records import _Checker, _schema, _shaped_check

    cases = 0
    decided = 0
    for base in _DEEP_VALID:
        for index in range(len(_leaf_slots(copy.deepcopy(base)))):
            for edge in _DEEP_EDGE_VALUES:
                record = copy.deepcopy(base)
                holder, key = _leaf_slots(record)[index]
                holder[key] = copy.deepcopy(edge)
                expected, problems = _Checker(DEEP, "record", None).run(record)
                _schema(DEEP).shapes.clear()
                shaped = _shaped_check(record, _schema(DEEP))
                cases += 1
                if shaped is not None:
                    decided += 1
                    assert expected is not None, (record, problems)
                    assert json.dumps(shaped) == json.dumps(expected), record
    assert cases >= 1000
    assert decided >= 100  # it does decide many of them: the comparison is not vacuous
