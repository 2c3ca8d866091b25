"""Start-up benchmark: ``atomic --help`` against ``python -c "import click"``, same run.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--runs 30]``

Each command runs ``--runs`` times in a fresh interpreter, interleaved (so a burst of load on
the shared machine hits both alike); the median and the best wall-clock times are printed with
the ratio to the baseline. The CLI is run as ``python -m atomic_content.cli`` from this
checkout's ``src/``. Target (issue 12): ``atomic --help`` within 2x of importing click. Also
shown, for information: ``atomic validate --help`` (one command's own help, which may ask the
library for its choices) and ``python -c pass`` (the interpreter alone).

No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    'python -c "import click"': [sys.executable, "-c", "import click"],
    "atomic --help": [sys.executable, "-m", "atomic_content.cli", "--help"],
    "atomic preview --help": [sys.executable, "-m", "atomic_content.cli", "preview", "--help"],
}
BASELINE = 'python -c "import click"'


def run_once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per command")
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():  # warm the file system cache and .pyc files
        run_once(command, env)
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(run_once(command, env))
    base_median = statistics.median(times[BASELINE])
    base_best = min(times[BASELINE])
    print(f"{args.runs} runs each, interleaved; python {sys.version.split()[0]}")
    for name, values in times.items():
        median, best = statistics.median(values), min(values)
        print(
            f"  {name:28} median {median * 1e3:6.1f} ms  best {best * 1e3:6.1f} ms  "
            f"ratio {median / base_median:.2f}x (median) {best / base_best:.2f}x (best)"
        )
    ratio = statistics.median(times["atomic --help"]) / base_median
    print(f"atomic --help / import click = {ratio:.2f}x (median; target <= 2x)")


if __name__ == "__main__":
    main()
