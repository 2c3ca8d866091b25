"""Columnar customer data: Arrow record batches in, one row per record out (needs pyarrow).

The local engine's Parquet input and output and the Spark engine (:mod:`atomic_content.spark`)
share everything here, so a customer table gives the same rows on either engine:

* :class:`ArrowRecords` reads only the columns the message needs
  (:meth:`atomic_content.bundle.Bundle.required_attributes`); nested struct columns are nested
  mappings (``address.country`` from a struct column ``address`` or a flat column named
  ``address.country``), a null is a missing attribute (as an empty CSV cell), decimals are
  numbers; Arrow dates and timestamps stay date objects, which the record check turns into
  their ISO text (or refuses: a date alone is not a date and time). Each row then goes
  through the one record check
  (:func:`atomic_content.records.inspect_record`) against the profile's attributes the message
  needs: a column the message does not read can neither fail nor change a record.
* :func:`outcome_batch` turns :class:`~atomic_content.runtime.RecordOutcome` s into rows of
  :func:`output_schema`: ``customer_id``, ``audience``, ``experiment`` and ``arm`` (when an
  experiment covers the message), ``locale``, ``variant``, one column per
  message part (``subject``, ``html``, ``push_json`` ...: :func:`part_column`), ``status``
  (rendered, failed, skipped, holdout, suppressed), ``error_code``, ``error_attribute`` and
  ``error_message`` (never a customer value).
* :func:`render_arrow` is the whole per-batch step: records, the shared per-record logic
  (:class:`~atomic_content.runtime.RecordRenderer`), rows.
"""

from __future__ import annotations

import decimal
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UsageError
from .models import Profile
from .records import RecordResult, inspect_record
from .runtime import OutcomeSink, RecordOutcome, RecordRenderer

LEADING_COLUMNS = ("customer_id", "audience", "experiment", "arm", "locale", "variant")
"""The output's first columns; the message's parts follow, then :data:`STATUS_COLUMNS`."""

STATUS_COLUMNS = ("status", "error_code", "error_attribute", "error_message")
"""The output's last columns: what became of the record, and why when it was not rendered."""

BATCH_ROWS = 4096
"""Rows per Arrow batch the local engine reads and writes."""


def part_column(part_name: str) -> str:
    """The output column of a message part: its name with every character other than a
    letter, digit or ``_`` as ``_`` (``push.json`` -> ``push_json``), so that SQL can name it."""
    return re.sub(r"[^A-Za-z0-9_]", "_", part_name)


def output_columns(part_names: Sequence[str]) -> tuple[str, ...]:
    """The output's column names: :data:`LEADING_COLUMNS`, one per part
    (:func:`part_column`), :data:`STATUS_COLUMNS`."""
    parts = [part_column(name) for name in part_names]
    fixed = set(LEADING_COLUMNS) | set(STATUS_COLUMNS)
    clash = sorted(set(parts) & fixed)
    if clash or len(set(parts)) != len(parts):  # channels name their parts; none does this
        raise ValueError(f"message parts {sorted(part_names)} clash as output columns")
    return (*LEADING_COLUMNS, *parts, *STATUS_COLUMNS)


def output_schema(part_names: Sequence[str]) -> pa.Schema:
    """The output's Arrow schema: every column nullable text (see :func:`output_columns`)."""
    return pa.schema([pa.field(name, pa.string()) for name in output_columns(part_names)])


def is_output_file(path: Path) -> bool:
    """Whether ``path`` is a Parquet file laid out as render's output (text columns,
    :data:`LEADING_COLUMNS` first and :data:`STATUS_COLUMNS` last): an earlier render's output,
    which a render may replace. Anything unreadable is not."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return False
    names = tuple(schema.names)
    return (
        names[: len(LEADING_COLUMNS)] == LEADING_COLUMNS
        and names[-len(STATUS_COLUMNS) :] == STATUS_COLUMNS
        and all(field.type == pa.string() for field in schema)
    )


def outcome_batch(outcomes: Sequence[RecordOutcome], part_names: Sequence[str]) -> pa.RecordBatch:
    """One output row per outcome, in order."""
    columns: dict[str, list[str | None]] = {
        "customer_id": [o.customer_id for o in outcomes],
        "audience": [o.audience for o in outcomes],
        "experiment": [o.experiment for o in outcomes],
        "arm": [o.arm for o in outcomes],
        "locale": [o.locale for o in outcomes],
        "variant": [o.variant for o in outcomes],
    }
    for name in part_names:
        columns[part_column(name)] = [
            o.message.parts.get(name) if o.message else None for o in outcomes
        ]
    columns["status"] = [o.status for o in outcomes]
    columns["error_code"] = [o.error_code for o in outcomes]
    columns["error_attribute"] = [o.error_attribute for o in outcomes]
    columns["error_message"] = [o.error_message for o in outcomes]
    return pa.RecordBatch.from_pydict(columns, schema=output_schema(part_names))


# --------------------------------------------------------------------------- input


class ArrowRecords:
    """Customer records from Arrow batches: only the attributes in ``needed``, checked.

    ``available`` are the table's top-level column names; :attr:`columns` are those to read
    (an attribute, a struct holding attributes, or ``locale_column``).
    """

    def __init__(
        self,
        profile: Profile,
        needed: Iterable[str],
        available: Sequence[str],
        locale_column: str | None = None,
    ) -> None:
        wanted = frozenset(needed) & frozenset(profile.attributes)
        self.profile = profile.model_copy(
            update={
                "attributes": {k: v for k, v in profile.attributes.items() if k in wanted},
            }
        )
        self.leaves = wanted
        self.prefixes = frozenset(
            ".".join(name.split(".")[:i]) for name in wanted for i in range(1, name.count(".") + 1)
        )
        if locale_column is not None and locale_column not in available:
            raise UsageError(
                f"the customer table has no column {locale_column!r} (--locale-column)",
                f"its columns: {', '.join(available[:12])}",
            )
        self.locale_column = locale_column
        self.columns = [
            name
            for name in available
            if name in self.leaves or name in self.prefixes or name == locale_column
        ]

    def results(
        self, batch: pa.RecordBatch, first_line: int = 1
    ) -> list[tuple[RecordResult, str | None]]:
        """(checked record or its problems, the row's locale override) per row, in order.

        ``first_line`` numbers the rows (1-based, as lines of a file)."""
        rows = _rows(batch)
        results: list[tuple[RecordResult, str | None]] = []
        for offset, row in enumerate(rows):
            line = first_line + offset
            if isinstance(row, _Unreadable):
                results.append((_unreadable(line, row.column), None))
                continue
            locale = row.get(self.locale_column) if self.locale_column else None
            data = self.prune(row, "")
            record, problems = inspect_record(data, self.profile, where=f"row {line}", line=line)
            customer_id = problems[0].customer_id if problems else None
            results.append(
                (
                    RecordResult(line, record, problems, customer_id),
                    locale if isinstance(locale, str) else None,
                )
            )
        return results

    def prune(self, row: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The needed attributes of one row: nulls left out, structs as mappings, decimals as
        floats; dates and values of the wrong kind are kept for the record check to normalize
        or report."""
        data: dict[str, Any] = {}
        for key, value in row.items():
            path = base + key
            if value is None:
                continue
            if path in self.leaves:
                kind = type(value)
                if kind is decimal.Decimal:
                    value = float(value)
                data[key] = value
            elif path in self.prefixes:
                data[key] = self.prune(value, path + ".") if isinstance(value, dict) else value
        return data


class _Unreadable:
    """A row Arrow cannot turn into Python values (a date beyond year 9999 ...)."""

    def __init__(self, column: str | None) -> None:
        self.column = column


def _rows(batch: pa.RecordBatch) -> list[dict[str, Any] | _Unreadable]:
    try:
        return list(batch.to_pylist())
    except (ValueError, OverflowError, pa.ArrowException):
        pass
    rows: list[dict[str, Any] | _Unreadable] = []
    for index in range(batch.num_rows):  # one bad value fails its row, not the batch
        one = batch.slice(index, 1)
        row: dict[str, Any] = {}
        bad: str | None = None
        for name, column in zip(one.schema.names, one.columns, strict=True):
            try:
                row[name] = column.to_pylist()[0]
            except (ValueError, OverflowError, pa.ArrowException):
                bad = name
                break
        rows.append(_Unreadable(bad) if bad is not None else row)
    return rows


def _unreadable(line: int, column: str | None) -> RecordResult:
    from .records import RecordProblem

    return RecordResult(
        line,
        None,
        (
            RecordProblem(
                f"row {line}",
                line,
                None,
                column,
                "record.type",
                f"{column} holds a value that cannot be read (out of range for its type)",
                "check the export: this looks like a broken field",
            ),
        ),
    )


def render_arrow(
    renderer: RecordRenderer,
    records: ArrowRecords,
    batch: pa.RecordBatch,
    part_names: Sequence[str],
    first_line: int = 1,
) -> pa.RecordBatch:
    """Render one Arrow batch of customers into one batch of output rows (same order)."""
    outcomes = [
        renderer.outcome(item, locale=locale) for item, locale in records.results(batch, first_line)
    ]
    return outcome_batch(outcomes, part_names)


# --------------------------------------------------------------------------- Parquet files


def read_parquet(path: Path, profile: Profile, needed: Iterable[str]) -> Iterator[RecordResult]:
    """Stream the records of a Parquet file (rows numbered from 1), reading only the columns
    the message needs. UsageError when the file cannot be opened as Parquet."""
    try:
        source = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise UsageError(f"cannot read {path.as_posix()} as Parquet: {exc}") from None
    records = ArrowRecords(profile, needed, source.schema_arrow.names)
    # Reading no column at all would lose the row count: read one (it is ignored).
    columns = records.columns or source.schema_arrow.names[:1]
    return _parquet_records(source, records, columns)


def _parquet_records(
    source: pq.ParquetFile, records: ArrowRecords, columns: list[str]
) -> Iterator[RecordResult]:
    line = 1
    with source:
        for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            for item, _locale in records.results(batch, line):
                yield item
            line += batch.num_rows


class ParquetSink(OutcomeSink):
    """Output rows written to a Parquet file: a temporary file renamed when complete."""

    def __init__(self, out: Path, part_names: Sequence[str]) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.partial = out.with_name(f".{out.name}.partial")
        self.part_names = tuple(part_names)
        self.writer = pq.ParquetWriter(self.partial, output_schema(self.part_names))
        self.pending: list[RecordOutcome] = []

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, kind: object, *args: object) -> None:
        if kind is None:
            self.flush()
        self.writer.close()
        if kind is None:
            os.replace(self.partial, self.out)

    def write(self, outcome: RecordOutcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.writer.write_batch(outcome_batch(self.pending, self.part_names))
            self.pending = []


__all__ = [
    "LEADING_COLUMNS",
    "STATUS_COLUMNS",
    "ArrowRecords",
    "ParquetSink",
    "is_output_file",
    "outcome_batch",
    "output_columns",
    "output_schema",
    "read_parquet",
    "render_arrow",
]
