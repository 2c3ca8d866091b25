"""Studio benchmark: how long a save takes to reach the browser in ``atomic serve``.

Run: ``.venv/bin/python benchmarks/bench_serve.py [--atoms 10000] [--edits 5] [--skip-large]``

For the demo content and for a generated library (benchmarks/generate.py, plus one generic
fallback atom per slot so that it builds), a copy is served by the studio in a thread (uvicorn,
the watcher on, as ``atomic serve`` runs). A client listens to the event stream like the
browser's page does; each edit rewrites one atom's text and measures

* **save → event**: from the file write to the ``change`` event at the client (watcher,
  the whole re-check — load, static checks, plan, render of the changed variants, limits);
* **save → page**: the same plus loading the message page and its email frame again (what the
  browser does on the event).

Baselines measured in the same run, on the same copy: ``atomic validate`` of the content
(``validate.check_content``, with its usual on-disk parse and render caches, run twice: the
second run is the warm figure), and the studio's re-check alone with nothing changed
(``Studio.refresh``). No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_pipeline import add_fallbacks  # noqa: E402
from generate import generate  # noqa: E402

from atomic_content.serve import StudioConfig  # noqa: E402
from atomic_content.serve.server import Running, serve_in_thread  # noqa: E402
from atomic_content.validate import check_content  # noqa: E402

DAY = dt.date(2026, 11, 22)
DEMO = HERE.parent / "content"


class Listener:
    """Reads the studio's event stream in a thread; ``wait(after)`` returns the arrival time
    of the first ``change`` event received after ``after`` (time.perf_counter())."""

    def __init__(self, url: str) -> None:
        self.arrivals: list[float] = []
        self.ready = threading.Event()
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()
        self.ready.wait(30)

    def _run(self, url: str) -> None:
        with httpx.stream("GET", url + "/events", timeout=None) as stream:
            for line in stream.iter_lines():
                if line.startswith("retry:"):
                    self.ready.set()
                if line.startswith("event: change"):
                    with self.lock:
                        self.arrivals.append(time.perf_counter())
                        self.lock.notify_all()

    def wait(self, after: float, timeout: float = 600) -> float:
        with self.lock:
            self.lock.wait_for(lambda: any(t > after for t in self.arrivals), timeout)
            return next(t for t in self.arrivals if t > after)


def page_load(client: httpx.Client, path: str) -> None:
    page = client.get(path).text
    for src in re.findall(r'src="(/frame[^"]+)"', page)[:1]:
        client.get(unescape(src))


def message_path(running: Running) -> str:
    """The message page of the first email step of the first journey for the first sample
    customer (or, without sample customers, the generic audience with example values)."""
    workspace = running.studio.workspace
    assert workspace is not None
    library = workspace.library
    for journey in sorted(library.journeys.values(), key=lambda j: j.id):
        for step in journey.steps:
            if "email" in step.channels:
                who = (
                    f"customer={sorted(library.customers)[0]}"
                    if library.customers
                    else "audience=generic"
                )
                return f"/message?journey={journey.id}&step={step.id}&channel=email&{who}"
    return "/message"


def edit_target(running: Running) -> Path:
    """A file of an atom that wins in the message page's variant (so the edit shows)."""
    workspace = running.studio.workspace
    assert workspace is not None
    library = workspace.library
    winners = sorted(workspace.plan.winners())
    atom_id = next(a for a in winners if library.atoms[a].text)
    return running.studio.content / library.paths[("atom", atom_id)]


def measure(name: str, content: Path, edits: int) -> None:
    print(f"\n== {name}: {content}")
    began = time.perf_counter()
    _library, diagnostics = check_content(content, DAY)
    first_s = time.perf_counter() - began
    began = time.perf_counter()
    check_content(content, DAY)
    validate_s = time.perf_counter() - began
    print(
        f"atomic validate: first run {first_s:.3f} s, warm {validate_s:.3f} s "
        f"({len(diagnostics.errors)} errors)"
    )
    began = time.perf_counter()
    with serve_in_thread(StudioConfig(content, start=DAY), jobs=None) as running:
        start_s = time.perf_counter() - began
        snapshot = running.studio.snapshot
        assert snapshot is not None and snapshot.ok, "the content must be valid"
        workspace = running.studio.workspace
        assert workspace is not None
        print(
            f"studio start (first check): {start_s:.3f} s; "
            f"{len(workspace.plan.variants)} variants, {len(workspace.library.atoms)} atoms"
        )
        listener = Listener(running.url)
        path = message_path(running)
        target = edit_target(running)
        original = target.read_text(encoding="utf-8")
        to_event: list[float] = []
        to_page: list[float] = []
        rechecks: list[float] = []
        with httpx.Client(base_url=running.url, timeout=600) as client:
            page_load(client, path)
            for i in range(edits):
                text = original.replace("text:", f"text: Edit {i}", 1)
                saved = time.perf_counter()
                target.write_text(text, encoding="utf-8")
                arrived = listener.wait(saved)
                page_load(client, path)
                shown = time.perf_counter()
                to_event.append(arrived - saved)
                to_page.append(shown - saved)
                snapshot = running.studio.snapshot
                assert snapshot is not None
                rechecks.append(snapshot.seconds)
                time.sleep(0.3)
            restored = time.perf_counter()
            target.write_text(original, encoding="utf-8")
            listener.wait(restored)  # the studio is idle again
        began = time.perf_counter()
        running.studio.refresh()
        warm_s = time.perf_counter() - began
    median = statistics.median
    print(f"edited: {target.relative_to(content)}")
    print(f"save -> event   median {median(to_event):.3f} s  (max {max(to_event):.3f})")
    print(f"save -> page    median {median(to_page):.3f} s  (max {max(to_page):.3f})")
    print(f"re-check after an edit (in the studio) median {median(rechecks):.3f} s")
    print(f"re-check, nothing changed (warm cache): {warm_s:.3f} s")
    print(
        f"ratios: save->page / warm validate = {median(to_page) / validate_s:.2f}; "
        f"re-check / warm validate = {median(rechecks) / validate_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--atoms", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        demo = Path(tmp) / "demo"
        shutil.copytree(DEMO, demo)
        measure("demo content", demo, args.edits)
        if not args.skip_large:
            large = generate(Path(tmp) / "large", args.atoms, args.segments, args.journeys)
            add_fallbacks(large)
            measure(f"generated library ({args.atoms} atoms)", large, args.edits)


if __name__ == "__main__":
    main()
