"""Run power scenarios: chunks of trials, seeded by (seed, scenario, chunk), in-process or on Dask.

Every chunk of trials is an independent task whose random stream is
``numpy.random.SeedSequence(seed, spawn_key=(scenario index, hypothesis, chunk index))``, so the
results depend on the seed, the scenarios, ``sims`` and ``chunk_size`` only: never on the
number of workers, the order tasks finish in, or where they run. A task returns sums (counts of
rejections, sums of estimates, ...), added up in chunk order.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ssctrial.design import load_study
from ssctrial.exceptions import InputError
from ssctrial.power._analysis import (
    BatchResult,
    adjust_batch,
    analyse_ancova,
    analyse_kruskal,
    analyse_ttest,
    analyse_wilcoxon,
)
from ssctrial.power._model import EndpointModel, build_endpoint_model, draw_trials
from ssctrial.power._scenario import PowerScenario, make_scenario

__all__ = ["PowerProgress", "PowerResult", "run_power"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PowerProgress:
    """What the progress callback receives after each finished chunk."""

    trials_done: int
    trials_total: int
    scenarios_done: int
    scenarios_total: int


@dataclass
class PowerResult:
    """Results of :func:`run_power`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per scenario and contrast (see :func:`run_power`).
    scenarios : list of PowerScenario
    seed, sims, chunk_size : int
    timings : dict
        ``seconds`` (wall clock) and ``trials_per_second``.
    """

    table: pd.DataFrame
    scenarios: list[PowerScenario]
    seed: int
    sims: int
    chunk_size: int
    timings: dict[str, float] = field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def _model(scenario_json: str) -> EndpointModel:
    sc = PowerScenario.model_validate_json(scenario_json)
    return build_endpoint_model(sc, design=_design(sc.study))


@functools.lru_cache(maxsize=8)
def _design(study: str) -> Any:
    return load_study(study)


_ANALYSES: dict[str, Callable[..., BatchResult]] = {
    "ancova": analyse_ancova,
    "ttest": analyse_ttest,
    "wilcoxon": analyse_wilcoxon,
    "kruskal": analyse_kruskal,
}


def analyse_batch(batch: Any, method: str) -> BatchResult:
    """Run one batched analysis by name."""
    if method == "mmrm":
        from ssctrial.power._mmrm_batch import analyse_mmrm

        return analyse_mmrm(batch)
    return _ANALYSES[method](batch)


def summarise_chunk(
    res: BatchResult, scenario: PowerScenario, true_effect: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-contrast sums over the trials of a chunk (additive across chunks)."""
    rej = adjust_batch(res, method=scenario.multiplicity, alpha=scenario.alpha)
    est_ok = np.isfinite(res.estimate) & np.isfinite(res.se) & np.isfinite(res.df)
    est = np.where(est_ok, res.estimate, 0.0)
    err = np.where(est_ok, res.estimate - true_effect[None, : res.estimate.shape[1]], 0.0)
    with np.errstate(invalid="ignore"):
        q = special.stdtrit(np.where(est_ok, res.df, 1.0), 1 - scenario.alpha / 2)
        covered = est_ok & (np.abs(res.estimate - true_effect[None, : res.estimate.shape[1]]) <= q * res.se)
    return {
        "n": np.full(rej.shape[1], rej.shape[0], dtype=float),
        "failed": np.sum(~np.isfinite(res.p), axis=0).astype(float),
        "reject": rej.sum(axis=0).astype(float),
        "any": np.array([float(rej.any(axis=1).sum())]),
        "n_est": est_ok.sum(axis=0).astype(float),
        "sum_est": est.sum(axis=0),
        "sum_est2": (est * est).sum(axis=0),
        "sum_err": err.sum(axis=0),
        "sum_se": np.where(est_ok, res.se, 0.0).sum(axis=0),
        "covered": covered.sum(axis=0).astype(float),
    }


def run_chunk(task: tuple[str, int, int, int, int, int]) -> dict[str, np.ndarray]:
    """One task: simulate and analyse ``size`` trials of a scenario (its own seeded stream).

    ``task`` = (scenario JSON, master seed, scenario index, hypothesis (0 = as given, 1 = null),
    chunk index, size).
    """
    scenario_json, seed, s_idx, null, c_idx, size = task
    sc = PowerScenario.model_validate_json(scenario_json)
    model = _model(scenario_json)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(s_idx, null, c_idx)))
    batch = draw_trials(model, rng, size, primary_only=sc.method != "mmrm")
    res = analyse_batch(batch, sc.method)
    return summarise_chunk(res, sc, model.true_effect)


def _null_of(sc: PowerScenario) -> PowerScenario:
    return sc.with_(effect=0.0, effect_scale="absolute")


def _tasks(
    scenarios: list[PowerScenario], *, sims: int, chunk_size: int, seed: int, include_null: bool
) -> list[tuple[int, int, tuple[str, int, int, int, int, int]]]:
    out = []
    for s_idx, sc in enumerate(scenarios):
        hyps = [(0, sc)] + ([(1, _null_of(sc))] if include_null else [])
        for h, hs in hyps:
            js = hs.model_dump_json()
            n_chunks = -(-sims // chunk_size)
            for c in range(n_chunks):
                size = min(chunk_size, sims - c * chunk_size)
                out.append((s_idx, h, (js, seed, s_idx, h, c, size)))
    return out


def _client(scheduler: str | None, local_cluster: int | None) -> tuple[Any, Any]:
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=local_cluster, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster), cluster


def run_power(
    scenarios: Sequence[PowerScenario | dict[str, Any]] | PowerScenario,
    *,
    sims: int = 1000,
    seed: int = 20250517,
    chunk_size: int = 500,
    include_null: bool = True,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    client: Any = None,
    progress: Callable[[PowerProgress], None] | None = None,
) -> PowerResult:
    """Simulate and analyse ``sims`` trials of each scenario; power, type I error, bias, coverage.

    Parameters
    ----------
    scenarios
        A scenario, or a list of scenarios / mappings (see :func:`create_scenario_grid`).
    sims
        Simulated trials per scenario (and as many again under the null when ``include_null``).
    seed
        Master seed. Task streams are ``SeedSequence(seed, spawn_key=(scenario, null, chunk))``:
        the results do not depend on where or in what order chunks run.
    chunk_size
        Trials per task (part of the result's identity: changing it changes the streams).
    include_null
        Also run each scenario with every effect set to 0, for its type I error.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) to run the chunks on.
    local_cluster
        Start a Dask ``LocalCluster`` with this many single-threaded worker processes.
    client
        An existing ``dask.distributed.Client`` (takes precedence over the two above).
    progress
        Called with a :class:`PowerProgress` after each finished chunk.

    Returns
    -------
    PowerResult
        ``.table``: one row per scenario and contrast, columns ``scenario, study, method, n,
        n_total, arms, contrast, effect, dropout, dropout_pattern, multiplicity, alpha,
        distribution, sims, power, power_se, type1_error, type1_error_se, mean_estimate, bias,
        bias_se, empirical_se, mean_se, coverage, coverage_se, failed``. For more than one
        contrast a row ``contrast="any"`` gives the probability of at least one rejection
        (family-wise error under the null). Monte Carlo SEs are binomial (sqrt(p(1-p)/sims)) or
        the SD of the estimates over sqrt(sims).

    Raises
    ------
    InputError
        Invalid scenarios or options.
    """
    if isinstance(scenarios, PowerScenario | dict):
        scenarios = [scenarios]
    scs = [s if isinstance(s, PowerScenario) else make_scenario(s) for s in scenarios]
    if not scs:
        msg = "scenarios: give at least one scenario"
        raise InputError(msg)
    for name, value, lo in (("sims", sims, 1), ("chunk_size", chunk_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            msg = f"{name} must be a positive integer, got {value!r}"
            raise InputError(msg)
    if local_cluster is not None and (not isinstance(local_cluster, int) or local_cluster < 1):
        msg = f"local_cluster must be a positive number of workers, got {local_cluster!r}"
        raise InputError(msg)
    models = [build_endpoint_model(s, design=_design(s.study)) for s in scs]  # validate up front
    tasks = _tasks(scs, sims=sims, chunk_size=chunk_size, seed=seed, include_null=include_null)
    total = sum(t[2][5] for t in tasks)
    per_scenario = {i: sum(1 for t in tasks if t[0] == i) for i in range(len(scs))}
    started = time.perf_counter()
    results: dict[int, dict[str, np.ndarray]] = {}
    done_trials = 0
    left = dict(per_scenario)
    scen_done = 0

    def _tick(k: int) -> None:
        nonlocal done_trials, scen_done
        done_trials += tasks[k][2][5]
        s = tasks[k][0]
        left[s] -= 1
        if left[s] == 0:
            scen_done += 1
        if progress is not None:
            progress(PowerProgress(done_trials, total, scen_done, len(scs)))

    if client is None and scheduler is None and local_cluster is None:
        for k, (_, _, task) in enumerate(tasks):
            results[k] = run_chunk(task)
            _tick(k)
    else:
        from dask.distributed import as_completed

        own_cluster = None
        if client is None:
            client, own_cluster = _client(scheduler, local_cluster)
            own_client = True
        else:
            own_client = False
        try:
            futures = client.map(run_chunk, [t[2] for t in tasks], pure=False)
            index = {f.key: k for k, f in enumerate(futures)}
            for fut in as_completed(futures):
                k = index[fut.key]
                results[k] = fut.result()
                _tick(k)
        finally:
            if own_client:
                client.close()
            if own_cluster is not None:
                own_cluster.close()
    seconds = time.perf_counter() - started
    table = _table(scs, models, tasks, results, sims=sims, include_null=include_null)
    logger.info("power: %d trials in %.2f s", total, seconds)
    return PowerResult(
        table=table,
        scenarios=scs,
        seed=seed,
        sims=sims,
        chunk_size=chunk_size,
        timings={
            "seconds": seconds,
            "trials": float(total),
            "trials_per_second": total / max(seconds, 1e-12),
        },
    )


def _add(sums: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    out = {k: v.copy() for k, v in sums[0].items()}
    for s in sums[1:]:
        for k in out:
            out[k] = out[k] + s[k]
    return out


def _table(
    scs: list[PowerScenario],
    models: list[EndpointModel],
    tasks: list,
    results: dict[int, dict[str, np.ndarray]],
    *,
    sims: int,
    include_null: bool,
) -> pd.DataFrame:
    rows = []
    for s_idx, (sc, model) in enumerate(zip(scs, models, strict=True)):
        by_h = {}
        for h in (0, 1) if include_null else (0,):
            ks = [k for k, t in enumerate(tasks) if t[0] == s_idx and t[1] == h]  # chunk order
            by_h[h] = _add([results[k] for k in ks])
        alt = by_h[0]
        global_test = sc.method == "kruskal"
        labels = ["global"] if global_test else [f"{a} - {model.arms[0]}" for a in model.arms[1:]]
        effects = [np.nan] if global_test else list(model.true_effect)
        base = {
            "scenario": s_idx,
            "study": sc.study,
            "method": sc.method,
            "n": sc.n,
            "n_total": model.n_patients,
            "arms": ",".join(model.arms),
            "dropout": sc.dropout,
            "dropout_pattern": sc.dropout_pattern,
            "multiplicity": sc.multiplicity,
            "alpha": sc.alpha,
            "distribution": sc.distribution,
            "sims": sims,
        }
        for j, (label, eff) in enumerate(zip(labels, effects, strict=True)):
            power = alt["reject"][j] / alt["n"][j]
            n_est = alt["n_est"][j]
            mean_est = alt["sum_est"][j] / n_est if n_est else np.nan
            var_est = (
                (alt["sum_est2"][j] / n_est - mean_est**2) * n_est / (n_est - 1) if n_est > 1 else np.nan
            )
            row = {
                **base,
                "contrast": label,
                "effect": eff,
                "power": power,
                "power_se": np.sqrt(power * (1 - power) / alt["n"][j]),
                "mean_estimate": mean_est,
                "bias": alt["sum_err"][j] / n_est if n_est else np.nan,
                "bias_se": np.sqrt(var_est / n_est) if n_est > 1 else np.nan,
                "empirical_se": np.sqrt(var_est) if n_est > 1 else np.nan,
                "mean_se": alt["sum_se"][j] / n_est if n_est else np.nan,
                "coverage": alt["covered"][j] / n_est if n_est else np.nan,
                "failed": alt["failed"][j],
            }
            row["coverage_se"] = np.sqrt(row["coverage"] * (1 - row["coverage"]) / n_est) if n_est else np.nan
            if include_null:
                t1 = by_h[1]["reject"][j] / by_h[1]["n"][j]
                row["type1_error"] = t1
                row["type1_error_se"] = np.sqrt(t1 * (1 - t1) / by_h[1]["n"][j])
            rows.append(row)
        if len(labels) > 1:
            p_any = alt["any"][0] / alt["n"][0]
            row = {**base, "contrast": "any", "effect": np.nan, "power": p_any}
            row["power_se"] = np.sqrt(p_any * (1 - p_any) / alt["n"][0])
            if include_null:
                t1 = by_h[1]["any"][0] / by_h[1]["n"][0]
                row["type1_error"] = t1
                row["type1_error_se"] = np.sqrt(t1 * (1 - t1) / by_h[1]["n"][0])
            rows.append(row)
    cols = [
        "scenario", "study", "method", "n", "n_total", "arms", "contrast", "effect", "dropout",
        "dropout_pattern", "multiplicity", "alpha", "distribution", "sims", "power", "power_se",
        "type1_error", "type1_error_se", "mean_estimate", "bias", "bias_se", "empirical_se", "mean_se",
        "coverage", "coverage_se", "failed",
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=cols)
