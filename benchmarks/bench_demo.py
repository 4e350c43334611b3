"""Benchmark `ssctrial demo`: end to end (the real command, in a fresh process) and stage by stage.

Usage: python benchmarks/bench_demo.py [--repeats 3] [--no-rnaseq]

Prints the median wall-clock seconds of each stage (simulate, derive, analysis, omics, report) and of
the whole command. Target (issue 6): the whole demo under 90 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE = re.compile(r"Stages \(s\): (.*?)\s*Database:")


def run_once(out: Path, rnaseq: bool) -> tuple[float, dict[str, float]]:
    cmd = [sys.executable, "-m", "ssctrial.cli", "demo", "--out", str(out)]
    if not rnaseq:
        cmd.append("--no-rnaseq")
    start = time.perf_counter()
    env = {**os.environ, "COLUMNS": "400"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    wall = time.perf_counter() - start
    match = STAGE.search(proc.stdout.replace("\n", " "))
    stages: dict[str, float] = {}
    if match:
        for part in match.group(1).split(","):
            name, value = part.strip().rsplit(" ", 1)
            stages[name] = float(value)
    return wall, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-rnaseq", action="store_true")
    args = parser.parse_args()
    walls: list[float] = []
    stages: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            wall, st = run_once(Path(tmp) / f"run{i}", rnaseq=not args.no_rnaseq)
            walls.append(wall)
            for name, value in st.items():
                stages.setdefault(name, []).append(value)
            detail = ", ".join(f"{k} {v:.1f}" for k, v in st.items())
            print(f"run {i + 1}: {wall:.1f} s  {detail}", flush=True)
    kind = "no RNA-seq" if args.no_rnaseq else "with RNA-seq"
    print(f"\nssctrial demo ({kind}), median of {args.repeats}:")
    for name, values in stages.items():
        print(f"  {name:<10} {statistics.median(values):7.1f} s")
    median = statistics.median(walls)
    print(f"  {'command':<10} {median:7.1f} s (whole process, imports included; target < 90 s)")


if __name__ == "__main__":
    main()
