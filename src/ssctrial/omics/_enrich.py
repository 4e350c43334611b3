"""GO over-representation analysis (hypergeometric test, BH), as clusterProfiler's ``enricher``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from ssctrial.datasets import GeneSet, go_provenance, load_go_gene_sets
from ssctrial.exceptions import InputError

__all__ = ["compute_ora", "create_ora_table", "filter_redundant_terms", "resolve_gene_sets"]

logger = logging.getLogger(__name__)

ORA_COLUMNS = ["term", "name", "set_size", "overlap", "n_selected", "n_universe", "expected",
               "fold_enrichment", "pvalue", "padj", "genes", "source"]
_ONTOLOGIES = ("BP", "CC", "MF")


def resolve_gene_sets(
    ontology: str | None = "BP", *, gene_sets: Mapping[str, GeneSet] | str | None = None
) -> tuple[dict[str, GeneSet], str]:
    """Return the gene sets to test and their release label.

    Parameters
    ----------
    ontology
        ``"BP"``, ``"CC"`` or ``"MF"`` for the shipped GO sets (ignored when ``gene_sets`` is given).
    gene_sets
        Own gene sets: a mapping id -> :class:`~ssctrial.datasets.GeneSet`, or the path of a GMT file.

    Returns
    -------
    tuple
        ``(gene sets, release)``, release e.g. ``"GO 2022-07-01"`` or ``"user GMT mysets.gmt"``.
    """
    from ssctrial.datasets import read_gmt

    if gene_sets is None:
        if ontology is None or str(ontology).upper() not in _ONTOLOGIES:
            msg = f"ontology={ontology!r} is not a GO ontology; allowed: 'BP', 'CC', 'MF'"
            raise InputError(msg)
        return load_go_gene_sets(ontology), f"GO {go_provenance()['go_release']}"
    if isinstance(gene_sets, str):
        sets = read_gmt(gene_sets)
        return sets, f"user GMT {gene_sets}"
    if not isinstance(gene_sets, Mapping) or not all(isinstance(v, GeneSet) for v in gene_sets.values()):
        msg = "gene_sets must be a GMT path or a mapping of id -> ssctrial.datasets.GeneSet"
        raise InputError(msg)
    sources = sorted({v.source for v in gene_sets.values() if v.source})
    return dict(gene_sets), "user gene sets" + (f" ({', '.join(sources[:3])})" if sources else "")


def compute_ora(
    selected: Iterable[str],
    universe: Iterable[str],
    gene_sets: Mapping[str, GeneSet],
    *,
    min_size: int = 10,
    max_size: int = 500,
    release: str = "",
) -> pd.DataFrame:
    """Over-representation of gene sets among selected genes (one-sided hypergeometric test).

    Parameters
    ----------
    selected
        The genes of interest (e.g. DE genes). Genes outside ``universe`` are ignored.
    universe
        Background genes (e.g. every gene tested after independent filtering).
    gene_sets
        Mapping id -> :class:`~ssctrial.datasets.GeneSet`.
    min_size, max_size
        Bounds on a set's size *within the universe* (clusterProfiler's minGSSize 10, maxGSSize 500).
    release
        Label stored in the ``source`` column (e.g. ``"GO 2022-07-01"``).

    Returns
    -------
    pandas.DataFrame
        One row per set with at least one selected gene (as clusterProfiler), sorted by p-value:

        - ``term``, ``name``: set id and name;
        - ``set_size``: K, set genes in the universe;
        - ``overlap``: k, selected genes in the set;
        - ``n_selected``: n, selected genes in the universe; ``n_universe``: N;
        - ``expected``: ``n K / N``; ``fold_enrichment``: ``k / expected``;
        - ``pvalue``: ``P(X >= k)``, X ~ Hypergeometric(N, K, n);
        - ``padj``: Benjamini-Hochberg over the rows returned;
        - ``genes``: the overlap genes, ``/``-separated and sorted;
        - ``source``: ``release``.

    Raises
    ------
    InputError
        For an empty universe or invalid size bounds.
    """
    if not (isinstance(min_size, int) and isinstance(max_size, int) and 1 <= min_size <= max_size):
        msg = f"min_size={min_size!r}, max_size={max_size!r}: need integers with 1 <= min_size <= max_size"
        raise InputError(msg)
    inc = _Incidence(gene_sets, universe, min_size=min_size, max_size=max_size)
    return inc.test(selected, release=release)


class _Incidence:
    """Universe genes x gene sets incidence (sparse), for fast repeated ORA on one universe."""

    def __init__(self, gene_sets: Mapping[str, GeneSet], universe: Iterable[str], *, min_size: int,
                 max_size: int) -> None:
        from scipy.sparse import csc_matrix

        self.genes = sorted(set(universe))
        if not self.genes:
            msg = "universe is empty; pass the genes that were tested (e.g. those with a non-missing padj)"
            raise InputError(msg)
        pos = {g: i for i, g in enumerate(self.genes)}
        rows: list[int] = []
        cols: list[int] = []
        self.terms: list[str] = []
        self.names: list[str] = []
        for term, gs in gene_sets.items():
            idx = [pos[g] for g in gs.genes if g in pos]
            if min_size <= len(idx) <= max_size:
                rows.extend(idx)
                cols.extend([len(self.terms)] * len(idx))
                self.terms.append(term)
                self.names.append(gs.name)
        self.m = csc_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)),
                            shape=(len(self.genes), len(self.terms)))
        self.sizes = np.asarray(self.m.sum(axis=0)).ravel()
        self.pos = pos

    def test(self, selected: Iterable[str], *, release: str) -> pd.DataFrame:
        sel_idx = sorted({self.pos[g] for g in selected if g in self.pos})
        N, n = len(self.genes), len(sel_idx)
        x = np.zeros(N, dtype=np.int32)
        x[sel_idx] = 1
        k_all = np.asarray(self.m.T @ x).ravel()
        use = np.flatnonzero(k_all > 0)
        if use.size == 0:
            out = pd.DataFrame(columns=ORA_COLUMNS)
            out.attrs["release"] = release
            return out
        K_arr = self.sizes[use]
        k_arr = k_all[use]
        pvals = hypergeom.sf(k_arr - 1, N, K_arr, n)
        expected = n * K_arr / N
        sub = self.m[:, use].tocsc()
        sel_mask = x.astype(bool)
        genes_arr = np.asarray(self.genes)
        hit_genes = []
        for j in range(use.size):
            rows = sub.indices[sub.indptr[j]:sub.indptr[j + 1]]
            rows = rows[sel_mask[rows]]
            hit_genes.append("/".join(sorted(genes_arr[rows])))
        out = pd.DataFrame({
            "term": np.asarray(self.terms)[use],
            "name": np.asarray(self.names)[use],
            "set_size": K_arr,
            "overlap": k_arr,
            "n_selected": n,
            "n_universe": N,
            "expected": expected,
            "fold_enrichment": k_arr / expected,
            "pvalue": pvals,
            "padj": false_discovery_control(pvals, method="bh"),
            "genes": hit_genes,
            "source": release,
        })
        out = out.sort_values(["pvalue", "term"], kind="stable").reset_index(drop=True)
        out.attrs["release"] = release
        return out


def create_ora_table(
    de: pd.DataFrame,
    *,
    ontologies: Sequence[str] = ("BP", "CC", "MF"),
    gene_sets: Mapping[str, GeneSet] | str | None = None,
    padj_cutoff: float = 0.05,
    lfc_cutoff: float = 0.0,
    directions: Sequence[str] = ("up", "down", "all"),
    min_size: int = 10,
    max_size: int = 500,
) -> pd.DataFrame:
    """GO over-representation of up-, down- and all DE genes of a DESeq2 results table.

    Parameters
    ----------
    de
        A :func:`~ssctrial.omics.deseq` result (index gene; ``log2FoldChange``, ``padj``).
    ontologies
        GO ontologies to test (ignored when ``gene_sets`` is given).
    gene_sets
        Own gene sets (mapping or GMT path) instead of the shipped GO sets.
    padj_cutoff, lfc_cutoff
        A gene is selected when ``padj < padj_cutoff`` and ``|log2FoldChange| > lfc_cutoff``.
    directions
        Any of ``"up"``, ``"down"``, ``"all"``.
    min_size, max_size
        Set-size bounds within the universe.

    Returns
    -------
    pandas.DataFrame
        :func:`compute_ora`'s columns plus ``ontology`` and ``direction``. The universe is every
        gene with a non-missing ``padj`` (tested after independent filtering).
    """
    for col in ("log2FoldChange", "padj"):
        if col not in de.columns:
            msg = f"de lacks column {col!r}; pass a deseq() result (columns {list(de.columns)})"
            raise InputError(msg)
    bad = [d for d in directions if d not in ("up", "down", "all")]
    if bad:
        msg = f"directions {bad} not allowed; allowed: 'up', 'down', 'all'"
        raise InputError(msg)
    tested = de[de["padj"].notna()]
    universe = list(tested.index)
    sig = tested[(tested["padj"] < padj_cutoff) & (tested["log2FoldChange"].abs() > lfc_cutoff)]
    picks = {"up": sig.index[sig["log2FoldChange"] > 0], "down": sig.index[sig["log2FoldChange"] < 0],
             "all": sig.index}
    onts: list[str | None] = [None] if gene_sets is not None else list(ontologies)
    tables = []
    if not (isinstance(min_size, int) and isinstance(max_size, int) and 1 <= min_size <= max_size):
        msg = f"min_size={min_size!r}, max_size={max_size!r}: need integers with 1 <= min_size <= max_size"
        raise InputError(msg)
    for ont in onts:
        sets, release = resolve_gene_sets(ont, gene_sets=gene_sets)
        inc = _Incidence(sets, universe, min_size=min_size, max_size=max_size)
        for d in directions:
            t = inc.test(picks[d], release=release)
            t.insert(0, "direction", d)
            t.insert(0, "ontology", ont if ont is not None else "user")
            tables.append(t)
    nonempty = [t for t in tables if len(t)]
    if nonempty:
        out = pd.concat(nonempty, ignore_index=True)
    else:
        out = pd.DataFrame(columns=["ontology", "direction", *ORA_COLUMNS])
    out.attrs["release"] = tables[0].attrs.get("release", "") if tables else ""
    return out


def filter_redundant_terms(ora: pd.DataFrame, *, max_jaccard: float = 0.7) -> pd.DataFrame:
    """Drop terms whose overlap genes largely repeat those of a more significant term (for display).

    Parameters
    ----------
    ora
        An over-representation table (:func:`compute_ora`; columns ``pvalue`` and ``genes``). With
        ``ontology``/``direction`` columns, each combination is collapsed separately.
    max_jaccard
        A term is dropped when the Jaccard index of its overlap genes with those of a term already
        kept (in p-value order) is at least this value. GO's parent/child terms often share most
        DE genes; this keeps the most significant of each such group.

    Returns
    -------
    pandas.DataFrame
        The kept rows, in the input order, with ``attrs`` preserved.
    """
    for col in ("pvalue", "genes"):
        if col not in ora.columns:
            msg = f"ora lacks column {col!r}; pass a compute_ora/create_ora_table result"
            raise InputError(msg)
    if not (isinstance(max_jaccard, float | int) and 0 < max_jaccard <= 1):
        msg = f"max_jaccard={max_jaccard!r} must be in (0, 1]"
        raise InputError(msg)
    keys = [c for c in ("ontology", "direction") if c in ora.columns]
    keep_idx: list[Any] = []
    groups = ora.groupby(keys, sort=False, dropna=False) if keys else [((), ora)]
    for _, grp in groups:
        kept: list[set[str]] = []
        for idx, row in grp.sort_values("pvalue", kind="stable").iterrows():
            genes = set(str(row["genes"]).split("/")) if row["genes"] else set()
            if any(len(genes & k) / max(len(genes | k), 1) >= max_jaccard for k in kept):
                continue
            kept.append(genes)
            keep_idx.append(idx)
    out = ora.loc[[i for i in ora.index if i in set(keep_idx)]].copy()
    out.attrs = dict(ora.attrs)
    return out
