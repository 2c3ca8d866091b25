"""Building again after every change: ``atomic build --watch``.

:func:`watch_builds` builds the content folder once, then again after every batch of changes
a native file watcher reports (``watchfiles``, from the optional extra ``serve``), until it is
stopped. All builds run in one :class:`~atomic_content.build.BuildSession`, which keeps in
memory what a one-shot build reads back from its caches: a one-atom edit rebuilds in a
fraction of the time a new ``atomic build`` process takes (docs/performance.md), and each
build is the one ``atomic build`` makes of the same files, switched over atomically.

A build refused for the user's reasons (content errors, a refused output, a full disk: any
:class:`~atomic_content.errors.AtomicError`) leaves the last good output in place, and the next
change builds again. A build that finds the output locked by another build (a one-shot
``atomic build``, a second watch) waits until it is free and builds then: the output always
ends up built from the files as they are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AtomicError, UsageError

if TYPE_CHECKING:
    from .build import BuildResult, BuildSession

WATCH_STEP_MS = 50
"""Milliseconds without a further change before a batch of changes is handled: editors write
a file in several steps (truncate, write, rename), and one build should see the last."""

WATCH_DEBOUNCE_MS = 1_000
"""The longest a batch of changes waits while changes keep coming (a checkout, a copy)."""


@dataclass(frozen=True)
class WatchedBuild:
    """One build of a watch: its result, or the error that refused it (content errors, a
    locked or refused output), and the content files whose change started it (empty for the
    first build), relative to the content folder when inside it."""

    changed: tuple[str, ...]
    result: BuildResult | None = None
    error: AtomicError | None = None


def content_changes(
    folder: Path, stop: threading.Event | None = None
) -> Iterator[tuple[str, ...] | None]:
    """The changes of ``folder``, batch by batch, as a native file watcher reports them: first
    None once the watcher is set up (changes from then on are seen, including those made while
    the caller works on the first item), then each batch's paths, sorted, relative to
    ``folder`` when inside it. Ends when ``stop`` is set (at the latest ~0.2 s later) or the
    folder disappears; Ctrl-C (KeyboardInterrupt) passes through. The one home of the watcher
    ``atomic build --watch`` and the studio use.

    Raises UsageError when ``watchfiles`` (the ``serve`` extra) is not installed, or when
    ``folder`` is not a folder."""
    try:
        from watchfiles import watch
    except ImportError:
        raise UsageError(
            "watching needs the 'serve' extra (watchfiles is not installed)",
            "pip install 'atomic-content[serve]', or build without --watch",
        ) from None
    root = folder.resolve()
    if not root.is_dir():
        raise UsageError(
            f"content folder {folder.as_posix()!r} "
            + ("is not a folder" if root.exists() else "does not exist"),
            "run from your project folder or pass --content DIR",
        )
    watcher = watch(
        root,
        stop_event=stop,
        step=WATCH_STEP_MS,
        debounce=WATCH_DEBOUNCE_MS,
        yield_on_timeout=True,  # the first (empty) yield says the watcher is set up
        rust_timeout=200,
    )
    first = True
    for changes in watcher:
        if first:
            first = False
            yield None
        if changes:
            yield _relative((path for _kind, path in changes), root)


def watch_builds(
    session: BuildSession,
    report: Callable[[WatchedBuild], None],
    *,
    stop: threading.Event | None = None,
) -> None:
    """Build with ``session`` now and after every change of its content folder; hand each
    build to ``report``. Returns when ``stop`` is set (at the latest ~0.2 s later) or the
    content folder disappears; Ctrl-C (KeyboardInterrupt) passes through.

    Raises UsageError when ``watchfiles`` is not installed or the content folder is missing
    (before any build). Any other exception than an
    :class:`~atomic_content.errors.AtomicError` (a bug) ends the watch by propagating.
    """
    try:
        for changed in content_changes(session.content, stop):
            report(_one_build(session, changed or (), stop))
            session.tidy()  # while the next change is awaited, not while a build is
    finally:
        session.save_caches()  # what the last build deferred, when the watch ends before tidy


LOCK_POLL_SECONDS = 0.1
"""How often a watch build looks whether the build that holds the output has finished."""


def _one_build(
    session: BuildSession, changed: tuple[str, ...], stop: threading.Event | None
) -> WatchedBuild:
    from .build import BuildLockedError, output_locked

    pause = stop if stop is not None else threading.Event()  # never set: a plain wait
    while True:
        try:
            # The caches a later process reads are written after the report (tidy).
            return WatchedBuild(changed, result=session.build(defer_saves=True))
        except BuildLockedError as exc:
            # Another build is writing the output, perhaps of older files: build once it has
            # finished (a no-op when it built these same files). Stopping ends the wait.
            while output_locked(session.out):
                if pause.wait(LOCK_POLL_SECONDS):
                    return WatchedBuild(changed, error=exc)
        except AtomicError as exc:  # the user's to fix (content, output, disk); not a bug
            return WatchedBuild(changed, error=exc)


def _relative(paths: Iterable[str], root: Path) -> tuple[str, ...]:
    shown = set()
    for path in paths:
        candidate = Path(path)
        shown.add(
            candidate.relative_to(root).as_posix()
            if candidate.is_relative_to(root)
            else candidate.as_posix()
        )
    return tuple(sorted(shown))


__all__ = [
    "LOCK_POLL_SECONDS",
    "WATCH_DEBOUNCE_MS",
    "WATCH_STEP_MS",
    "WatchedBuild",
    "content_changes",
    "watch_builds",
]
