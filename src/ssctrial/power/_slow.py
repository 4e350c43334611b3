"""The slow path: the whole pipeline on every simulated trial, for checking the fast path.

Each trial is :func:`ssctrial.simulate.simulate_trial` into a new in-memory SQLite store (every
patient enrolled, randomised by the concealed permuted-block list and recorded item by item
through the store's validated API), then :func:`ssctrial.derive.create_analysis_datasets`, then
the statistics engine on ADEFF (PARAMCD MRSS, primary visit, ``ANL01FL = "Y"``): ANCOVA
``CHG ~ TRT01P + BASE`` (:func:`ssctrial.stats.ancova`) or MMRM ``CHG ~ BASE*AVISIT +
TRT01P*AVISIT`` (:func:`ssctrial.stats.mmrm`, unstructured, Kenward-Roger). The simulator uses
the study file's own effects, 1:1:... randomisation and withdrawal model, so only scenarios
with ``effect=None`` and ``dropout=0`` (the simulator's own dropout) can run here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ssctrial.derive import create_analysis_datasets
from ssctrial.exceptions import InputError
from ssctrial.power._analysis import BatchResult
from ssctrial.power._model import build_endpoint_model
from ssctrial.power._run import PowerProgress, PowerResult, _design, _table, summarise_chunk
from ssctrial.power._scenario import PowerScenario, make_scenario
from ssctrial.simulate import simulate_trial
from ssctrial.stats import ancova, mmrm

__all__ = ["run_power_slow"]

logger = logging.getLogger(__name__)


def _analyse_trial(
    adeff: pd.DataFrame, sc: PowerScenario, arms: tuple[str, ...], primary: str
) -> pd.DataFrame:
    rows = adeff[(adeff["PARAMCD"] == "MRSS") & (adeff["ANL01FL"] == "Y") & (adeff["ITTFL"] == "Y")]
    rows = rows[rows["TRT01P"].isin(arms) & rows["CHG"].notna() & rows["BASE"].notna()].copy()
    rows["TRT01P"] = pd.Categorical(rows["TRT01P"], categories=list(arms))
    if sc.method == "ancova":
        data = rows[rows["AVISITCD"] == primary]
        res = ancova(data, "CHG ~ TRT01P + BASE", group="TRT01P", reference=arms[0])
        return res.contrasts.set_index("contrast")
    post = rows[rows["AVISITCD"] != "SCR"].copy()
    post["AVISITCD"] = pd.Categorical(post["AVISITCD"], categories=sorted(post["AVISITCD"].unique()))
    fit = mmrm(post, "CHG ~ BASE*AVISITCD + TRT01P*AVISITCD", subject="USUBJID", visit="AVISITCD")
    c = fit.contrasts("TRT01P", reference=arms[0], by="AVISITCD")
    return c[c["AVISITCD"] == primary].set_index("contrast")


def run_power_slow(
    scenario: PowerScenario | dict,
    *,
    sims: int = 40,
    seed: int = 20250517,
    progress: Callable[[PowerProgress], None] | None = None,
) -> tuple[PowerResult, pd.DataFrame]:
    """Run ``sims`` trials of a scenario through the full pipeline (simulate -> store -> derive -> stats).

    Parameters
    ----------
    scenario
        A scenario with ``method`` ``"ancova"`` or ``"mmrm"``, ``effect=None`` and
        ``dropout=0`` (see the module notes); ``n`` is per arm, so the simulated trial randomises
        ``n x (number of study arms)`` patients; arms not kept are left out of the analysis.
    sims
        Number of trials (each takes seconds).
    seed
        Master seed; trial i uses ``SeedSequence(seed, spawn_key=(0, 0, i))``.
    progress
        Called after each trial.

    Returns
    -------
    (PowerResult, pandas.DataFrame)
        The summary table (as :func:`run_power`, without type I error) and the per-trial
        results ``trial, contrast, estimate, se, df, p``.
    """
    sc = scenario if isinstance(scenario, PowerScenario) else make_scenario(scenario)
    if sc.method not in ("ancova", "mmrm"):
        msg = f"method: the slow path runs 'ancova' or 'mmrm', got {sc.method!r}"
        raise InputError(msg)
    if sc.effect is not None or sc.dropout != 0 or sc.allocation is not None:
        msg = (
            "the slow path simulates the study file's own effects, allocation and withdrawals: "
            f"use effect=None, dropout=0 and no allocation (got effect={sc.effect!r}, "
            f"dropout={sc.dropout!r}, allocation={sc.allocation!r})"
        )
        raise InputError(msg)
    design = _design(sc.study)
    model = build_endpoint_model(sc, design=design)
    primary = model.visits[model.primary_index]
    n_total = sc.n * len(design.arm_codes)
    labels = [f"{a} - {model.arms[0]}" for a in model.arms[1:]]
    per_trial = []
    started = time.perf_counter()
    c = len(labels)
    est, se, df, p, t = (np.full((sims, c), np.nan) for _ in range(5))
    for i in range(sims):
        trial_seed = int(np.random.SeedSequence(seed, spawn_key=(0, 0, i)).generate_state(1)[0] % (2**31 - 1))
        sim = simulate_trial(design, n=n_total, seed=trial_seed, rnaseq=False)
        try:
            ads = create_analysis_datasets(sim.store, design)
            tab = _analyse_trial(ads.adeff, sc, model.arms, primary)
        finally:
            sim.store.engine.dispose()
        for j, lab in enumerate(labels):
            r = tab.loc[lab]
            est[i, j], se[i, j], df[i, j], t[i, j], p[i, j] = r["estimate"], r["se"], r["df"], r["t"], r["p"]
            per_trial.append(
                {"trial": i, "seed": trial_seed, "contrast": lab, **r[["estimate", "se", "df", "p"]]}
            )
        if progress is not None:
            progress(PowerProgress(i + 1, sims, int(i + 1 == sims), 1))
    res = BatchResult(est, se, df, p, t)
    sums = summarise_chunk(res, sc, model.true_effect)
    table = _table([sc], [model], [(0, 0, None)], {0: sums}, sims=sims, include_null=False)
    table["path"] = "slow"
    seconds = time.perf_counter() - started
    result = PowerResult(
        table=table,
        scenarios=[sc],
        seed=seed,
        sims=sims,
        chunk_size=sims,
        timings={"seconds": seconds, "trials": float(sims), "trials_per_second": sims / max(seconds, 1e-12)},
    )
    return result, pd.DataFrame(per_trial)
