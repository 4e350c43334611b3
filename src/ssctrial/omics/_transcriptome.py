"""The transcriptome stage of a trial: QC, trial-aware DE models, GO enrichment, tables and figures."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.omics._de_designs import (
    DEAnalysis,
    create_dose_design,
    create_nested_design,
    create_paired_design,
)
from ssctrial.omics._deseq import fit_deseq
from ssctrial.omics._enrich import create_ora_table, filter_redundant_terms, resolve_gene_sets
from ssctrial.omics._gsea import compute_gsea
from ssctrial.omics._input import assert_omics_samples, coerce_counts

__all__ = ["TranscriptomeResult", "load_store_counts", "run_transcriptome"]

logger = logging.getLogger(__name__)


@dataclass
class TranscriptomeResult:
    """Everything the transcriptome stage produced.

    Attributes
    ----------
    de
        Result label -> DESeq2-style table (index gene).
    ora
        Result label -> over-representation table (all ontologies and directions).
    gsea
        Result label -> preranked GSEA table.
    qc
        Per-sample QC table (:func:`~ssctrial.omics.create_qc_table`).
    filter_rule
        The low-count filtering rule applied, with the numbers of genes.
    analyses
        The :class:`~ssctrial.omics.DEAnalysis` models fitted.
    timings
        Step -> seconds.
    go_release
        GO release of the gene sets used.
    files
        Paths written (when ``out_dir`` was given).
    """

    de: dict[str, pd.DataFrame]
    ora: dict[str, pd.DataFrame]
    gsea: dict[str, pd.DataFrame]
    qc: pd.DataFrame | None
    filter_rule: str
    analyses: list[DEAnalysis]
    timings: dict[str, float]
    go_release: str
    files: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """One row per DE result: label, design, test, genes tested, DE genes (padj < 0.05) up/down."""
        rows = []
        for label, t in self.de.items():
            tested = t["padj"].notna()
            sig = tested & (t["padj"] < 0.05)
            rows.append({"result": label, "design": t.attrs.get("design"), "test": t.attrs.get("test"),
                         "contrast": t.attrs.get("contrast"), "genes_tested": int(tested.sum()),
                         "de_genes": int(sig.sum()), "up": int((sig & (t["log2FoldChange"] > 0)).sum()),
                         "down": int((sig & (t["log2FoldChange"] < 0)).sum())})
        return pd.DataFrame(rows)


#: The design families of the transcriptome plan, in the order they are fitted.
TRANSCRIPTOME_DESIGNS: tuple[str, ...] = ("paired", "paired_active", "nested", "dose")


def _study_plan(
    samples: pd.DataFrame, study: Any, baseline: str | None, followup: str | None
) -> tuple[list[str], str, dict[str, float], str, str]:
    visits_present = set(samples["visit"].astype(str))
    if study is not None:
        arms = list(study.arm_codes)
        reference = study.reference_arm
        doses = {a.code: float(a.dose_mg or 0.0) for a in study.arms}
        base = baseline or study.baseline_visit.code
        if followup is None:
            ep = study.primary_endpoint
            cands = [v for v in (ep.visits if ep is not None else ()) if v in visits_present]
            if not cands:
                day0 = study.baseline_visit.day
                later = [v for v in study.visits if v.code in visits_present and v.day > day0]
                cands = [later[-1].code] if later else []
            if not cands:
                msg = f"no follow-up visit has samples (visits: {sorted(visits_present)}); pass followup"
                raise InputError(msg)
            followup = cands[-1]
        # control first, then by dose (as DESeq2 users order the levels: CTRL < BARI2 < BARI4)
        arms = sorted((a for a in arms if a in set(samples["arm"].astype(str))),
                      key=lambda a: (a != reference, doses.get(a, 0.0)))
    else:
        if baseline is None or followup is None:
            msg = "without a study design, pass baseline= and followup= visit codes"
            raise InputError(msg)
        arms = sorted(set(samples["arm"].astype(str)))
        reference = "CTRL" if "CTRL" in arms else arms[0]
        doses = {}
        base = baseline
    return arms, reference, doses, base, str(followup)


def run_transcriptome(
    counts: pd.DataFrame | Any,
    samples: pd.DataFrame | None = None,
    study: Any = None,
    *,
    baseline: str | None = None,
    followup: str | None = None,
    ora_ontologies: Sequence[str] = ("BP", "CC", "MF"),
    gsea_ontologies: Sequence[str] = ("BP",),
    gsea_results: Sequence[str] | None = None,
    gene_sets: Mapping[str, Any] | str | None = None,
    n_perm: int = 1000,
    seed: int = 0,
    min_count: int = 10,
    lrt: bool = True,
    qc: bool = True,
    out_dir: str | Path | None = None,
    figures: bool = True,
    backend: str = "batched",
    designs: Sequence[str] = ("paired", "paired_active", "nested", "dose"),
    progress: Callable[[str], None] | None = None,
) -> TranscriptomeResult:
    """Run the transcriptome plan of a trial: QC, DE designs, ORA, GSEA, tables and figures.

    Parameters
    ----------
    counts
        AnnData (samples x genes, ``obs`` with subject, visit, arm) or genes x samples DataFrame.
    samples
        Sample metadata indexed by sample id (default: the AnnData's ``obs``).
    study
        A :class:`~ssctrial.design.StudyDesign`: arms, control arm, doses, baseline visit and the
        primary endpoint's visit (the follow-up) come from it.
    baseline, followup
        Override the visits (required without ``study``).
    ora_ontologies, gsea_ontologies
        GO ontologies for over-representation and GSEA.
    gsea_results
        DE results to run GSEA on (default: every paired and interaction result).
    gene_sets
        Own gene sets (GMT path or mapping) instead of GO.
    n_perm, seed
        GSEA permutations and seed.
    min_count
        Low-count filter: keep genes with a count >= ``min_count`` in at least the smallest
        arm x visit group of samples (DESeq2 vignette).
    lrt
        Also run the likelihood-ratio tests (arm x visit, dose trend).
    qc
        Compute QC (VST, PCA, outliers).
    out_dir
        If given, write CSV tables, PNG figures and ``summary.json`` there.
    figures
        Write figures (with ``out_dir``).
    backend
        DESeq2 backend (``"batched"`` or ``"pydeseq2"``).
    designs
        Which design families to fit (default: all of ``TRANSCRIPTOME_DESIGNS``): ``paired`` (each
        arm), ``paired_active`` (all active arms), ``nested`` (per-arm visit effects, interactions
        and their LRT) and ``dose`` (dose trend).
    progress
        Optional callback receiving a message at each step (the CLI shows it).

    Returns
    -------
    TranscriptomeResult
        Paired results per arm (``paired_<ARM>``) and for all active arms (``paired_active``), nested
        per-arm visit effects (``visit_<ARM>``) and interactions (``interaction_<ARM>``), the dose
        trend (``dose_trend``; when doses are known) and LRTs; every enrichment row carries the GO
        release.
    """
    say = progress or (lambda m: logger.info(m))
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    mat, samples = coerce_counts(counts, samples)
    samples = assert_omics_samples(samples)
    arms, reference, doses, base, fup = _study_plan(samples, study, baseline, followup)
    assert_omics_samples(samples, visits=[base, fup], arms=None)
    say(f"{mat.shape[0]} samples x {mat.shape[1]} genes; arms {arms} (control {reference}); {fup} vs {base}")

    # low-count filter on the samples analysed
    from ssctrial.omics._rnaseq_qc import compute_vst, create_qc_table, filter_low_counts

    used = samples[samples["visit"].astype(str).isin([base, fup]) & samples["arm"].astype(str).isin(arms)]
    kept, rule = filter_low_counts(mat.loc[used.index].T, used, min_count=min_count)
    mat = mat.loc[:, kept]
    say(rule)

    vst = qc_table = None
    if qc:
        t0 = time.perf_counter()
        vst = compute_vst(mat.T, samples)
        qc_table = create_qc_table(mat.T, samples, vst=vst)
        timings["qc"] = time.perf_counter() - t0
        say(f"QC: {int(qc_table['outlier'].sum())} outlier sample(s) flagged ({timings['qc']:.1f} s)")

    unknown = sorted(set(designs) - set(TRANSCRIPTOME_DESIGNS))
    if unknown:
        msg = f"designs: unknown design(s) {unknown}; choose from {list(TRANSCRIPTOME_DESIGNS)}"
        raise InputError(msg)
    analyses: list[DEAnalysis] = []
    active = [a for a in arms if a != reference]
    if "paired" in designs:
        for a in arms:
            analyses.append(create_paired_design(samples, arms=[a], baseline=base, followup=fup,
                                                 name=f"paired_{a}"))
    if "paired_active" in designs and len(active) > 1:
        analyses.append(create_paired_design(samples, arms=active, baseline=base, followup=fup,
                                             name="paired_active"))
    if "nested" in designs and len(arms) > 1:
        analyses.append(create_nested_design(samples, arms=arms, reference_arm=reference, baseline=base,
                                             followup=fup))
    if "dose" in designs and doses and len({doses[a] for a in arms}) > 1:
        analyses.append(create_dose_design(samples, doses={a: doses[a] for a in arms},
                                           reference_arm=reference, baseline=base, followup=fup))

    de: dict[str, pd.DataFrame] = {}
    for an in analyses:
        t0 = time.perf_counter()
        fit = fit_deseq(mat.loc[an.samples.index].T, an.samples, an.design, backend=backend)  # type: ignore[arg-type]
        for label, con in an.contrasts.items():
            de[label] = fit.results(con)
        if lrt:
            for label, (reduced, coef) in an.lrt.items():
                de[label] = fit.results(coef, test="lrt", reduced=reduced)
        for label in list(an.contrasts) + (list(an.lrt) if lrt else []):
            de[label].attrs["description"] = an.description.get(label, "")
            de[label].attrs["filter_rule"] = rule
        timings[f"de_{an.name}"] = time.perf_counter() - t0
        say(f"DE {an.name} ({an.design}): {timings[f'de_{an.name}']:.1f} s")

    t0 = time.perf_counter()
    ora: dict[str, pd.DataFrame] = {}
    for label, t in de.items():
        if t.attrs.get("test") == "lrt":
            continue
        ora[label] = create_ora_table(t, ontologies=ora_ontologies, gene_sets=gene_sets)
    timings["ora"] = time.perf_counter() - t0
    say(f"ORA: {len(ora)} results ({timings['ora']:.1f} s)")

    t0 = time.perf_counter()
    gsea: dict[str, pd.DataFrame] = {}
    targets = list(gsea_results) if gsea_results is not None else [
        k for k in de if k.startswith(("paired_", "interaction_"))]
    set_list = ([(None, *resolve_gene_sets(None, gene_sets=gene_sets))] if gene_sets is not None
                else [(o, *resolve_gene_sets(o)) for o in gsea_ontologies])
    for label in targets:
        if label not in de:
            msg = f"gsea_results names {label!r}, which is not a DE result; results: {list(de)}"
            raise InputError(msg)
        ranking = de[label]["stat"].dropna()
        parts = []
        for ont, sets, release in set_list:
            g = compute_gsea(ranking, sets, n_perm=n_perm, seed=seed, release=release)
            g.insert(0, "ontology", ont or "user")
            parts.append(g)
        nonempty = [p for p in parts if len(p)]
        gsea[label] = pd.concat(nonempty, ignore_index=True) if nonempty else parts[0]
    timings["gsea"] = time.perf_counter() - t0
    say(f"GSEA: {len(gsea)} rankings x {len(set_list)} gene-set collections ({timings['gsea']:.1f} s)")

    release = resolve_gene_sets(None, gene_sets=gene_sets)[1] if gene_sets is not None else \
        resolve_gene_sets("BP")[1]
    res = TranscriptomeResult(de=de, ora=ora, gsea=gsea, qc=qc_table, filter_rule=rule, analyses=analyses,
                              timings=timings, go_release=release)
    if out_dir is not None:
        t0 = time.perf_counter()
        _write_outputs(res, Path(out_dir), vst=vst, samples=samples, figures=figures, followup=fup,
                       baseline=base)
        timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all
    return res


def _write_outputs(
    res: TranscriptomeResult, out: Path, *, vst: pd.DataFrame | None, samples: pd.DataFrame, figures: bool,
    followup: str, baseline: str,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    for label, t in res.de.items():
        p = tables / f"de_{label}.csv"
        t.to_csv(p)
        files.append(str(p))
    for kind, d in (("ora", res.ora), ("gsea", res.gsea)):
        for label, t in d.items():
            p = tables / f"{kind}_{label}.csv"
            t.to_csv(p, index=False)
            files.append(str(p))
    if res.qc is not None:
        p = tables / "qc_samples.csv"
        res.qc.to_csv(p)
        files.append(str(p))
    summary = {
        "go_release": res.go_release,
        "filter_rule": res.filter_rule,
        "baseline": baseline,
        "followup": followup,
        "results": res.summary().to_dict(orient="records"),
        "descriptions": {k: v.attrs.get("description", "") for k, v in res.de.items()},
        "timings_s": {k: round(v, 3) for k, v in res.timings.items()},
    }
    if figures:
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        files += _write_figures(res, fig_dir, vst=vst, samples=samples)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    files.append(str(out / "summary.json"))
    res.files = files


def _write_figures(res: TranscriptomeResult, fig_dir: Path, *, vst: pd.DataFrame | None,
                   samples: pd.DataFrame) -> list[str]:
    from ssctrial.omics._de_plots import (
        HIGHLIGHT,
        plot_go_dots,
        plot_heatmap,
        plot_ma,
        plot_paired_genes,
        plot_pca,
        plot_volcano,
    )

    files = []

    def save(fig: Any, name: str) -> None:
        p = fig_dir / name
        fig.savefig(p)
        files.append(str(p))

    if res.qc is not None:
        save(plot_pca(res.qc, color="visit", marker="arm"), "pca.png")
    for label, t in res.de.items():
        if t.attrs.get("test") == "lrt":
            continue
        save(plot_volcano(t, title=label), f"volcano_{label}.png")
        save(plot_ma(t, title=label), f"ma_{label}.png")
    inter = [k for k in res.de if k.startswith("interaction_")]
    main = inter[-1] if inter else next(iter(res.de))  # the highest-dose arm vs control
    if vst is not None:
        save(plot_heatmap(vst, res.de[main], samples, title=f"top genes: {main}"), f"heatmap_{main}.png")
        top = [g for g in res.de[main].sort_values("pvalue").index[:4]]
        genes = [g for g in HIGHLIGHT if g in vst.index] + [g for g in top if g not in HIGHLIGHT]
        save(plot_paired_genes(vst, samples, genes[:6]), "paired_genes.png")
    for label, t in res.ora.items():
        sub = t[(t["direction"] == "all") & (t["ontology"].isin(["BP", "user"]))]
        if len(sub):
            sub = filter_redundant_terms(sub)
            save(plot_go_dots(sub, title=f"{label}: GO BP"), f"go_dots_{label}.png")
    return files


def load_store_counts(store: Any, *, assay: str = "rnaseq") -> tuple[Any, pd.DataFrame]:
    """Read the RNA-seq samples of a store: counts from their ``.h5ad`` files, metadata from its tables.

    Parameters
    ----------
    store
        An open :class:`ssctrial.store.Store`.
    assay
        The sample table's assay code for RNA-seq.

    Returns
    -------
    tuple
        ``(counts AnnData samples x genes, samples DataFrame indexed by biospecimen id with
        subject, visit, arm)``; the arm comes from the store's allocation table.

    Raises
    ------
    InputError
        If the store has no such samples, a counts file is missing, or a sample is not in its file.
    """
    import anndata as ad

    from ssctrial.omics._input import read_counts

    sample = store.read_table("sample")
    sample = sample[(sample["assay"] == assay) & sample["counts_path"].notna()]
    if sample.empty:
        msg = f"the store has no {assay!r} samples with a counts file (sample table, assay={assay!r})"
        raise InputError(msg)
    alloc = store.read_table("allocation").set_index("subject_id")["arm"]
    parts = []
    for path, grp in sample.groupby("counts_path"):
        adata = read_counts(str(path))
        ids = [str(b) for b in grp["biospecimen_id"]]
        missing = [b for b in ids if b not in set(adata.obs_names)]
        if missing:
            msg = f"counts file {path!r} lacks samples {missing[:5]} recorded in the store's sample table"
            raise InputError(msg)
        parts.append(adata[ids].copy())
    adata = ad.concat(parts, join="inner") if len(parts) > 1 else parts[0]
    meta = sample.set_index("biospecimen_id").loc[list(adata.obs_names)]
    unalloc = sorted(set(meta["subject_id"]) - set(alloc.index))
    if unalloc:
        msg = f"subjects {unalloc[:5]} have RNA-seq samples but no allocation (arm) in the store"
        raise InputError(msg)
    samples = pd.DataFrame({"subject": meta["subject_id"].astype(str).to_numpy(),
                            "visit": meta["visit_code"].astype(str).to_numpy(),
                            "arm": alloc.loc[meta["subject_id"]].astype(str).to_numpy()},
                           index=pd.Index(adata.obs_names, name="sample"))
    adata.obs = samples.copy()
    return adata, samples
