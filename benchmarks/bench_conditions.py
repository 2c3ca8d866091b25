"""Benchmark: evaluating every segment condition for one customer.

Generates realistic segment conditions (default 200: country and language lists, age bands,
plans, tags, lifetime value, app versions, e-mail domains, dates, nested ``$or``/``$and``/``$not``,
saved groups) and customers (default 1 000, some attributes missing), compiles the conditions
once, then prints the time to evaluate all of them for one customer, next to a baseline
measured in the same run: a plain Python loop doing as many dict lookups and comparisons as
there are conditions. These machines are noisy; the ratio is the figure to compare.

Also printed: the same work with :func:`evaluate` (compiling on every call), to show what
compiling once buys.

Run: ``.venv/bin/python benchmarks/bench_conditions.py [--segments N] [--customers N]
[--seed N] [--repeat N]``. No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from atomic_content.conditions import compile_condition, evaluate
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from atomic_content.conditions import compile_condition, evaluate

COUNTRIES = ["DE", "AT", "CH", "FR", "IT", "ES", "NL", "BE", "PL", "SE", "DK", "GB", "US"]
LANGUAGES = ["de", "en", "fr", "it", "es", "nl", "pl", "sv"]
PLANS = ["free", "basic", "plus", "premium", "business"]
TAGS = ["vip", "newsletter", "churn-risk", "b2b", "student", "beta", "app-user", "gift"]
CITIES = ["Berlin", "Wien", "Zürich", "Paris", "Milano", "Madrid", "Amsterdam", "Warszawa"]
DOMAINS = ["example.com", "mail.de", "web.de", "gmail.com", "company.io", "uni.edu"]


def make_condition(rng: random.Random) -> dict[str, Any]:
    """One segment condition: one to four clauses, sometimes combined with $or / $not."""
    makers: list[Callable[[], dict[str, Any]]] = [
        lambda: {"country": {"$in": rng.sample(COUNTRIES, rng.randint(1, 4))}},
        lambda: {"language": rng.choice(LANGUAGES)},
        lambda: {"age": {"$gte": rng.randint(16, 40), "$lt": rng.randint(41, 80)}},
        lambda: {"plan": {"$in": rng.sample(PLANS, 2)}},
        lambda: {"plan": {"$ne": "free"}},
        lambda: {"tags": {"$elemMatch": {"$eq": rng.choice(TAGS)}}},
        lambda: {"tags": {"$in": rng.sample(TAGS, 2)}},
        lambda: {"tags": {"$all": rng.sample(TAGS, 2)}},
        lambda: {"lifetime_value": {"$gt": rng.choice([50, 100, 250, 500, 1000])}},
        lambda: {"newsletter": True},
        lambda: {"app_version": {"$vgte": f"{rng.randint(1, 3)}.{rng.randint(0, 9)}.0"}},
        lambda: {"email": {"$regex": "@" + rng.choice(DOMAINS).replace(".", "\\.") + "$"}},
        lambda: {"address.country": rng.choice(COUNTRIES)},
        lambda: {"address.city": {"$regexi": "^" + rng.choice(CITIES)[:3].lower()}},
        lambda: {"signup_date": {"$gte": f"20{rng.randint(18, 24)}-0{rng.randint(1, 9)}-01"}},
        lambda: {"last_order_days": {"$lte": rng.choice([7, 30, 90, 180])}},
        lambda: {"phone": {"$exists": rng.random() < 0.5}},
        lambda: {"id": {"$inGroup": rng.choice(["beta_testers", "staff"])}},
    ]
    clauses = [rng.choice(makers)() for _ in range(rng.randint(1, 4))]
    shape = rng.random()
    if shape < 0.15 and len(clauses) > 1:
        return {"$or": clauses}
    if shape < 0.25:
        return {"$and": [*clauses[:-1], {"$not": clauses[-1]}]}
    merged: dict[str, Any] = {}
    for clause in clauses:
        merged.update(clause)
    return merged


def make_customer(rng: random.Random, number: int) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "id": f"c{number:05}",
        "country": rng.choice(COUNTRIES),
        "language": rng.choice(LANGUAGES),
        "plan": rng.choice(PLANS),
        "tags": rng.sample(TAGS, rng.randint(0, 4)),
        "lifetime_value": round(rng.uniform(0, 2000), 2),
        "newsletter": rng.random() < 0.6,
        "email": f"user{number}@{rng.choice(DOMAINS)}",
        "address": {"country": rng.choice(COUNTRIES), "city": rng.choice(CITIES)},
        "signup_date": f"20{rng.randint(15, 24)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}",
    }
    optional = {
        "age": rng.randint(16, 90),
        "app_version": f"{rng.randint(1, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 5)}",
        "last_order_days": rng.randint(0, 365),
        "phone": "+49 30 1234567",
    }
    for key, value in optional.items():
        if rng.random() < 0.75:  # some customers lack some attributes
            customer[key] = value
    return customer


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Best wall time of ``repeat`` runs, in seconds (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    conditions = [make_condition(rng) for _ in range(args.segments)]
    customers = [make_customer(rng, n) for n in range(args.customers)]
    saved_groups = {
        "beta_testers": [f"c{n:05}" for n in range(0, args.customers, 7)],
        "staff": [f"c{n:05}" for n in range(0, args.customers, 50)],
    }

    start = time.perf_counter()
    compiled = [compile_condition(condition) for condition in conditions]
    compile_seconds = time.perf_counter() - start

    def run_compiled() -> int:
        matches = 0
        for customer in customers:
            for condition in compiled:
                if condition(customer, saved_groups):
                    matches += 1
        return matches

    # Baseline: the same number of dict lookups and comparisons, hand-written.
    keys = ["country", "plan", "lifetime_value", "age", "language", "newsletter"]
    checks: list[tuple[str, Any]] = []
    for index in range(args.segments):
        key = keys[index % len(keys)]
        value = {"country": "DE", "plan": "plus", "lifetime_value": 250.0, "age": 30}.get(
            key, "de" if key == "language" else True
        )
        checks.append((key, value))

    def run_baseline() -> int:
        matches = 0
        for customer in customers:
            for key, value in checks:
                actual = customer.get(key)
                if actual is not None and (
                    actual >= value if isinstance(value, float | int) else actual == value
                ):
                    matches += 1
        return matches

    sample = customers[: max(1, args.customers // 10)]

    def run_uncompiled() -> int:
        return sum(
            1
            for customer in sample
            for condition in conditions
            if evaluate(condition, customer, saved_groups)
        )

    matches = run_compiled()
    compiled_seconds = best_of(args.repeat, run_compiled)
    baseline_seconds = best_of(args.repeat, run_baseline)
    uncompiled_seconds = best_of(max(1, args.repeat // 2), run_uncompiled)

    per_customer = compiled_seconds / args.customers * 1e6
    per_condition = compiled_seconds / (args.customers * args.segments) * 1e9
    baseline_per_customer = baseline_seconds / args.customers * 1e6
    uncompiled_per_customer = uncompiled_seconds / len(sample) * 1e6
    print(f"segments: {args.segments}, customers: {args.customers}, seed: {args.seed}")
    print(f"compile all segments:            {compile_seconds * 1e3:9.2f} ms (once)")
    print(
        f"compiled, all segments/customer: {per_customer:9.1f} µs"
        f"  ({per_condition:.0f} ns per condition; {matches} matches)"
    )
    print(f"baseline loop, same lookups:     {baseline_per_customer:9.1f} µs")
    print(f"ratio compiled / baseline:       {per_customer / baseline_per_customer:9.1f} x")
    print(
        f"evaluate() uncompiled:           {uncompiled_per_customer:9.1f} µs"
        f"  ({uncompiled_per_customer / per_customer:.0f} x the compiled time)"
    )


if __name__ == "__main__":
    main()
