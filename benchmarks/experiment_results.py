"""Generate the demo experiment's results file (seeded, so the committed CSV reproduces).

    PYTHONPATH=src python benchmarks/experiment_results.py [--out benchmarks/data/welcome-results.csv]

One row per customer who entered the welcome journey during the demo experiment
(content/experiments/welcome-personalization.yaml): 400 a day for 61 days. Each customer's arm
is the one the engine assigns (GrowthBook bucketing of the customer id), the segment is the
audience the welcome journey gives them. The true effects are known:

* new-customer: +3.5 percentage points (5.0% -> 8.5%);
* deal-seeker:  +3.0 percentage points (4.0% -> 7.0%);
* mobile-first, dach and generic: no effect (personalized = control);
* holdout (no welcome messages): 70% of the control rate in every segment.

``pre_revenue`` is the customer's spend in the 90 days before (a CUPED covariate: customers who
spent before convert more often); ``revenue`` the first order's value (0 without an order).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

from atomic_content.experiments import assign
from atomic_content.models import ArmKind
from atomic_content.validate import load_library

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261031
PER_DAY = 400
# audience -> (share of the journey's customers, control conversion rate, true lift)
AUDIENCES = {
    "new-customer": (0.12, 0.050, 0.035),
    "deal-seeker": (0.22, 0.040, 0.030),
    "mobile-first": (0.10, 0.060, 0.0),
    "dach": (0.26, 0.050, 0.0),
    "generic": (0.30, 0.045, 0.0),
}
HOLDOUT_FACTOR = 0.7


def generate(out: Path) -> int:
    library, _ = load_library(ROOT / "content")
    experiment = library.experiments["welcome-personalization"]
    assert experiment.end is not None
    rng = random.Random(SEED)
    names = list(AUDIENCES)
    shares = [AUDIENCES[name][0] for name in names]
    rows = []
    day = experiment.start
    number = 0
    while day <= experiment.end:
        for _ in range(PER_DAY):
            number += 1
            customer = f"NW-{200000 + number}"
            assignment = assign(experiment, {"id": customer}, library.profile)
            assert assignment.arm is not None  # coverage 1, no namespace: everybody is in
            segment = rng.choices(names, shares)[0]
            _share, rate, lift = AUDIENCES[segment]
            propensity = rng.random()  # 0..1: how keen the customer is
            pre_revenue = round(max(0.0, rng.gauss(160 * propensity, 40)), 2)
            # The keenness moves the rate between 0.4x and 1.6x; the arm moves it on top.
            if assignment.arm is ArmKind.PERSONALIZED:
                chance = rate * (0.4 + 1.2 * propensity) + lift
            elif assignment.arm is ArmKind.CONTROL:
                chance = rate * (0.4 + 1.2 * propensity)
            else:
                chance = HOLDOUT_FACTOR * rate * (0.4 + 1.2 * propensity)
            converted = rng.random() < chance
            revenue = round(rng.lognormvariate(4.0, 0.5), 2) if converted else 0.0
            rows.append(
                [customer, assignment.arm.value, segment, int(converted), revenue, pre_revenue,
                 day.isoformat()]
            )  # fmt: skip
        day += dt.timedelta(days=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["customer", "arm", "segment", "converted", "revenue", "pre_revenue", "date"]
        )
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/data/welcome-results.csv")
    args = parser.parse_args()
    count = generate(args.out)
    print(f"wrote {count} customers to {args.out}")


if __name__ == "__main__":
    main()
