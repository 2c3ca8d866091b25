"""Send-time rendering on Apache Spark (optional extra ``atomic-content[spark]``, PySpark >= 4).

:func:`render_dataframe` renders one message for every row of a customer DataFrame and returns
a DataFrame with one row per customer: the columns of :func:`atomic_content.columnar.
output_columns` (customer id, audience, locale, variant, one column per message part, status,
error code, error attribute, error message). A bad record is an error row, never a failed job
and never a lost row.

How it runs:

* the bundle is zipped on the driver and shipped once per executor (a broadcast variable; under
  Spark Connect, where there is no SparkContext, inside the task closure instead);
* each Python worker unpacks and loads it once and keeps it (:data:`_BUNDLES`, keyed by the
  zip's SHA-256), so a task costs no bundle loading;
* only the columns the message needs are read (:meth:`atomic_content.bundle.Bundle.
  required_attributes`); rows travel as Arrow batches (``mapInArrow``) through the same
  per-record step as the local engine (:func:`atomic_content.columnar.render_arrow`).

Spark renders each row on its own: unlike the local engine it does not flag a second record
with the same id (deduplicate upstream, e.g. ``df.dropDuplicates(["id"])``).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import io
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bundle import Bundle, load_bundle
from .errors import UsageError
from .runtime import RecordRenderer, StatusCounts

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


def _require_spark() -> None:
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError(
            "the Spark engine needs PySpark and pyarrow",
            "install them with: pip install 'atomic-content[spark]'",
        ) from None


# --------------------------------------------------------------------------- shipping the bundle


def pack_bundle(root: Path) -> bytes:
    """The bundle folder as a deterministic zip (sorted names, fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


_BUNDLES: dict[str, Bundle] = {}
"""Bundles loaded in this Python process, by the SHA-256 of their zip: one load per worker."""
_LOCK = threading.Lock()


def cached_bundle(digest: str, payload: Callable[[], bytes]) -> Bundle:
    """The bundle whose zip has SHA-256 ``digest``, unpacked and loaded on first use.

    ``payload`` gives the zip's bytes (reading a broadcast variable); it is called only when
    this process has not loaded the bundle yet.
    """
    found = _BUNDLES.get(digest)
    if found is not None:
        return found
    with _LOCK:
        found = _BUNDLES.get(digest)
        if found is None:
            folder = Path(tempfile.mkdtemp(prefix="atomic-bundle-"))
            atexit.register(shutil.rmtree, folder, True)
            with zipfile.ZipFile(io.BytesIO(payload())) as archive:
                archive.extractall(folder)  # our own zip: names are relative, no ".."
            found = load_bundle(folder)
            if len(_BUNDLES) >= 8:  # a worker serves a few bundles; never grow without bound
                _BUNDLES.clear()
                _RENDERERS.clear()
            _BUNDLES[digest] = found
    return found


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Job:
    """What every task needs, pickled into the task closure (small: no bundle bytes)."""

    digest: str
    journey: str
    step: str
    channel: str
    on: dt.date
    locale: str | None
    locale_column: str | None
    part_names: tuple[str, ...]


def render_dataframe(
    df: DataFrame,
    bundle_path: Path | str,
    *,
    journey: str,
    step: str,
    channel: str,
    on: dt.date | None = None,
    locale: str | None = None,
    locale_column: str | None = None,
) -> DataFrame:
    """Render one message (``journey``/``step``/``channel``) for every customer row of ``df``.

    ``df`` holds customer attributes as columns (nested attributes as struct columns or flat
    dotted column names); only the columns the message needs are read, each row is checked
    against the profile like any other record. ``on`` is the send date (default today),
    ``locale`` forces one locale, ``locale_column`` names a column holding each row's locale
    (instead of the profile's locale attribute).

    Returns a lazy DataFrame with the columns of
    :func:`atomic_content.columnar.output_columns`, one row per input row. Raises UsageError
    on the driver for an unknown journey, step or channel, a send date outside the bundle's
    range or a missing ``locale_column``; nothing a row contains fails the job.
    """
    _require_spark()
    from pyspark.sql.functions import col
    from pyspark.sql.types import StringType, StructField, StructType

    from .columnar import ArrowRecords, output_columns

    bundle = load_bundle(bundle_path)
    renderer = RecordRenderer(
        bundle,
        journey=journey,
        step=step,
        channel=channel,
        on=on or dt.date.today(),
        locale=locale,
    )
    part_names = renderer.part_names
    records = ArrowRecords(bundle.profile, renderer.columns, df.columns, locale_column)
    columns = records.columns or df.columns[:1]
    payload = pack_bundle(bundle.root)
    job = _Job(
        hashlib.sha256(payload).hexdigest(),
        journey,
        step,
        channel,
        renderer.on,
        locale,
        locale_column,
        part_names,
    )
    schema = StructType(
        [StructField(name, StringType(), True) for name in output_columns(part_names)]
    )
    get_payload = _shipper(df.sparkSession, payload)

    def render_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _render_partition(job, get_payload, batches)

    selected = df.select(*[col(f"`{name}`") for name in columns])
    return selected.mapInArrow(render_partition, schema)


def _shipper(spark: SparkSession, payload: bytes) -> Callable[[], bytes]:
    """A picklable callable giving the bundle's zip on an executor: a broadcast variable
    (fetched once per executor), or the bytes themselves under Spark Connect."""
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect: no SparkContext (PySparkNotImplementedError & co.)
        context = None
    if context is None:
        return _Constant(payload)
    return _Broadcast(context.broadcast(payload))


class _Constant:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __call__(self) -> bytes:
        return self.payload


class _Broadcast:
    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def __call__(self) -> bytes:
        value: bytes = self.variable.value
        return value


def _render_partition(
    job: _Job, payload: Callable[[], bytes], batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """The Python worker's side: load (or reuse) the bundle, render every batch."""
    from .columnar import ArrowRecords, render_arrow

    bundle = cached_bundle(job.digest, payload)
    renderer = _renderer(bundle, job)
    records: ArrowRecords | None = None
    for batch in batches:
        if records is None:
            records = ArrowRecords(
                bundle.profile, renderer.columns, batch.schema.names, job.locale_column
            )
        yield render_arrow(renderer, records, batch, job.part_names)


_RENDERERS: dict[_Job, RecordRenderer] = {}


def _renderer(bundle: Bundle, job: _Job) -> RecordRenderer:
    found = _RENDERERS.get(job)
    if found is None:
        found = RecordRenderer(
            bundle,
            journey=job.journey,
            step=job.step,
            channel=job.channel,
            on=job.on,
            locale=job.locale,
        )
        if len(_RENDERERS) >= 64:
            _RENDERERS.clear()
        _RENDERERS[job] = found
    return found


# --------------------------------------------------------------------------- files


@dataclass
class SparkResult(StatusCounts):
    """Rows written by :func:`render_parquet`, counted by status, with the number of
    partitions and the seconds it took."""

    partitions: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, int]:
        return self.counts()


def session(master: str = "local[*]", app_name: str = "atomic-render") -> SparkSession:
    """A SparkSession for the command line: ``master`` (``local[*]`` by default, or a
    cluster's URL), no UI. In local mode the Python workers run this Python (where
    atomic-content is installed); on a cluster, the cluster's configuration decides."""
    _require_spark()
    import os
    import sys

    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # PySpark starts its Python workers with $PYSPARK_PYTHON (default: python3).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    builder = builder.config("spark.ui.enabled", "false")
    return builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()


def render_parquet(
    bundle_path: Path,
    customers: Path | str,
    out: Path | str,
    *,
    journey: str,
    step: str,
    channel: str,
    on: dt.date | None = None,
    locale: str | None = None,
    locale_column: str | None = None,
    master: str = "local[*]",
    spark: SparkSession | None = None,
    partitions: int | None = None,
) -> SparkResult:
    """``atomic render --engine spark``: customers from Parquet (a file or a folder of part
    files; any URL Spark reads), rows of :func:`render_dataframe` to Parquet at ``out`` (a
    folder of part files), counted by status.

    Uses ``spark`` or a session on ``master`` (:func:`session`). A local ``out`` must be new,
    empty or an earlier output (it is replaced); it may not overlap the customers or the
    bundle. The input is spread over at least ``partitions`` partitions (default: twice the
    default parallelism), so every core renders however few files the input has.
    """
    import time

    from .runtime import OUTPUT_MARKER, check_batch_paths

    started = time.perf_counter()
    bundle = load_bundle(bundle_path)
    RecordRenderer(  # UsageError for a bad request before Spark starts
        bundle, journey=journey, step=step, channel=channel, on=on or dt.date.today()
    )
    local_out = isinstance(out, Path)
    if isinstance(out, Path) and isinstance(customers, Path):
        check_batch_paths(customers, out, bundle.root, folder=True)
    spark = spark or session(master)
    df = spark.read.parquet(str(customers))
    wanted = partitions or 2 * spark.sparkContext.defaultParallelism
    if df.rdd.getNumPartitions() < wanted:
        df = df.repartition(wanted)
    rows = render_dataframe(
        df,
        bundle_path,
        journey=journey,
        step=step,
        channel=channel,
        on=on,
        locale=locale,
        locale_column=locale_column,
    )
    rows.write.mode("overwrite").parquet(str(out))
    if local_out:
        (Path(out) / OUTPUT_MARKER).write_text("written by atomic render\n", encoding="utf-8")
    written = spark.read.parquet(str(out))
    counts = {row["status"]: row["count"] for row in written.groupBy("status").count().collect()}
    return SparkResult(
        rendered=counts.get("rendered", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0),
        holdout=counts.get("holdout", 0),
        suppressed=counts.get("suppressed", 0),
        partitions=df.rdd.getNumPartitions(),
        seconds=time.perf_counter() - started,
    )


__all__ = [
    "SparkResult",
    "cached_bundle",
    "pack_bundle",
    "render_dataframe",
    "render_parquet",
    "session",
]
