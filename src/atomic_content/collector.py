"""Python's cyclic garbage collector around the stages that build long-lived data.

Loading a library, its plan memo or a previous manifest allocates hundreds of thousands of
small objects that all stay alive for the rest of the run. Left alone, the collector walks
them again at every allocation burst (a third of a warm load), and once more at the first
allocation after it is switched back on, since everything made while it was off is still
young. The one home of that policy: every such stage runs inside :func:`long_lived`, and the
command line's own process collects less often (:func:`tune_for_batch`).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Hold the collector for the block; it resumes (if it was on) when the block ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Hold the collector for a block whose objects live on, then move everything alive out
    of its sight (``gc.freeze``), so no later collection walks them.

    Frozen objects are still freed when nothing refers to them; only cycles among them wait
    for ``gc.unfreeze()``, which a long-running caller that drops whole libraries may call
    (``atomic serve`` does). Nothing these blocks load holds such cycles.
    """
    with paused():
        yield
        gc.freeze()


def collect_all() -> None:
    """Collect every garbage cycle, frozen ones included, and freeze what lives on again: for a
    long-running process between two runs (``atomic build --watch`` while it waits for the
    next change). A run freezes what it loads (:func:`long_lived`), and with it any cycle of
    an earlier run not yet collected, so without this such a process would grow a little with
    every run.

    Ctrl-C (and SIGTERM, where a handler raises) during the collection is held until it ends:
    a KeyboardInterrupt raised inside a finalizer the collector runs would be printed as
    "Exception ignored" and lost, and the process would not stop."""
    with _interrupts_held():
        gc.unfreeze()
        gc.collect()
        gc.freeze()


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Run the block with the :data:`HELD_SIGNALS` that have a Python handler noted instead of
    handled; handle them after the block. (Only the main thread may set signal handlers;
    elsewhere the block runs as it is. A signal that is ignored, or that ends the process
    without Python, stays as it is.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    handlers = {
        number: handler for number in HELD_SIGNALS if callable(handler := signal.getsignal(number))
    }
    for number in handlers:
        signal.signal(number, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    for signum in caught:
        handlers[signal.Signals(signum)](signum, None)  # SIGINT's raises KeyboardInterrupt


BATCH_THRESHOLDS = (200_000, 30, 30)
"""The collector's thresholds in the command line's own process (mypy runs with the same):
the young generation is collected after 200 000 net allocations instead of 700."""


def tune_for_batch() -> None:
    """Collect less often in a process that builds large object graphs and then ends: the
    command line's own run. A one-atom rebuild of a 10 000-atom library spent a tenth of a
    second in ~570 collections that freed next to nothing, since what it allocates lives until
    the end. Only the process's owner may call this: a program that runs the library (or the
    command line, through ``CliRunner``) keeps its own collector settings."""
    gc.set_threshold(*BATCH_THRESHOLDS)
