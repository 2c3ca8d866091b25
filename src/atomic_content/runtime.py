"""Batch rendering for sending systems: many customers in, one message each out.

:func:`render_batch` streams customer records (JSON Lines or CSV) through a loaded bundle in
constant memory. A bad record is reported with its line number and reason and does not stop the
batch; customers outside the journey's entry audience are *skipped*; the result counts rendered,
failed and skipped records, so nothing disappears silently.

Output is either JSON Lines (``--out messages.jsonl``: one object per rendered customer) or a
folder with one sub-folder per customer holding the message's files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .bundle import Bundle
from .errors import AtomicError, RenderError, ResolutionError, UsageError
from .models import AttributeType

ProgressCallback = Callable[[int], None]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RecordProblem:
    line: int
    customer_id: str | None
    code: str
    reason: str


@dataclass
class BatchResult:
    rendered: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list[RecordProblem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.rendered + self.failed + self.skipped

    def to_dict(self) -> dict[str, Any]:
        return {
            "rendered": self.rendered,
            "failed": self.failed,
            "skipped": self.skipped,
            "problems": [
                {"line": p.line, "customer": p.customer_id, "code": p.code, "reason": p.reason}
                for p in self.problems
            ],
        }


def _coerce(kind: AttributeType, raw: str) -> Any:
    """A CSV cell as the profile's type says; raises ValueError with a reason."""
    if kind is AttributeType.INTEGER:
        return int(raw)
    if kind is AttributeType.NUMBER:
        return float(raw)
    if kind is AttributeType.BOOLEAN:
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"{raw!r} is not true or false")
    if kind is AttributeType.LIST:
        return [item.strip() for item in raw.split("|") if item.strip()]
    if kind is AttributeType.DATE:
        return dt.date.fromisoformat(raw).isoformat()
    return raw


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        parts = path.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def read_records(
    handle: IO[str], fmt: str, types: dict[str, AttributeType]
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, record or None, error reason or None) one record at a time."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        for row in reader:
            line = reader.line_num
            try:
                flat = {}
                for column, cell in row.items():
                    if column is None:
                        raise ValueError("more cells than header columns")
                    if cell is None or cell == "":
                        continue
                    kind = types.get(column)
                    if kind is None:
                        raise ValueError(f"column {column!r} is not a declared attribute")
                    flat[column] = _coerce(kind, cell)
                yield line, _nest(flat), None
            except ValueError as exc:
                yield line, None, str(exc)
        return
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, None, f"not valid JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(record, dict):
            yield number, None, "a record must be a JSON object"
            continue
        yield number, record, None


def _customer_folder(out: Path, customer_id: str, line: int) -> Path:
    name = _SAFE_NAME.sub("_", customer_id).strip("._") or f"line-{line}"
    target = out / name
    if not target.resolve().is_relative_to(out.resolve()):
        raise AtomicError(f"refusing to write outside {out.as_posix()}")
    return target


def render_batch(
    bundle: Bundle,
    customers: Path,
    *,
    journey: str,
    step: str,
    channel: str,
    out: Path,
    locale: str | None = None,
    on: dt.date | None = None,
    progress: ProgressCallback | None = None,
) -> BatchResult:
    """Render a message for every customer record in ``customers`` into ``out``.

    Format by extension: ``.csv`` is CSV (dotted column names, cells typed by the profile,
    lists separated by ``|``), anything else JSON Lines. ``out`` ending in ``.jsonl`` gets JSON
    Lines; otherwise a folder with one sub-folder per customer. Raises UsageError for unknown
    journey/step/channel before reading any record.
    """
    bundle.router.message(journey, step, channel, None)  # UsageError before any record
    journey_model = bundle.router.journeys[journey]
    index = bundle.router.index
    types = {name: spec.type for name, spec in bundle.profile.attributes.items()}
    fmt = "csv" if customers.suffix.lower() == ".csv" else "jsonl"
    result = BatchResult()
    to_jsonl = out.suffix == ".jsonl"
    if to_jsonl:
        out.parent.mkdir(parents=True, exist_ok=True)
    else:
        out.mkdir(parents=True, exist_ok=True)
    try:
        source = customers.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot read {customers.as_posix()}: {exc.strerror or exc}") from None
    with source, out.open("w", encoding="utf-8") if to_jsonl else _NullWriter() as sink:
        for line, record, error in read_records(source, fmt, types):
            if record is None:
                result.failed += 1
                result.problems.append(
                    RecordProblem(line, None, "record.invalid", error or "invalid")
                )
            else:
                customer_id = index.customer_id(record)
                if not index.in_journey_audience(record, journey_model):
                    result.skipped += 1
                    result.problems.append(
                        RecordProblem(
                            line,
                            customer_id,
                            "record.not_in_audience",
                            "not in the journey's audience",
                        )
                    )
                else:
                    try:
                        message = bundle.render(
                            record,
                            journey=journey,
                            step=step,
                            channel=channel,
                            locale=locale,
                            on=on,
                        )
                    except (RenderError, ResolutionError) as exc:
                        result.failed += 1
                        code = (
                            exc.code
                            if isinstance(exc, RenderError)
                            else "resolve.missing_required_slot"
                        )
                        reason = (
                            exc.message
                            if isinstance(exc, RenderError)
                            else "; ".join(d.message for d in exc.diagnostics)
                        )
                        result.problems.append(RecordProblem(line, customer_id, code, reason))
                    else:
                        result.rendered += 1
                        parts = dict(sorted(message.parts.items()))
                        if to_jsonl:
                            sink.write(
                                json.dumps(
                                    {
                                        "line": line,
                                        "customer": customer_id,
                                        "locale": message.key.locale,
                                        "parts": parts,
                                    },
                                    ensure_ascii=False,
                                    sort_keys=True,
                                )
                                + "\n"
                            )
                        else:
                            folder = _customer_folder(out, customer_id or f"line-{line}", line)
                            folder.mkdir(parents=True, exist_ok=True)
                            for name, text in parts.items():
                                filename = message.filenames.get(name, name)
                                (folder / _SAFE_NAME.sub("_", filename)).write_text(
                                    text, encoding="utf-8"
                                )
            if progress:
                progress(result.total)
    return result


class _NullWriter:
    def __enter__(self) -> _NullWriter:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def write(self, text: str) -> int:
        return 0
