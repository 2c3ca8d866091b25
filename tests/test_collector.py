"""The collector policy of the stages that build long-lived data (atomic_content.collector)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from atomic_content.collector import long_lived, paused


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def test_long_lived_freezes_what_the_block_made_and_restores_the_collector() -> None:
    with long_lived():
        assert not gc.isenabled()  # no collection pauses while loading
        kept = [[number] for number in range(1000)]
    assert gc.isenabled()
    # Everything alive, the block's objects included, is out of the collector's sight.
    assert gc.get_freeze_count() >= len(kept)
    watched = {id(item) for item in kept}
    assert not any(id(obj) in watched for obj in gc.get_objects())


def test_a_failed_block_freezes_nothing_and_restores_the_collector() -> None:
    with pytest.raises(ValueError), long_lived():
        [[number] for number in range(1000)]
        raise ValueError("damaged file")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    with paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
    with paused():
        pass
    assert not gc.isenabled()
    gc.enable()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


_FINALIZER_INTERRUPTED = """
import os, signal, time
from atomic_content.collector import collect_all

# As a process started in the foreground has it: a test run started in the background (`&`)
# hands its children an ignored SIGINT, and Python then leaves Ctrl-C ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)

class Cycle:
    def __del__(self):  # Ctrl-C arrives while the collector runs a finalizer
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # Python handles the signal here, inside the finalizer
            time.sleep(0)

cycle = Cycle()
cycle.itself = cycle
del cycle
try:
    collect_all()
except KeyboardInterrupt:
    print("interrupted after the collection")
else:
    print("the interrupt was lost")
"""


@pytest.mark.parametrize("number", ["SIGINT", "SIGTERM"])
def test_an_interrupt_during_a_full_collection_is_not_lost(number: str) -> None:
    """``atomic build --watch`` collects between builds; a KeyboardInterrupt raised inside a
    finalizer would be printed as "Exception ignored" and the watch would not stop. (SIGTERM
    raises it too in the watch, as here.)"""
    code = _FINALIZER_INTERRUPTED.replace("SIGINT", number)
    if number == "SIGTERM":
        code = code.replace(
            "cycle = Cycle()",
            "def stop(signum, frame):\n    raise KeyboardInterrupt\n"
            "signal.signal(signal.SIGTERM, stop)\ncycle = Cycle()",
        )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "interrupted after the collection", run.stderr
