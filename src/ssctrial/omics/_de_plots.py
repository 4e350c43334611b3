"""Figures for transcriptome results (matplotlib, Agg backend).

PCA, volcano, MA, heatmap, paired plots and GO dot plot; each function returns a
:class:`matplotlib.figure.Figure` (no global pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError

__all__ = ["plot_go_dots", "plot_heatmap", "plot_ma", "plot_paired_genes", "plot_pca", "plot_volcano"]

HIGHLIGHT = ("IL1RL1", "SYT17")


def _figure(w: float, h: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def _need(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        msg = f"{what} lacks column(s) {missing}; columns present: {list(df.columns)}"
        raise InputError(msg)


def plot_pca(qc: pd.DataFrame, *, color: str = "visit", marker: str = "arm", title: str = "") -> Any:
    """PCA of VST counts, coloured by one column and marked by another.

    Parameters
    ----------
    qc
        :func:`~ssctrial.omics.create_qc_table` output (``PC1``, ``PC2`` and sample columns).
    color, marker
        Columns for colour and marker shape (default visit and arm).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(qc, ["PC1", "PC2", color, marker], "qc")
    fig, ax = _figure(6, 4.5)
    colors = {lv: f"C{i}" for i, lv in enumerate(pd.unique(qc[color].astype(str)))}
    shapes = dict(zip(pd.unique(qc[marker].astype(str)), "osD^v<>ph*", strict=False))
    for (c, m), sub in qc.groupby([qc[color].astype(str), qc[marker].astype(str)], sort=False):
        ax.scatter(sub["PC1"], sub["PC2"], c=colors[c], marker=shapes.get(m, "o"), label=f"{c} / {m}",
                   edgecolors="k", linewidths=0.3, s=40)
    flagged = qc[qc["outlier"]] if "outlier" in qc.columns else qc.iloc[:0]
    for sid, row in flagged.iterrows():
        ax.annotate(str(sid), (row["PC1"], row["PC2"]), fontsize=7, color="red")
    var = qc.attrs.get("pca_variance", [np.nan, np.nan])
    ax.set_xlabel(f"PC1 ({100 * var[0]:.0f}% variance)")
    ax.set_ylabel(f"PC2 ({100 * var[1]:.0f}% variance)")
    ax.legend(fontsize=7, title=f"{color} / {marker}", title_fontsize=7)
    ax.set_title(title or "PCA of variance-stabilised counts")
    return fig


def plot_volcano(
    de: pd.DataFrame, *, padj_cutoff: float = 0.05, label: Sequence[str] = HIGHLIGHT, title: str = ""
) -> Any:
    """Volcano plot: log2 fold change against -log10 p, significant genes coloured.

    Parameters
    ----------
    de
        A :func:`~ssctrial.omics.deseq` result.
    padj_cutoff
        Significance threshold on ``padj``.
    label
        Genes to label when present (default IL1RL1 and SYT17, the BASICS findings).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(de, ["log2FoldChange", "pvalue", "padj"], "de")
    d = de.dropna(subset=["pvalue", "log2FoldChange"])
    y = -np.log10(np.maximum(d["pvalue"].to_numpy(), 1e-300))
    sig = (d["padj"] < padj_cutoff).to_numpy()
    up = sig & (d["log2FoldChange"].to_numpy() > 0)
    down = sig & (d["log2FoldChange"].to_numpy() < 0)
    fig, ax = _figure(6, 5)
    x = d["log2FoldChange"].to_numpy()
    ax.scatter(x[~sig], y[~sig], s=4, c="0.7", label="not significant", rasterized=True)
    ax.scatter(x[up], y[up], s=6, c="C3", label=f"up ({up.sum()})")
    ax.scatter(x[down], y[down], s=6, c="C0", label=f"down ({down.sum()})")
    for g in label:
        if g in d.index:
            i = d.index.get_loc(g)
            ax.annotate(g, (x[i], y[i]), xytext=(5, 5), textcoords="offset points", fontsize=9,
                        fontweight="bold", arrowprops={"arrowstyle": "-", "lw": 0.5})
    ax.axvline(0, c="k", lw=0.5)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title or de.attrs.get("contrast", "volcano"))
    return fig


def plot_ma(de: pd.DataFrame, *, padj_cutoff: float = 0.05, title: str = "") -> Any:
    """MA plot: log2 fold change against mean normalised count (log scale).

    Parameters
    ----------
    de
        A :func:`~ssctrial.omics.deseq` result.
    padj_cutoff
        Significance threshold on ``padj``.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(de, ["baseMean", "log2FoldChange", "padj"], "de")
    d = de[(de["baseMean"] > 0) & de["log2FoldChange"].notna()]
    sig = (d["padj"] < padj_cutoff).to_numpy()
    fig, ax = _figure(6, 4.5)
    ax.scatter(d["baseMean"][~sig], d["log2FoldChange"][~sig], s=3, c="0.6", rasterized=True)
    ax.scatter(d["baseMean"][sig], d["log2FoldChange"][sig], s=5, c="C3", label=f"padj < {padj_cutoff}")
    ax.set_xscale("log")
    ax.axhline(0, c="k", lw=0.5)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change")
    ax.legend(fontsize=7)
    ax.set_title(title or de.attrs.get("contrast", "MA plot"))
    return fig


def plot_heatmap(
    vst: pd.DataFrame, de: pd.DataFrame, samples: pd.DataFrame, *, n_genes: int = 40,
    annotate: Sequence[str] = ("arm", "visit"), title: str = "",
) -> Any:
    """Heatmap of the top DE genes (row-centred VST values), samples ordered by annotation.

    Parameters
    ----------
    vst
        Genes x samples VST values (:func:`~ssctrial.omics.compute_vst`).
    de
        A :func:`~ssctrial.omics.deseq` result; the genes with the smallest p-values are shown.
    samples
        Sample metadata (the columns in ``annotate`` order the samples).
    n_genes
        Number of genes.
    annotate
        Sample columns used to order the columns and label them.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    genes = [g for g in de.sort_values("pvalue").index if g in vst.index][:n_genes]
    if not genes:
        msg = "no gene of de is in vst; pass the VST of the same counts"
        raise InputError(msg)
    cols = [c for c in annotate if c in samples.columns]
    order = samples.sort_values(cols).index if cols else samples.index
    order = [s for s in order if s in vst.columns]
    m = vst.loc[genes, order].to_numpy()
    m = m - m.mean(axis=1, keepdims=True)
    lim = np.nanmax(np.abs(m)) or 1.0
    fig, ax = _figure(max(6, 0.12 * len(order) + 2), max(4, 0.18 * len(genes) + 1.5))
    im = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_yticks(range(len(genes)), genes, fontsize=6)
    labels = [" ".join(str(samples.loc[s, c]) for c in cols) for s in order]
    ax.set_xticks(range(len(order)), labels, fontsize=5, rotation=90)
    fig.colorbar(im, ax=ax, label="VST, row-centred", shrink=0.6)
    ax.set_title(title or f"top {len(genes)} genes: {de.attrs.get('contrast', '')}")
    return fig


def plot_paired_genes(
    vst: pd.DataFrame, samples: pd.DataFrame, genes: Sequence[str], *,
    subject_col: str = "subject", visit_col: str = "visit", arm_col: str = "arm",
) -> Any:
    """Per-gene paired plots: each patient's expression at each visit joined by a line, by arm.

    Parameters
    ----------
    vst
        Genes x samples VST values.
    samples
        Sample metadata with subject, visit and arm columns.
    genes
        Genes to show (those absent from ``vst`` are skipped).
    subject_col, visit_col, arm_col
        Column names.

    Returns
    -------
    matplotlib.figure.Figure
        One row of panels per gene, one panel per arm.
    """
    genes = [g for g in genes if g in vst.index]
    if not genes:
        msg = "none of the requested genes is in vst"
        raise InputError(msg)
    def _levels(col: str, *, sort: bool) -> list[str]:
        if isinstance(samples[col].dtype, pd.CategoricalDtype):
            return [str(c) for c in samples[col].cat.categories]
        vals = [str(v) for v in pd.unique(samples[col].astype(str))]
        return sorted(vals) if sort else vals

    arms = _levels(arm_col, sort=False)
    visits = _levels(visit_col, sort=True)
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.6 * len(arms), 2.3 * len(genes)), dpi=100, layout="constrained")
    axes = fig.subplots(len(genes), len(arms), squeeze=False, sharey="row")
    for i, g in enumerate(genes):
        for j, a in enumerate(arms):
            ax = axes[i][j]
            sub = samples[samples[arm_col].astype(str) == a]
            for _, grp in sub.groupby(subject_col, observed=True):
                xs = [visits.index(str(v)) for v in grp[visit_col].astype(str)]
                order = np.argsort(xs)
                ys = vst.loc[g, grp.index].to_numpy()
                ax.plot(np.array(xs)[order], ys[order], "-o", ms=3, lw=0.7, alpha=0.7)
            ax.set_xticks(range(len(visits)), visits, fontsize=7)
            ax.set_title(f"{g} - {a}", fontsize=8)
            if j == 0:
                ax.set_ylabel("VST expression", fontsize=7)
    return fig


def plot_go_dots(ora: pd.DataFrame, *, n_terms: int = 15, title: str = "") -> Any:
    """GO dot plot: top terms by p-value; x = gene ratio, size = overlap, colour = -log10 padj.

    Parameters
    ----------
    ora
        :func:`~ssctrial.omics.compute_ora` / ``create_ora_table`` output.
    n_terms
        Number of terms shown.
    title
        Figure title (the GO release is appended).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(ora, ["name", "overlap", "n_selected", "padj", "pvalue"], "ora")
    top = ora.sort_values("pvalue").head(n_terms).iloc[::-1]
    fig, ax = _figure(7, max(3, 0.35 * len(top) + 1.5))
    if len(top):
        ratio = top["overlap"] / top["n_selected"]
        sc = ax.scatter(ratio, range(len(top)), s=20 + 8 * np.sqrt(top["overlap"].to_numpy(dtype=float)) * 4,
                        c=-np.log10(np.maximum(top["padj"].to_numpy(dtype=float), 1e-300)), cmap="viridis",
                        edgecolors="k", linewidths=0.3)
        fig.colorbar(sc, ax=ax, label="-log10 padj", shrink=0.7)
        names = [n if len(n) <= 55 else n[:52] + "..." for n in top["name"].astype(str)]
        ax.set_yticks(range(len(top)), names, fontsize=7)
    ax.set_xlabel("gene ratio (overlap / selected genes)")
    release = ora.attrs.get("release") or (ora["source"].iloc[0] if "source" in ora and len(ora) else "")
    ax.set_title(((title + " - ") if title else "") + (release or "gene sets"), fontsize=9)
    return fig
