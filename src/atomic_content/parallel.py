"""Work split into shares between this process and forked worker processes.

The one home of how the load, the atom checks, the plan and the render run in parallel
(:func:`share_work`). This process works too: with ``jobs`` processes in all, ``jobs - 1``
are forks. The shares it does itself are neither pickled nor copied into a fork's memory, and
a fork touching the parent's heap copies each page it writes (copy-on-write), so one fork
fewer is less of both. Shares are claimed one at a time, the workers from the front and this
process from the back, so a process slowed down by a busy machine simply does fewer of them.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import queue
import signal
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from .errors import EXIT_TEMPFAIL, AtomicError

T = TypeVar("T")

_WAIT_SECONDS = 0.05
"""How long this process waits on the workers' results before it looks whether one died."""


class WorkerDied(AtomicError):
    """A worker process ended without finishing its shares: killed, most often by the
    system when memory ran out. Nothing was written; the same command may succeed later."""

    exit_code: ClassVar[int] = EXIT_TEMPFAIL
    hint = "run the command again; if it keeps failing, use --jobs 1 (one process, less memory)"


def share_work(
    shares: int,
    jobs: int,
    work: Callable[[int], T],
    *,
    remote: Callable[[int], Any] | None = None,
    receive: Callable[[Any], T] | None = None,
    finished: Callable[[int, T], None] | None = None,
) -> list[T]:
    """``[work(0), ..., work(shares - 1)]``, computed by this process and ``jobs - 1`` forked
    worker processes (all here when ``jobs`` is 1, there is one share, or fork is unavailable).

    A worker computes ``receive(remote(index))`` instead, ``remote`` in the worker and
    ``receive`` here (default: ``work`` and the value as it came), since what crosses a process
    boundary is pickled: ``remote`` may return a compact form for ``receive`` to turn back.
    ``work`` and ``remote`` must only read what this process held when the workers started
    (they are forks). ``finished(index, result)`` is called here as each share is done, in no
    particular order (a progress bar); the list returned is in share order, whoever did what.

    An exception in a share is raised here (a worker's after the others were stopped);
    :class:`WorkerDied` when a worker ended without a word.
    """
    if jobs <= 1 or shares <= 1 or "fork" not in mp.get_all_start_methods():
        results = []
        for index in range(shares):
            result = work(index)
            if finished is not None:
                finished(index, result)
            results.append(result)
        return results
    return _Shared(shares, min(jobs - 1, shares - 1), work, remote, receive, finished).run()


class _Shared:
    """One :func:`share_work` run with worker processes."""

    def __init__(
        self,
        shares: int,
        workers: int,
        work: Callable[[int], Any],
        remote: Callable[[int], Any] | None,
        receive: Callable[[Any], Any] | None,
        finished: Callable[[int, Any], None] | None,
    ) -> None:
        self.context = mp.get_context("fork")
        self.shares = shares
        self.workers = workers
        self.work = work
        self.remote = remote or work
        self.receive = receive
        self.finished = finished
        # The next share from the front and the end of what is left: claimed under its lock.
        self.claims = self.context.Array("q", [0, shares])
        self.results: Any = self.context.Queue()
        self.done: dict[int, Any] = {}
        self.ended: set[int] = set()  # the workers whose end mark came

    def run(self) -> list[Any]:
        processes = [
            self.context.Process(target=self._serve, args=(number,), daemon=True)
            for number in range(self.workers)
        ]
        try:
            for process in processes:
                process.start()
            while (index := self._claim(front=False)) is not None:
                self._done(index, self.work(index))
                self._take(processes, block=False)
            while len(self.ended) < self.workers:
                self._take(processes, block=True)
        except BaseException:
            for process in processes:
                if process.is_alive():
                    process.terminate()
            raise
        finally:
            for process in processes:
                if process.pid is not None:
                    process.join()
            self.results.close()
            self.results.join_thread()
        return [self.done[index] for index in range(self.shares)]

    def _claim(self, *, front: bool) -> int | None:
        with self.claims.get_lock():
            first, end = self.claims[0], self.claims[1]
            if first >= end:
                return None
            if front:
                self.claims[0] = first + 1
                return int(first)
            self.claims[1] = end - 1
            return int(end - 1)

    def _done(self, index: int, result: Any) -> None:
        self.done[index] = result
        if self.finished is not None:
            self.finished(index, result)

    def _take(self, processes: Sequence[mp.process.BaseProcess], *, block: bool) -> None:
        """Take what the workers sent: everything there is (``block``: at least one message,
        unless a worker died)."""
        while True:
            try:
                message = self.results.get(block, _WAIT_SECONDS if block else None)
            except queue.Empty:
                # A worker that ended without its end mark died: checked between this
                # process's own shares too, so the stage stops as soon as it cannot finish.
                gone = [
                    (number, process.exitcode)
                    for number, process in enumerate(processes)
                    if number not in self.ended and process.exitcode is not None
                ]
                if not gone:
                    if not block:
                        return
                    continue
                try:  # a worker's messages are all in the pipe before it ends
                    message = self.results.get_nowait()
                except queue.Empty:
                    raise WorkerDied(
                        f"a worker process ended before its work was done ({_how(gone[0][1])})"
                    ) from None
            kind, index, payload = message
            if kind == "end":
                self.ended.add(index)
            elif kind == "error":
                raise pickle.loads(payload)
            else:
                value = pickle.loads(payload)
                self._done(index, self.receive(value) if self.receive is not None else value)
            block = False  # one message was enough to wait for

    def _serve(self, number: int) -> None:
        """A worker: claim shares from the front until none is left; send each result (or the
        first exception) to the parent, then the end mark."""
        # Ctrl-C reaches every process of the terminal's group: the parent handles it and
        # stops the workers, which must not print a traceback each.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while (index := self._claim(front=True)) is not None:
                # Pickled here, not in the queue's thread, so a failure is this share's error.
                payload = pickle.dumps(self.remote(index), pickle.HIGHEST_PROTOCOL)
                self.results.put(("result", index, payload))
        except BaseException as exc:  # every failure goes to the parent
            self.results.put(("error", -1, _portable(exc)))
        self.results.put(("end", number, b""))


def _how(code: int | None) -> str:
    """How a process ended, from its exit code (negative: the signal that stopped it)."""
    if code is not None and code < 0:
        try:
            return f"stopped by {signal.Signals(-code).name}"
        except ValueError:
            return f"stopped by signal {-code}"
    return f"exit status {code}"


def _portable(exc: BaseException) -> bytes:
    """``exc`` pickled, or a RuntimeError naming it when it does not survive pickling."""
    try:
        payload = pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
        pickle.loads(payload)
        return payload
    except Exception:  # any exception that cannot cross processes
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
