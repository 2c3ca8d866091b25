"""Benchmark: coverage of a synthetic library (default 10 000 atoms, 200 segments, 20 journeys).

Writes the library as real YAML with :func:`generate.generate` into a temporary folder, loads it
(not timed), then times :func:`atomic_content.coverage.compute_coverage` and prints seconds plus
ratios against two references measured in the same run, so figures compare across machines:

* ``baseline`` — a plain Python loop over as many cells as the report has, one dict lookup
  each: the floor for anything that touches every cell;
* ``plain resolver`` — ``Resolver.resolve`` once per (message, segment) without the coverage
  memo, timed on a sample and extrapolated: what a naive coverage would cost for its first
  pass alone (it would need a drafts pass and expiry passes on top).

Run: ``.venv/bin/python benchmarks/bench_coverage.py [--atoms N] [--segments N]
[--journeys N] [--seed N] [--repeat N] [--validate]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from atomic_content.coverage import compute_coverage
from atomic_content.plan import journey_locales
from atomic_content.repository import Library, load_files
from atomic_content.resolver import Resolver
from atomic_content.segments import Audience, SegmentIndex
from atomic_content.validate import load_library

DATE = dt.date(2026, 11, 20)


def baseline(keys: list[tuple[str, ...]]) -> float:
    """Seconds for one dict lookup per cell (the same number of cells as the report)."""
    table = dict.fromkeys(keys, 1)
    start = time.perf_counter()
    total = 0
    for key in keys:
        total += table[key]
    elapsed = time.perf_counter() - start
    assert total == len(keys)
    return elapsed


def plain_resolver(library: Library, sample: int = 1500) -> tuple[float, int]:
    """(extrapolated seconds, messages) for one plain resolve per (message, segment)."""
    resolver = Resolver(library)
    index = SegmentIndex(library.segments, library.profile)
    jobs = []
    for journey in sorted(library.journeys.values(), key=lambda j: j.id):
        for step in journey.steps:
            for channel in sorted(step.channels):
                for locale in journey_locales(library, journey):
                    for segment in index.journey_segments(journey):
                        jobs.append((journey.id, step.id, channel, locale, segment))
    # Every k-th job, so that the sample spans all journeys.
    stride = max(1, len(jobs) // sample)
    picked = jobs[::stride]
    start = time.perf_counter()
    for journey_id, step_id, channel, locale, segment in picked:
        resolver.resolve(
            journey_id, step_id, channel, Audience.for_segment(segment), locale=locale, on=DATE
        )
    elapsed = time.perf_counter() - start
    return elapsed * len(jobs) / len(picked), len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=10000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="time this many runs; best wins")
    parser.add_argument(
        "--validate", action="store_true", help="load with full validation (slower)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="atomic-bench-") as tmp:
        root = Path(tmp) / "content"
        start = time.perf_counter()
        generate(root, args.atoms, args.segments, args.journeys, args.seed)
        generated = time.perf_counter() - start
        start = time.perf_counter()
        if args.validate:
            library, _warnings = load_library(root)
        else:
            # The generator writes valid content (tests/test_coverage.py validates small ones);
            # shape checks still run, cross-file validation is skipped to keep the run short.
            library, diagnostics = load_files(root)
            if diagnostics.has_errors:
                raise SystemExit(f"generated content has errors: {diagnostics.errors[:3]}")
        loaded = time.perf_counter() - start

        runs = []
        report = None
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            report = compute_coverage(library, on=DATE, horizon_days=14)
            runs.append(time.perf_counter() - start)
        assert report is not None
        seconds = min(runs)
        cells = len(report.cells)
        keys = [(c.journey, c.step, c.channel, c.slot, c.locale, c.segment) for c in report.cells]
        base = baseline(keys)
        naive, messages = plain_resolver(library)

    overall = report.overall
    print(
        f"library: {args.atoms} atoms, {args.segments} segments, {args.journeys} journeys "
        f"(seed {args.seed}); generated in {generated:.1f} s, loaded in {loaded:.1f} s"
    )
    print(
        f"cells: {cells} ({messages} message x segment pairs); {overall.specific} specific, "
        f"{overall.generic} generic, {overall.fallback_locale} fallback-locale, "
        f"{overall.missing} missing; {len(report.gaps)} gaps"
    )
    print(
        f"coverage: {seconds:.3f} s (best of {len(runs)}), "
        f"{cells / seconds:,.0f} cells/s, {seconds / cells * 1e6:.1f} us/cell"
    )
    print(f"baseline (dict lookup per cell): {base:.4f} s; ratio {seconds / base:,.0f}x")
    print(
        f"plain resolver, one resolve per pair (extrapolated, first pass only): {naive:.2f} s; "
        f"coverage with all its passes takes {seconds / naive:.2f}x that"
    )


if __name__ == "__main__":
    main()
