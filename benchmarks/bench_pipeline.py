"""Pipeline benchmark: load+validate, build (cold, no-op, one-atom edit, --jobs) and runtime.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--atoms 2000] [--segments 200]
[--journeys 20] [--customers 2000] [--calls 2000] [--skip-build]``

Generates a synthetic library with benchmarks/generate.py, then prints each figure next to a
baseline measured in the same run (these machines are noisy; ratios are what to compare):

* load + static checks vs. a bare parse of the same YAML files with ruamel's safe loader;
* cold build, no-op rebuild and one-atom-edit rebuild (ratios against the cold build), with
  the peak memory and the stage timings (``BuildResult.stages``) of each build process;
* a cold build with ``--jobs 1`` against one with ``--jobs 2`` (fresh caches both);
* the whole warm ``Bundle.render`` call (record check + routing + token rendering + hard-limit
  check) per channel, on the demo content and on the generated library, vs. the floor: plain
  Jinja2 (``Environment(autoescape=True)``) rendering the routed variant's template parts with
  the same context;
* batch throughput of ``atomic render`` in customers per second.

No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from atomic_content.bundle import Bundle, load_bundle  # noqa: E402
from atomic_content.errors import AtomicError  # noqa: E402
from atomic_content.records import check_record  # noqa: E402
from atomic_content.validate import static_check  # noqa: E402

DAY = dt.date(2026, 11, 22)
DEMO = HERE.parent / "content"


def timed(func: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return time.perf_counter() - start, value


def customers(n: int, segments: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    tiers = ["bronze", "silver", "gold", "platinum"]
    return [
        {
            "id": f"C-{i}",
            "first_name": rng.choice(["Ada", "Bo", "Cy", "Dee", None]),
            "locale": rng.choice(["en", "de", "de-AT"]),
            "tier": rng.choice(tiers),
            "score": rng.randrange(0, segments * 2),
            "orders": rng.randrange(0, 20),
            "consent": {"personalization": rng.random() > 0.05},
        }
        for i in range(n)
    ]


FALLBACK = {
    "line": "text: Fallback copy for {slot}\n",
    "markdown": "text: |\n  Fallback copy for {slot}, with a [link](https://www.synthetic.example/).\n",
    "cta": "cta: {{label: Shop now, url: https://www.synthetic.example/shop}}\n",
    "image": "image: {{src: https://cdn.synthetic.example/hero.jpg, alt: A trail at dawn}}\n",
    "offer": "offer: {{code: SAVE10, headline: Ten percent off}}\n",
}


def add_fallbacks(content: Path) -> None:
    """The generator leaves gaps on purpose (coverage needs them); a build needs every required
    slot filled, so add one generic, approved atom per slot in the default locale."""
    from atomic_content.models import DEFAULT_SLOTS

    for slot, spec in DEFAULT_SLOTS.items():
        body = FALLBACK[spec.kind.value].format(slot=slot)
        (content / "atoms" / f"zz-fallback-{slot}.yaml").write_text(
            f"slot: {slot}\nstatus: approved\npriority: -100\n{body}", encoding="utf-8"
        )


