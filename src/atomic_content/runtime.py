"""Batch rendering for sending systems: many customers in, one message each out.

:func:`render_batch` streams customer records (JSON Lines or CSV) through a loaded bundle in
constant memory. A bad record is reported with its line number and reason and does not stop the
batch; customers outside the journey's entry audience are *skipped*; customers in the holdout arm
of a running experiment get no message and are counted as *holdout*; the result counts rendered,
failed, skipped and holdout records, so nothing disappears silently.

Output is either JSON Lines (``--out messages.jsonl``: one object per rendered customer) or a
folder with one sub-folder per customer holding the message's files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundle import Bundle
from .channels.base import RenderedMessage
from .errors import AtomicError, UsageError
from .plan import Holdout, Route
from .records import RecordFormat, read_records

ProgressCallback = Callable[[int], None]

OUTPUT_MARKER = ".atomic-render"
"""A file in every folder ``atomic render`` writes: what makes the folder its to write into."""

MAX_NAME_BYTES = 200
"""Longest customer folder name (file systems allow 255 bytes; the encoding may grow it)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class RecordProblem:
    """Why one record was not rendered: its line, its id when known, a stable code and a
    reason that never contains a customer value."""

    line: int
    customer_id: str | None
    code: str
    reason: str


@dataclass
class BatchResult:
    """Every record counted once: rendered, failed (with problems), skipped or holdout (in
    an experiment's holdout arm: no message, on purpose)."""

    rendered: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list[RecordProblem] = field(default_factory=list)
    holdout: int = 0

    @property
    def total(self) -> int:
        return self.rendered + self.failed + self.skipped + self.holdout

    def to_dict(self) -> dict[str, Any]:
        return {
            "rendered": self.rendered,
            "failed": self.failed,
            "skipped": self.skipped,
            "holdout": self.holdout,
            "problems": [
                {"line": p.line, "customer": p.customer_id, "code": p.code, "reason": p.reason}
                for p in self.problems
            ],
        }


def folder_name(customer_id: str) -> str:
    """A customer's folder name: a reversible, collision-free encoding of the id (every byte
    outside ``A-Z a-z 0-9 . _ -`` as ``%XX``, like a URL; a leading dot too), so ``a/b`` and
    ``a_b`` never share a folder. :func:`urllib.parse.unquote` gives the id back."""
    name = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), customer_id)
    return "%2E" + name[1:] if name.startswith(".") else name


def check_batch_paths(customers: Path, out: Path, bundle_root: Path) -> None:
    """Refuse outputs that would destroy an input: ``out`` equal to or inside the customer
    file or the bundle, or an existing folder/file that ``atomic render`` did not write."""
    target = out.resolve()
    for label, source in (("customer file", customers), ("bundle", bundle_root)):
        where = source.resolve()
        if target == where or target.is_relative_to(where) or where.is_relative_to(target):
            raise UsageError(
                f"refusing to write {out.as_posix()}: it overlaps the {label} {source.as_posix()}",
                "write the messages somewhere else, e.g. --out messages.jsonl",
            )
    if out.suffix == ".jsonl":
        if out.is_dir():
            raise UsageError(f"refusing to write {out.as_posix()}: it is a folder")
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"refusing to write into {out.as_posix()}: it is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / OUTPUT_MARKER).is_file():
        raise UsageError(
            f"refusing to write into {out.as_posix()}: the folder has files that "
            "`atomic render` did not write",
            "choose an empty or new folder for --out",
        )


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
    Lines (written to a temporary file and renamed when complete); otherwise a folder with one
    sub-folder per customer (:func:`folder_name`).

    Raises UsageError before reading any record for unknown journey/step/channel, a send date
    outside the bundle's range, or an output that would overwrite an input or files the
    command did not write. After that, nothing a record contains stops the batch: every record
    is rendered, skipped (outside the journey's audience) or failed with its problems — a
    record the profile refuses, customer data that cannot be rendered safely, a message over a
    hard channel limit, a duplicate id or an id too long for a file name.
    """
    on = on or dt.date.today()
    router = bundle.router
    router.message(journey, step, channel, None)  # UsageError before any record
    if not bundle.start <= on <= bundle.until:
        raise UsageError(
            f"the bundle covers {bundle.start.isoformat()} to {bundle.until.isoformat()}, "
            f"not {on.isoformat()}",
            "rebuild with --date/--until covering the send date",
        )
    check_batch_paths(customers, out, bundle.root)
    journey_model = router.journeys[journey]
    index = router.index
    fmt: RecordFormat = "csv" if customers.suffix.lower() == ".csv" else "jsonl"
    result = BatchResult()
    to_jsonl = out.suffix == ".jsonl"
    try:
        # Binary: records.read_records decodes line by line, so one bad byte fails one record.
        source = customers.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {customers.as_posix()}: {exc.strerror or exc}") from None
    if to_jsonl:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        sink: Any = partial.open("w", encoding="utf-8")
    else:
        out.mkdir(parents=True, exist_ok=True)
        (out / OUTPUT_MARKER).write_text("written by atomic render\n", encoding="utf-8")
        sink = _NullWriter()
    seen: set[str] = set()

    def fail(line: int, customer_id: str | None, code: str, reason: str) -> None:
        result.failed += 1
        result.problems.append(RecordProblem(line, customer_id, code, reason))

    with source, sink:
        for item in read_records(source, fmt, bundle.profile):
            line, record = item.line, item.record
            if record is None:
                result.failed += 1
                result.problems.extend(
                    RecordProblem(line, item.customer_id, problem.code, problem.message)
                    for problem in item.problems
                )
            else:
                customer_id = index.customer_id(record)
                key = customer_id if customer_id is not None else f"line-{line}"
                if key in seen:
                    fail(
                        line,
                        customer_id,
                        "record.duplicate_id",
                        "another record of this batch has the same id",
                    )
                elif not to_jsonl and len(folder_name(key).encode()) > MAX_NAME_BYTES:
                    fail(
                        line,
                        None,
                        "record.id_too_long",
                        f"the id is too long for a folder name (over {MAX_NAME_BYTES} bytes)",
                    )
                elif not index.in_journey_audience(record, journey_model):
                    seen.add(key)
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
                    seen.add(key)
                    try:
                        route = router.route(
                            record,
                            journey=journey,
                            step=step,
                            channel=channel,
                            on=on,
                            locale=locale,
                        )
                        message = (
                            None
                            if isinstance(route, Holdout)
                            else bundle.render_route(route, record)
                        )
                    except AtomicError as exc:
                        fail(
                            line,
                            customer_id,
                            str(getattr(exc, "code", "render.failed")),
                            str(getattr(exc, "message", exc)),
                        )
                    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
                        # Never a lost batch: data that breaks rendering fails its record.
                        fail(
                            line,
                            customer_id,
                            "render.failed",
                            f"rendering failed ({type(exc).__name__})",
                        )
                    else:
                        if isinstance(route, Holdout) or message is None:
                            result.holdout += 1
                        else:
                            result.rendered += 1
                            _write(out, sink, to_jsonl, line, customer_id, key, route, message)
            if progress:
                progress(result.total)
    if to_jsonl:
        os.replace(partial, out)
    return result


def _write(
    out: Path,
    sink: Any,
    to_jsonl: bool,
    line: int,
    customer_id: str | None,
    key: str,
    route: Route,
    message: RenderedMessage,
) -> None:
    parts = dict(sorted(message.parts.items()))
    if to_jsonl:
        entry = {
            "line": line,
            "customer": customer_id,
            "locale": message.key.locale,
            "variant": route.variant_id,
            "audience": route.audience.id,
            "experiment": (
                route.assignment.key
                if route.assignment is not None and route.arm is not None
                else None
            ),
            "arm": route.arm,
            "parts": parts,
        }
        sink.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        return
    folder = out / folder_name(key)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in parts.items():
        filename = folder_name(message.filenames.get(name, name))
        (folder / filename).write_text(text, encoding="utf-8")


class _NullWriter:
    def __enter__(self) -> _NullWriter:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def write(self, text: str) -> int:
        return 0
