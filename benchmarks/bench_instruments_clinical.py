"""Rows per second for vectorised ACR-CRISS and HAQ-DI scoring of 1,000,000 records (one core).

Run with ``python benchmarks/bench_instruments_clinical.py [n_rows] [repeats]``. Prints the median
(and min/max) over the repeats of the wall time of one call of the registry scorer on a DataFrame,
including the row-level validation of every item. Targets (issue 2): ACR-CRISS >= 1,000,000 rows/s,
HAQ-DI >= 300,000 rows/s.
"""

from __future__ import annotations

import os
import sys
import time

# one core: keep BLAS/OpenMP single-threaded (set before numpy is imported)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ssctrial.instruments import HAQ_CATEGORIES, HAQ_DEVICES, SHAQ_VAS, get_instrument  # noqa: E402


def make_criss(n: int, rng: np.random.Generator) -> pd.DataFrame:
    data = {
        "mrss_base": rng.integers(10, 40, n).astype(float),
        "fvc_pct_pred_base": rng.uniform(50, 110, n),
        "pt_global_base": rng.uniform(0, 10, n),
        "md_global_base": rng.uniform(0, 10, n),
        "haq_di_base": rng.integers(0, 25, n) / 8,
    }
    data["mrss"] = np.clip(data["mrss_base"] + rng.integers(-10, 5, n), 0, 51)
    data["fvc_pct_pred"] = np.clip(data["fvc_pct_pred_base"] + rng.normal(0, 5, n), 20, 150)
    data["pt_global"] = np.clip(data["pt_global_base"] + rng.normal(0, 1, n), 0, 10)
    data["md_global"] = np.clip(data["md_global_base"] + rng.normal(0, 1, n), 0, 10)
    data["haq_di"] = np.clip(data["haq_di_base"] + rng.integers(-3, 3, n) / 8, 0, 3)
    for event in ("renal_crisis", "fvc_decline", "lv_failure", "pah"):
        data[event] = rng.random(n) < 0.01
    return pd.DataFrame(data)


def make_haq(n: int, rng: np.random.Generator) -> pd.DataFrame:
    data: dict[str, np.ndarray] = {}
    for questions in HAQ_CATEGORIES.values():
        for code in questions:
            values = rng.integers(0, 4, n).astype(float)
            values[rng.random(n) < 0.02] = np.nan
            data[code] = values
    for code in HAQ_DEVICES:
        data[code] = rng.random(n) < 0.1
    for category in HAQ_CATEGORIES:
        data[f"help_{category}"] = rng.random(n) < 0.1
    for code in SHAQ_VAS:
        data[code] = rng.uniform(0, 150, n)
    return pd.DataFrame(data)


def bench(code: str, data: pd.DataFrame, repeats: int) -> list[float]:
    scorer = get_instrument(code).scorer
    scorer(data.head(1000))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        scorer(data)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rng = np.random.default_rng(2025)
    targets = {"ACR_CRISS": 1_000_000, "HAQ_DI": 300_000}
    for code, maker in (("ACR_CRISS", make_criss), ("HAQ_DI", make_haq)):
        data = maker(n, rng)
        times = bench(code, data, repeats)
        median = float(np.median(times))
        rate = n / median
        status = "meets" if rate >= targets[code] else "BELOW"
        print(
            f"{code:10s} n={n:,} repeats={repeats}: median {median:.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}) -> {rate:,.0f} rows/s "
            f"[{status} target {targets[code]:,} rows/s]"
        )


if __name__ == "__main__":
    main()
