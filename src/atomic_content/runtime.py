"""Batch rendering for sending systems: many customers in, one message each out.

:func:`render_batch` streams customer records (JSON Lines, CSV or Parquet) through a loaded
bundle in constant memory. A bad record is reported with its line number and reason and does not
stop the batch; customers outside the journey's entry audience are *skipped*; customers in the
holdout arm of a running experiment get no message and are counted as *holdout*; customers who
did not give the consent the channel needs are *suppressed* (``suppressed (no consent for …)``
rows); the result counts rendered, failed, skipped, holdout and suppressed records, so nothing
disappears silently.

Output is JSON Lines (``--out messages.jsonl``: one object per rendered customer), Parquet
(``--out messages.parquet``: one row per record, with its status) or a folder with one
sub-folder per customer holding the message's files. :class:`RecordRenderer` is the per-record
logic; the Spark engine (:mod:`atomic_content.spark`) runs the same one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .build import build_folder_of, build_folders
from .bundle import Bundle
from .channels.base import RenderedMessage
from .errors import AtomicError, UsageError
from .outputs import OutputFile, refuse_overlap
from .plan import Holdout, Route
from .privacy import SuppressedError
from .records import RecordFormat, RecordResult, read_records

ProgressCallback = Callable[[int], None]

OUTPUT_MARKER = ".atomic-render"
"""A file in every folder ``atomic render`` writes: what makes the folder its to write into."""

MAX_NAME_BYTES = 200
"""Longest customer folder name (file systems allow 255 bytes; the encoding may grow it)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class RecordProblem:
    """Why one record was not rendered: its line, its id when known, a stable code, a reason
    that never contains a customer value, and the attribute at fault when there is one."""

    line: int
    customer_id: str | None
    code: str
    reason: str
    attribute: str | None = None


@dataclass
class StatusCounts:
    """Records by status: rendered, failed, skipped, holdout (in an experiment's holdout arm:
    no message, on purpose) or suppressed (no consent for the channel: no message, by right).
    Every engine (batch, Spark) reports its rows this way."""

    rendered: int = 0
    failed: int = 0
    skipped: int = 0
    holdout: int = 0
    suppressed: int = 0

    @property
    def total(self) -> int:
        return self.rendered + self.failed + self.skipped + self.holdout + self.suppressed

    def counts(self) -> dict[str, int]:
        """The counts by status name, in a stable order (for JSON output)."""
        return {
            "rendered": self.rendered,
            "failed": self.failed,
            "skipped": self.skipped,
            "holdout": self.holdout,
            "suppressed": self.suppressed,
        }


@dataclass
class BatchResult(StatusCounts):
    """Every record counted once, with the problems of those that failed."""

    problems: list[RecordProblem] = field(default_factory=list)

    def add(self, outcome: RecordOutcome) -> None:
        """Count one record's outcome and keep its problems."""
        if outcome.status == STATUS_RENDERED:
            self.rendered += 1
        elif outcome.status == STATUS_SKIPPED:
            self.skipped += 1
        elif outcome.status == STATUS_HOLDOUT:
            self.holdout += 1
        elif outcome.status == STATUS_SUPPRESSED:
            self.suppressed += 1
        else:
            self.failed += 1
        self.problems.extend(outcome.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "problems": [
                {"line": p.line, "customer": p.customer_id, "code": p.code, "reason": p.reason}
                for p in self.problems
            ],
        }


def folder_name(customer_id: str) -> str:
    """A customer's folder name: a reversible, collision-free encoding of the id (every byte
    outside ``A-Z a-z 0-9 . _ -`` as ``%XX``, like a URL; a leading dot too), so ``a/b`` and
    ``a_b`` never share a folder. :func:`urllib.parse.unquote` gives the id back.

    The name is never empty, ``.`` or ``..`` and never holds a ``/``: it names a folder *in*
    the output folder. Raises ValueError for an empty id (the record check refuses one:
    ``record.blank_id``)."""
    if not customer_id:
        raise ValueError("an empty id has no folder name")
    name = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), customer_id)
    return "%2E" + name[1:] if name.startswith(".") else name


def check_batch_paths(
    customers: Path, out: Path, bundle_root: Path, *, folder: bool | None = None
) -> None:
    """Refuse outputs that would destroy an input or a user's file (UsageError), under the
    rule of :mod:`atomic_content.outputs`: ``out`` equal to, inside or around the customer
    file, the bundle, or the build output folder the bundle belongs to (with the folders
    beside it that builds manage: :func:`~atomic_content.build.build_folders`); an existing
    folder without the :data:`OUTPUT_MARKER` of an earlier render that has files in it; an
    existing file that is not an earlier render's output (:func:`is_render_output`), a link,
    or a folder where a file is asked for.

    ``folder`` says whether ``out`` is a folder (the Spark engine writes Parquet part files
    into one); by default ``.jsonl`` and ``.parquet`` are files and anything else a folder.
    """
    inputs = [("customer file", customers), ("bundle", bundle_root)]
    build_out = build_folder_of(bundle_root)
    if build_out is not None:
        first, *beside = build_folders(build_out)
        inputs += [("build output folder", first), *(("build folder", path) for path in beside)]
    for label, source in inputs:
        refuse_overlap(
            out, source, label, hint="write the messages somewhere else, e.g. --out messages.jsonl"
        )
    if folder is None:
        folder = out.suffix not in (".jsonl", ".parquet")
    if not folder:
        OutputFile(out, ours=is_render_output, replaces=True, force_option=None).check()
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"refusing to write into {out.as_posix()}: it is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / OUTPUT_MARKER).is_file():
        raise UsageError(
            f"refusing to write into {out.as_posix()}: the folder has files that "
            "`atomic render` did not write",
            "choose an empty or new folder for --out",
        )


def is_render_output(path: Path) -> bool:
    """Whether the file ``path`` is the output of an earlier ``atomic render`` (which it may
    replace): JSON Lines whose first line is an object with exactly the keys render writes
    (:data:`JSONL_KEYS`), or Parquet with render's columns (``.parquet``; needs pyarrow)."""
    if path.suffix == ".parquet":
        recognized: bool = _columnar().is_output_file(path)
        return recognized
    try:
        with path.open("rb") as handle:
            first = handle.readline(MAX_JSONL_LINE)
    except OSError:
        return False
    try:
        entry = json.loads(first)
    except ValueError:
        return False
    return isinstance(entry, dict) and set(entry) == JSONL_KEYS


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
    lists separated by ``|``), ``.parquet`` is Parquet (needs pyarrow; only the columns the
    message needs are read, see :mod:`atomic_content.columnar`), anything else JSON Lines.
    ``out`` ending in ``.jsonl`` gets JSON Lines (one object per rendered customer), ``.parquet``
    one row per record with its status (the columns of :mod:`atomic_content.spark`), both
    written to a temporary file and renamed when complete; otherwise a folder with one
    sub-folder per customer (:func:`folder_name`).

    Raises UsageError before reading any record for unknown journey/step/channel, a send date
    outside the bundle's range, or an output that would overwrite an input, lie in the build
    the bundle comes from, or replace files the command did not write
    (:func:`check_batch_paths`). After that, nothing a record contains stops the batch: every
    record is rendered, skipped (outside the journey's audience), suppressed (no consent for
    the channel's purpose: a ``consent.suppressed`` row) or failed with its problems — a record
    the profile refuses (a blank id among them), customer data that cannot be rendered safely,
    a message over a hard channel limit, a duplicate id, or (folder output) an id too long for
    a folder name or one the file system cannot tell from another's. Each record is counted
    exactly once.
    """
    on = on or dt.date.today()
    renderer = RecordRenderer(
        bundle, journey=journey, step=step, channel=channel, on=on, locale=locale
    )
    check_batch_paths(customers, out, bundle.root)
    result = BatchResult()
    if customers.suffix.lower() == ".parquet":
        columnar = _columnar()
        items: Iterable[RecordResult] = columnar.read_parquet(
            customers, bundle.profile, renderer.columns
        )
    else:
        fmt: RecordFormat = "csv" if customers.suffix.lower() == ".csv" else "jsonl"
        try:
            # Binary: records.read_records decodes line by line, so one bad byte fails one
            # record.
            source = customers.open("rb")
        except OSError as exc:
            raise UsageError(f"cannot read {customers.as_posix()}: {exc.strerror or exc}") from None
        items = _closing_records(source, fmt, bundle)
    sink = _sink(out, renderer)
    seen: set[str] = set()
    with sink:
        for item in items:
            outcome: RecordOutcome | None = None
            if item.record is not None:
                customer_id = renderer.customer_id(item.record)
                refused = sink.claim(customer_id, item.line)
                if customer_id is not None and customer_id in seen:
                    outcome = renderer.failed(
                        item.line,
                        customer_id,
                        "record.duplicate_id",
                        "another record of this batch has the same id",
                    )
                elif refused is not None:
                    code, reason, named = refused
                    outcome = renderer.failed(
                        item.line, customer_id if named else None, code, reason
                    )
                elif customer_id is not None:
                    seen.add(customer_id)
            if outcome is None:
                outcome = renderer.outcome(item)
            result.add(outcome)
            sink.write(outcome)
            if progress:
                progress(result.total)
    return result


def _closing_records(
    source: IO[bytes], fmt: RecordFormat, bundle: Bundle
) -> Iterator[RecordResult]:
    with source:
        yield from read_records(source, fmt, bundle.profile)


# --------------------------------------------------------------------------- one record

STATUS_RENDERED = "rendered"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"
STATUS_HOLDOUT = "holdout"
STATUS_SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one customer record: rendered, failed, skipped, holdout or suppressed —
    the row every engine (JSON Lines, Parquet, Spark) writes for it.

    ``problems`` is empty for a rendered or holdout record; a failed, skipped or suppressed one
    has at least one, the first naming ``error_code`` and ``error_attribute`` of its row. ``route``
    is set for a rendered record (a Route, with ``message``) and a holdout one (a Holdout).
    """

    line: int
    customer_id: str | None
    status: str
    problems: tuple[RecordProblem, ...] = ()
    route: Route | Holdout | None = None
    message: RenderedMessage | None = None

    @property
    def audience(self) -> str | None:
        return self.route.audience.id if self.route else None

    @property
    def variant(self) -> str | None:
        return self.route.variant_id if isinstance(self.route, Route) else None

    @property
    def arm(self) -> str | None:
        """The experiment arm (``control``, ``personalized``, ``holdout``), or None."""
        return self.route.arm if self.route else None

    @property
    def experiment(self) -> str | None:
        """The tracking key of the experiment the customer is in, or None."""
        if self.route is None or self.route.assignment is None or self.route.arm is None:
            return None
        return self.route.assignment.key

    @property
    def locale(self) -> str | None:
        return self.message.key.locale if self.message else None

    @property
    def error_code(self) -> str | None:
        return self.problems[0].code if self.problems else None

    @property
    def error_attribute(self) -> str | None:
        return self.problems[0].attribute if self.problems else None

    @property
    def error_message(self) -> str | None:
        return "; ".join(p.reason for p in self.problems) if self.problems else None


class RecordRenderer:
    """One message for many customer records: the per-record logic every engine shares.

    Construction checks the request once (UsageError for an unknown journey, step or channel,
    or a send date outside the bundle's range); :meth:`outcome` then never raises for anything
    a record contains: the record's check problems, a customer outside the journey's audience
    (skipped), customer data that cannot be rendered safely or a message over a hard channel
    limit all become the record's :class:`RecordOutcome`.
    """

    def __init__(
        self,
        bundle: Bundle,
        *,
        journey: str,
        step: str,
        channel: str,
        on: dt.date,
        locale: str | None = None,
    ) -> None:
        router = bundle.router
        router.message(journey, step, channel, None)  # UsageError before any record
        if not bundle.start <= on <= bundle.until:
            raise UsageError(
                f"the bundle covers {bundle.start.isoformat()} to {bundle.until.isoformat()}, "
                f"not {on.isoformat()}",
                "rebuild with --date/--until covering the send date",
            )
        self.bundle = bundle
        self.journey = journey
        self.step = step
        self.channel = channel
        self.on = on
        self.locale = locale
        self._journey = router.journeys[journey]
        self._index = router.index

    @property
    def columns(self) -> frozenset[str]:
        """The attributes a record needs for this message (Bundle.required_attributes)."""
        return frozenset(self.bundle.required_attributes(self.journey, self.step, self.channel))

    @property
    def part_names(self) -> tuple[str, ...]:
        """Every part any variant of this message renders, sorted (the output's columns)."""
        names: set[str] = set()
        for variant_id in self.bundle.variant_ids(self.journey, self.step, self.channel):
            names.update(part.name for part in self.bundle.message(variant_id).parts)
        return tuple(sorted(names))

    def customer_id(self, record: Mapping[str, Any]) -> str | None:
        return self._index.customer_id(record)

    @staticmethod
    def failed(
        line: int,
        customer_id: str | None,
        code: str,
        reason: str,
        attribute: str | None = None,
    ) -> RecordOutcome:
        return RecordOutcome(
            line,
            customer_id,
            STATUS_FAILED,
            (RecordProblem(line, customer_id, code, reason, attribute),),
        )

    def outcome(self, item: RecordResult, *, locale: str | None = None) -> RecordOutcome:
        """Route and render one record read and checked by :mod:`atomic_content.records`.

        ``locale`` overrides the renderer's locale for this record (a per-row locale column).
        """
        line, record = item.line, item.record
        if record is None:
            return RecordOutcome(
                line,
                item.customer_id,
                STATUS_FAILED,
                tuple(
                    RecordProblem(line, item.customer_id, p.code, p.message, p.attribute)
                    for p in item.problems
                ),
            )
        customer_id = self._index.customer_id(record)
        if not self._index.in_journey_audience(record, self._journey):
            return RecordOutcome(
                line,
                customer_id,
                STATUS_SKIPPED,
                (
                    RecordProblem(
                        line,
                        customer_id,
                        "record.not_in_audience",
                        "not in the journey's audience",
                    ),
                ),
            )
        try:
            route = self.bundle.router.route(
                record,
                journey=self.journey,
                step=self.step,
                channel=self.channel,
                on=self.on,
                locale=locale if locale is not None else self.locale,
            )
            message = (
                None if isinstance(route, Holdout) else self.bundle.render_route(route, record)
            )
        except SuppressedError as exc:
            # No consent for the channel's purpose: no message, by right, and counted.
            return RecordOutcome(
                line,
                customer_id,
                STATUS_SUPPRESSED,
                (RecordProblem(line, customer_id, exc.code, exc.message),),
            )
        except AtomicError as exc:
            return self.failed(
                line,
                customer_id,
                str(getattr(exc, "code", "render.failed")),
                str(getattr(exc, "message", exc)),
                getattr(exc, "attribute", None),
            )
        except (RecursionError, MemoryError, ValueError, TypeError) as exc:
            # Never a lost batch: data that breaks rendering fails its record.
            return self.failed(
                line, customer_id, "render.failed", f"rendering failed ({type(exc).__name__})"
            )
        if isinstance(route, Holdout) or message is None:
            return RecordOutcome(line, customer_id, STATUS_HOLDOUT, route=route)
        return RecordOutcome(line, customer_id, STATUS_RENDERED, route=route, message=message)


# --------------------------------------------------------------------------- outputs


def _columnar() -> Any:
    """:mod:`atomic_content.columnar`, or UsageError when pyarrow is not installed."""
    try:
        from . import columnar
    except ImportError:
        raise UsageError(
            "Parquet input and output need pyarrow",
            "install it with: pip install 'atomic-content[parquet]'",
        ) from None
    return columnar


def _sink(out: Path, renderer: RecordRenderer) -> OutcomeSink:
    if out.suffix == ".jsonl":
        return _JsonlSink(out)
    if out.suffix == ".parquet":
        sink: OutcomeSink = _columnar().ParquetSink(out, renderer.part_names)
        return sink
    return _FolderSink(out)


class OutcomeSink:
    """Where :func:`render_batch` writes each record's outcome (a context manager)."""

    def __enter__(self) -> OutcomeSink:
        return self

    def __exit__(self, kind: object, *args: object) -> None:
        return None

    def claim(self, customer_id: str | None, line: int) -> tuple[str, str, bool] | None:
        """Take the place of the record at ``line`` with ``customer_id`` (None: it has none)
        before it is rendered: None when the sink can hold its message, else why not (code,
        reason, whether the problem may name the id). Called once per checked record, in order;
        the default takes every record."""
        return None

    def write(self, outcome: RecordOutcome) -> None:
        raise NotImplementedError


JSONL_KEYS = frozenset(
    {"line", "customer", "locale", "variant", "audience", "experiment", "arm", "parts"}
)
"""The keys of every JSON Lines object ``atomic render`` writes (how it knows its own file)."""

MAX_JSONL_LINE = 16 << 20
"""The longest first line read to recognize an earlier render's JSON Lines output."""


class _JsonlSink(OutcomeSink):
    """One JSON object per rendered customer, written to a temporary file and renamed when
    complete."""

    def __init__(self, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.partial = out.with_name(f".{out.name}.partial")
        self.handle = self.partial.open("w", encoding="utf-8")

    def __exit__(self, kind: object, *args: object) -> None:
        self.handle.close()
        if kind is None:
            os.replace(self.partial, self.out)

    def write(self, outcome: RecordOutcome) -> None:
        if outcome.message is None or not isinstance(outcome.route, Route):
            return
        entry = {  # the keys are JSONL_KEYS: is_render_output knows the file by them
            "line": outcome.line,
            "customer": outcome.customer_id,
            "locale": outcome.message.key.locale,
            "variant": outcome.route.variant_id,
            "audience": outcome.route.audience.id,
            "experiment": outcome.experiment,
            "arm": outcome.arm,
            "parts": dict(sorted(outcome.message.parts.items())),
        }
        self.handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")


class _FolderSink(OutcomeSink):
    """One sub-folder per rendered customer holding the message's files.

    Each record claims its folder before it is rendered (:meth:`claim`): the id's
    :func:`folder_name`, or ``%line-N`` for a record without an id (a name no id encodes to:
    ``%`` is always followed by two hex digits there). A name too long for the file system is
    ``record.id_too_long``; a name another record of the batch already holds (two ids that
    differ only in case, on a file system that ignores case) is ``record.id_collision``. So
    every message is written into its own folder, inside ``out``, and no other."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / OUTPUT_MARKER).write_text("written by atomic render\n", encoding="utf-8")
        self.out = out
        # A file system that ignores case (macOS, Windows) finds the marker under another case.
        self.ignores_case = (out / OUTPUT_MARKER.upper()).exists()
        self.taken: set[str] = set()

    @staticmethod
    def name_of(customer_id: str | None, line: int) -> str:
        return folder_name(customer_id) if customer_id is not None else f"%line-{line}"

    def claim(self, customer_id: str | None, line: int) -> tuple[str, str, bool] | None:
        name = self.name_of(customer_id, line)
        if len(name.encode()) > MAX_NAME_BYTES:
            return (
                "record.id_too_long",
                f"the id is too long for a folder name (over {MAX_NAME_BYTES} bytes)",
                False,
            )
        key = name.lower() if self.ignores_case else name
        if key in self.taken:
            # An exact duplicate id is reported as such by render_batch.
            return (
                "record.id_collision",
                "another record of this batch has an id that differs only in upper and lower "
                "case, and the output folder's file system does not tell them apart",
                True,
            )
        self.taken.add(key)
        return None

    def write(self, outcome: RecordOutcome) -> None:
        message = outcome.message
        if message is None:
            return
        name = self.name_of(outcome.customer_id, outcome.line)
        folder = self.out / name
        # folder_name guarantees it; checked because a slip here writes outside the folder.
        if folder.parent != self.out or name.startswith("."):
            raise AssertionError(f"folder name {name!r} is not a folder inside the output")
        folder.mkdir(exist_ok=True)
        for part, text in sorted(message.parts.items()):
            filename = folder_name(message.filenames.get(part, part))
            (folder / filename).write_text(text, encoding="utf-8")
