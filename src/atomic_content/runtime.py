"""Batch rendering for sending systems: many customers in, one message each out.

:func:`render_batch` streams customer records (JSON Lines or CSV) through a loaded bundle in
constant memory. A bad record is reported with its line number and reason and does not stop the
batch; customers outside the journey's entry audience are *skipped*; the result counts rendered,
failed and skipped records, so nothing disappears silently.

Output is either JSON Lines (``--out messages.jsonl``: one object per rendered customer) or a
folder with one sub-folder per customer holding the message's files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundle import Bundle
from .conditions import compile_condition
from .errors import AtomicError, RenderError, ResolutionError, UsageError
from .models import Profile
from .records import RecordFormat, read_records

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
    library = bundle.library
    bundle.resolver.select_messages(journey, step, channel)  # UsageError before any record
    journey_model = bundle.resolver.journey(journey)
    audience = compile_condition(journey_model.audience) if journey_model.audience else None
    # A loaded bundle always has a profile; without one every attribute would be unknown.
    profile = library.profile or Profile(attributes={})
    fmt: RecordFormat = "csv" if customers.suffix.lower() == ".csv" else "jsonl"
    result = BatchResult()
    to_jsonl = out.suffix == ".jsonl"
    if to_jsonl:
        out.parent.mkdir(parents=True, exist_ok=True)
    else:
        out.mkdir(parents=True, exist_ok=True)
    try:
        # Binary: records.read_records decodes line by line, so one bad byte fails one record.
        source = customers.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {customers.as_posix()}: {exc.strerror or exc}") from None
    with source, out.open("w", encoding="utf-8") if to_jsonl else _NullWriter() as sink:
        for item in read_records(source, fmt, profile):
            line, record = item.line, item.record
            if record is None:
                result.failed += 1
                result.problems.extend(
                    RecordProblem(line, item.customer_id, problem.code, problem.message)
                    for problem in item.problems
                )
            else:
                customer_id = bundle.resolver.segment_index.customer_id(record)
                if audience is not None and not audience(record):
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
