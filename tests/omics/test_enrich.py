"""Over-representation analysis: p-values against exact hypergeometric sums, gene counts vs the GMT."""

from __future__ import annotations

import gzip
from importlib import resources
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from ssctrial.datasets import GeneSet, load_go_gene_sets
from ssctrial.exceptions import InputError
from ssctrial.omics import compute_ora, create_ora_table


def exact_upper_tail(N: int, K: int, n: int, k: int) -> float:
    """P(X >= k) for X ~ Hypergeometric(N, K, n), by summing binomial coefficients exactly."""
    from fractions import Fraction

    total = sum(Fraction(comb(K, i) * comb(N - K, n - i)) for i in range(k, min(K, n) + 1))
    return float(total / comb(N, n))


UNIVERSE = [f"G{i:03d}" for i in range(200)]


@pytest.mark.parametrize(
    ("K", "n", "k"),
    [(20, 30, 10), (20, 30, 1), (50, 10, 0 + 1), (15, 40, 15), (100, 100, 60), (12, 5, 5)],
)
def test_hypergeometric_p_matches_exact_sum(K, n, k):
    set_genes = UNIVERSE[:K]
    # k selected genes inside the set, n - k outside it
    selected = set_genes[:k] + UNIVERSE[K:K + n - k]
    sets = {"S": GeneSet("S", "hand-built", frozenset(set_genes))}
    res = compute_ora(selected, UNIVERSE, sets, min_size=1, max_size=200)
    row = res.iloc[0]
    assert (row["set_size"], row["overlap"], row["n_selected"], row["n_universe"]) == (K, k, n, 200)
    # exact rational arithmetic vs scipy's hypergeom.sf: deterministic numerics
    np.testing.assert_allclose(row["pvalue"], exact_upper_tail(200, K, n, k), rtol=1e-9)
    # the one-sided Fisher exact test is the same hypergeometric tail
    table = [[k, n - k], [K - k, 200 - K - (n - k)]]
    np.testing.assert_allclose(row["pvalue"], fisher_exact(table, alternative="greater").pvalue, rtol=1e-9)
    np.testing.assert_allclose(row["expected"], n * K / 200, rtol=1e-12)
    assert row["genes"] == "/".join(sorted(set_genes[:k]))


def test_bh_adjustment_and_bounds():
    sets = {
        "A": GeneSet("A", "a", frozenset(UNIVERSE[:20])),
        "B": GeneSet("B", "b", frozenset(UNIVERSE[20:40])),
        "C": GeneSet("C", "c", frozenset(UNIVERSE[40:45])),  # below min_size 10
        "D": GeneSet("D", "d", frozenset(UNIVERSE[100:120])),  # no overlap: not reported
        "E": GeneSet("E", "e", frozenset(UNIVERSE[:5] + ["NOT_IN_UNIVERSE"] * 1)),
    }
    selected = UNIVERSE[:10] + UNIVERSE[20:23] + UNIVERSE[40:45]
    res = compute_ora(selected, UNIVERSE, sets, release="test")
    assert list(res["term"]) == ["A", "B"]
    p = res["pvalue"].to_numpy()
    # BH by hand for two p-values sorted increasingly
    np.testing.assert_allclose(res["padj"], [min(p[0] * 2, p[1]), p[1]], rtol=1e-12)
    assert (res["source"] == "test").all()


def test_errors():
    sets = {"A": GeneSet("A", "a", frozenset(UNIVERSE[:20]))}
    with pytest.raises(InputError, match="universe is empty"):
        compute_ora(["G001"], [], sets)
    with pytest.raises(InputError, match="min_size=20, max_size=10"):
        compute_ora(["G001"], UNIVERSE, sets, min_size=20, max_size=10)
    with pytest.raises(InputError, match="de lacks column 'padj'"):
        create_ora_table(pd.DataFrame({"log2FoldChange": [1.0]}))
    with pytest.raises(InputError, match="directions \\['sideways'\\] not allowed"):
        create_ora_table(pd.DataFrame({"log2FoldChange": [1.0], "padj": [0.01]}), directions=["sideways"])


def test_go_gene_counts_equal_shipped_gmt():
    """Set sizes used by ORA equal the gene counts in the shipped GMT lines."""
    path = resources.files("ssctrial.datasets").joinpath("data", "go_bp_human.gmt.gz")
    counts = {}
    with gzip.open(str(path), "rt") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            counts[f[0]] = len(set(f[2:]))
    bp = load_go_gene_sets("BP")
    universe = sorted(set().union(*(s.genes for s in bp.values())))
    terms = ["GO:0006955", "GO:0001819", "GO:0002253", "GO:0002218", "GO:0000002"]
    sets = {t: bp[t] for t in terms}
    res = compute_ora(universe[:2000], universe, sets, min_size=1, max_size=5000).set_index("term")
    for t in terms:
        assert res.loc[t, "set_size"] == counts[t]
    # and the R-checked counts (org.Hs.egGO2ALLEGS, see datasets/data/README.md)
    assert [counts[t] for t in terms[:4]] == [1955, 486, 397, 64]


def test_create_ora_table_directions_and_release():
    bp = load_go_gene_sets("BP")
    imm = sorted(bp["GO:0002253"].genes)  # activation of immune response
    other = sorted(set().union(*(bp[t].genes for t in ["GO:0000002", "GO:0006955"])) - set(imm))
    genes = imm + other[:1500]
    lfc = pd.Series(0.1, index=genes)
    padj = pd.Series(0.5, index=genes)
    padj[imm[:120]] = 0.001
    lfc[imm[:120]] = -1.0
    de = pd.DataFrame({"log2FoldChange": lfc, "padj": padj})
    res = create_ora_table(de, ontologies=["BP"])
    assert set(res["direction"]) == {"down", "all"}  # nothing up-regulated
    down = res[res["direction"] == "down"]
    assert down.iloc[0]["term"] in {"GO:0002253"} or "GO:0002253" in set(down.head(5)["term"])
    assert (res["source"] == "GO 2022-07-01").all()
    assert res.attrs["release"] == "GO 2022-07-01"


def test_user_gmt(tmp_path):
    p = tmp_path / "mine.gmt"
    p.write_text("S1\tmy set\t" + "\t".join(UNIVERSE[:12]) + "\n")
    de = pd.DataFrame({"log2FoldChange": 1.0, "padj": [0.001] * 10 + [0.9] * 190}, index=UNIVERSE)
    res = create_ora_table(de, gene_sets=str(p))
    assert set(res["ontology"]) == {"user"}
    assert res.iloc[0]["term"] == "S1"
    assert res.iloc[0]["source"] == f"user GMT {p}"


def test_filter_redundant_terms():
    from ssctrial.omics import filter_redundant_terms

    ora = pd.DataFrame({
        "ontology": "BP", "direction": "all",
        "term": ["parent", "child", "other", "child2"],
        "pvalue": [1e-10, 1e-8, 1e-6, 1e-5],
        "genes": ["A/B/C/D/E", "A/B/C/D", "X/Y/Z", "A/X"],
    })
    ora.attrs["release"] = "GO 2022-07-01"
    out = filter_redundant_terms(ora, max_jaccard=0.7)
    # child shares 4/5 genes with parent (Jaccard 0.8): dropped; child2 overlaps little: kept
    assert list(out["term"]) == ["parent", "other", "child2"]
    assert out.attrs["release"] == "GO 2022-07-01"
    loose = filter_redundant_terms(ora, max_jaccard=0.9)
    assert list(loose["term"]) == ["parent", "child", "other", "child2"]
    with pytest.raises(InputError, match="max_jaccard=0 must be in"):
        filter_redundant_terms(ora, max_jaccard=0)
