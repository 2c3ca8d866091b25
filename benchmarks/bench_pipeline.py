"""Pipeline benchmark: load+validate, segment evaluation, resolution, build and runtime.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--atoms 10000] [--segments 200]
[--journeys 20] [--customers 2000] [--skip-build]``

Generates a synthetic library with benchmarks/generate.py, then prints each figure next to a
baseline measured in the same run (these machines are noisy; ratios are what to compare):

* load+validate vs. a bare parse of the same YAML files with ruamel's safe loader;
* segment evaluation per customer (all segments) vs. a plain dict-lookup loop;
* resolution per message vs. one dict lookup per slot;
* cold build, no-op rebuild and one-atom-edit rebuild (ratios against the cold build), with
  the peak memory of each build process;
* render per customer per channel vs. the floor: Jinja2 alone rendering the final, already
  assembled variant template for that customer (same templates, plain ``Environment``);
* batch throughput of ``atomic render`` in customers per second.

No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from atomic_content.bundle import load_bundle  # noqa: E402
from atomic_content.resolver import Resolver  # noqa: E402
from atomic_content.validate import check_content  # noqa: E402

DAY = dt.date(2026, 11, 22)


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


def build_subprocess(content: Path, out: Path, *extra: str) -> tuple[float, float]:
    """(seconds, peak MiB) of one `atomic build` in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atomic_content.cli",
            "build",
            "--content",
            str(content),
            "--out",
            str(out),
            "--date",
            DAY.isoformat(),
            "--format",
            "json",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait4 gives this child's own peak memory (RUSAGE_CHILDREN would be the max of all runs).
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(
            f"build failed:\n{proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        )
    peak = usage.ru_maxrss / 1024
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--atoms", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="atomic-bench-"))
    # A parse cache of our own, empty at the start: "cold" means cold (builds inherit it).
    os.environ["ATOMIC_CACHE_DIR"] = str(work / "parse-cache")
    content = work / "content"
    generate(content, atoms=args.atoms, segments=args.segments, journeys=args.journeys, seed=0)
    add_fallbacks(content)
    files = sorted(content.rglob("*.yaml"))
    print(
        f"library: {args.atoms} atoms, {args.segments} segments, {args.journeys} journeys, {len(files)} files"
    )

    # -- load + validate ------------------------------------------------------------------
    from ruamel.yaml import YAML

    def bare_parse() -> None:
        yaml = YAML(typ="safe", pure=True)
        for path in files:
            yaml.load(path.read_text(encoding="utf-8"))

    base_s, _ = timed(bare_parse)
    load_s, (library, diagnostics) = timed(check_content, content)
    print(
        f"load+validate: {load_s:.2f} s ({load_s / len(files) * 1e3:.2f} ms/file); "
        f"bare YAML parse {base_s:.2f} s; ratio {load_s / base_s:.2f}x; "
        f"{len(diagnostics.errors)} errors, {len(diagnostics.warnings)} warnings"
    )

    warm_s, _ = timed(check_content, content)
    print(
        f"load+validate again, parse cache warm: {warm_s:.2f} s = {warm_s / load_s:.0%} of the first load"
    )

    # -- segments -------------------------------------------------------------------------
    resolver = Resolver(library)
    people = customers(args.customers, args.segments)
    index = resolver.segment_index
    seg_s, audiences = timed(lambda: [index.audience(c) for c in people])
    keys = [f"k{i}" for i in range(args.segments)]

    def baseline_loop() -> int:
        hits = 0
        for c in people:
            for k in keys:
                hits += c.get(k, 0) == 1 or c["score"] > 5
        return hits

    floor_s, _ = timed(baseline_loop)
    print(
        f"segment evaluation: {seg_s / len(people) * 1e6:.1f} µs/customer for {args.segments} segments "
        f"(baseline {floor_s / len(people) * 1e6:.1f} µs: {args.segments} dict lookups); "
        f"ratio {seg_s / floor_s:.2f}x; mean {sum(len(a.segments) for a in audiences) / len(audiences):.1f} segments/customer"
    )

    # -- resolution -----------------------------------------------------------------------
    messages = [
        (j.id, s.id, ch) for j in library.journeys.values() for s in j.steps for ch in s.channels
    ]
    rng = random.Random(2)
    sample = [(rng.choice(messages), rng.choice(audiences)) for _ in range(2000)]
    res_s, resolutions = timed(
        lambda: [resolver.resolve(j, s, ch, a, locale="de", on=DAY) for (j, s, ch), a in sample]
    )
    slots = sum(len(r.slots) for r in resolutions)
    lookup = {i: i for i in range(1000)}
    base_s2, _ = timed(lambda: [lookup.get(i % 1000) for i in range(slots)])
    warm_s, _ = timed(
        lambda: [resolver.resolve(j, s, ch, a, locale="de", on=DAY) for (j, s, ch), a in sample]
    )
    print(
        f"resolution, first time per (message, segment set): {res_s / len(sample) * 1e6:.0f} µs/message "
        f"({res_s / slots * 1e6:.1f} µs/slot, indexed); baseline dict lookup per slot "
        f"{base_s2 / slots * 1e6:.2f} µs; ratio {res_s / base_s2:.0f}x"
    )
    print(
        f"resolution, memo hit (same message and relevant segments): {warm_s / len(sample) * 1e6:.1f} µs/message; "
        f"ratio to baseline {warm_s / base_s2:.0f}x"
    )

    if args.skip_build:
        return

    # -- build ----------------------------------------------------------------------------
    out = work / "dist"
    cold_s, cold_mem = build_subprocess(content, out)  # empty cache: a real first build
    manifest = json.loads((out / "manifest.json").read_text())
    variants = len(manifest["variants"])
    noop_s, noop_mem = build_subprocess(content, out)
    winners = sorted({s["atom"] for v in manifest["variants"] for s in v["slots"].values()})
    paths = {p.stem: p for p in (content / "atoms").rglob("*.yaml")}
    atom = next(paths[a] for a in winners if a in paths and "\ntext: " in paths[a].read_text())
    atom.write_text(atom.read_text().replace("\ntext: ", "\ntext: Edited ", 1))
    used_by = sum(
        1 for v in manifest["variants"] if any(s["atom"] == atom.stem for s in v["slots"].values())
    )
    edit_s, edit_mem = build_subprocess(content, out)
    print(
        f"cold build: {cold_s:.1f} s for {variants} variants ({cold_s / variants * 1e3:.1f} ms/variant), peak {cold_mem:.0f} MiB"
    )
    print(
        f"no-op rebuild: {noop_s:.2f} s = {noop_s / cold_s:.1%} of cold (target < 5%), peak {noop_mem:.0f} MiB"
    )
    print(
        f"one-atom-edit rebuild ({atom.stem}, used by {used_by} variants): {edit_s:.2f} s = "
        f"{edit_s / cold_s:.1%} of cold, peak {edit_mem:.0f} MiB"
    )

    # -- runtime vs. the Jinja floor --------------------------------------------------------
    bundle = load_bundle(out)
    floor_env = Environment(autoescape=True, undefined=StrictUndefined)
    for channel in ("email", "app", "microsite"):
        candidates = [m for m in messages if m[2] == channel]
        if not candidates:
            continue
        journey, step, _ = candidates[0]
        group = people[:500]
        for c in group:  # warm: assemble once per distinct atom set, compile templates
            bundle.render(c, journey=journey, step=step, channel=channel, on=DAY)
        ours_s, _ = timed(
            lambda: [
                bundle.render(c, journey=journey, step=step, channel=channel, on=DAY) for c in group
            ]
        )
        # Floor: the already assembled template parts of each customer's variant, rendered by
        # plain Jinja2 with the same context (templates compiled beforehand, as ours are).
        compiled: dict[str, Any] = {}
        jobs = []
        for c in group:
            res = bundle.resolver.resolve_customer(c, journey, step, channel, on=DAY)
            key = (res.key.locale, tuple(sorted((s, a.id) for s, a in res.atoms.items())))
            assembled = next(v for k, v in bundle._assembled.items() if (k.locale, k.atoms) == key)
            for part in assembled.parts:
                if part.source not in compiled:
                    compiled[part.source] = floor_env.from_string(part.source)
            jobs.append((assembled, c))
        from atomic_content.render import declared_attributes
        from atomic_content.tokens import build_customer_context

        declared = declared_attributes(bundle.library)
        contexts = [
            (
                {
                    "customer": build_customer_context(c, declared),
                    "brand": a.brand,
                    "slots": a.slot_data,
                },
                a,
            )
            for a, c in jobs
        ]

        def floor() -> None:
            for ctx, assembled in contexts:
                for part in assembled.parts:
                    try:
                        compiled[part.source].render(ctx)
                    except Exception:
                        pass

        floor_s3, _ = timed(floor)
        from atomic_content.render import render_message

        stage_s, _ = timed(lambda: [render_message(bundle.library, a, c) for a, c in jobs])
        print(
            f"render {channel}: token rendering {stage_s / len(group) * 1e6:.0f} µs/customer vs "
            f"Jinja floor {floor_s3 / len(group) * 1e6:.0f} µs = {stage_s / floor_s3:.2f}x "
            f"(target <= 1.5x); whole call incl. segments + resolution "
            f"{ours_s / len(group) * 1e6:.0f} µs = {ours_s / floor_s3:.2f}x"
        )

    # -- batch --------------------------------------------------------------------------------
    journey, step, channel = next(m for m in messages if m[2] == "email")
    batch_in = work / "customers.jsonl"
    batch_in.write_text(
        "".join(json.dumps(c) + "\n" for c in customers(args.customers, args.segments, seed=9))
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "atomic_content.cli",
            "render",
            "--bundle",
            str(out),
            "--customers",
            str(batch_in),
            "--journey",
            journey,
            "--step",
            step,
            "--channel",
            channel,
            "--out",
            str(work / "out.jsonl"),
            "--date",
            DAY.isoformat(),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    batch_s = time.perf_counter() - start
    summary = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    print(
        f"batch render: {args.customers} customers in {batch_s:.1f} s = {args.customers / batch_s:.0f} customers/s "
        f"(rendered {summary.get('rendered')}, failed {summary.get('failed')}, skipped {summary.get('skipped')}; "
        "includes process start and bundle load)"
    )


if __name__ == "__main__":
    main()
