"""Pipeline benchmark: load+validate, build (cold, no-op, one-atom edit, --jobs) and runtime.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--atoms 2000] [--segments 200] [--edits 3]
[--journeys 20] [--customers 2000] [--calls 2000] [--jobs-pairs 3] [--jobs-folder DIR] [--skip-build]
[--only runtime --work DIR]``

Generates a synthetic library with benchmarks/generate.py, then prints each figure next to a
baseline measured in the same run (these machines are noisy; ratios are what to compare):

* load + static checks vs. a bare parse of the same YAML files with ruamel's safe loader;
* cold build, no-op rebuild and one-atom-edit rebuild (ratios against the cold build), with
  the peak memory and the stage timings (``BuildResult.stages``) of each build process;
* the same one-atom edits in a running ``atomic build --watch`` (the build's own seconds, and
  the time from the save to its report, which adds the file watcher's wait for quiet);
* cold builds with ``--jobs 1`` against ``--jobs 2``, in interleaved pairs (fresh caches
  each; the median of the pairs' ratios), beside two ``--jobs 1`` builds at once: the
  speed-up a perfectly parallel ``--jobs 2`` would get at that moment (its ceiling); on a RAM
  disk when there is one (``--jobs-folder``), since this disk's write-back is what two
  builds at once measure otherwise;
* the whole warm ``Bundle.render`` call (record check + routing + token rendering + hard-limit
  check) per channel, on the demo content and on the generated library, vs. the floor: plain
  Jinja2 (``Environment(autoescape=True)``) rendering the routed variant's template parts with
  the same context;
* batch throughput of ``atomic render`` in customers per second.

Every timed build starts after ``os.sync()``: what the step before wrote is on the disk, so
no build pays for another's write-back. No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import shutil
import signal
import statistics
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
    """(CPU seconds of this process, result): in-process work is single-threaded, and CPU
    time does not count the time other processes on a shared machine take."""
    start = time.process_time()
    value = func(*args, **kwargs)
    return time.process_time() - start, value


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


def installed_env() -> dict[str, str]:
    """The environment of a CLI run as an installed package runs: with Python's bytecode cache.
    (Some sandboxes set PYTHONDONTWRITEBYTECODE, which recompiles every module at each start:
    0.28 s of a 0.48 s import here, a cost no installed copy pays.)"""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def build_command(content: Path, out: Path, *extra: str) -> list[str]:
    """The `atomic build` command line of the benchmark's builds."""
    command = [sys.executable, "-m", "atomic_content.cli", "build", "--content", str(content)]
    return [*command, "--out", str(out), "--date", DAY.isoformat(), "--format", "json", *extra]


def ram_disk(free: int = 4 << 30) -> Path | None:
    """``/dev/shm`` when it is there with ``free`` bytes to spare, else None."""
    folder = Path("/dev/shm")
    try:
        return folder if shutil.disk_usage(folder).free >= free else None
    except OSError:
        return None


def cold_builds(content: Path, work: Path, name: str, jobs: list[int]) -> float:
    """Seconds until cold builds with these ``--jobs``, started at once, have all finished
    (each with its own output and caches in ``work``, named after ``name`` and removed
    afterwards)."""
    env = installed_env()
    os.sync()
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            build_command(content, work / f"{name}-{i}", "--jobs", str(n)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "ATOMIC_CACHE_DIR": str(work / f"{name}-{i}-cache")},
        )
        for i, n in enumerate(jobs)
    ]
    codes = [proc.wait() for proc in procs]
    seconds = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"a build failed: exit codes {codes}")
    for folder in work.glob(f"*{name}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    return seconds


def twin_builds(content: Path, work: Path, name: str) -> float:
    """Seconds until two cold ``--jobs 1`` builds started at once have both finished.

    Two whole builds side by side are the most two processes can share out this work, on this
    machine at this moment: ``2 x (one build's time) / this`` is the speed-up a perfectly
    parallel ``--jobs 2`` would get, the ceiling its own figure is measured against. (These
    virtual machines' cores and disk are shared with others: the ceiling moves with them.)
    """
    return cold_builds(content, work, name, [1, 1])


def build_subprocess(
    content: Path, out: Path, *extra: str, cache: Path | None = None
) -> tuple[float, float, dict[str, float]]:
    """(seconds, peak MiB, stage seconds) of one `atomic build` in its own process.

    ``cache`` is the parse cache (ATOMIC_CACHE_DIR) the build uses; the variant cache lives
    next to ``out`` (``.<out>.cache``), so a fresh ``out`` means a cold variant cache.
    """
    env = installed_env()
    if cache is not None:
        env["ATOMIC_CACHE_DIR"] = str(cache)
    import resource

    # Flush what earlier steps wrote (the generated library, the previous build's tens of
    # thousands of files) before the clock starts: on this shared virtual disk the kernel
    # writes it back seconds later, and whichever build runs then paid for it (an edit right
    # after the cold build took 3 s of write stage where the next took 0.1 s).
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        build_command(content, out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{(stdout + stderr).decode()[-3000:]}")
    # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far; good enough as long
    # as the first (cold) build is the largest. Read it right after each build.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = after.ru_maxrss / 1024
    try:
        stages = json.loads(stdout).get("stages", {})
    except ValueError:
        stages = {}
    # CPU seconds of the build (and its workers): steadier than wall time on a busy machine.
    stages["cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return seconds, peak, stages


class WatchProcess:
    """A real `atomic build --watch --format json` on the benchmark's library and output."""

    def __init__(self, content: Path, out: Path, cache: Path) -> None:
        env = installed_env()
        env["ATOMIC_CACHE_DIR"] = str(cache)
        command = [sys.executable, "-m", "atomic_content.cli", "build", "--watch"]
        command += ["--format", "json", "--content", str(content), "--out", str(out)]
        command += ["--date", DAY.isoformat()]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.report()  # the first build (up to date here)

    def report(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"atomic build --watch ended:\n{self.stop()[-3000:]}")
        found: dict[str, Any] = json.loads(line)
        return found

    def edit(self, atom: Path) -> tuple[float, float, dict[str, float]]:
        """Edit ``atom`` and wait for the build: (seconds from the save to the report, the
        build's own seconds, its stages)."""
        os.sync()  # as before a one-shot build (see build_subprocess)
        time.sleep(1.0)  # the watch collects between builds; not while this one is timed
        start = time.perf_counter()
        atom.write_text(atom.read_text().replace("\ntext: ", "\ntext: Edited ", 1))
        report = self.report()
        waited = time.perf_counter() - start
        if "error" in report or report["skipped"]:
            raise SystemExit(f"watch build failed or did nothing: {report}")
        return waited, report["seconds"], report["stages"]

    def stop(self) -> str:
        # SIGTERM, not SIGINT: a benchmark started in the background (`... &`) passes on an
        # ignored SIGINT, and Python keeps it ignored.
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0:
            raise SystemExit(f"atomic build --watch failed:\n{err[-3000:]}")
        return err


def fmt_stages(stages: Mapping[str, float]) -> str:
    if not stages:
        return "none reported (stopped after the fingerprint)"
    return ", ".join(f"{name} {value:.2f} s" for name, value in stages.items())


def floor_context(record: Mapping[str, Any], bundle: Bundle, variant_id: str) -> Any:
    assembled = bundle.message(variant_id)
    return assembled, {"customer": record, "brand": assembled.brand, "slots": assembled.slot_data}


def with_embeds(slots: Mapping[str, Any], embeds: Mapping[str, str]) -> dict[str, Any]:
    result = dict(slots)
    for path, text in embeds.items():
        head, _, tail = path.partition(".")
        result[head] = {**result.get(head, {}), tail: text} if tail else text
    return result


def best_pair(ours: Any, floor: Any, rounds: int = 7) -> tuple[float, float, list[float]]:
    """(best of ``ours``, best of ``floor``, each round's ratio), timed in alternating rounds:
    a block of thousands of calls takes tens of milliseconds, and this machine's speed moves
    within seconds, so two blocks timed one after the other can meet different machines."""
    pairs = [(timed(ours)[0], timed(floor)[0]) for _ in range(rounds)]
    return (
        min(a for a, _ in pairs),
        min(b for _, b in pairs),
        [a / b for a, b in pairs],
    )


def runtime(
    label: str,
    bundle: Bundle,
    records: list[dict[str, Any]],
    messages: list[tuple[str, str, str]],
    calls: int,
) -> list[tuple[str, str, float, float]]:
    """Per channel: the whole warm Bundle.render call vs. plain Jinja2 on the same output."""
    floor_env = Environment(autoescape=True)
    rows = []
    for channel in ("email", "app", "microsite"):
        candidates = [m for m in messages if m[2] == channel]
        if not candidates:
            continue
        journey, step, _ = candidates[0]
        where = {"journey": journey, "step": step, "channel": channel, "on": DAY}
        # Customers whose message renders (skip records the message refuses, e.g. a missing
        # value without a default); warm: loads and compiles the template forms.
        ok = []
        for record in records:
            try:
                bundle.render(record, **where)
            except AtomicError:
                continue
            ok.append(record)
        if not ok:
            print(f"  {label} {channel}: no customer renders {journey}/{step}; skipped")
            continue
        group = list(itertools.islice(itertools.cycle(ok), calls))

        def ours(group: list[dict[str, Any]] = group, where: dict[str, Any] = where) -> None:
            for record in group:
                bundle.render(record, **where)

        # Floor: the routed variant's template parts, compiled beforehand (as ours are), rendered
        # by plain Jinja2 with the same context.
        compiled: dict[str, Any] = {}
        jobs = []
        for record in group:
            checked = check_record(record, bundle.profile)
            route = bundle.route(checked, journey=journey, step=step, channel=channel, on=DAY)
            assembled, context = floor_context(checked, bundle, route.variant_id)
            for part in assembled.parts:
                if part.source not in compiled:
                    compiled[part.source] = floor_env.from_string(part.source)
            jobs.append((assembled.parts, context))

        def floor(jobs: list[Any] = jobs) -> None:
            for parts, context in jobs:
                done: dict[str, str] = {}
                for part in parts:
                    ctx = context
                    if part.embeds:
                        embeds = {path: done[name] for path, name in part.embeds}
                        ctx = {**context, "slots": with_embeds(context["slots"], embeds)}
                    done[part.name] = compiled[part.source].render(ctx)

        ours_s, floor_s, ratios = best_pair(ours, floor)
        ours_us = ours_s / len(group) * 1e6
        floor_us = floor_s / len(group) * 1e6
        rows.append((label, channel, ours_us, floor_us))
        print(
            f"  {label} {channel} ({journey}/{step}, {len(ok)} customers, {len(group)} calls): "
            f"Bundle.render {ours_us:.1f} µs/call vs Jinja floor {floor_us:.1f} µs = "
            f"{ours_s / floor_s:.2f}x (target <= 1.5x); rounds "
            f"{min(ratios):.2f}-{max(ratios):.2f}x, median {statistics.median(ratios):.2f}x"
        )
    return rows


def bundle_messages(bundle: Bundle) -> list[tuple[str, str, str]]:
    return [
        (j.id, s.id, ch)
        for _, j in sorted(bundle.router.journeys.items())
        for s in j.steps
        for ch in sorted(s.channels)
    ]


def demo_records() -> list[dict[str, Any]]:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    return [
        dict(yaml.load(path.read_text(encoding="utf-8"))["attributes"])
        for path in sorted((DEMO / "customers").glob("*.yaml"))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--atoms", type=int, default=2_000, help="library size (atoms)")
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=2000, help="render calls per channel")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--edits", type=int, default=3, help="one-atom edits to time (median)")
    parser.add_argument(
        "--jobs-pairs", type=int, default=3, help="--jobs 1 / --jobs 2 pairs to time (median)"
    )
    parser.add_argument(
        "--jobs-folder",
        type=Path,
        help="where the --jobs pairs and the twin builds write (default: /dev/shm, a RAM disk, "
        "when it has 4 GiB free, else the work folder): two builds writing 38 000 files each "
        "at once measured the disk, not the build (0.67x)",
    )
    parser.add_argument(
        "--only",
        choices=("all", "runtime"),
        default="all",
        help="runtime: only the Bundle.render vs. Jinja floor comparison (fast iteration)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="with --only runtime: a folder kept between runs; the generated library and the "
        "builds in it are reused when present (delete it after changing the writer side)",
    )
    args = parser.parse_args()

    if args.only == "runtime":
        work = args.work or Path(tempfile.mkdtemp(prefix="atomic-bench-"))
        try:
            run_runtime(args, work)
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        return
    work = Path(tempfile.mkdtemp(prefix="atomic-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_runtime(args: argparse.Namespace, work: Path) -> None:
    """Only the runtime comparison; the library and both builds are made once per ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    os.environ["ATOMIC_CACHE_DIR"] = str(work / "parse-cache")
    content = work / "content"
    if not (content / ".complete").is_file():
        shutil.rmtree(content, ignore_errors=True)
        generate(content, atoms=args.atoms, segments=args.segments, journeys=args.journeys, seed=0)
        add_fallbacks(content)
        (content / ".complete").write_text("generated\n", encoding="utf-8")
    out, demo_out = work / "dist", work / "demo-dist"
    if not (out / "bundle" / "bundle.json").is_file():
        build_subprocess(content, out, cache=work / "build-cache")
    if not (demo_out / "bundle" / "bundle.json").is_file():
        build_subprocess(DEMO, demo_out, cache=work / "demo-cache")
    print("runtime, whole warm Bundle.render call vs. plain Jinja2 on the same output:")
    demo = load_bundle(demo_out)
    runtime("demo", demo, demo_records(), bundle_messages(demo), args.calls)
    bundle = load_bundle(out)
    people = customers(args.customers, args.segments)
    runtime("generated", bundle, people, bundle_messages(bundle), args.calls)


def run(args: argparse.Namespace, work: Path) -> None:
    # A parse cache of our own, empty at the start: "cold" means cold (builds inherit it).
    os.environ["ATOMIC_CACHE_DIR"] = str(work / "parse-cache")
    content = work / "content"
    generate(content, atoms=args.atoms, segments=args.segments, journeys=args.journeys, seed=0)
    add_fallbacks(content)
    files = sorted(content.rglob("*.yaml"))
    print(
        f"library: {args.atoms} atoms, {args.segments} segments, {args.journeys} journeys, "
        f"{len(files)} files"
    )

    # -- load + static checks -------------------------------------------------------------
    from ruamel.yaml import YAML

    def bare_parse() -> None:
        yaml = YAML(typ="safe", pure=True)
        for path in files:
            yaml.load(path.read_text(encoding="utf-8"))

    os.sync()  # the generated files, before anything is timed (see build_subprocess)
    base_s, _ = timed(bare_parse)
    load_s, (_library, diagnostics) = timed(static_check, content, DAY)
    print(
        f"load+validate (static checks, parse cache cold): {load_s:.2f} s "
        f"({load_s / len(files) * 1e3:.2f} ms/file); bare YAML parse {base_s:.2f} s; "
        f"ratio {load_s / base_s:.2f}x; {len(diagnostics.errors)} errors, "
        f"{len(diagnostics.warnings)} warnings"
    )
    warm_s, _ = timed(static_check, content, DAY)
    print(f"load+validate again, parse cache warm: {warm_s:.2f} s = {warm_s / load_s:.0%} of cold")

    if args.skip_build:
        return

    # -- build ----------------------------------------------------------------------------
    out = work / "dist"
    cold_s, cold_mem, cold_st = build_subprocess(content, out, cache=work / "build-cache")
    manifest = json.loads((out / "manifest.json").read_text())
    variants = len(manifest["variants"])
    print(
        f"cold build: {cold_s:.1f} s for {variants} variants "
        f"({cold_s / variants * 1e3:.1f} ms/variant), peak {cold_mem:.0f} MiB; "
        f"stages: {fmt_stages(cold_st)}"
    )
    noop_s, _, noop_st = build_subprocess(content, out, cache=work / "build-cache")
    print(
        f"no-op rebuild: {noop_s:.2f} s = {noop_s / cold_s:.1%} of cold (target < 5%); "
        f"stages: {fmt_stages(noop_st)}"
    )
    winners = sorted({s["atom"] for v in manifest["variants"] for s in v["slots"].values()})
    paths = {p.stem: p for p in (content / "atoms").rglob("*.yaml")}
    editable = [paths[a] for a in winners if a in paths and "\ntext: " in paths[a].read_text()]
    # Several edits, each of another atom spread over the library: one edit is one noisy
    # sample on a shared machine; the median is the figure. The cold build it is divided by
    # is a median too: another cold build (fresh output and caches) runs before each edit
    # but the first, so that cold builds and edits sample the same stretch of the machine's
    # speed, which drifts by half within minutes here.
    picks = [editable[(i * len(editable)) // args.edits] for i in range(args.edits)]
    walls, cpus = [], []
    colds, cold_cpus = [cold_s], [cold_st["cpu"]]
    for index, atom in enumerate(picks):
        if index:
            again_s, _, again_st = build_subprocess(
                content, work / f"cold-{index}", cache=work / f"cold-cache-{index}"
            )
            colds.append(again_s)
            cold_cpus.append(again_st["cpu"])
            print(f"cold build again: {again_s:.1f} s; stages: {fmt_stages(again_st)}")
        atom.write_text(atom.read_text().replace("\ntext: ", "\ntext: Edited ", 1))
        used_by = sum(
            1
            for v in manifest["variants"]
            if any(s["atom"] == atom.stem for s in v["slots"].values())
        )
        edit_s, _, edit_st = build_subprocess(content, out, cache=work / "build-cache")
        walls.append(edit_s)
        cpus.append(edit_st["cpu"])
        print(
            f"one-atom-edit rebuild ({atom.stem}, used by {used_by} variants): {edit_s:.2f} s; "
            f"CPU {edit_st['cpu']:.2f} s; stages: {fmt_stages(edit_st)}"
        )
    wall, cpu = sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]
    cold_wall, cold_cpu = sorted(colds)[len(colds) // 2], sorted(cold_cpus)[len(cold_cpus) // 2]
    print(
        f"cold build, median of {len(colds)}: {cold_wall:.1f} s, CPU {cold_cpu:.1f} s "
        f"({', '.join(f'{c:.1f}' for c in colds)} s)"
    )
    print(
        f"one-atom edit, median of {len(walls)}: {wall:.2f} s = {wall / cold_wall:.1%} of the "
        f"median cold build (target <= 10%); CPU {cpu:.2f} s = {cpu / cold_cpu:.1%} of cold CPU"
    )
    # The same edits in a running `atomic build --watch`, each next to a cold build of its
    # own (the machine's speed drifts within minutes: the ratio compares neighbours). The
    # first edit is not timed: it reads the caches from disk, as any new process does.
    watch = WatchProcess(content, out, work / "build-cache")
    watch.edit(picks[-1])
    watched, watch_colds = [], []
    for index, atom in enumerate(picks):
        again_s, _, _ = build_subprocess(
            content, work / f"cold-w{index}", cache=work / f"cold-w-cache-{index}"
        )
        watch_colds.append(again_s)
        waited, seconds, stages = watch.edit(atom)
        watched.append((waited, seconds))
        print(
            f"cold build {again_s:.1f} s, then a one-atom edit in atomic build --watch: build "
            f"{seconds:.2f} s = {seconds / again_s:.1%}, save to report {waited:.2f} s; "
            f"stages: {fmt_stages(stages)}"
        )
    watch.stop()
    watch_build = sorted(seconds for _w, seconds in watched)[len(watched) // 2]
    watch_wall = sorted(waited for waited, _b in watched)[len(watched) // 2]
    watch_cold = sorted(watch_colds)[len(watch_colds) // 2]
    print(
        f"one-atom edit in atomic build --watch, median of {len(watched)}: build "
        f"{watch_build:.2f} s = {watch_build / watch_cold:.1%} of the median of the cold builds "
        f"beside them ({watch_cold:.1f} s); save to report {watch_wall:.2f} s = "
        f"{watch_wall / watch_cold:.1%} (target <= 10%)"
    )
    # --jobs 1 against --jobs 2 in pairs, each pair side by side, fresh output and caches for
    # every build: a cold build writes tens of thousands of files, and this disk's cost for
    # that swings by several times within minutes (a lone pair measured 1.28x to 1.47x).
    # The figure is the median of the pairs' ratios.
    # Beside each pair, two --jobs 1 builds at once (see twin_builds): the speed-up a perfectly
    # parallel --jobs 2 would get at that moment, the ceiling the pair is measured against.
    ratios, ceilings = [], []
    jobs_root = args.jobs_folder or ram_disk() or work
    jobs_work = Path(tempfile.mkdtemp(prefix="atomic-bench-jobs-", dir=jobs_root))
    print(f"--jobs pairs and twin builds write in {jobs_root}")
    for pair in range(args.jobs_pairs):
        one_s, _, one_st = build_subprocess(
            content, jobs_work / f"dist-j1-{pair}", "--jobs", "1", cache=jobs_work / f"c1-{pair}"
        )
        two_s, _, two_st = build_subprocess(
            content, jobs_work / f"dist-j2-{pair}", "--jobs", "2", cache=jobs_work / f"c2-{pair}"
        )
        for name in (f"dist-j1-{pair}", f"dist-j2-{pair}"):  # 400 MB each, with the caches
            for folder in jobs_work.glob(f"*{name}*"):
                shutil.rmtree(folder, ignore_errors=True)
        twins = twin_builds(content, jobs_work, f"twins-{pair}")
        ratios.append(one_s / two_s)
        ceilings.append(2 * one_s / twins)
        print(
            f"cold build --jobs 1: {one_s:.1f} s ({fmt_stages(one_st)}); --jobs 2: {two_s:.1f} s "
            f"({fmt_stages(two_st)}); speed-up {one_s / two_s:.2f}x; two --jobs 1 builds at "
            f"once: {twins:.1f} s, a ceiling of {ceilings[-1]:.2f}x"
        )
    shutil.rmtree(jobs_work, ignore_errors=True)
    shares = [r / c for r, c in zip(ratios, ceilings, strict=True)]
    print(
        f"--jobs 2 speed-up, median of {len(ratios)} pairs: "
        f"{sorted(ratios)[len(ratios) // 2]:.2f}x ({', '.join(f'{r:.2f}' for r in ratios)}; "
        f"target >= 1.6x); the ceiling beside them (two --jobs 1 builds at once): median "
        f"{sorted(ceilings)[len(ceilings) // 2]:.2f}x; --jobs 2 got "
        f"{sorted(shares)[len(shares) // 2]:.0%} of it (median)"
    )

    # -- runtime vs. the Jinja floor --------------------------------------------------------
    print("runtime, whole warm Bundle.render call vs. plain Jinja2 on the same output:")
    demo_out = work / "demo-dist"
    build_subprocess(DEMO, demo_out, cache=work / "demo-cache")
    demo = load_bundle(demo_out)
    runtime("demo", demo, demo_records(), bundle_messages(demo), args.calls)
    bundle = load_bundle(out)
    people = customers(args.customers, args.segments)
    runtime("generated", bundle, people, bundle_messages(bundle), args.calls)

    # -- batch --------------------------------------------------------------------------------
    journey, step, channel = next(m for m in bundle_messages(bundle) if m[2] == "email")
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
        env=installed_env(),
    )
    batch_s = time.perf_counter() - start
    summary = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    print(
        f"batch render: {args.customers} customers in {batch_s:.1f} s = "
        f"{args.customers / batch_s:.0f} customers/s (rendered {summary.get('rendered')}, "
        f"failed {summary.get('failed')}, skipped {summary.get('skipped')}; "
        "includes process start and bundle load)"
    )


if __name__ == "__main__":
    main()
