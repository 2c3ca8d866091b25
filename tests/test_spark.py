"""The Spark engine (atomic_content.spark) in local mode with 2 cores: the same rows as the
local engine, row for row, for the demo customers and 100 000 generated ones; bad records are
error rows with the same status as locally, and never fail the job or other rows.

Skipped only when PySpark or Java is missing and ATOMIC_REQUIRE_SPARK is unset (CI sets it).
All tests share one SparkSession and run on one xdist worker (group ``spark``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from atomic_content.build import build
from atomic_content.bundle import load_bundle
from atomic_content.cli import main
from atomic_content.errors import UsageError
from atomic_content.runtime import OUTPUT_MARKER, render_batch
from conftest import DEMO_RECORD
from customerkit import write_demo_customers

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

DAY = dt.date(2026, 11, 22)
REPO = Path(__file__).resolve().parent.parent


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'atomic-content[spark]')"
    if shutil.which("java") is None:
        return "Java is not installed (Spark needs a JRE)"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("ATOMIC_REQUIRE_SPARK"):
            pytest.fail(f"ATOMIC_REQUIRE_SPARK is set but {reason}")
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("atomic-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark") / "dist"
    build(REPO / "content", out, on=DAY)
    return out


@pytest.fixture(scope="module")
def dist_experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with its welcome experiment running on DAY (control, personalized, holdout)."""
    root = tmp_path_factory.mktemp("spark-experiment")
    content = root / "content"
    shutil.copytree(REPO / "content", content)
    path = content / "experiments" / "welcome-personalization.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ("start: 2026-09-01", "start: 2026-11-01"),
        ("end: 2026-10-31", "end: 2026-12-31"),
        ("status: finished", "status: running"),
    ):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    build(content, root / "dist", on=DAY)
    return root / "dist"


def local_rows(dist: Path, customers: Path, out: Path, **message: str) -> pa.Table:
    render_batch(load_bundle(dist), customers, out=out, on=DAY, **message)  # type: ignore[arg-type]
    return pq.read_table(out).sort_by("customer_id")


def spark_rows(
    spark: Any, dist: Path, customers: Path, partitions: int = 2, **message: str
) -> pa.Table:
    from atomic_content.spark import render_dataframe

    df = spark.read.parquet(str(customers)).repartition(partitions)
    rows = render_dataframe(df, dist, on=DAY, **message)  # type: ignore[arg-type]
    return rows.toArrow().sort_by("customer_id")


def demo_table() -> pa.Table:
    yaml = YAML(typ="safe", pure=True)
    records = [
        yaml.load(path.read_text(encoding="utf-8"))["attributes"]
        for path in sorted((REPO / "content" / "customers").glob("*.yaml"))
    ]
    return pa.Table.from_struct_array(pa.array(records))  # columns: every record's keys


MESSAGES = [
    {"journey": "welcome", "step": "day-0", "channel": "email"},
    {"journey": "cart-recovery", "step": "nudge-1h", "channel": "app"},
    {"journey": "winback", "step": "miss-you", "channel": "email"},
    {"journey": "welcome", "step": "day-3", "channel": "microsite"},
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: "/".join(m.values()))
def test_demo_customers_same_rows_as_local_engine(
    spark: Any, dist: Path, tmp_path: Path, message: dict[str, str]
) -> None:
    customers = tmp_path / "demo.parquet"
    pq.write_table(demo_table(), customers)
    local = local_rows(dist, customers, tmp_path / "local.parquet", **message)
    remote = spark_rows(spark, dist, customers, **message)
    assert remote.schema == local.schema
    assert remote.to_pylist() == local.to_pylist()
    assert local.num_rows == 8
    assert set(local.column("status").to_pylist()) <= {"rendered", "skipped", "suppressed"}
    assert "rendered" in local.column("status").to_pylist()


def test_100_000_generated_customers_same_rows_as_local_engine(
    spark: Any, dist: Path, tmp_path: Path
) -> None:
    customers = write_demo_customers(tmp_path / "customers.parquet", 100_000, seed=16)
    message = {"journey": "welcome", "step": "day-0", "channel": "app"}
    local = local_rows(dist, customers, tmp_path / "local.parquet", **message)
    remote = spark_rows(spark, dist, customers, partitions=4, **message)
    assert remote.num_rows == local.num_rows == 100_000
    assert remote.equals(local)
    audiences = set(local.column("audience").to_pylist())
    assert {"generic", "new-customer", "deal-seeker", "mobile-first", "dach"} <= audiences
    assert set(local.column("locale").to_pylist()) == {"en", "de", "de-AT"}


def test_experiment_arms_same_rows_as_local_engine(
    spark: Any, dist_experiment: Path, tmp_path: Path
) -> None:
    customers = write_demo_customers(tmp_path / "customers.parquet", 3_000, seed=14)
    message = {"journey": "welcome", "step": "day-0", "channel": "email"}
    local = local_rows(dist_experiment, customers, tmp_path / "local.parquet", **message)
    remote = spark_rows(spark, dist_experiment, customers, **message)
    assert remote.equals(local)
    everyone = local.to_pylist()
    # Customers without consent to marketing email get no message and no arm.
    suppressed = [r for r in everyone if r["status"] == "suppressed"]
    assert suppressed and all(r["arm"] is None for r in suppressed)
    rows = [r for r in everyone if r["status"] != "suppressed"]
    assert {r["arm"] for r in rows} == {"control", "personalized", "holdout"}
    assert {r["experiment"] for r in rows} == {"welcome-personalization-2026"}
    for row in rows:
        if row["arm"] == "holdout":  # no message, on purpose
            assert (row["status"], row["variant"], row["subject"]) == ("holdout", None, None)
        else:
            assert row["status"] == "rendered"
        if row["arm"] == "control":  # the generic variant of every message
            assert row["variant"].endswith("/generic")


def bad_records_table() -> pa.Table:
    good = {
        "id": "G-1",
        "first_name": "Ada",
        "locale": "en",
        "address": {"country": "DE"},
        "orders": {"count": 3},
        "app_installed": True,
        "sessions_mobile_share": 0.5,
        "discount_affinity": 0.1,
        "consent": {"personalization": True, "email_marketing": True, "profiling": True},
        "signup_date": "2020-01-01",
    }
    rows = [
        good,
        {**good, "id": "B-type", "signup_date": "not a date"},  # wrong type (text, not a date)
        {**good, "id": "B-missing", "app_installed": None},  # required attribute missing
        # refused personalization (the other consents given)
        {
            **good,
            "id": "B-consent",
            "consent": {"personalization": False, "email_marketing": True, "profiling": True},
        },
        {**good, "id": "B-consent-null", "consent": None},  # consent missing: unclear
        # A name that pushes the push payload over the hard 4 KiB limit of the app channel.
        {**good, "id": "B-poison", "first_name": "Eve" * 2000, "sessions_mobile_share": 0.9},
        {**good, "id": "G-2", "first_name": "Bo", "email": "ignored@example.com"},
        {**good, "id": "G-3", "unknown_column": 1},  # columns the message does not read: ignored
    ]
    return pa.Table.from_struct_array(pa.array(rows))


EXPECTED = {
    "B-consent": ("rendered", None, None, "generic"),
    "B-consent-null": ("failed", "record.missing_attribute", "consent.personalization", None),
    "B-missing": ("failed", "record.missing_attribute", "app_installed", None),
    "B-poison": ("failed", "app.push_payload_too_large", None, None),
    "B-type": ("failed", "record.type", "signup_date", None),
    "G-1": ("rendered", None, None, "dach"),
    "G-2": ("rendered", None, None, "dach"),
    "G-3": ("rendered", None, None, "dach"),
}


def test_bad_records_same_status_as_locally_and_never_fail_the_partition(
    spark: Any, dist: Path, tmp_path: Path
) -> None:
    customers = tmp_path / "bad.parquet"
    pq.write_table(bad_records_table(), customers)
    message = {"journey": "welcome", "step": "day-0", "channel": "app"}
    local = local_rows(dist, customers, tmp_path / "local.parquet", **message)
    # One partition: the poisoned record shares it with every other record.
    remote = spark_rows(spark, dist, customers, partitions=1, **message)
    assert remote.equals(local)
    got = {
        row["customer_id"]: (
            row["status"],
            row["error_code"],
            row["error_attribute"],
            row["audience"],
        )
        for row in remote.to_pylist()
    }
    assert got == EXPECTED
    for row in remote.to_pylist():  # an error message never holds the customer's value
        assert "EveEve" not in (row["error_message"] or "")
        assert "not a date" not in (row["error_message"] or "")


def test_date_spellings_same_status_as_locally(spark: Any, dist: Path, tmp_path: Path) -> None:
    """Spark rows of records that differ only in how ``signup_date`` is spelled: the one form
    (text or an Arrow date) is a date, every other ISO 8601 spelling a ``record.type`` error
    (they used to reach the ``new-customer`` segment, ``signup_date >= "2026-09-01"`` as text)."""
    good = {key: value for key, value in DEMO_RECORD.items() if key != "signup_date"}
    spellings = {
        "D-text-new": ("2026-10-01", "new-customer"),
        "D-text-old": ("2026-01-01", "generic"),
        "D-basic": ("20260101", "record.type"),
        "D-week": ("2026-W01-4", "record.type"),
        "D-datetime": ("2026-10-01T00:00:00", "record.type"),
    }
    text = pa.Table.from_pylist(
        [{**good, "id": key, "signup_date": value} for key, (value, _) in spellings.items()]
    )
    dates = pa.Table.from_pylist(
        [
            {**good, "id": "D-arrow-new", "signup_date": dt.date(2026, 10, 1)},
            {**good, "id": "D-arrow-old", "signup_date": dt.date(2026, 1, 1)},
        ]
    )
    message = {"journey": "welcome", "step": "day-0", "channel": "email"}
    got = {}
    for name, table in (("text", text), ("dates", dates)):
        customers = tmp_path / f"{name}.parquet"
        pq.write_table(table, customers)
        local = local_rows(dist, customers, tmp_path / f"{name}-local.parquet", **message)
        remote = spark_rows(spark, dist, customers, partitions=1, **message)
        assert remote.equals(local)
        got.update({r["customer_id"]: r["error_code"] or r["audience"] for r in remote.to_pylist()})
    assert got == {
        **{key: outcome for key, (_value, outcome) in spellings.items()},
        "D-arrow-new": "new-customer",
        "D-arrow-old": "generic",
    }


def test_only_the_columns_the_message_needs_are_read(spark: Any, dist: Path) -> None:
    from atomic_content.spark import render_dataframe

    bundle = load_bundle(dist)
    needed = bundle.required_attributes("welcome", "day-0", "email")
    assert "first_name" in needed and "address.country" in needed
    assert not {"last_name", "email", "lifetime_value", "cart.top_item"} & set(needed)
    df = spark.createDataFrame(demo_table().to_pandas())
    plan = (
        render_dataframe(df, dist, journey="welcome", step="day-0", channel="email", on=DAY)
        ._jdf.queryExecution()
        .optimizedPlan()
        .toString()
    )
    assert "first_name" in plan
    assert "last_name" not in plan and "lifetime_value" not in plan


def test_request_errors_are_raised_on_the_driver(spark: Any, dist: Path) -> None:
    from atomic_content.spark import render_dataframe

    df = spark.createDataFrame([("C-1",)], ["id"])
    with pytest.raises(UsageError, match="journey"):
        render_dataframe(df, dist, journey="nope", step="day-0", channel="email", on=DAY)
    with pytest.raises(UsageError, match="covers"):
        render_dataframe(
            df, dist, journey="welcome", step="day-0", channel="email", on=dt.date(2020, 1, 1)
        )
    with pytest.raises(UsageError, match="no column 'lang'"):
        render_dataframe(
            df, dist, journey="welcome", step="day-0", channel="email", on=DAY, locale_column="lang"
        )


def test_locale_column_overrides_each_rows_locale(spark: Any, dist: Path) -> None:
    from atomic_content.spark import render_dataframe

    table = demo_table().append_column("lang", pa.array(["en"] * 8))
    df = spark.createDataFrame(table.to_pandas())
    rows = render_dataframe(
        df, dist, journey="welcome", step="day-0", channel="email", on=DAY, locale_column="lang"
    ).toArrow()
    rendered = [r for r in rows.to_pylist() if r["status"] == "rendered"]
    assert rendered and {r["locale"] for r in rendered} == {"en"}


def test_cli_engine_spark_writes_parquet_rows(spark: Any, dist: Path, tmp_path: Path) -> None:
    customers = tmp_path / "demo.parquet"
    pq.write_table(demo_table(), customers)
    out = tmp_path / "messages.parquet"
    args = [
        "render",
        "--engine",
        "spark",
        "--master",
        "local[2]",
        "--bundle",
        str(dist),
        "--customers",
        str(customers),
        "--journey",
        "winback",
        "--step",
        "miss-you",
        "--channel",
        "email",
        "--date",
        DAY.isoformat(),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("rendered 2, failed 0, skipped 6 (")
    assert (out / OUTPUT_MARKER).is_file()
    local = local_rows(
        dist,
        customers,
        tmp_path / "local.parquet",
        journey="winback",
        step="miss-you",
        channel="email",
    )
    assert pq.read_table(out).sort_by("customer_id").equals(local)
    # Again: an earlier output is replaced; a folder `atomic render` did not write is refused.
    assert CliRunner().invoke(main, args).exit_code == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    refused = CliRunner().invoke(main, [*args[:-1], str(foreign)])
    assert refused.exit_code == 2
    assert "did not write" in refused.output
    assert (foreign / "keep.txt").read_text() == "mine"
