"""Figures render (Agg) with the expected content: labelled genes, axes, GO release in the title."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.omics import (
    plot_go_dots,
    plot_heatmap,
    plot_ma,
    plot_paired_genes,
    plot_pca,
    plot_volcano,
)


@pytest.fixture(scope="module")
def de():
    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(300)] + ["IL1RL1", "SYT17"]
    lfc = rng.normal(0, 0.5, len(genes))
    lfc[-2:] = [-1.5, 1.2]
    p = np.clip(np.exp(-np.abs(lfc) * 8) * rng.uniform(0.5, 1, len(genes)), 1e-30, 1)
    out = pd.DataFrame({"baseMean": rng.uniform(5, 5000, len(genes)), "log2FoldChange": lfc, "lfcSE": 0.2,
                        "stat": lfc / 0.2, "pvalue": p, "padj": np.minimum(p * 20, 1)}, index=genes)
    out.attrs["contrast"] = "visit W12 vs BL"
    return out


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_volcano_labels_basics_genes(tmp_path, de):
    fig = plot_volcano(de)
    assert {"IL1RL1", "SYT17"} <= set(_texts(fig))
    assert fig.axes[0].get_title() == "visit W12 vs BL"
    fig.savefig(tmp_path / "v.png")
    assert (tmp_path / "v.png").stat().st_size > 1000
    assert "IL1RL1" not in _texts(plot_volcano(de.drop(index="IL1RL1")))


def test_ma_and_errors(de):
    fig = plot_ma(de)
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(InputError, match=r"de lacks column\(s\) \['padj'\]"):
        plot_ma(de.drop(columns="padj"))


def test_pca_heatmap_paired(de):
    samples = pd.DataFrame({"subject": ["a", "a", "b", "b"], "visit": ["BL", "W12"] * 2,
                            "arm": ["CTRL", "CTRL", "BARI4", "BARI4"]}, index=["s1", "s2", "s3", "s4"])
    qc = samples.assign(PC1=[1.0, 2, 3, 4], PC2=[0.0, 1, 0, 1], outlier=[False, False, True, False])
    qc.attrs["pca_variance"] = [0.6, 0.2]
    fig = plot_pca(qc)
    assert fig.axes[0].get_xlabel() == "PC1 (60% variance)"
    assert "s3" in _texts(fig)  # outliers are named
    rng = np.random.default_rng(1)
    vst = pd.DataFrame(rng.normal(8, 1, (len(de), 4)), index=de.index, columns=samples.index)
    hm = plot_heatmap(vst, de, samples, n_genes=10)
    assert len(hm.axes[0].get_yticklabels()) == 10
    pg = plot_paired_genes(vst, samples, ["IL1RL1", "SYT17", "NOT_A_GENE"])
    assert len(pg.axes) == 4  # 2 genes x 2 arms
    with pytest.raises(InputError, match="none of the requested genes"):
        plot_paired_genes(vst, samples, ["NOPE"])


def test_go_dots_title_has_release():
    ora = pd.DataFrame({"name": ["immune response", "cytokine production"], "overlap": [30, 20],
                        "n_selected": 100, "padj": [1e-8, 1e-4], "pvalue": [1e-9, 1e-5],
                        "source": "GO 2022-07-01"})
    ora.attrs["release"] = "GO 2022-07-01"
    fig = plot_go_dots(ora, title="BARI4")
    assert fig.axes[0].get_title() == "BARI4 - GO 2022-07-01"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["cytokine production", "immune response"]
