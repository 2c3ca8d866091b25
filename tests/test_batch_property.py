"""Property: batch rendering accounts for every record exactly once, whatever the records are.

Random JSON Lines and CSV inputs — valid customers, wrong types, unknown attributes, broken JSON,
deep nesting, huge numbers, duplicate ids, ids too long for a folder name — go through
``render_batch``; every record is rendered, failed or skipped exactly once, nothing raises, and no
customer value reaches a problem's text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomic_content.build import build
from atomic_content.bundle import Bundle, load_bundle
from atomic_content.runtime import render_batch

DEMO = Path(__file__).resolve().parent.parent / "content"
DAY = dt.date(2026, 12, 1)
CANARY = "CANARY-7f3a"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    root = tmp_path_factory.mktemp("batch")
    content = root / "content"
    shutil.copytree(DEMO, content)
    build(content, root / "dist", on=DAY, jobs=1)
    return load_bundle(root / "dist")


def valid(number: int) -> dict[str, Any]:
    return {
        "id": f"C-{number}",
        "email": f"c{number}@example.com",
        "locale": "de",
        "tier": "gold",
        "orders": {"count": 3},
        "lifetime_value": 10.5,
        "app_installed": True,
        "sessions_mobile_share": 0.5,
        "discount_affinity": 0.7,
        "last_active_days": 90,
        "signup_date": "2026-11-25",
        "consent": {"personalization": True, "email_marketing": True, "profiling": True},
        "first_name": "Ann",
    }


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20).map(lambda t: CANARY + t),
)
mutation = st.tuples(
    st.sampled_from(
        ["first_name", "tier", "orders", "consent", "lifetime_value", "id", "nosuch", "locale"]
    ),
    st.one_of(
        scalar,
        st.lists(scalar, max_size=3),
        st.dictionaries(st.text(max_size=5), scalar, max_size=3),
    ),
)
line = st.one_of(
    st.builds(lambda n, m: {**valid(n), m[0]: m[1]}, st.integers(0, 5), mutation),
    st.builds(valid, st.integers(0, 5)),  # small id range: duplicates happen
    st.just("{not json"),
    st.just("[" * 5000 + "]" * 5000),
    st.just('{"id": "' + "x" * 400 + '"}'),
    st.just('{"orders": {"count": ' + "9" * 5000 + "}}"),
)


def encode(item: dict[str, Any] | str) -> str:
    return item if isinstance(item, str) else json.dumps(item)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(line, min_size=1, max_size=12), to_folder=st.booleans())
def test_every_json_record_is_accounted_for_once(
    bundle: Bundle, tmp_path_factory: pytest.TempPathFactory, items: list[Any], to_folder: bool
) -> None:
    folder = tmp_path_factory.mktemp("run")
    source = folder / "customers.jsonl"
    source.write_text("".join(encode(i) + "\n" for i in items), encoding="utf-8")
    out = folder / ("out" if to_folder else "out.jsonl")
    result = render_batch(
        bundle, source, journey="welcome", step="day-0", channel="email", out=out, on=DAY
    )
    assert result.total == len(items)
    lines = {p.line for p in result.problems if p.code != "record.not_in_audience"}
    assert len(lines) == result.failed
    for problem in result.problems:
        assert CANARY not in problem.reason


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 4),
            st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
            st.sampled_from(["true", "FALSE", "yes", "", "1"]),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_every_csv_row_is_accounted_for_once(
    bundle: Bundle, tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, str, str]]
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = [
        "id",
        "email",
        "locale",
        "tier",
        "orders.count",
        "lifetime_value",
        "app_installed",
        "sessions_mobile_share",
        "discount_affinity",
        "last_active_days",
        "signup_date",
        "consent.personalization",
        "consent.email_marketing",
        "first_name",
    ]
    writer.writerow(columns)
    for number, name, consent in rows:
        writer.writerow(
            [
                f"C-{number}",
                "c@example.com",
                "en",
                "gold",
                "2",
                "1.5",
                "true",
                "0.5",
                "0.1",
                "90",
                "2026-11-25",
                consent,
                "true",
                CANARY + name,
            ]
        )
    source = folder / "customers.csv"
    source.write_text(buffer.getvalue(), encoding="utf-8")
    result = render_batch(
        bundle,
        source,
        journey="welcome",
        step="day-0",
        channel="email",
        out=folder / "out.jsonl",
        on=DAY,
    )
    assert result.total == len(rows)
    for problem in result.problems:
        assert CANARY not in problem.reason


def test_a_message_over_a_hard_limit_is_an_error_row_not_shipped(
    bundle: Bundle, tmp_path: Path
) -> None:
    """Hard channel limits are measured per customer at send time: a subject that a customer's
    value pushes over 150 characters is an error for that record, and the others still render."""
    short = {**valid(1), "tier": "bronze", "cart": {"items": 2, "top_item": "Fjell 3L Rain Shell"}}
    long = {**valid(2), "tier": "bronze", "cart": {"items": 2, "top_item": "Rain Shell " * 20}}
    source = tmp_path / "customers.jsonl"
    source.write_text(json.dumps(short) + "\n" + json.dumps(long) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = render_batch(
        bundle,
        source,
        journey="cart-recovery",
        step="reminder-24h",
        channel="email",
        out=out,
        on=DAY,
    )
    assert (result.rendered, result.failed, result.skipped) == (1, 1, 0)
    [problem] = result.problems
    assert (problem.line, problem.code) == (2, "email.subject_too_long")
    assert "Rain Shell" not in problem.reason
    [line] = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert line["customer"] == "C-1"
