"""The planted immune GO terms of the simulator (ssctrial.simulate) are recovered from its truth.

The BASICS study file plants a dose-dependent effect in genes drawn mostly (75 %) from GO:0001819,
GO:0002757 and GO:0002253 (simulation.rnaseq.go_terms), IL1RL1 down and SYT17 up; the truth table
names every planted gene.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ssctrial.design import load_study
from ssctrial.omics import create_ora_table, create_paired_design, deseq, filter_low_counts
from ssctrial.simulate import load_simulation_parameters, simulate_rnaseq


@pytest.fixture(scope="module")
def simulated():
    study = load_study("basics")
    sim = dict(study.simulation)
    sim["rnaseq"] = dict(sim["rnaseq"]) | {"n_genes": 3000}  # a 3,000-gene subset keeps the test fast
    params = load_simulation_parameters(study.model_copy(update={"simulation": sim}))
    rows = [{"sample_id": f"{arm}{i}-{v}", "subject": f"{arm}{i}", "visit": v, "arm": arm}
            for arm in ("BARI4", "BARI2", "CTRL") for i in range(10) for v in ("BL", "W12")]
    adata, truth = simulate_rnaseq(pd.DataFrame(rows), params, seed=3)
    return adata, truth, list(params.rnaseq.go_terms)


def test_planted_go_terms_recovered(simulated):
    adata, truth, terms = simulated
    samples = adata.obs
    an = create_paired_design(samples, arms=["BARI4"], baseline="BL", followup="W12")
    kept, _ = filter_low_counts(adata[an.samples.index].to_df().T, an.samples)
    counts = adata[an.samples.index, list(kept)].to_df().T
    de = deseq(counts, an.samples, an.design, contrast=an.contrasts[an.name])
    sig = set(de.index[de["padj"] < 0.05])
    planted = set(truth.index[truth["planted"]]) & set(de.index)
    assert len(sig & planted) / len(planted) > 0.6  # sensitivity at 10 patients
    assert len(sig - planted) / len(sig) < 0.1  # false discovery proportion near the 5 % target
    ora = create_ora_table(de, ontologies=["BP"], directions=["all"]).reset_index(drop=True)
    ranks = {t: int(ora.index[ora["term"] == t][0]) for t in terms}
    for t in terms:
        assert ora.loc[ranks[t], "padj"] < 1e-6, (t, ranks)
    # the most specific planted term heads the list
    assert min(ranks.values()) < 10, ranks
    assert (ora["source"] == "GO 2022-07-01").all()
