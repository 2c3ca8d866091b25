"""share_work: the one home of the parallel stages (load, atom checks, plan, render).

Real forked processes throughout: what crosses a process boundary is pickled for real.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from atomic_content.errors import EXIT_TEMPFAIL, RenderError
from atomic_content.parallel import WorkerDied, share_work

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """A hang becomes a failure: TimeoutError after ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("jobs", [1, 2, 3, 5])
@pytest.mark.parametrize("shares", [1, 2, 3, 17])
def test_results_come_in_share_order_whoever_did_them(jobs: int, shares: int) -> None:
    finished: list[int] = []
    results = share_work(
        shares,
        jobs,
        lambda index: [index, index * index],
        finished=lambda index, result: finished.append(index),
    )
    assert results == [[index, index * index] for index in range(shares)]
    assert sorted(finished) == list(range(shares))  # once per share, in any order


def test_this_process_works_too_and_workers_send_back_through_remote_and_receive() -> None:
    """With jobs 2: one fork and this process. Each waits in its first share until the other
    has started one, so both must do shares whatever the machine's speed."""
    parent = os.getpid()
    started = multiprocessing.get_context("fork").Array("i", [0, 0])
    give_up = time.monotonic() + 10

    def work(index: int) -> tuple[int, int]:
        here = os.getpid() == parent
        started[0 if here else 1] = 1
        while not started[1 if here else 0] and time.monotonic() < give_up:
            time.sleep(0.001)
        return index, os.getpid()

    seen: list[Any] = []

    def receive(value: Any) -> tuple[int, int]:
        seen.append(value)
        return value[1], value[2]

    results = share_work(
        12, 2, work, remote=lambda index: ("from a worker", *work(index)), receive=receive
    )
    assert [index for index, _pid in results] == list(range(12))
    pids = {pid for _index, pid in results}
    assert parent in pids and len(pids) == 2
    # What the worker did came through remote and receive; what this process did did not.
    assert seen and all(value[0] == "from a worker" for value in seen)
    assert len(seen) == sum(1 for _index, pid in results if pid != parent)


def _fail_in_worker(parent: int, error: BaseException) -> Any:
    def work(index: int) -> int:
        if os.getpid() != parent:
            raise error
        time.sleep(0.01)  # leave shares for the worker to claim
        return index

    return work


def test_an_error_in_a_worker_is_raised_here_with_its_fields() -> None:
    error = RenderError(
        "render.layout_undefined",
        "'brand' has no attribute 'adress'",
        path="layouts/email/standard.mjml.j2",
        line=4,
        col=12,
        hint="did you mean 'address'?",
    )
    with pytest.raises(RenderError) as raised:
        share_work(40, 2, _fail_in_worker(os.getpid(), error))
    assert (raised.value.path, raised.value.line, raised.value.col) == (
        "layouts/email/standard.mjml.j2",
        4,
        12,
    )
    assert raised.value.code == "render.layout_undefined"
    assert multiprocessing.active_children() == []  # the workers were stopped and joined


def test_an_error_that_cannot_cross_processes_still_arrives() -> None:
    class Local(Exception):  # defined in a function: pickling it fails
        pass

    with pytest.raises(RuntimeError, match="Local: no pickle for me"):
        share_work(40, 2, _fail_in_worker(os.getpid(), Local("no pickle for me")))


def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    parent = os.getpid()
    here = multiprocessing.get_context("fork").Value("i", 0)

    def work(index: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer does
        time.sleep(0.02)
        here.value += 1
        return index

    with deadline(30), pytest.raises(WorkerDied, match="stopped by SIGKILL") as raised:
        share_work(500, 2, work)
    # Noticed between this process's own shares, not after doing all of them (10 s).
    assert here.value < 250
    assert raised.value.exit_code == EXIT_TEMPFAIL
    assert "--jobs 1" in raised.value.hint
    assert multiprocessing.active_children() == []


def test_an_error_in_this_process_stops_the_workers() -> None:
    parent = os.getpid()
    shares = 200
    done = multiprocessing.get_context("fork").Value("i", 0)

    def work(index: int) -> int:
        if os.getpid() == parent:
            raise ValueError("here")
        time.sleep(0.02)
        with done.get_lock():
            done.value += 1
        return index

    with pytest.raises(ValueError, match="here"):
        share_work(shares, 3, work)
    assert multiprocessing.active_children() == []
    # Stopped, not left to finish the ~4 s of shares nobody will read.
    assert done.value < shares // 2
