"""``--jobs 2`` against its ceiling, and where its CPU goes.

Run: ``.venv/bin/python benchmarks/bench_jobs.py [--atoms 10000] [--segments 50]
[--journeys 10] [--runs 3] [--folder DIR]``

Generates the library of bench_pipeline.py, then per run, on a RAM disk when there is one
(``--folder``; on a shared virtual disk two builds at once measure its write-back):

* one cold ``atomic build --jobs 1``, two of them at once, one cold ``--jobs 2``. Two whole
  builds side by side are the same work perfectly parallel, so ``2 x one ÷ the two`` is the
  most any ``--jobs 2`` could get at that moment (these virtual cores are shared with other
  tenants: it moves); the figure is ``--jobs 2``'s share of it;
* the CPU seconds of each stage of an in-process ``--jobs 1`` and ``--jobs 2`` build, in the
  parent and in its worker processes (``RUSAGE_CHILDREN`` counts a worker when its pool has
  joined it, at the end of the stage).

No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_pipeline import DAY, add_fallbacks, cold_builds, ram_disk, twin_builds  # noqa: E402
from generate import generate  # noqa: E402


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime


def stage_cpu(content: Path, work: Path, jobs: int) -> list[tuple[str, float, float, float]]:
    """``(stage, wall, parent CPU, workers' CPU)`` of one cold in-process build, and a last
    row for the whole build."""
    from atomic_content import build as build_module
    from atomic_content import pipeline, repository, validate

    rows: list[tuple[str, float, float, float]] = []
    stages: list[tuple[Any, str, str]] = [
        (repository, "share_work", "shared work (parse, atom checks)"),
        (validate, "validate_library", "cross-file checks"),
        (pipeline, "make_plan", "plan"),
        (pipeline, "render_plan", "render"),
        (build_module, "output_files", "manifest and bundle"),
        (build_module, "write_output", "write"),
    ]
    originals: list[tuple[Any, str, Callable[..., Any]]] = []
    for module, name, label in stages:
        original = getattr(module, name)
        originals.append((module, name, original))

        def timed(*args: Any, _f: Callable[..., Any] = original, _l: str = label, **kw: Any) -> Any:
            start, (own, workers) = time.perf_counter(), _cpu()
            try:
                return _f(*args, **kw)
            finally:
                own_after, workers_after = _cpu()
                rows.append(
                    (_l, time.perf_counter() - start, own_after - own, workers_after - workers)
                )

        setattr(module, name, timed)
    os.environ["ATOMIC_CACHE_DIR"] = str(work / "cache")
    try:
        start, (own, workers) = time.perf_counter(), _cpu()
        build_module.build(content, work / "out", on=DAY, jobs=jobs)
        own_after, workers_after = _cpu()
        rows.append(
            ("whole build", time.perf_counter() - start, own_after - own, workers_after - workers)
        )
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
        for path in work.iterdir():
            shutil.rmtree(path, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--journeys", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--folder", type=Path, help="where the builds write (default: a RAM disk)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="atomic-bench-jobs-", dir=args.folder or ram_disk()))
    try:
        content = root / "content"
        generate(content, atoms=args.atoms, segments=args.segments, journeys=args.journeys, seed=0)
        add_fallbacks(content)
        work = root / "work"
        work.mkdir()
        print(f"library: {args.atoms} atoms; builds write in {root}")
        shares = []
        for run in range(args.runs):
            one = cold_builds(content, work, "one", [1])
            twins = twin_builds(content, work, "twins")
            two = cold_builds(content, work, "two", [2])
            ceiling = 2 * one / twins
            shares.append(one / two / ceiling)
            print(
                f"run {run + 1}: --jobs 1 {one:.1f} s; two at once {twins:.1f} s, a ceiling of "
                f"{ceiling:.2f}x; --jobs 2 {two:.1f} s = {one / two:.2f}x, "
                f"{one / two / ceiling:.0%} of the ceiling"
            )
        print(f"--jobs 2's share of the ceiling, median: {sorted(shares)[len(shares) // 2]:.0%}")
        for jobs in (1, 2):
            print(f"CPU seconds by stage, --jobs {jobs} (wall; parent + workers):")
            for label, wall, own, workers in stage_cpu(content, work, jobs):
                print(f"  {label:32s} {wall:5.2f} s; {own:5.2f} + {workers:5.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
