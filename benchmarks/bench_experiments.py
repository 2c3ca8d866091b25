"""Benchmark: what a running experiment costs the router, and how fast ``atomic analyze`` is.

Builds nothing: the demo content's plan for one day is made once, then the same records are
routed to the welcome journey's day-0 email by two routers of that plan — one without
experiments (the baseline, measured in the same run) and one with the demo experiment switched
to running — and the time per record and the ratio are printed. Then the demo results file
(24 400 customers) is read and analyzed, with and without CUPED.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_experiments.py [--records N]
[--repeat N]``. No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:  # run from a checkout without the package installed
    sys.path.insert(0, str(ROOT / "src"))

from atomic_content.experiment_analysis import analyze, read_results  # noqa: E402
from atomic_content.models import ExperimentStatus  # noqa: E402
from atomic_content.plan import Router, make_plan  # noqa: E402
from atomic_content.validate import load_library  # noqa: E402

DAY = dt.date(2026, 11, 22)


def records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"NW-{n}",
            "locale": ["en", "de", "de-AT"][n % 3],
            "tier": ["none", "silver", "gold"][n % 3],
            "orders": {"count": n % 3},
            "discount_affinity": (n % 10) / 10,
            "signup_date": "2026-10-01",
        }
        for n in range(count)
    ]


def best(repeat: int, run: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    library, _ = load_library(ROOT / "content")
    assert library.settings is not None
    plan = make_plan(library, DAY)
    experiment = library.experiments["welcome-personalization"].model_copy(
        update={
            "status": ExperimentStatus.RUNNING,
            "start": DAY,
            "end": DAY + dt.timedelta(days=30),
        }
    )
    plain = Router(
        library.settings, library.profile, library.segments, library.journeys, plan.routing
    )
    tested = Router(
        library.settings, library.profile, library.segments, library.journeys, plan.routing,
        [experiment],
    )  # fmt: skip
    batch = records(args.records)

    def route_all(router: Router) -> None:
        for record in batch:
            router.route(record, journey="welcome", step="day-0", channel="email", on=DAY)

    base = best(args.repeat, lambda: route_all(plain))
    with_experiment = best(args.repeat, lambda: route_all(tested))
    print(f"routing, {args.records} records, best of {args.repeat}:")
    print(f"  no experiment (baseline): {base / args.records * 1e6:8.2f} µs per record")
    print(f"  running experiment:       {with_experiment / args.records * 1e6:8.2f} µs per record")
    print(f"  ratio:                    {with_experiment / base:8.2f}x")

    results_file = ROOT / "benchmarks" / "data" / "welcome-results.csv"
    analyzed = library.experiments["welcome-personalization"]
    read = best(args.repeat, lambda: read_results(results_file, covariate="pre_revenue"))
    results = read_results(results_file, covariate="pre_revenue")
    plain_results = read_results(results_file)
    with_cuped = best(args.repeat, lambda: analyze(results, analyzed))
    without = best(args.repeat, lambda: analyze(plain_results, analyzed))
    print(f"analyze, {len(results.rows)} customers, best of {args.repeat}:")
    print(f"  read the CSV:           {read * 1000:8.1f} ms")
    print(f"  analyze (z-tests):      {without * 1000:8.1f} ms")
    print(f"  analyze (CUPED, Welch): {with_cuped * 1000:8.1f} ms  ({with_cuped / without:.1f}x)")


if __name__ == "__main__":
    main()
