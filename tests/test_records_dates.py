"""Customer dates and times: one rule at every entry point (dates.py, records.py).

A ``date`` attribute holds text in the one form ``YYYY-MM-DD`` (or a YAML, Arrow or Python date,
written out in that form); a ``datetime`` attribute text in ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]
[Z|±HH:MM]`` (or such an object), normalized to ``YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]``.
Python 3.11's ``fromisoformat`` also reads other ISO 8601 spellings (``20260101``,
``2026-W01-4``, a space for the ``T``); as text they compare differently (conditions compare
dates as text, as GrowthBook does), so records in those spellings landed in the wrong segments.
They are now a ``record.type`` error for that record, whatever the source: a mapping
(``Bundle.render``), a sample customer YAML file, JSON Lines, CSV, Parquet (and Spark, which
shares the Parquet path; tests/test_spark.py runs it on Spark itself).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content.build import build
from atomic_content.bundle import Bundle, load_bundle
from atomic_content.columnar import ArrowRecords
from atomic_content.conditions import check_condition, evaluate
from atomic_content.customers import find_customer
from atomic_content.dates import iso_date, iso_datetime
from atomic_content.errors import ContentError
from atomic_content.models import AttributeSpec, AttributeType, Profile
from atomic_content.records import (
    RecordError,
    RecordProblem,
    _Checker,
    _fast_check,
    _schema,
    _shaped_check,
    check_record,
    read_records,
)
from atomic_content.repository import Library
from atomic_content.runtime import render_batch
from atomic_content.validate import load_library
from conftest import DEMO_RECORD, flat_keys

REPO = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 11, 22)
WELCOME = {"journey": "welcome", "step": "day-0", "channel": "email"}

# --------------------------------------------------------------------------- the demo
# The reviewer's report: two records of the demo that differ only in how `signup_date` is
# spelled got different segments (`new-customer` is `signup_date >= "2026-09-01"`, as text).

# signup_date as written -> the audience of the welcome email, or the problem code.
DEMO_SPELLINGS: list[tuple[str, str]] = [
    ("2026-10-01", "new-customer"),
    ("2026-01-01", "generic"),
    ("20261001", "record.type"),  # basic form: was "new-customer" ("2" > "-" as text)
    ("20260101", "record.type"),  # was "new-customer" too, nine months too early
    ("2026-W40-4", "record.type"),  # week date of 2026-10-01
    ("2026-W01-4", "record.type"),  # week date of 2026-01-01: was "new-customer"
    ("2026-274", "record.type"),  # ordinal date of 2026-10-01
    ("2026-10-01T00:00:00", "record.type"),  # a date and time is not a date
    ("2026-10-1", "record.type"),
    (" 2026-10-01", "record.type"),
]
EXPECTED = [outcome for _spelling, outcome in DEMO_SPELLINGS]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dates") / "dist"
    build(REPO / "content", out, on=DAY)
    return out


@pytest.fixture(scope="module")
def bundle(dist: Path) -> Bundle:
    return load_bundle(dist)


def demo_records() -> list[dict[str, Any]]:
    return [
        {**DEMO_RECORD, "id": f"C-{i}", "signup_date": spelling}
        for i, (spelling, _outcome) in enumerate(DEMO_SPELLINGS)
    ]


def audience(bundle: Bundle, record: dict[str, Any]) -> str:
    route = bundle.route(record, on=DAY, **WELCOME)
    return str(route.variant_id).rsplit("/", 1)[-1]


def test_demo_bundle_render_mapping(bundle: Bundle) -> None:
    got = []
    for record in demo_records():
        try:
            bundle.render(record, on=DAY, **WELCOME)
        except RecordError as exc:
            assert [(p.code, p.attribute) for p in exc.problems] == [("record.type", "signup_date")]
            got.append(exc.problems[0].code)
        else:
            got.append(audience(bundle, check_record(record, bundle.profile)))
    assert got == EXPECTED


def _batch_outcomes(bundle: Bundle, customers: Path, tmp_path: Path, first: int = 1) -> list[str]:
    """The outcome per record of ``atomic render`` (records start on line ``first``)."""
    out = tmp_path / "out.jsonl"
    result = render_batch(bundle, customers, out=out, on=DAY, **WELCOME)
    rendered = {
        row["line"]: row["audience"]
        for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())
    }
    failed = {p.line: (p.code, p.attribute) for p in result.problems}
    got = []
    for line in range(first, first + len(DEMO_SPELLINGS)):
        if line in failed:
            assert failed[line] == ("record.type", "signup_date")
            got.append("record.type")
        else:
            got.append(rendered[line])
    return got


def test_demo_jsonl(bundle: Bundle, tmp_path: Path) -> None:
    customers = tmp_path / "customers.jsonl"
    customers.write_text("".join(json.dumps(r) + "\n" for r in demo_records()), encoding="utf-8")
    assert _batch_outcomes(bundle, customers, tmp_path) == EXPECTED


def test_demo_csv(bundle: Bundle, tmp_path: Path) -> None:
    flat = [flat_keys(record) for record in demo_records()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(flat[0]))
    for row in flat:
        writer.writerow(
            ["true" if v is True else "false" if v is False else v for v in row.values()]
        )
    customers = tmp_path / "customers.csv"
    customers.write_text(buffer.getvalue(), encoding="utf-8")
    assert _batch_outcomes(bundle, customers, tmp_path, first=2) == EXPECTED  # after the header


def test_demo_parquet_text_and_arrow_dates(bundle: Bundle, tmp_path: Path) -> None:
    text = tmp_path / "text.parquet"
    pq.write_table(pa.Table.from_pylist(demo_records()), text)
    out = tmp_path / "out.parquet"
    render_batch(bundle, text, out=out, on=DAY, **WELCOME)
    rows = {row["customer_id"]: row for row in pq.read_table(out).to_pylist()}
    got = [
        rows[f"C-{i}"]["error_code"] or rows[f"C-{i}"]["variant"].rsplit("/", 1)[-1]
        for i in range(len(DEMO_SPELLINGS))
    ]
    assert got == EXPECTED
    # An Arrow date column: date objects, written out as the one ISO text.
    dates = tmp_path / "dates.parquet"
    days = [dt.date(2026, 10, 1), dt.date(2026, 1, 1)]
    table = pa.Table.from_pylist(
        [{**DEMO_RECORD, "id": f"D-{i}", "signup_date": day} for i, day in enumerate(days)]
    )
    assert table.schema.field("signup_date").type == pa.date32()
    pq.write_table(table, dates)
    render_batch(bundle, dates, out=out, on=DAY, **WELCOME)
    rows = {row["customer_id"]: row for row in pq.read_table(out).to_pylist()}
    assert [rows[f"D-{i}"]["variant"].rsplit("/", 1)[-1] for i in range(2)] == [
        "new-customer",
        "generic",
    ]


def test_demo_customer_yaml_files(bundle: Bundle, tmp_path: Path) -> None:
    library, _warnings = load_library(REPO / "content")
    got = []
    for i, (spelling, _outcome) in enumerate(DEMO_SPELLINGS):
        path = tmp_path / f"c{i}.yaml"
        path.write_text(_yaml_customer({**DEMO_RECORD, "signup_date": spelling}), encoding="utf-8")
        try:
            record = find_customer(library, str(path)).attributes
        except ContentError as exc:
            [diagnostic] = list(exc.diagnostics)
            assert diagnostic.code == "customer.attribute_type"
            assert diagnostic.line == list(DEMO_RECORD).index("signup_date") + 1
            assert spelling.strip() not in diagnostic.message + diagnostic.hint
            got.append("record.type")
        else:
            assert record["signup_date"] == spelling
            got.append(audience(bundle, record))
    assert got == EXPECTED
    # Unquoted, YAML reads a date; it is written out in the one form.
    path = tmp_path / "plain.yaml"
    path.write_text(
        _yaml_customer(DEMO_RECORD).replace('signup_date: "2026-01-01"', "signup_date: 2026-10-01"),
        encoding="utf-8",
    )
    record = find_customer(library, str(path)).attributes
    assert record["signup_date"] == "2026-10-01"
    assert audience(bundle, record) == "new-customer"


def _yaml_customer(record: dict[str, Any]) -> str:
    """A bare attribute mapping, one top-level attribute a line (JSON values are YAML)."""
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in record.items())


# --------------------------------------------------------------------------- every entry point

PROFILE = Profile(
    attributes={
        "id": AttributeSpec(type=AttributeType.STRING),
        "d": AttributeSpec(type=AttributeType.DATE, optional=True),
        "t": AttributeSpec(type=AttributeType.DATETIME, optional=True),
    }
)
REFUSED = "record.type"

# (attribute, value as text, normalized value or REFUSED)
TEXT_TABLE: list[tuple[str, str, str]] = [
    ("d", "2026-01-01", "2026-01-01"),
    ("d", "0001-01-01", "0001-01-01"),
    ("d", "20260101", REFUSED),
    ("d", "2026-W01-4", REFUSED),
    ("d", "2026W014", REFUSED),
    ("d", "2026-001", REFUSED),
    ("d", "2026-02-29", REFUSED),
    ("d", "2026-01-01T00:00", REFUSED),
    ("d", "2026-01-01 ", REFUSED),
    ("d", "٢٠٢٦-01-01", REFUSED),  # digits, but not ASCII ones
    ("t", "2026-10-02T10:00", "2026-10-02T10:00:00"),
    ("t", "2026-10-02T10:00:00", "2026-10-02T10:00:00"),
    ("t", "2026-10-02T10:00:00.000000", "2026-10-02T10:00:00"),
    ("t", "2026-10-02T10:00:00.5", "2026-10-02T10:00:00.500000"),
    ("t", "2026-10-02T10:00:00.123456", "2026-10-02T10:00:00.123456"),
    ("t", "2026-10-02T10:00Z", "2026-10-02T10:00:00+00:00"),
    ("t", "2026-10-02T10:00:00+00:00", "2026-10-02T10:00:00+00:00"),
    ("t", "2026-10-02T10:00-05:30", "2026-10-02T10:00:00-05:30"),
    ("t", "2026-10-02 10:00", REFUSED),
    ("t", "2026-10-02 10:00:00", REFUSED),
    ("t", "2026-10-02t10:00", REFUSED),
    ("t", "2026-10-02T10", REFUSED),
    ("t", "2026-10-02T1000", REFUSED),
    ("t", "20261002T100000", REFUSED),
    ("t", "2026-10-02T10:00:00,5", REFUSED),
    ("t", "2026-10-02T10:00:00.1234567", REFUSED),
    ("t", "2026-10-02T10:00+0100", REFUSED),
    ("t", "2026-10-02T10:00+01", REFUSED),
    ("t", "2026-10-02T24:00", REFUSED),
    ("t", "2026-10-02", REFUSED),  # a date alone is not a date and time
    ("t", "2026-W40-5T10:00", REFUSED),
]
SOURCES = ["dict", "yaml", "jsonl", "csv", "parquet"]


def through(source: str, attribute: str, value: Any, tmp_path: Path, *, yaml: str = "") -> Any:
    """The normalized value of ``attribute`` when ``{"id": "C-1", attribute: value}`` comes in
    through ``source``, or its problem code (one problem, on that attribute)."""
    record = {"id": "C-1", attribute: value}
    problems: tuple[RecordProblem, ...]
    if source == "dict":
        try:
            return check_record(record, PROFILE)[attribute]
        except RecordError as exc:
            problems = exc.problems
    elif source == "yaml":
        path = tmp_path / "c.yaml"
        path.write_text(f"id: C-1\n{attribute}: {yaml or json.dumps(value)}\n", encoding="utf-8")
        library = Library(root=tmp_path, profile=PROFILE)
        try:
            return find_customer(library, str(path)).attributes[attribute]
        except ContentError as exc:
            [diagnostic] = list(exc.diagnostics)
            assert (diagnostic.line, diagnostic.col) == (2, 4)
            return {"customer.attribute_type": REFUSED}.get(diagnostic.code, diagnostic.code)
    elif source in ("jsonl", "csv"):
        path = tmp_path / f"c.{source}"
        if source == "jsonl":
            path.write_text(json.dumps(record) + "\n", encoding="utf-8")
        else:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows([["id", attribute], ["C-1", value]])
            path.write_text(buffer.getvalue(), encoding="utf-8")
        [result] = read_records(path, source, PROFILE)  # type: ignore[arg-type]
        if result.record is not None:
            return result.record[attribute]
        problems = result.problems
    else:
        table = pa.Table.from_pylist([record])
        path = tmp_path / "c.parquet"
        pq.write_table(table, path)
        [batch] = pq.read_table(path).to_batches()
        reader = ArrowRecords(PROFILE, ["id", attribute], batch.schema.names)
        [(result, _locale)] = reader.results(batch)
        if result.record is not None:
            return result.record[attribute]
        problems = result.problems
    assert [(p.code, p.attribute) for p in problems] == [(problems[0].code, attribute)]
    shown = f"{problems[0]} {problems[0].hint}"
    assert str(value).strip() not in shown, "a problem never shows the value"
    return problems[0].code


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("attribute", "text", "expected"), TEXT_TABLE, ids=[f"{a}={t}" for a, t, _e in TEXT_TABLE]
)
def test_text_dates_same_verdict_from_every_source(
    source: str, attribute: str, text: str, expected: str, tmp_path: Path
) -> None:
    assert through(source, attribute, text, tmp_path) == expected


# Date objects: YAML (unquoted), Arrow (date32, timestamp) and Python (a mapping).
OBJECT_TABLE: list[tuple[str, Any, str, str]] = [
    # (attribute, object, YAML as written, normalized or REFUSED)
    ("d", dt.date(2026, 1, 1), "2026-01-01", "2026-01-01"),
    ("d", dt.datetime(2026, 1, 1, 10, 0), "2026-01-01T10:00:00", REFUSED),
    ("t", dt.datetime(2026, 10, 2, 10, 0), "2026-10-02T10:00:00", "2026-10-02T10:00:00"),
    ("t", dt.datetime(2026, 10, 2, 10, 0, 0, 500000), "2026-10-02T10:00:00.5", None),
    ("t", dt.datetime(2026, 10, 2, 10, 0, tzinfo=dt.UTC), "2026-10-02T10:00:00Z", None),
    ("t", dt.date(2026, 10, 2), "2026-10-02", REFUSED),  # a date alone, as for text
]


@pytest.mark.parametrize("source", ["dict", "yaml", "parquet"])
@pytest.mark.parametrize(
    ("attribute", "value", "written", "expected"),
    OBJECT_TABLE,
    ids=[f"{a}={v!r}" for a, v, _w, _e in OBJECT_TABLE],
)
def test_date_objects_same_verdict_from_every_source(
    source: str, attribute: str, value: Any, written: str, expected: str | None, tmp_path: Path
) -> None:
    if expected is None:
        expected = value.isoformat()
    assert through(source, attribute, value, tmp_path, yaml=written) == expected
    if expected != REFUSED:  # the object and its ISO text are the same record
        assert through("jsonl", attribute, expected, tmp_path) == expected


def test_yaml_datetime_with_a_space_is_a_yaml_timestamp(tmp_path: Path) -> None:
    """Unquoted, YAML itself reads ``2026-10-02 10:00:00`` as a date and time (a typed value,
    written out in the one form); quoted it is text, in a refused form."""
    assert through("yaml", "t", None, tmp_path, yaml="2026-10-02 10:00:00") == (
        "2026-10-02T10:00:00"
    )
    assert through("yaml", "t", None, tmp_path, yaml='"2026-10-02 10:00:00"') == REFUSED
    assert through("yaml", "t", None, tmp_path, yaml="2026-10-02 10:00") == REFUSED  # text


def test_refused_dates_name_the_form_not_the_value() -> None:
    with pytest.raises(RecordError) as caught:
        check_record({"id": "C-1", "d": "20260101", "t": "2026-10-02 10:00"}, PROFILE)
    assert [(p.attribute, p.code, p.message) for p in caught.value.problems] == [
        ("d", "record.type", "d should be a date written YYYY-MM-DD, not text in another form"),
        (
            "t",
            "record.type",
            "t should be a date and time written YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM], not "
            "text in another form",
        ),
    ]
    assert caught.value.problems[0].hint.startswith("write the date as YYYY-MM-DD, e.g. ")
    assert caught.value.problems[1].hint.startswith(
        "write the date and time as YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM], e.g. "
    )
    assert "20260101" not in str(caught.value) and "10:00" not in str(caught.value)


# --------------------------------------------------------------------------- properties

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DATES = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
OFFSETS = st.one_of(
    st.none(),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
        lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
    ),
)
DATETIMES = st.builds(
    lambda day, time, tz: dt.datetime.combine(day, time, tzinfo=tz),
    DATES,
    st.times(),
    OFFSETS,
)


def _three_paths(record: dict[str, Any]) -> list[Any]:
    """What the full check, the fast walk and the compiled shape check make of ``record``:
    the normalized record, or the problems (the fast paths: None, "the full check decides")."""
    schema = _schema(PROFILE)
    schema.shapes.clear()  # room for this record's shape
    full, problems = _Checker(PROFILE, "record", None).run(record)
    return [
        full if full is not None else problems,
        _fast_check(record, schema),
        _shaped_check(record, schema),
    ]


def _same_value_everywhere(record: dict[str, Any], attribute: str, expected: str) -> None:
    full, fast, shaped = _three_paths(record)
    assert isinstance(full, dict) and full[attribute] == expected
    assert fast == full and shaped == full
    assert check_record(record, PROFILE) == full


def _refused_everywhere(record: dict[str, Any], attribute: str) -> None:
    problems, fast, shaped = _three_paths(record)
    assert [(p.code, p.attribute) for p in problems] == [("record.type", attribute)]
    assert fast is None and shaped is None
    with pytest.raises(RecordError):
        check_record(record, PROFILE)


def _date_spellings(day: dt.date) -> tuple[list[Any], list[str]]:
    """(accepted spellings of ``day``, refused ones that Python's fromisoformat reads as it)."""
    year, week, weekday = day.isocalendar()
    refused = [
        f"{day.year:04d}{day.month:02d}{day.day:02d}",  # basic form
        f"{year:04d}-W{week:02d}-{weekday}",  # week date
        f"{year:04d}W{week:02d}{weekday}",
    ]
    for text in refused:
        assert dt.date.fromisoformat(text) == day  # a spelling of the same day
    refused.append(f"{day.isoformat()}T00:00:00")  # a date and time
    accepted: list[Any] = [day.isoformat(), day]
    return accepted, refused


@PROPERTY
@given(DATES)
def test_every_accepted_spelling_of_a_date_is_its_one_iso_text(day: dt.date) -> None:
    accepted, refused = _date_spellings(day)
    for spelling in accepted:
        assert iso_date(spelling) == day.isoformat()
        _same_value_everywhere({"id": "C-1", "d": spelling}, "d", day.isoformat())
    for spelling in [*refused, dt.datetime.combine(day, dt.time())]:
        assert iso_date(spelling) is None
        _refused_everywhere({"id": "C-1", "d": spelling}, "d")


def _datetime_spellings(when: dt.datetime) -> tuple[list[Any], list[str]]:
    """(accepted spellings of ``when``, refused ones that fromisoformat reads as ``when``)."""
    canonical = when.isoformat()
    date, time = canonical[:10], canonical[11:]
    clock, offset = time[:8], time[8:]
    fraction = ""
    if offset.startswith("."):
        fraction, offset = offset[:7], offset[7:]
    accepted: list[Any] = [canonical, when]
    if fraction:
        accepted.append(f"{date}T{clock}{fraction.rstrip('0')}")  # .5 for .500000
        accepted[-1] += offset
    elif clock.endswith(":00"):
        accepted.append(f"{date}T{clock[:5]}{offset}")  # no seconds
    if offset == "+00:00":
        accepted.append(f"{date}T{clock}{fraction}Z")
    refused = [
        f"{date} {clock}{fraction}{offset}",  # a space for the T
        f"{date}t{clock}{fraction}{offset}",
        f"{date.replace('-', '')}T{clock.replace(':', '')}{fraction}{offset}",  # basic form
    ]
    if offset:
        refused.append(f"{date}T{clock}{fraction}{offset.replace(':', '')}")
    if fraction:
        refused.append(f"{date}T{clock},{fraction[1:]}{offset}")
    for text in refused:  # each a spelling of the same time
        assert dt.datetime.fromisoformat(text).isoformat() == canonical
    return accepted, refused


@PROPERTY
@given(DATETIMES)
def test_every_accepted_spelling_of_a_datetime_is_one_text(when: dt.datetime) -> None:
    accepted, refused = _datetime_spellings(when)
    for spelling in accepted:
        assert iso_datetime(spelling) == when.isoformat()
        _same_value_everywhere({"id": "C-1", "t": spelling}, "t", when.isoformat())
    for spelling in [*refused, when.date().isoformat(), when.date()]:
        assert iso_datetime(spelling) is None
        _refused_everywhere({"id": "C-1", "t": spelling}, "t")


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$eq": operator.eq,
    "$ne": operator.ne,
}


@PROPERTY
@given(DATES, DATES, st.sampled_from(sorted(COMPARISONS)), st.booleans())
def test_conditions_on_normalized_dates_compare_the_days(
    day: dt.date, bound: dt.date, op: str, as_object: bool
) -> None:
    """A condition written with the one ISO text compares the days, whatever spelling the
    record arrived in; other spellings in a condition are refused with the one to write."""
    constant = bound.isoformat()
    assert check_condition({"d": {op: constant}}, {"d": "date"}) == []
    record = check_record({"id": "C-1", "d": day if as_object else day.isoformat()}, PROFILE)
    assert evaluate({"d": {op: constant}}, record) is COMPARISONS[op](day, bound)
    _accepted, refused = _date_spellings(bound)
    for spelling in refused:
        [problem] = check_condition({"d": {op: spelling}}, {"d": "date"})
        assert problem.code == "condition.type_mismatch"
        if "T" not in spelling:  # another spelling of the day: the hint gives the one to write
            assert f'write "{constant}"' in problem.hint


@PROPERTY
@given(DATETIMES, DATETIMES, st.sampled_from(sorted(COMPARISONS)), st.data())
def test_conditions_on_normalized_datetimes_compare_the_times(
    when: dt.datetime, bound: dt.datetime, op: str, data: st.DataObject
) -> None:
    """With one offset (or none), text order is time order once both sides are normalized;
    a condition may also compare with a date alone (the start of that day)."""
    when = when.replace(tzinfo=bound.tzinfo)
    accepted, _refused = _datetime_spellings(when)
    record = check_record({"id": "C-1", "t": data.draw(st.sampled_from(accepted))}, PROFILE)
    constant = bound.isoformat()
    assert check_condition({"t": {op: constant}}, {"t": "datetime"}) == []
    assert evaluate({"t": {op: constant}}, record) is COMPARISONS[op](when, bound)
    start = bound.date().isoformat()
    assert check_condition({"t": {op: start}}, {"t": "datetime"}) == []
    if op in ("$lt", "$gte"):  # the start of the day, in text order
        midnight = dt.datetime.combine(bound.date(), dt.time(), tzinfo=bound.tzinfo)
        assert evaluate({"t": {op: start}}, record) is COMPARISONS[op](when, midnight)
    other, refused = _datetime_spellings(bound)
    for spelling in [*other[2:], *refused]:  # the canonical text and the object come first
        if spelling == constant:  # .000001 has no shorter spelling
            continue
        [problem] = check_condition({"t": {op: spelling}}, {"t": "datetime"})
        assert problem.code == "condition.type_mismatch"
        assert f'write "{constant}"' in problem.hint
