"""Benchmark: vectorised EQ-5D index and GLI lung function on 1,000,000 records (rows per second).

Run with ``python benchmarks/bench_instruments_tables.py [n_rows] [repeats]``. Prints the median of
repeated runs (after one warm-up run that also loads and caches the shipped tables). Single process;
numpy may still use its own threads for nothing here (all work is element-wise, single-threaded).

Targets (issue 2): EQ-5D >= 1,000,000 rows/s; GLI % predicted >= 300,000 rows/s, on one core.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import pandas as pd

from ssctrial.instruments import EQ5D_DIMENSIONS, compute_eq5d_index, compute_lung_function


def _time(fn, repeats: int) -> list[float]:
    fn()  # warm-up: loads and caches the tables
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _report(name: str, n: int, times: list[float]) -> None:
    med = statistics.median(times)
    print(
        f"{name:<58s} {n:>9,d} rows  median {med * 1e3:8.1f} ms  {n / med:>13,.0f} rows/s  "
        f"(min {min(times) * 1e3:.1f} ms, {len(times)} repeats)"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    rng = np.random.default_rng(1)

    dims = pd.DataFrame(rng.integers(1, 6, size=(n, 5)), columns=list(EQ5D_DIMENSIONS))
    _report(
        "EQ-5D-5L index, CN_5L_Luo2017, integer dimension columns",
        n,
        _time(lambda: compute_eq5d_index(dims), repeats),
    )
    dims_float = dims.astype(float)
    dims_float.iloc[::50, 2] = np.nan
    _report(
        "EQ-5D-5L index, float columns with 2% missing",
        n,
        _time(lambda: compute_eq5d_index(dims_float, value_set="EN_5L_Devlin2018"), repeats),
    )
    states = pd.DataFrame({"state": ["".join(map(str, r)) for r in dims.to_numpy()[: min(n, 1_000_000)]]})
    _report(
        "EQ-5D-5L index from written states ('21345')",
        len(states),
        _time(lambda: compute_eq5d_index(states, state_col="state"), max(3, repeats // 2)),
    )

    eth = np.array(["Caucasian", "African-American", "North-East Asian", "South-East Asian", "Other/mixed"])
    pft = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "age": rng.uniform(18, 85, n),
            "height_cm": rng.uniform(145, 195, n),
            "fvc": rng.uniform(1.5, 5.5, n),
            "eth": rng.choice(eth, n),
        }
    )
    _report(
        "GLI-2012 FVC % predicted + z + LLN, one ethnic group",
        n,
        _time(
            lambda: compute_lung_function(pft, "FVC", measured_col="fvc", ethnicity="North-East Asian"),
            repeats,
        ),
    )
    _report(
        "GLI-2012 FVC, ethnic group per row (text column)",
        n,
        _time(lambda: compute_lung_function(pft, "FVC", measured_col="fvc", ethnicity_col="eth"), repeats),
    )
    _report(
        "GLI Global 2022 FVC",
        n,
        _time(
            lambda: compute_lung_function(pft, "FVC", measured_col="fvc", equation="GLI-Global-2022"), repeats
        ),
    )
    _report(
        "GLI-2017 TLCO (SI)",
        n,
        _time(lambda: compute_lung_function(pft, "TLCO", measured_col="fvc", equation="GLI-2017"), repeats),
    )


if __name__ == "__main__":
    main()
