"""Preranked GSEA: enrichment scores against a direct running-sum walk, null p-values, recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.datasets import GeneSet
from ssctrial.exceptions import InputError
from ssctrial.omics import compute_enrichment_score, compute_gsea


def walk_es(ranking: pd.Series, genes: set[str], p: float = 1.0) -> float:
    """GSEA running sum written out step by step (Subramanian et al. 2005, eq. in Methods)."""
    r = ranking.sort_values(ascending=False)
    hits = r.index.isin(list(genes))
    nr = (np.abs(r[hits]) ** p).sum()
    n_miss = (~hits).sum()
    s, best = 0.0, 0.0
    for g, v in r.items():
        s += (abs(v) ** p) / nr if g in genes else -1.0 / n_miss
        if abs(s) > abs(best):
            best = s
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("p", [0.0, 1.0, 2.0])
def test_es_equals_running_sum(seed, p):
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(300)]
    r = pd.Series(rng.normal(size=300), index=genes)
    members = set(rng.choice(genes, size=25, replace=False))
    # same arithmetic in a different order: deterministic numerics
    es = compute_enrichment_score(r, members, weight=p)
    np.testing.assert_allclose(es, walk_es(r, members, p), rtol=1e-10)


def test_gsea_recovers_shifted_set_and_is_seeded():
    rng = np.random.default_rng(42)
    genes = [f"g{i}" for i in range(2000)]
    r = pd.Series(rng.normal(size=2000), index=genes)
    up = genes[:40]
    down = genes[40:80]
    r[up] += 1.5
    r[down] -= 1.5
    sets = {"UP": GeneSet("UP", "up", frozenset(up)), "DOWN": GeneSet("DOWN", "down", frozenset(down))}
    for i in range(30):
        sets[f"N{i}"] = GeneSet(f"N{i}", "null", frozenset(rng.choice(genes[100:], size=30, replace=False)))
    res = compute_gsea(r, sets, n_perm=500, seed=1, release="test").set_index("term")
    assert res.loc["UP", "NES"] > 2 and res.loc["DOWN", "NES"] < -2
    # no null set scores as high: p = 1 / (1 + number of null ES of the same sign), about 2 / n_perm
    assert res.loc["UP", "n_more_extreme"] == 0 and res.loc["DOWN", "n_more_extreme"] == 0
    assert res.loc["UP", "pvalue"] < 0.01 and res.loc["DOWN", "pvalue"] < 0.01
    # null sets: p-values roughly uniform, few below 0.05
    assert (res.loc[[f"N{i}" for i in range(30)], "pvalue"] < 0.05).sum() <= 5
    again = compute_gsea(r, sets, n_perm=500, seed=1).set_index("term")
    pd.testing.assert_series_equal(res["pvalue"], again["pvalue"])
    # the leading edge of UP holds mostly planted genes
    lead = res.loc["UP", "leading_edge"].split("/")
    assert np.mean([g in up for g in lead]) > 0.8


def test_gsea_null_p_values_are_calibrated():
    rng = np.random.default_rng(7)
    genes = [f"g{i}" for i in range(1000)]
    r = pd.Series(rng.normal(size=1000), index=genes)
    sets = {f"N{i}": GeneSet(f"N{i}", "null", frozenset(rng.choice(genes, size=20, replace=False)))
            for i in range(200)}
    res = compute_gsea(r, sets, n_perm=200, seed=3)
    frac = (res["pvalue"] < 0.1).mean()
    assert 0.03 < frac < 0.2  # ~0.1 expected under the null; binomial sd over 200 sets ~0.02


def test_gsea_errors():
    r = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    with pytest.raises(InputError, match="n_perm=5 must be an integer >= 10"):
        compute_gsea(r, {}, n_perm=5)
    with pytest.raises(InputError, match="expected a pandas Series"):
        compute_gsea([1, 2], {})
    with pytest.raises(InputError, match="duplicated genes"):
        compute_gsea(pd.Series([1.0, 2.0], index=["a", "a"]), {})
    assert compute_gsea(r, {"S": GeneSet("S", "s", frozenset({"a"}))}).empty  # below min_size
