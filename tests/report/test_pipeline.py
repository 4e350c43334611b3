"""The analysis run end to end on a simulated store: report sections, embedded images, PDF pages,
numbers in the report equal to the analysis results, exports that read back, and the primary
table checked against an independent computation from the raw store tables.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pypdf
import pyreadstat
import pytest
from scipy import stats as sps

from ssctrial.design import load_study
from ssctrial.instruments import MRSS_SITES
from ssctrial.report import analyze_store, read_dataset_json
from ssctrial.simulate import simulate_trial
from ssctrial.store import init_store


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    design = load_study("basics")
    folder = tmp_path_factory.mktemp("pipeline")
    store = init_store(f"sqlite:///{folder / 't.db'}", design, user="tester")
    simulate_trial(design, n=24, seed=11, store=store, rnaseq=False, user="tester")
    result = analyze_store(store, design, folder / "out", seed=11)
    yield store, result
    store.close()


EXPECTED_SECTIONS = [
    "Trial flow",
    "Baseline characteristics",
    "Primary endpoint",
    "Secondary endpoints",
    "Safety",
    "Methods",
    "Appendix: data queries",
]


def test_every_section_and_image_is_in_the_html(run):
    _, result = run
    page = result.paths["html"].read_text()
    for title in EXPECTED_SECTIONS:
        assert f">{title}<" in page, title
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    figures = sorted(p.name for p in result.paths["figures"].glob("*.png"))
    assert len(images) == len(figures) >= 10
    assert all(src.startswith("data:image/png;base64,") for src in images)


def test_pdf_renders_every_section(run):
    _, result = run
    reader = pypdf.PdfReader(result.paths["pdf"])
    text = "\n".join(page.extract_text() for page in reader.pages)
    for title in EXPECTED_SECTIONS:
        assert title in text, title
    assert len(reader.pages) >= 1 + len(EXPECTED_SECTIONS)


def test_report_numbers_equal_the_analysis_results(run):
    _, result = run
    primary = result.results.primary
    table = pd.read_csv(result.paths["tables"] / "primary-descriptives.csv", dtype=str)
    by_arm = primary.descriptives.set_index("TRT01P")
    labels = {a.code: a.label for a in result.results.design.arms}
    for code, row in by_arm.iterrows():
        shown = table[table["Arm"] == labels[code]].iloc[0]
        assert shown["Mean"] == f"{row['mean']:.2f}"
        assert shown["n"] == str(int(row["n"]))
    contrasts = pd.read_csv(result.paths["tables"] / "primary-ancova-contrasts.csv", dtype=str)
    for row in primary.ancova.contrasts.itertuples():
        shown = contrasts[contrasts["Contrast"] == row.contrast].iloc[0]
        assert shown["Difference"] == f"{row.estimate:.2f}"
    page = result.paths["html"].read_text()
    for value in table["Mean"]:
        assert value in page
    summary = json.loads(result.paths["results"].read_text())
    assert summary["primary"]["descriptives"][0]["mean"] == pytest.approx(
        primary.descriptives.iloc[0]["mean"]
    )


def test_primary_table_against_an_independent_computation(run):
    """Mean mRSS change BL -> W12 by arm and the ANOVA p, from raw observations with plain pandas."""
    store, result = run
    obs = store.observations()
    sites = obs[(obs["instrument"] == "MRSS") & obs["item"].isin(MRSS_SITES)]
    totals = sites.groupby(["subject", "visit"])["value_num"].agg(["sum", "count"])
    totals = totals[totals["count"] == 17]["sum"].unstack("visit")
    visits = store.read_table("visit").pivot(index="subject_id", columns="visit_code", values="visit_date")
    days = (pd.to_datetime(visits["W12"]) - pd.to_datetime(visits["BL"])).dt.days
    in_window = days.between(84 - 7, 84 + 7)
    arms = store.read_table("allocation").set_index("subject_id")["arm"]
    change = (totals["W12"] - totals["BL"]).dropna()
    change = change[in_window.reindex(change.index).fillna(False)]
    expected = change.groupby(arms.reindex(change.index)).agg(["count", "mean"])
    got = result.results.primary.descriptives.set_index("TRT01P")
    for arm, row in expected.iterrows():
        assert got.loc[arm, "n"] == row["count"]
        np.testing.assert_allclose(got.loc[arm, "mean"], row["mean"], rtol=1e-12)
    groups = [g.to_numpy() for _, g in change.groupby(arms.reindex(change.index))]
    anova = result.results.primary.global_tests.set_index("test").loc["ANOVA", "p"]
    np.testing.assert_allclose(anova, sps.f_oneway(*groups).pvalue, rtol=1e-10)  # closed form


def test_adam_exports_read_back(run):
    _, result = run
    adam = result.paths["adam"]
    adsl = result.results.datasets.adsl
    back, meta = pyreadstat.read_xport(str(adam / "adsl.xpt"))
    assert meta.table_name == "ADSL"
    assert list(back["USUBJID"]) == list(adsl["USUBJID"])
    assert meta.column_names_to_labels["TRT01P"] == "Planned Treatment for Period 01"
    adeff = read_dataset_json(adam / "adeff.json")
    assert len(adeff) == len(result.results.datasets.adeff)
    np.testing.assert_allclose(
        adeff["AVAL"].to_numpy(dtype=float), result.results.datasets.adeff["AVAL"].to_numpy(dtype=float)
    )


@pytest.fixture(scope="module")
def omics_run(tmp_path_factory):
    base = load_study("basics")
    simulation = {**base.simulation, "rnaseq": {**base.simulation["rnaseq"], "n_genes": 2000}}
    design = base.model_copy(update={"simulation": simulation})
    folder = tmp_path_factory.mktemp("pipeline_omics")
    store = init_store(f"sqlite:///{folder / 't.db'}", design, user="tester")
    simulate_trial(design, n=24, seed=13, store=store, rnaseq=True, user="tester")
    options = {"designs": ("paired",), "n_perm": 100, "ora_ontologies": ("BP",)}
    result = analyze_store(store, design, folder / "out", seed=13, omics_options=options, pdf=False)
    yield result
    store.close()


def test_transcriptomics_section_with_named_genes_and_figures(omics_run):
    page = omics_run.paths["html"].read_text()
    assert ">Transcriptomics<" in page
    for name in ("omics-volcano", "omics-named-gene-plots", "omics-go-dots"):
        assert (omics_run.paths["figures"] / f"{name}.png").exists(), name
        assert f'id="figure-{name}"' in page
    named = pd.read_csv(omics_run.paths["tables"] / "omics-named-genes.csv")
    assert set(named["Gene"]) == {"IL1RL1", "SYT17"}
    de = omics_run.results.omics.de["paired_BARI4"]
    shown = named.set_index("Gene")["log2FoldChange"]
    for gene in ("IL1RL1", "SYT17"):
        assert shown[gene] == pytest.approx(round(de.loc[gene, "log2FoldChange"], 2), abs=1e-9)
    # the planted directions (simulator truth: IL1RL1 down, SYT17 up after baricitinib 4 mg)
    assert de.loc["IL1RL1", "log2FoldChange"] < 0 < de.loc["SYT17", "log2FoldChange"]
