"""Blood RNA-seq counts for a simulated trial: negative-binomial counts with a planted drug effect."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ssctrial.datasets import load_go_gene_sets, load_human_genes
from ssctrial.exceptions import InputError
from ssctrial.simulate._params import RnaSeq, SimulationParameters

if TYPE_CHECKING:
    import anndata

__all__ = ["simulate_rnaseq", "write_rnaseq"]

logger = logging.getLogger(__name__)

_RNASEQ_STREAM = 1000  # SeedSequence key of the RNA-seq stream (clinical streams use 0..99)


def _choose_genes(spec: RnaSeq, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    genes = load_human_genes()
    go = load_go_gene_sets("BP")
    missing = [t for t in spec.go_terms if t not in go]
    if missing:
        msg = f"simulation.rnaseq.go_terms: unknown GO BP term(s) {missing!r} in the shipped GO sets"
        raise InputError(msg)
    fixed_missing = [g for g in spec.fixed_log2fc if g not in set(genes["symbol"])]
    if fixed_missing:
        msg = f"simulation.rnaseq.fixed_log2fc: unknown gene symbol(s) {fixed_missing!r}"
        raise InputError(msg)
    if spec.n_genes is not None and spec.n_genes < len(genes):
        keep = set(spec.fixed_log2fc)
        immune = sorted(set().union(*(go[t].genes for t in spec.go_terms)) & set(genes["symbol"]))
        keep.update(np.asarray(immune)[rng.permutation(len(immune))[: spec.n_genes // 4]])
        rest = genes.loc[~genes["symbol"].isin(keep), "symbol"].to_numpy()
        need = max(spec.n_genes - len(keep), 0)
        keep.update(rest[rng.permutation(rest.size)[:need]])
        genes = genes[genes["symbol"].isin(keep)].reset_index(drop=True)
    sets = {t: set(go[t].genes) for t in spec.go_terms}
    return genes, sets


def _plant(
    spec: RnaSeq, symbols: np.ndarray, sets: Mapping[str, set[str]], rng: np.random.Generator
) -> pd.DataFrame:
    """Choose the planted genes and their log2 fold change at full dose (W12 vs baseline)."""
    fixed = dict(spec.fixed_log2fc)
    immune = np.array(sorted(set().union(*sets.values()) & set(symbols) - set(fixed)), dtype=object)
    others = np.array(sorted(set(symbols) - set(immune) - set(fixed)), dtype=object)
    n_rest = max(spec.n_planted - len(fixed), 0)
    n_go = min(int(round(n_rest * spec.planted_from_go_fraction)), immune.size)
    chosen = list(immune[rng.permutation(immune.size)[:n_go]]) + list(
        others[rng.permutation(others.size)[: n_rest - n_go]]
    )
    size = np.abs(spec.log2fc_mean + spec.log2fc_sd * rng.standard_normal(len(chosen)))
    size = np.clip(size, 0.3, None)
    sign = np.where(rng.random(len(chosen)) < 0.5, -1.0, 1.0)
    lfc = pd.Series(0.0, index=pd.Index(symbols, name="gene"))
    lfc.loc[chosen] = sign * size
    for g, v in fixed.items():
        lfc.loc[g] = v
    truth = pd.DataFrame({"log2fc_full": lfc})
    truth["planted"] = truth["log2fc_full"] != 0
    truth["from_go"] = truth.index.isin(immune) & truth["planted"]
    for term, genes in sets.items():
        truth[term.replace(":", "_")] = truth.index.isin(list(genes))
    return truth


def simulate_rnaseq(
    samples: pd.DataFrame,
    params: SimulationParameters,
    *,
    seed: int,
) -> tuple[anndata.AnnData, pd.DataFrame]:
    """Simulate blood RNA-seq counts for the given samples, with a dose-dependent planted effect.

    Parameters
    ----------
    samples
        One row per sample with columns ``sample_id``, ``subject``, ``visit`` and ``arm``; the
        first visit of each subject (in row order) is its baseline, later ones are on treatment.
    params
        The study's simulation parameters (``rnaseq`` section).
    seed
        Seed of the RNA-seq stream (same seed and samples -> identical counts).

    Returns
    -------
    tuple of (anndata.AnnData, pandas.DataFrame)
        The counts (samples x genes, integer; ``obs``: ``subject``, ``visit``, ``arm``,
        ``library_size``; ``var``: ``entrez_id``, ``name``, ``base_mean``, ``dispersion``) and the
        planted truth per gene: ``log2fc_full`` (on treatment vs baseline at full dose),
        ``log2fc_<arm>`` (scaled by the arm's dose fraction), ``planted``, ``from_go`` and one
        membership column per GO term.

    Notes
    -----
    Counts are gamma-Poisson (negative binomial): ``K ~ NB(mu, alpha)`` with
    ``mu = s_j q_g exp(u_gi) 2^(beta_g f_a t)``: library size ``s_j`` (log-normal), gene share
    ``q_g`` (log-normal across genes, normalised to 1), subject effect ``u_gi`` (paired design),
    planted log2 fold change ``beta_g``, dose fraction ``f_a`` of the arm and ``t`` = 1 on
    treatment. Dispersion follows the DESeq2 mean-dispersion trend
    ``alpha = a0 + a1 / mean`` with log-normal scatter (Love MI, Huber W, Anders S. Genome Biol
    2014;15:550). The fixed genes (IL1RL1, SYT17) get at least 200 expected counts so that their
    effect is measurable at BASICS' sample size.
    """
    required = {"sample_id", "subject", "visit", "arm"}
    missing = sorted(required - set(samples.columns))
    if missing:
        msg = f"samples: missing column(s) {missing!r}; needed: sample_id, subject, visit, arm"
        raise InputError(msg)
    if samples["sample_id"].duplicated().any():
        dup = samples.loc[samples["sample_id"].duplicated(), "sample_id"].iloc[0]
        msg = f"samples: sample_id {dup!r} appears twice; sample ids must be unique"
        raise InputError(msg)
    spec = params.rnaseq
    bad = sorted(set(samples["arm"]) - set(spec.dose_fraction))
    if bad:
        msg = f"samples: arm(s) {bad!r} have no dose fraction in simulation.rnaseq.dose_fraction"
        raise InputError(msg)
    import anndata

    rng = np.random.default_rng(np.random.SeedSequence([seed, _RNASEQ_STREAM]))
    genes, sets = _choose_genes(spec, rng)
    symbols = genes["symbol"].to_numpy(dtype=object)
    truth = _plant(spec, symbols, sets, rng)
    n_genes, n_samples = symbols.size, len(samples)

    log_q = spec.log_mean_sd * rng.standard_normal(n_genes)
    q = np.exp(log_q)
    q /= q.sum()
    floor = 200.0 / spec.library_size_median
    fixed_idx = np.flatnonzero(np.isin(symbols, list(spec.fixed_log2fc)))
    q[fixed_idx] = np.maximum(q[fixed_idx], floor)
    q /= q.sum()
    base_mean = q * spec.library_size_median
    alpha = (spec.dispersion_asymptotic + spec.dispersion_extra / np.maximum(base_mean, 1e-3)) * np.exp(
        spec.dispersion_log_sd * rng.standard_normal(n_genes)
    )

    subjects = pd.unique(samples["subject"])
    subj_index = {s: k for k, s in enumerate(subjects)}
    u = spec.subject_log_sd * rng.standard_normal((len(subjects), n_genes))
    lib = spec.library_size_median * np.exp(spec.library_size_log_sd * rng.standard_normal(n_samples))
    first_visit = samples.groupby("subject", sort=False)["visit"].transform("first")
    on_treatment = (samples["visit"] != first_visit).to_numpy()
    dose = samples["arm"].map(spec.dose_fraction).to_numpy(dtype=float)
    beta = truth["log2fc_full"].to_numpy()
    rows = np.array([subj_index[s] for s in samples["subject"]])
    log_mu = (
        np.log(lib)[:, None]
        + np.log(q)[None, :]
        + u[rows]
        + (np.log(2.0) * beta)[None, :] * (dose * on_treatment)[:, None]
    )
    mu = np.exp(log_mu)
    shape = 1.0 / alpha
    lam = rng.gamma(shape[None, :], 1.0, size=(n_samples, n_genes)) * (mu / shape[None, :])
    counts = rng.poisson(lam).astype(np.int32)

    obs = samples[["sample_id", "subject", "visit", "arm"]].astype(str).set_index("sample_id")
    obs.index.name = None
    obs["library_size"] = counts.sum(axis=1)
    var = pd.DataFrame(
        {
            "entrez_id": genes["entrez_id"].to_numpy(),
            "name": genes["name"].to_numpy(),
            "base_mean": base_mean,
            "dispersion": alpha,
        },
        index=pd.Index(symbols.astype(str)),
    )
    adata = anndata.AnnData(X=counts, obs=obs, var=var)
    adata.uns["simulation"] = {
        "seed": int(seed),
        "model": "negative binomial (gamma-Poisson), DESeq2 mean-dispersion trend",
        "go_terms": list(spec.go_terms),
        "dose_fraction": {k: float(v) for k, v in spec.dose_fraction.items()},
    }
    for arm, f in spec.dose_fraction.items():
        truth[f"log2fc_{arm}"] = truth["log2fc_full"] * f
    truth.index.name = "gene"
    logger.info(
        "simulated RNA-seq: %d samples x %d genes, %d planted", n_samples, n_genes, truth["planted"].sum()
    )
    return adata, truth


def write_rnaseq(adata: anndata.AnnData, truth: pd.DataFrame, path: str | Path) -> tuple[Path, Path]:
    """Write the counts to ``path`` (.h5ad) and the planted truth beside it (``<stem>_truth.csv``).

    Returns
    -------
    tuple of Path
        The paths of the ``.h5ad`` file and of the truth CSV.
    """
    p = Path(path)
    if p.suffix != ".h5ad":
        msg = f"path {str(p)!r}: the counts file must end in .h5ad"
        raise InputError(msg)
    p.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(p)
    truth_path = p.with_name(f"{p.stem}_truth.csv")
    truth.to_csv(truth_path, float_format="%.6g")
    return p, truth_path
