"""Benchmark: unstructured MMRM with Kenward-Roger LS-mean contrasts, against nlme::gls.

Run ``python benchmarks/bench_mmrm.py [--reps N] [--r-reps N] [--no-r] [--only a|b]``. Prints the median
wall time of ``mmrm(...)`` + ``.contrasts(..., by=visit)`` (KR) on

(a) mmrm's fev_data (197 subjects x 4 visits, 537 rows; ``FEV1 ~ RACE + SEX + ARMCD * AVISIT``);
(b) simulated data, 1,000 subjects x 10 visits with dropout (``Y ~ BASE + RACE + ARMCD * AVISIT``).

Where ``Rscript`` with nlme is installed it times ``nlme::gls`` (corSymm + varIdent, REML) on the
same data in the same run and prints the ratio. gls has no Kenward-Roger step, so the ratio
favours gls.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ssctrial.stats import mmrm

ROOT = Path(__file__).resolve().parents[1]
FEV = ROOT / "tests" / "reference" / "mmrm" / "fev_data.csv"

R_SCRIPT = r"""
suppressPackageStartupMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], na.strings = "")
formula <- as.formula(args[2]); reps <- as.integer(args[3])
for (v in c("AVISIT", "ARMCD", "RACE", "SEX")) if (v %in% names(d)) d[[v]] <- factor(d[[v]])
d$ARMCD <- relevel(d$ARMCD, "PBO")
d <- d[!is.na(d[[all.vars(formula)[1]]]), ]
times <- numeric(reps)
for (i in seq_len(reps)) {
  times[i] <- system.time(fit <- gls(formula, d, correlation = corSymm(form = ~ VISITN | USUBJID),
                                     weights = varIdent(form = ~ 1 | AVISIT), method = "REML",
                                     na.action = na.omit))[["elapsed"]]
}
cat(format(median(times), digits = 6), format(-2 * as.numeric(logLik(fit)), digits = 15), "\n")
"""


def simulate(n_subjects: int = 1000, n_visits: int = 10, seed: int = 1) -> pd.DataFrame:
    """Two-arm trial, heterogeneous AR-like covariance, monotone dropout + 5 % intermittent."""
    rng = np.random.default_rng(seed)
    visits = [f"VIS{k:02d}" for k in range(1, n_visits + 1)]
    t = np.arange(n_visits)
    sd = 5 + 0.5 * t
    corr = 0.7 * 0.8 ** np.abs(t[:, None] - t[None, :]) + 0.3 * (t[:, None] == t[None, :])
    sigma = corr * np.outer(sd, sd)
    arm = rng.integers(0, 2, n_subjects)
    race = rng.integers(0, 3, n_subjects)
    base = rng.normal(50, 8, n_subjects)
    mu = 10 + 0.5 * base[:, None] + 1.5 * race[:, None] + 0.8 * t[None, :] + 0.4 * arm[:, None] * t[None, :]
    y = mu + rng.multivariate_normal(np.zeros(n_visits), sigma, n_subjects)
    drop = rng.integers(3, n_visits + 8, n_subjects)
    y[(t[None, :] >= drop[:, None]) | (rng.random((n_subjects, n_visits)) < 0.05)] = np.nan
    return pd.DataFrame(
        {
            "USUBJID": np.repeat([f"S{i:04d}" for i in range(n_subjects)], n_visits),
            "AVISIT": pd.Categorical(np.tile(visits, n_subjects), visits),
            "VISITN": np.tile(t + 1, n_subjects),
            "ARMCD": pd.Categorical(np.repeat(np.where(arm == 1, "TRT", "PBO"), n_visits), ["PBO", "TRT"]),
            "RACE": np.repeat(np.array(["A", "B", "C"])[race], n_visits),
            "BASE": np.repeat(base, n_visits),
            "Y": y.reshape(-1),
        }
    )


def load_fev() -> pd.DataFrame:
    """mmrm's fev_data with its documented factor levels."""
    d = pd.read_csv(FEV, na_values=[""], keep_default_na=False)
    d["AVISIT"] = pd.Categorical(d["AVISIT"], ["VIS1", "VIS2", "VIS3", "VIS4"])
    d["ARMCD"] = pd.Categorical(d["ARMCD"], ["PBO", "TRT"])
    d["RACE"] = pd.Categorical(d["RACE"], ["Asian", "Black or African American", "White"])
    d["SEX"] = pd.Categorical(d["SEX"], ["Male", "Female"])
    return d


def time_ours(data: pd.DataFrame, formula: str, reps: int) -> tuple[float, float]:
    """Median seconds of fit + KR contrasts by visit, and -2 REML log-likelihood."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fit = mmrm(
            data, formula, subject="USUBJID", visit="AVISIT", covariance="us", df_method="kenward-roger"
        )
        fit.contrasts("ARMCD", "PBO", by="AVISIT")
        times.append(time.perf_counter() - t0)
    return statistics.median(times), fit.neg2_loglik


def time_gls(data: pd.DataFrame, formula: str, reps: int) -> tuple[float, float] | None:
    """Median seconds of nlme::gls on the same data, or None without R/nlme."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "data.csv", Path(tmp) / "bench.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        proc = subprocess.run(
            [rscript, str(script), str(csv), formula, str(reps)], capture_output=True, text=True, check=False
        )
    if proc.returncode != 0:
        print(f"  nlme::gls not timed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    seconds, m2 = proc.stdout.split()
    return float(seconds), float(m2)


def main() -> None:
    """Run both benchmarks and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20, help="repetitions for (a); (b) uses reps // 4")
    parser.add_argument("--r-reps", type=int, default=3, help="gls repetitions for (a); (b) uses 1")
    parser.add_argument("--no-r", action="store_true", help="skip nlme::gls")
    parser.add_argument("--only", choices=["a", "b"], help="run one case only")
    args = parser.parse_args()
    cases = [
        (
            "(a) fev_data 197 x 4, us + KR contrasts",
            load_fev(),
            "FEV1 ~ RACE + SEX + ARMCD * AVISIT",
            args.reps,
            args.r_reps,
        ),
        (
            "(b) simulated 1000 x 10, us + KR contrasts",
            simulate(),
            "Y ~ BASE + RACE + ARMCD * AVISIT",
            max(args.reps // 4, 1),
            1,
        ),
    ]
    results = {}
    if args.only:
        cases = [c for c in cases if c[0].startswith(f"({args.only})")]
    for label, data, formula, reps, r_reps in cases:
        ours, m2 = time_ours(data, formula, reps)
        line = f"{label}: ssctrial {ours:.4f} s (median of {reps}; -2RLL {m2:.6f})"
        gls = None if args.no_r else time_gls(data, formula, r_reps)
        if gls is not None:
            line += f"; nlme::gls {gls[0]:.3f} s (median of {r_reps}; -2RLL {gls[1]:.6f})"
            line += f"; ratio {gls[0] / ours:.1f}x"
        print(line, flush=True)
        results[label] = {"ssctrial_s": ours, "gls_s": None if gls is None else gls[0]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
