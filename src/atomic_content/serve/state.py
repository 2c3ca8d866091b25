"""The studio's state: the content checked by the pipeline, kept current as files change.

:class:`Studio` runs :func:`atomic_content.pipeline.check` — the whole ``validate`` — on the
content folder at start and again after every change a watcher reports (in a background
thread). Each run is a :class:`Snapshot` with a new generation number; listeners are told about
every new snapshot (the web app pushes a reload to the browsers). A run with errors does not
replace the last good :class:`Workspace`: pages show the snapshot's positioned diagnostics and
the next good save brings the message back.

Each run after the first is incremental: loading and the static checks reuse the per-file
load cache (kept in memory from run to run), the plan stage re-plans only the messages a
changed atom can compete in (the previous plan is kept in memory,
:class:`~atomic_content.plan.PlanStore`; any other file change plans everything again),
and the render stage keeps its content-addressed variant cache in memory (over the on-disk
cache ``atomic validate`` uses), so only the variants whose atoms, layouts or settings
changed are rendered again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..api import CustomerMessage, route_messages
from ..coverage import CoverageReport, compute_coverage
from ..dates import DateRange
from ..errors import Diagnostics, UsageError
from ..pipeline import Checked, check
from ..plan import Plan, PlannedVariant, PlanStore, Router
from ..repository import Library, LoadCache
from ..resolver import Resolver
from ..variants import SHARED_FOLDER, VariantCache, VariantOutput, with_plan_fields
from ..watch import content_changes
from ..yamlio import cache_dir as user_cache_dir

Listener = Callable[["Snapshot"], None]


class MemoryVariantCache(VariantCache):
    """The render stage's cache kept in memory too: a re-check after an edit takes unchanged
    variants from a dict instead of reading and verifying a file each (the files stay the
    source for worker processes, which write them on the first, parallel check)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self._memory: dict[str, VariantOutput] = {}
        self._memory_lock = threading.Lock()

    def get(self, key: str, variant: PlannedVariant) -> VariantOutput | None:
        with self._memory_lock:
            found = self._memory.get(key)
        if found is None:
            found = super().get(key, variant)
            if found is None:
                return None
            with self._memory_lock:
                self._memory[key] = found
        entry = with_plan_fields(found.entry, variant)
        if entry is not found.entry:
            found = dataclasses.replace(found, entry=entry)
        if found.variant_id != variant.id:
            found = dataclasses.replace(found, variant_id=variant.id)
        return found

    def put(self, output: VariantOutput) -> None:
        with self._memory_lock:
            self._memory[output.cache_key] = output
        super().put(output)


@dataclass(frozen=True)
class Snapshot:
    """One run of the pipeline: its generation (1, 2, ...), what it found and how long it took.

    ``changed`` lists the files whose change triggered it (empty for the first run).
    """

    generation: int
    checked: Checked
    seconds: float
    finished: float
    changed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No errors: every stage ran and the messages can be shown."""
        return self.checked.plan is not None and not self.checked.diagnostics.has_errors

    @property
    def diagnostics(self) -> Diagnostics:
        return self.checked.diagnostics


@dataclass
class Workspace:
    """A good snapshot's library and plan, with what pages need made once per snapshot: the
    router (customers into variants), the explaining resolver and the coverage report."""

    snapshot: Snapshot
    library: Library
    plan: Plan
    dates: DateRange
    router: Router = field(init=False)
    _resolver: Resolver | None = field(default=None, init=False)
    _coverage: dict[dt.date, CoverageReport] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.router = Router.for_plan(self.library, self.plan)

    @property
    def resolver(self) -> Resolver:
        with self._lock:
            if self._resolver is None:
                self._resolver = Resolver(self.library)
            return self._resolver

    def messages(
        self,
        attributes: dict[str, object],
        journey: str,
        *,
        step: str,
        channel: str,
        locale: str | None,
        on: dt.date,
        label: str,
    ) -> list[CustomerMessage]:
        """The routed message (with explanations) of one record: what the runtime sends."""
        return route_messages(
            self.library, self.plan, attributes, journey, step=step, channel=channel,
            locale=locale, on=on, label=label, explain=True, router=self.router,
            resolver=self.resolver,
        )  # fmt: skip

    def coverage(self, on: dt.date) -> CoverageReport:
        """The coverage report on ``on`` (made once per snapshot and day)."""
        with self._lock:
            report = self._coverage.get(on)
        if report is None:
            plan = self.plan if on == self.plan.start else None
            report = compute_coverage(self.library, on=on, plan=plan)
            with self._lock:
                self._coverage[on] = report
        return report


class Studio:
    """The content folder, checked now and after every change.

    ``start``/``until`` are the send dates the pipeline covers (default: today, or
    SOURCE_DATE_EPOCH, plus the build's horizon). :meth:`refresh` runs one check;
    :meth:`start_watching` runs it after every change in a daemon thread until :meth:`close`.
    """

    def __init__(
        self,
        content: Path,
        *,
        start: dt.date | None = None,
        until: dt.date | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.content = content.resolve()
        self.dates = DateRange.of(start, until)
        if cache_dir is None:
            # The render cache `atomic validate` uses (content-addressed, shared), else a
            # temporary one.
            shared = user_cache_dir()
            cache_dir = shared / SHARED_FOLDER if shared is not None else None
        self._own_cache = cache_dir is None
        self.cache_dir = cache_dir or Path(tempfile.mkdtemp(prefix="atomic-serve-cache-"))
        self.cache = MemoryVariantCache(self.cache_dir)
        self.plans = PlanStore()  # in memory: the plan of the last run, by message
        self._load_cache: LoadCache | None = None  # the last run's, carried in memory
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch_refused: UsageError | None = None  # the watcher could not start
        self._generation = 0
        self.snapshot: Snapshot | None = None
        self.workspace: Workspace | None = None

    # -- checking ------------------------------------------------------------------------------
    def refresh(self, changed: Iterable[str] = (), *, jobs: int | None = 1) -> Snapshot:
        """Check the content once (the whole pipeline), publish the snapshot, tell listeners.

        ``jobs`` is the render stage's worker count: 1 (the default) renders in this thread,
        which is what a server that already runs threads should do; the first check, before
        the server starts, may pass None (one worker process per core) to fill the cache.
        """
        with self._refresh_lock:
            began = time.perf_counter()
            # The pipeline freezes what it loads (a batch run keeps it to the end); a server
            # replaces it on every save, so give the collector the previous run's objects back.
            gc.unfreeze()
            loads = self._load_cache or LoadCache.for_root(self.content)
            checked = check(
                self.content,
                self.dates,
                cache=self.cache,
                jobs=jobs,
                plans=self.plans,
                load_cache=loads,
            )
            self._load_cache = loads.carried()
            seconds = time.perf_counter() - began
            with self._lock:
                self._generation += 1
                snapshot = Snapshot(
                    self._generation, checked, seconds, time.time(), tuple(sorted(changed))
                )
                self.snapshot = snapshot
                if snapshot.ok:
                    assert checked.plan is not None
                    self.workspace = Workspace(snapshot, checked.library, checked.plan, self.dates)
                listeners = list(self._listeners)
        for listener in listeners:
            listener(snapshot)
        return snapshot

    @property
    def generation(self) -> int:
        return self._generation

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every new snapshot (from the checking thread); returns the
        function that unsubscribes it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    # -- watching ------------------------------------------------------------------------------
    def start_watching(self) -> None:
        """Check after every change of the content folder, in a daemon thread. Raises
        UsageError when the folder cannot be watched (it does not exist, ``watchfiles`` is
        missing)."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(ready,), name="atomic-serve-watch", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=10)
        if self._watch_refused is not None:
            self._thread.join()
            self._thread = None
            raise self._watch_refused

    def _watch(self, ready: threading.Event) -> None:
        try:
            for changed in content_changes(self.content, self._stop):
                if changed is None:
                    ready.set()  # the watcher is set up: changes from now on are seen
                else:
                    self.refresh(changed)
        except UsageError as exc:  # raised before the watcher starts: for start_watching
            self._watch_refused = exc
        finally:
            ready.set()

    @property
    def stopping(self) -> bool:
        """:meth:`stop` was called: event streams end, the watcher stops."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Tell the watcher and the listeners (the event streams) to finish."""
        self._stop.set()
        with self._lock:
            listeners = list(self._listeners)
            snapshot = self.snapshot
        if snapshot is not None:
            for listener in listeners:
                listener(snapshot)

    def close(self) -> None:
        """Stop watching; remove the temporary render cache."""
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_cache:
            shutil.rmtree(self.cache_dir, ignore_errors=True)


__all__ = ["Snapshot", "Studio", "Workspace"]
