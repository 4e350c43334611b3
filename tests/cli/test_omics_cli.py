"""``ssctrial omics`` end to end on a small .h5ad (a subset of tests/reference/omics/)."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest

from ssctrial.cli.main import main

REF = Path(__file__).resolve().parents[1] / "reference" / "omics"


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory) -> Path:
    counts = pd.read_csv(REF / "paired_counts.csv.gz", index_col=0)
    s = pd.read_csv(REF / "paired_samples.csv", index_col=0)
    # BASICS visit codes; 600 genes incl. the two BASICS genes keep the run short
    s["visit"] = s["visit"].map({"W0": "BL", "W12": "W12"})
    genes = list(counts.index[:600]) + [g for g in ("IL1RL1", "SYT17") if g in counts.index[600:]]
    adata = ad.AnnData(X=counts.loc[genes, s.index].T.to_numpy(), obs=s[["subject", "visit", "arm"]].copy(),
                       var=pd.DataFrame(index=genes))
    p = tmp_path_factory.mktemp("omics") / "counts.h5ad"
    adata.write_h5ad(p)
    return p


def test_omics_cli_from_h5ad(h5ad, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["omics", "--counts", str(h5ad), "--study", "basics", "--out", str(out), "--n-perm", "100"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "GO release: GO 2022-07-01" in captured.out
    assert "interaction_BARI4" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["go_release"] == "GO 2022-07-01"
    assert (summary["baseline"], summary["followup"]) == ("BL", "W12")  # from the BASICS study file
    labels = {r["result"] for r in summary["results"]}
    assert {"paired_BARI4", "paired_BARI2", "paired_CTRL", "paired_active", "visit_BARI4",
            "interaction_BARI4", "lrt_arm_by_visit", "dose_trend", "lrt_dose_trend"} <= labels
    de = pd.read_csv(out / "tables" / "de_paired_BARI4.csv", index_col=0)
    assert list(de.columns) == ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
    ora = pd.read_csv(out / "tables" / "ora_paired_BARI4.csv")
    assert (ora["source"] == "GO 2022-07-01").all()
    for fig in ["pca.png", "volcano_paired_BARI4.png", "ma_paired_BARI4.png", "paired_genes.png",
                "heatmap_interaction_BARI4.png"]:
        assert (out / "figures" / fig).stat().st_size > 1000, fig


def test_omics_cli_needs_an_input(tmp_path, capsys):
    code = main(["omics", "--out", str(tmp_path / "o")])
    assert code == 1
    assert "give --db URL" in capsys.readouterr().err


def test_omics_cli_bad_visit(h5ad, tmp_path, capsys):
    code = main(["omics", "--counts", str(h5ad), "--study", "basics", "--out", str(tmp_path / "o"),
                 "--followup", "W24"])
    assert code == 1
    err = capsys.readouterr().err
    assert "design visit(s) ['W24'] have no samples" in err


def test_omics_cli_from_store(tmp_path, capsys):
    """Samples from the store's sample table (written by the simulator), arms from its allocations."""
    import sqlite3

    from ssctrial.design import load_study
    from ssctrial.simulate import simulate_trial

    study = load_study("basics")
    sim = dict(study.simulation)
    sim["rnaseq"] = dict(sim["rnaseq"]) | {"n_genes": 300}
    db = tmp_path / "trial.db"
    simulate_trial(study.model_copy(update={"simulation": sim}), n=18, seed=11, store=f"sqlite:///{db}")
    out = tmp_path / "out"
    code = main(["omics", "--db", f"sqlite:///{db}", "--out", str(out), "--n-perm", "100", "--no-figures"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["baseline"], summary["followup"]) == ("BL", "W12")
    with sqlite3.connect(db) as con:
        n_rna = con.execute("select count(*) from sample where assay = 'rnaseq'").fetchone()[0]
        alloc = dict(con.execute("select subject_id, arm from allocation").fetchall())
    qc = pd.read_csv(out / "tables" / "qc_samples.csv", index_col=0)
    assert len(qc) == n_rna
    assert all(alloc[s] == a for s, a in zip(qc["subject"], qc["arm"], strict=True))
    ctrl = pd.read_csv(out / "tables" / "de_paired_CTRL.csv", index_col=0)
    assert (ctrl["padj"] < 0.05).sum() <= 3  # nothing planted in control
    lrt = pd.read_csv(out / "tables" / "de_lrt_arm_by_visit.csv", index_col=0)
    assert lrt["pvalue"].notna().all()
