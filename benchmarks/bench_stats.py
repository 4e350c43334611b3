"""Timings of the non-MMRM statistics on BASICS-sized and larger simulated trials.

Run: ``python benchmarks/bench_stats.py``. Prints the median of repeated runs (seconds). The machine
is shared, so absolute numbers are noisy; the point is the order of magnitude per analysis (e.g. for
the power engine, which calls these thousands of times).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from ssctrial.exceptions import StatisticalWarning
from ssctrial.stats import (
    ancova,
    compare_to_control,
    count_regression,
    fisher_exact_kx2,
    mi_ancova,
    one_way,
    responder_analysis,
    tipping_point,
)


def trial(n_per_arm: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.repeat(["CTRL", "BARI2", "BARI4"], n_per_arm)
    n = arm.size
    base = rng.normal(18, 6, n)
    stratum = rng.choice(["dcSSc", "lcSSc"], n)
    chg = np.where(arm == "BARI4", -5.0, -3.0) - 0.2 * (base - 18) + rng.normal(0, 4, n)
    miss = chg.copy()
    miss[rng.uniform(size=n) < 0.15] = np.nan
    resp = (rng.uniform(size=n) < np.where(arm == "BARI4", 0.5, 0.3)).astype(float)
    expo = rng.uniform(0.3, 0.5, n)
    du = rng.poisson(rng.gamma(1.0, 3.0 * expo))
    return pd.DataFrame({"ARM": arm, "BASE": base, "STRATUM": stratum, "CHG": chg, "CHGMISS": miss,
                         "RESP": resp, "EXPYRS": expo, "DUCNT": du})


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    warnings.simplefilter("ignore", StatisticalWarning)
    for n_per_arm in (16, 300):
        d = trial(n_per_arm)
        cases = {
            "one_way": (lambda d=d: one_way(d, "CHG", group="ARM"), 20),
            "compare_to_control (dunnett)": (
                lambda d=d: compare_to_control(d, "CHG", group="ARM", reference="CTRL"), 10),
            "ancova CHG ~ ARM + BASE + STRATUM": (
                lambda d=d: ancova(d, "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL"), 20),
            "responder_analysis (+ logistic)": (
                lambda d=d: responder_analysis(d, "RESP", group="ARM", reference="CTRL",
                                               missing="non-responder"), 10),
            "count_regression (neg. binomial)": (
                lambda d=d: count_regression(d, "DUCNT ~ ARM + BASE", group="ARM", reference="CTRL",
                                             exposure="EXPYRS"), 5),
            "mi_ancova (m = 20)": (
                lambda d=d: mi_ancova(d, "CHGMISS ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL",
                                      m=20), 3),
            "tipping_point (5 deltas, m = 20)": (
                lambda d=d: tipping_point(d, "CHGMISS ~ ARM + BASE + STRATUM", group="ARM",
                                          reference="CTRL", deltas=[0, 1, 2, 3, 4], m=20), 1),
        }
        print(f"--- {n_per_arm} subjects per arm ---")
        for name, (fn, reps) in cases.items():
            print(f"{name:40s} {median_time(fn, reps):9.4f} s  (median of {reps})")
    for x, n in [([2, 7, 12], [16, 16, 16]), ([20, 35, 41, 30], [200] * 4), ([50, 80, 60], [300] * 3)]:
        t = median_time(lambda x=x, n=n: fisher_exact_kx2(x, n), 5)
        print(f"fisher_exact_kx2 {len(n)} x 2, {n[0]} per group    {t:9.4f} s")


if __name__ == "__main__":
    main()
