"""Preranked gene-set enrichment analysis with gene-set permutations (as fgsea's ``fgseaSimple``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from ssctrial.datasets import GeneSet
from ssctrial.exceptions import InputError

__all__ = ["compute_enrichment_score", "compute_gsea"]

logger = logging.getLogger(__name__)

GSEA_COLUMNS = ["term", "name", "size", "ES", "NES", "pvalue", "padj", "n_more_extreme", "leading_edge",
                "source"]


def _es_from_positions(pos: np.ndarray, w: np.ndarray, n_total: int) -> tuple[np.ndarray, np.ndarray]:
    """Enrichment scores of sets given sorted hit positions ``pos`` (m, k) and their weights ``w``.

    Returns ``(ES, argext)``: the signed maximum deviation of the running sum from zero and the index
    (within the k hits) where it is reached. The running sum rises by ``w_i / sum(w)`` at each hit and
    falls by ``1 / (N - k)`` at each miss, so its extremes lie just after (maximum) or just before
    (minimum) a hit.
    """
    m, k = pos.shape
    w = np.asarray(w, dtype=float)
    step = w / w.sum(axis=1, keepdims=True)
    after = np.cumsum(step, axis=1)
    misses = (pos - np.arange(k)[None, :]).astype(float)
    misses *= 1.0 / (n_total - k)
    after -= misses  # running sum just after each hit
    i_max = after.argmax(axis=1)
    after -= step  # now: just before each hit
    i_min = after.argmin(axis=1)
    rows = np.arange(m)
    top = after[rows, i_max] + step[rows, i_max]
    bottom = after[rows, i_min]
    use_top = top >= -bottom
    return np.where(use_top, top, bottom), np.where(use_top, i_max, i_min)


def compute_enrichment_score(
    ranking: pd.Series, genes: set[str] | frozenset[str], *, weight: float = 1.0
) -> float:
    """Enrichment score of one gene set in a ranked list (Subramanian et al. 2005, PNAS 102:15545).

    Parameters
    ----------
    ranking
        Gene -> ranking statistic (e.g. DESeq2's Wald ``stat``); sorted decreasingly inside.
    genes
        The gene set.
    weight
        Exponent p of the hit weights ``|r|^p`` (1 as GSEA and fgsea's default).

    Returns
    -------
    float
        The running-sum statistic's maximum deviation from zero (signed).
    """
    r = _sorted_ranking(ranking)
    hit = np.flatnonzero(r.index.isin(list(genes)))
    if hit.size == 0 or hit.size == r.size:
        msg = f"the gene set has {hit.size} of the {r.size} ranked genes; need at least 1 and fewer than all"
        raise InputError(msg)
    w = np.abs(r.to_numpy()[hit]) ** weight
    if w.sum() == 0:
        w = np.ones_like(w)
    es, _ = _es_from_positions(hit[None, :], w[None, :], r.size)
    return float(es[0])


def _sorted_ranking(ranking: pd.Series) -> pd.Series:
    if not isinstance(ranking, pd.Series):
        msg = f"ranking is a {type(ranking).__name__}; expected a pandas Series gene -> statistic"
        raise InputError(msg)
    r = ranking.dropna()
    if r.index.duplicated().any():
        msg = f"ranking has duplicated genes {list(r.index[r.index.duplicated()][:5])}; genes must be unique"
        raise InputError(msg)
    if r.size < 2:
        msg = f"ranking has {r.size} non-missing values; need a ranked list of genes"
        raise InputError(msg)
    # decreasing statistic; ties broken by gene name so that results do not depend on input order
    df = pd.DataFrame({"g": r.index.astype(str), "v": r.to_numpy(dtype=float)})
    df = df.sort_values(["v", "g"], ascending=[False, True], kind="stable")
    return pd.Series(df["v"].to_numpy(), index=df["g"].to_numpy())


def compute_gsea(
    ranking: pd.Series,
    gene_sets: Mapping[str, GeneSet],
    *,
    min_size: int = 15,
    max_size: int = 500,
    n_perm: int = 1000,
    seed: int = 0,
    weight: float = 1.0,
    release: str = "",
) -> pd.DataFrame:
    """Preranked GSEA with gene-set permutations, as fgsea's ``fgseaSimple`` (Korotkevich et al. 2021).

    Parameters
    ----------
    ranking
        Gene -> statistic, e.g. the Wald ``stat`` of a :func:`~ssctrial.omics.deseq` result.
    gene_sets
        Mapping id -> :class:`~ssctrial.datasets.GeneSet`.
    min_size, max_size
        Bounds on the number of ranked genes in a set (fgsea defaults 15 and 500).
    n_perm
        Random gene sets drawn per set size.
    seed
        Seed of :func:`numpy.random.default_rng`; results are reproducible for a given seed.
    weight
        Exponent of the hit weights (fgsea's ``gseaParam``, default 1).
    release
        Label stored in ``source`` (e.g. ``"GO 2022-07-01"``).

    Returns
    -------
    pandas.DataFrame
        One row per tested set, sorted by p-value:

        - ``term``, ``name``, ``size`` (ranked genes in the set);
        - ``ES``: enrichment score; ``NES``: ES divided by the mean null ES of the same sign;
        - ``pvalue``: ``(1 + #null ES as or more extreme, same sign) / (1 + #null ES of that sign)``;
        - ``padj``: Benjamini-Hochberg; ``n_more_extreme``;
        - ``leading_edge``: ``/``-separated genes driving the score; ``source``: ``release``.

    Notes
    -----
    Random sets of each size are drawn without replacement from the ranked genes, once per size and
    shared by the sets of that size (as fgseaSimple). The smallest attainable p-value is
    ``1 / (n_perm + 1)``.
    """
    if not (isinstance(n_perm, int) and n_perm >= 10):
        msg = f"n_perm={n_perm!r} must be an integer >= 10"
        raise InputError(msg)
    if not (isinstance(min_size, int) and isinstance(max_size, int) and 1 <= min_size <= max_size):
        msg = f"min_size={min_size!r}, max_size={max_size!r}: need integers with 1 <= min_size <= max_size"
        raise InputError(msg)
    r = _sorted_ranking(ranking)
    N = r.size
    genes = r.index.to_numpy()
    weights_all = np.abs(r.to_numpy()) ** weight
    pos_of = {g: i for i, g in enumerate(genes)}
    sets = []
    for term, gs in gene_sets.items():
        pos = np.sort(np.fromiter((pos_of[g] for g in gs.genes if g in pos_of), dtype=np.int64))
        if min_size <= pos.size <= max_size and pos.size < N:
            sets.append((term, gs.name, pos))
    if not sets:
        out = pd.DataFrame(columns=GSEA_COLUMNS)
        out.attrs["release"] = release
        return out
    rng = np.random.default_rng(seed)
    by_size: dict[int, list[int]] = {}
    for j, (_, _, pos) in enumerate(sets):
        by_size.setdefault(pos.size, []).append(j)
    prefix = _random_prefixes(rng, N, max(by_size), n_perm)
    rows = []
    for k in sorted(by_size):
        draws = np.sort(prefix[:, :k], axis=1)
        nulls, _ = _es_from_positions(draws, weights_all[draws], N)
        pos_nonneg, neg = np.sort(nulls[nulls >= 0]), np.sort(nulls[nulls <= 0])
        mean_pos = pos_nonneg.mean() if pos_nonneg.size else np.nan
        mean_neg = abs(neg.mean()) if neg.size else np.nan
        obs_pos = np.stack([sets[j][2] for j in by_size[k]])
        es, iext = _es_from_positions(obs_pos, weights_all[obs_pos], N)
        for j, es0, i0 in zip(by_size[k], es, iext, strict=True):
            term, name, pos = sets[j]
            if es0 >= 0:
                n_more = int(pos_nonneg.size - np.searchsorted(pos_nonneg, es0, side="left"))
                n_ref, nes = pos_nonneg.size, es0 / mean_pos
                lead = genes[pos[: i0 + 1]]
            else:
                n_more = int(np.searchsorted(neg, es0, side="right"))
                n_ref, nes = neg.size, es0 / mean_neg
                lead = genes[pos[i0:]][::-1]
            pval = (1 + n_more) / (1 + n_ref)
            rows.append((term, name, k, float(es0), float(nes), min(pval, 1.0), n_more, "/".join(lead)))
    out = pd.DataFrame(rows, columns=["term", "name", "size", "ES", "NES", "pvalue", "n_more_extreme",
                                      "leading_edge"])
    out.insert(6, "padj", false_discovery_control(out["pvalue"].to_numpy(), method="bh"))
    out["source"] = release
    out = out.sort_values(["pvalue", "NES"], key=lambda s: s if s.name == "pvalue" else -s.abs(),
                          kind="stable").reset_index(drop=True)
    out.attrs.update({"release": release, "n_perm": n_perm, "seed": seed})
    return out[GSEA_COLUMNS]


def _random_prefixes(rng: np.random.Generator, n_total: int, k_max: int, n_perm: int) -> np.ndarray:
    """``n_perm`` rows of ``k_max`` distinct random positions in random order.

    The first k entries of a row are a uniform random k-subset for every k, so one draw serves all
    set sizes (fgsea's cumulative sampling).
    """
    out = np.empty((n_perm, k_max), dtype=np.int64)
    block = max(1, int(2e7 // max(n_total, 1)))
    for start in range(0, n_perm, block):
        stop = min(start + block, n_perm)
        keys = rng.random((stop - start, n_total))
        if k_max < n_total:
            idx = np.argpartition(keys, k_max - 1, axis=1)[:, :k_max]
        else:
            idx = np.tile(np.arange(n_total), (stop - start, 1))
        order = np.argsort(np.take_along_axis(keys, idx, axis=1), axis=1)
        out[start:stop] = np.take_along_axis(idx, order, axis=1)
    return out
