"""Benchmark the trial simulator.

1. The 48-patient BASICS trial with RNA-seq (~96 samples x 20,598 genes) into a new SQLite store
   (target: < 15 s), median of ``--repeat`` runs.
2. A large trial (default 10,000 patients) without RNA-seq into a new SQLite store (target:
   < 120 s), with the time of each stage; plus the pure generator alone on the same size.

Run: ``python benchmarks/bench_simulate.py [--repeat 3] [--large 10000] [--skip-large-store]``.
Timings are wall-clock seconds in this process (imports excluded: done once before timing); the large
run also prints the process's CPU seconds (what one dedicated core would need; the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ssctrial.design import load_study
from ssctrial.simulate import simulate_trial, simulate_trial_data


def _run(design, n: int, *, seed: int, rnaseq: bool, folder: Path, tag: str) -> dict[str, float]:
    db = folder / f"{tag}.db"
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = simulate_trial(design, n=n, seed=seed, store=f"sqlite:///{db}", rnaseq=rnaseq)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    result.store.close()
    timings = dict(result.timings)
    timings["wall"] = wall
    timings["cpu"] = cpu
    timings["observations_rows"] = float(len(result.trial.observations))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument(
        "--skip-large-store", action="store_true", help="Only time the pure generator at --large."
    )
    args = parser.parse_args()
    design = load_study("basics")
    # warm-up: imports, GO gene sets, GLI tables (cached per process, as in a CLI run after start-up)
    with tempfile.TemporaryDirectory() as tmp:
        _run(design, 3, seed=1, rnaseq=True, folder=Path(tmp), tag="warm")

    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            t = _run(design, 48, seed=2021 + k, rnaseq=True, folder=Path(tmp), tag=f"b48_{k}")
            walls.append(t["wall"])
            stages = ", ".join(
                f"{s} {v:.2f}" for s, v in t.items() if s not in ("wall", "cpu", "total", "observations_rows")
            )
            print(f"  48 patients + RNA-seq, run {k + 1}: {t['wall']:.2f} s ({stages})", flush=True)
    print(
        f"BASICS 48 patients with RNA-seq into SQLite: median {statistics.median(walls):.2f} s "
        f"over {len(walls)} runs (target < 15 s)",
        flush=True,
    )

    t0 = time.perf_counter()
    trial = simulate_trial_data(design, n=args.large, seed=1)
    gen = time.perf_counter() - t0
    print(
        f"pure generator, {args.large} patients: {gen:.2f} s ({len(trial.observations):,} observations)",
        flush=True,
    )
    if args.skip_large_store:
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = _run(design, args.large, seed=1, rnaseq=False, folder=Path(tmp), tag="large")
    stages = ", ".join(
        f"{s} {v:.1f}" for s, v in t.items() if s not in ("wall", "cpu", "total", "observations_rows")
    )
    print(
        f"{args.large} patients without RNA-seq into SQLite: {t['wall']:.1f} s wall, {t['cpu']:.1f} s CPU of "
        f"this process (target < 120 s; {stages}; "
        f"{t['observations_rows']:,.0f} observations)",
        flush=True,
    )


if __name__ == "__main__":
    main()
