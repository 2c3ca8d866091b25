"""Generated customers of the demo profile (content/profile.yaml) as an Arrow table.

``demo_customers(n, seed)`` is deterministic: the same arguments give the same rows. Nested
attributes are struct columns (``address``, ``orders``, ``cart``, ``consent``), dates are Arrow
dates, optional attributes are sometimes null, and the mix reaches every segment of the demo
(VIPs, lapsed, cart abandoners, deal seekers, DACH, mobile-first, new customers) in every
locale, with a few customers who refuse personalization. Used by the Spark and Parquet tests
and by benchmarks/bench_spark.py.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("locale", pa.string()),
        ("tier", pa.string()),
        ("address", pa.struct([("country", pa.string()), ("city", pa.string())])),
        ("orders", pa.struct([("count", pa.int64()), ("last_date", pa.date32())])),
        ("lifetime_value", pa.float64()),
        ("app_installed", pa.bool_()),
        ("sessions_mobile_share", pa.float64()),
        ("discount_affinity", pa.float64()),
        ("last_active_days", pa.int64()),
        ("cart", pa.struct([("items", pa.int64()), ("top_item", pa.string())])),
        (
            "consent",
            pa.struct(
                [
                    ("personalization", pa.bool_()),
                    ("email_marketing", pa.bool_()),
                    ("profiling", pa.bool_()),
                ]
            ),
        ),
        ("signup_date", pa.date32()),
    ]
)

NAMES = ["Anna", "Jonas", "Lea", "Maria", "Oliver", "Sam", "Tom", "Zoë", None]
CITIES = {"AT": "Wien", "DE": "Berlin", "CH": "Zürich", "GB": "London", "US": "Austin"}
ITEMS = ["Fjell 3L Rain Shell", "Trail Runner GTX", "Merino Base Layer", "Alpine Pack 30"]


def demo_customer(i: int, rng: random.Random) -> dict[str, Any]:
    country = rng.choice([*CITIES, None])
    orders = rng.choice([0, 0, 1, 2, 5, 14, 40])
    signup = dt.date(2026, 11, 22) - dt.timedelta(days=rng.choice([3, 10, 60, 400, 2000]))
    has_cart = rng.random() < 0.3
    return {
        "id": f"NW-{i:07d}",
        "first_name": rng.choice(NAMES),
        "last_name": rng.choice(["Gruber", "Weber", "Smith", None]),
        "email": f"customer{i}@example.com",
        "locale": rng.choice(["en", "de", "de-AT"]),
        "tier": rng.choice(["none", "silver", "gold", "platinum"]),
        "address": None if country is None else {"country": country, "city": CITIES[country]},
        "orders": {
            "count": orders,
            "last_date": None if orders == 0 else signup + dt.timedelta(days=1),
        },
        "lifetime_value": round(rng.uniform(0, 5000), 2),
        "app_installed": rng.random() < 0.4,
        "sessions_mobile_share": round(rng.random(), 2),
        "discount_affinity": round(rng.random(), 2),
        "last_active_days": rng.choice([1, 12, 45, 120, 400]),
        "cart": {"items": rng.randint(1, 4), "top_item": rng.choice(ITEMS)} if has_cart else None,
        # Most customers give every consent; a few refuse personalization, marketing email or
        # profiling, or were never asked about profiling (null: no consent).
        "consent": {
            "personalization": rng.random() > 0.05,
            "email_marketing": rng.random() > 0.05,
            "profiling": rng.choice([True] * 18 + [False, None]),
        },
        "signup_date": signup,
    }


def demo_customers(n: int, seed: int = 0) -> pa.Table:
    """``n`` generated customers of the demo profile (ids ``NW-0000000`` ...)."""
    rng = random.Random(seed)
    return pa.Table.from_pylist([demo_customer(i, rng) for i in range(n)], schema=SCHEMA)


def write_demo_customers(path: Path, n: int, seed: int = 0, row_group: int = 50_000) -> Path:
    """Write :func:`demo_customers` as Parquet, generating in pieces (constant memory)."""
    rng = random.Random(seed)
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for start in range(0, n, row_group):
            rows = [demo_customer(i, rng) for i in range(start, min(n, start + row_group))]
            writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
    return path
