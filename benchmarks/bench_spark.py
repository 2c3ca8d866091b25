"""Spark benchmark: render N generated customers (default 1 000 000) with the Spark engine in
local mode on 1 and on 2 cores, against the local engine in the same run.

Run: ``.venv/bin/python benchmarks/bench_spark.py [--customers 1000000] [--cores 1,2]
[--journey welcome --step day-0 --channel app] [--work DIR]``

Builds the demo content (content/), writes N customers of the demo profile as one Parquet file
(tests/customerkit.py: nested structs, nulls, every segment and locale), then renders them to
Parquet, each configuration in its own process:

* ``local``: ``atomic render --customers x.parquet --out y.parquet`` (one Python process);
* ``spark-N``: ``atomic render --engine spark --master local[N]`` (a JVM plus N Python
  workers; in local mode the driver is the executor).

Prints per configuration: wall seconds of the render (Spark: after the session started; the
session start is shown apart), customers per second, the ratio to the local engine, the
scaling ratio of 2 cores over 1 core, and peak memory: the whole process tree, the JVM and the
largest Python worker (sampled from /proc every 0.2 s, Linux only), and the CPU seconds the
process tree used (user + system, the last /proc value seen per process: customers per
CPU-second does not depend on how many other processes share the machine, wall-clock rates do). The rows of every
configuration are checked equal to the local engine's. No assertions on time: it prints
figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

DAY = dt.date(2026, 11, 22)
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree_rss(root: int) -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, RSS bytes, CPU seconds) of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    names: dict[int, tuple[str, int, float]] = {}
    for path in Path("/proc").iterdir():
        entry = path.name
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        children.setdefault(ppid, []).append(int(entry))
        names[int(entry)] = (name, int(statm[1]) * PAGE, cpu)
    found: dict[int, tuple[str, int, float]] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in names:
            found[pid] = names[pid]
        stack.extend(children.get(pid, []))
    return found


class Sampler:
    """Peak RSS of a process tree (total, the JVM, the largest Python worker) and the CPU
    seconds its processes used (the last value seen per process)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.total = self.jvm = self.python = 0
        self.cpu_seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            tree = _tree_rss(self.pid)
            self.total = max(self.total, sum(rss for _, rss, _ in tree.values()))
            jvm = [rss for name, rss, _ in tree.values() if name == "java"]
            workers = [
                rss
                for pid, (name, rss, _) in tree.items()
                if name.startswith("python") and pid != self.pid
            ]
            for pid, (_, _, cpu) in tree.items():
                self.cpu_seen[pid] = cpu
            self.jvm = max(self.jvm, *jvm, 0)
            self.python = max(self.python, *workers, 0)
            time.sleep(0.2)

    def done(self) -> None:
        self.stop.set()
        self.thread.join()


def run_one(args: argparse.Namespace) -> None:
    """Child process: one configuration; prints a JSON line with its figures."""
    from atomic_content.bundle import load_bundle
    from atomic_content.runtime import render_batch

    message = {"journey": args.journey, "step": args.step, "channel": args.channel}
    work = Path(args.work)
    figures: dict[str, Any] = {}
    if args.run == "local":
        start = time.perf_counter()
        result = render_batch(
            load_bundle(work / "dist"),
            work / "customers.parquet",
            out=work / "local.parquet",
            on=DAY,
            **message,
        )
        figures["seconds"] = time.perf_counter() - start
        figures["counts"] = [result.rendered, result.failed, result.skipped]
    else:
        from atomic_content.spark import render_parquet, session

        cores = int(args.run.split("-")[1])
        start = time.perf_counter()
        spark = session(f"local[{cores}]")
        spark.sparkContext.setLogLevel("ERROR")
        figures["startup"] = time.perf_counter() - start
        start = time.perf_counter()
        result = render_parquet(
            work / "dist",
            work / "customers.parquet",
            work / f"{args.run}.parquet",
            spark=spark,
            on=DAY,
            partitions=4 * cores,
            **message,
        )
        figures["seconds"] = time.perf_counter() - start
        figures["counts"] = [result.rendered, result.failed, result.skipped]
        spark.stop()
    print("RESULT " + json.dumps(figures))


def measure(run: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--run", run, "--work", str(work)]
    command += ["--journey", args.journey, "--step", args.step, "--channel", args.channel]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYSPARK_PYTHON": sys.executable}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    sampler = Sampler(process.pid)
    output, _ = process.communicate()
    sampler.done()
    cpu = sum(sampler.cpu_seen.values())
    if process.returncode != 0:
        raise SystemExit(f"{run} failed (exit {process.returncode}):\n{output}")
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    figures: dict[str, Any] = json.loads(line[len("RESULT ") :])
    figures.update(peak=sampler.total, jvm=sampler.jvm, python=sampler.python, cpu=cpu)
    return figures


def same_rows(work: Path, run: str) -> bool:
    import pyarrow.parquet as pq

    local = pq.read_table(work / "local.parquet").sort_by("customer_id")
    other = pq.read_table(work / f"{run}.parquet").sort_by("customer_id")
    return bool(other.select(local.schema.names).equals(local))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--cores", default="1,2", help="Spark local cores to try, e.g. 1,2")
    parser.add_argument("--journey", default="welcome")
    parser.add_argument("--step", default="day-0")
    parser.add_argument("--channel", default="app")
    parser.add_argument("--work", help="Working folder (default: a new temporary one)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(args)
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    from atomic_content.build import build
    from atomic_content.bundle import load_bundle
    from atomic_content.spark import pack_bundle
    from customerkit import write_demo_customers

    if not (work / "dist").exists():
        build(REPO / "content", work / "dist", on=DAY)
    zipped = len(pack_bundle(load_bundle(work / "dist").root))
    start = time.perf_counter()
    write_demo_customers(work / "customers.parquet", args.customers, seed=16)
    size = (work / "customers.parquet").stat().st_size
    message = f"{args.journey}/{args.step}/{args.channel}"
    print(
        f"{args.customers} customers ({size / 1e6:.1f} MB Parquet, generated in "
        f"{time.perf_counter() - start:.1f} s); message {message}; bundle zip {zipped / 1e3:.1f} kB; "
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    local = measure("local", args, work)
    base = args.customers / local["seconds"]
    per_cpu = args.customers / local["cpu"]
    print(
        f"  local engine   : {local['seconds']:7.1f} s  {base:7.0f} customers/s  "
        f"CPU {local['cpu']:6.1f} s = {per_cpu:5.0f} customers per CPU-second  "
        f"peak {local['peak'] / 2**20:6.0f} MiB  rows {local['counts']}"
    )
    rates: dict[int, float] = {}
    for cores in (int(c) for c in args.cores.split(",")):
        run = f"spark-{cores}"
        spark = measure(run, args, work)
        rates[cores] = args.customers / spark["seconds"]
        print(
            f"  spark local[{cores}]: {spark['seconds']:7.1f} s  {rates[cores]:7.0f} customers/s  "
            f"x{rates[cores] / base:.2f} of local  (session start {spark['startup']:.1f} s)  "
            f"CPU {spark['cpu']:6.1f} s = {args.customers / spark['cpu']:5.0f} customers per "
            f"CPU-second (x{args.customers / spark['cpu'] / per_cpu:.2f} of local)  "
            f"peak {spark['peak'] / 2**20:6.0f} MiB (JVM {spark['jvm'] / 2**20:.0f} MiB, "
            f"largest Python worker {spark['python'] / 2**20:.0f} MiB)  "
            f"rows equal to local: {same_rows(work, run)}"
        )
    if 1 in rates and 2 in rates:
        print(f"  scaling 2 cores / 1 core: x{rates[2] / rates[1]:.2f}")
    print(f"  load average after: {os.getloadavg()[0]:.1f}; work folder {work}")


if __name__ == "__main__":
    main()
