"""Execute a study file's statistical analysis plan on the analysis datasets.

One function, :func:`run_analysis`, turns ADSL/ADEFF/ADAE (and RNA-seq counts where the store
has them) into every result the report shows: the primary endpoint by the published global
tests, ANCOVA and MMRM; every secondary endpoint at each of its visits; ACR-CRISS responders;
safety tables; and the transcriptome plan. Each result keeps the method that produced it.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ssctrial import stats
from ssctrial.exceptions import ConvergenceWarning, SsctrialError

if TYPE_CHECKING:
    from ssctrial.derive import AnalysisDatasets
    from ssctrial.design import Endpoint, StudyDesign

__all__ = ["AnalysisResults", "EndpointResult", "hash_datasets", "run_analysis"]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class EndpointResult:
    """The results of one endpoint at one analysis visit."""

    endpoint: Endpoint
    visit: str
    variable: str
    data: pd.DataFrame
    descriptives: pd.DataFrame
    global_tests: pd.DataFrame | None = None
    ancova: Any = None
    responder: Any = None

    @property
    def key(self) -> str:
        """``PARAMCD-VISIT``, e.g. ``MRSS-W12``."""
        return f"{self.endpoint.paramcd}-{self.visit}"


@dataclass
class AnalysisResults:
    """Everything :func:`run_analysis` computed, with the provenance the report prints."""

    design: StudyDesign
    datasets: AnalysisDatasets
    primary: EndpointResult
    mmrm: Any
    mmrm_contrasts: pd.DataFrame
    mmrm_lsmeans: pd.DataFrame
    endpoints: list[EndpointResult]
    safety: dict[str, Any]
    omics: Any = None
    omics_expression: pd.DataFrame | None = None
    omics_samples: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def hash_datasets(datasets: AnalysisDatasets) -> str:
    """SHA-256 of the analysis datasets' content (the data snapshot the results come from)."""
    digest = hashlib.sha256()
    for name, frame in datasets.items():
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _arm_categorical(data: pd.DataFrame, design: StudyDesign, column: str = "TRT01P") -> pd.DataFrame:
    """Order arms with the reference (control) first, then the study file's order."""
    reference = design.reference_arm
    order = [reference, *[a.code for a in design.arms if a.code != reference]]
    out = data.copy()
    out[column] = pd.Categorical(out[column], categories=order)
    return out


def _analysis_rows(adeff: pd.DataFrame, paramcd: str, visit: str) -> pd.DataFrame:
    rows = adeff[(adeff["PARAMCD"] == paramcd) & (adeff["AVISITCD"] == visit) & (adeff["ANL01FL"] == "Y")]
    return rows[rows["ITTFL"] == "Y"]


def _covariates(design: StudyDesign, data: pd.DataFrame) -> list[str]:
    """Stratification factors with at least two observed levels (a constant factor is dropped)."""
    return [f.code for f in design.strata if f.code in data and data[f.code].nunique(dropna=True) > 1]


def _endpoint_at(
    design: StudyDesign, adeff: pd.DataFrame, endpoint: Endpoint, visit: str
) -> EndpointResult | None:
    variable = "CHG" if endpoint.analysis == "change" else "AVAL"
    rows = _arm_categorical(_analysis_rows(adeff, endpoint.paramcd, visit), design)
    rows = rows[rows[variable].notna()]
    if rows.empty:
        return None
    result = EndpointResult(
        endpoint=endpoint,
        visit=visit,
        variable=variable,
        data=rows,
        descriptives=stats.describe_continuous(rows, variable, by="TRT01P").to_frame(),
    )
    arms_with_data = rows.groupby("TRT01P", observed=True)[variable].count()
    enough = len(arms_with_data) >= 2 and (arms_with_data >= 2).all()
    methods = set(endpoint.methods)
    if enough and methods & {"anova", "kruskal_wallis"} and rows[variable].nunique() > 1:
        result.global_tests = stats.one_way(rows, variable, group="TRT01P")
    if enough and "ancova" in methods and variable == "CHG":
        terms = ["TRT01P", "BASE", *_covariates(design, rows)]
        model_rows = rows.dropna(subset=["BASE"])
        result.ancova = stats.ancova(
            model_rows, f"CHG ~ {' + '.join(terms)}", group="TRT01P", reference=design.reference_arm
        )
    if "responder" in methods and endpoint.responder_threshold is not None:
        all_itt = _arm_categorical(_analysis_rows(adeff, endpoint.paramcd, visit), design)
        itt = _arm_categorical(
            design_itt(adeff).merge(all_itt[["USUBJID", "CRIT1FL"]], on="USUBJID", how="left"), design
        )
        itt["RESPONSE"] = itt["CRIT1FL"].map({"Y": 1.0, "N": 0.0})
        result.responder = stats.responder_analysis(
            itt,
            "RESPONSE",
            group="TRT01P",
            reference=design.reference_arm,
            missing="non-responder",
            covariates=(),
        )
    return result


def design_itt(adeff: pd.DataFrame) -> pd.DataFrame:
    """One row per ITT subject (USUBJID, TRT01P) as present in ADEFF."""
    return adeff.loc[adeff["ITTFL"] == "Y", ["USUBJID", "TRT01P"]].drop_duplicates("USUBJID")


#: Pre-specified fallback of the MMRM covariance structure, as SAPs write it: unstructured first;
#: if it does not converge, heterogeneous Toeplitz, heterogeneous AR(1), then compound symmetry.
MMRM_COVARIANCE_SEQUENCE = ("us", "toeph", "ar1h", "cs")


class ConvergenceError(SsctrialError):
    """No pre-specified model converged."""


def _mmrm(
    design: StudyDesign, adeff: pd.DataFrame, endpoint: Endpoint
) -> tuple[Any, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    post = [v.code for v in design.visits if v.day > 0]
    rows = adeff[
        (adeff["PARAMCD"] == endpoint.paramcd)
        & (adeff["ANL01FL"] == "Y")
        & (adeff["ITTFL"] == "Y")
        & adeff["AVISITCD"].isin(post)
        & adeff["CHG"].notna()
        & adeff["BASE"].notna()
    ]
    rows = _arm_categorical(rows, design)
    visits_seen = [v for v in post if v in set(rows["AVISITCD"])]
    rows = rows.assign(AVISITCD=pd.Categorical(rows["AVISITCD"], categories=visits_seen))
    strata = _covariates(design, rows)
    formula = "CHG ~ TRT01P * AVISITCD + BASE * AVISITCD" + "".join(f" + {s}" for s in strata)
    problems: list[str] = []
    for covariance in MMRM_COVARIANCE_SEQUENCE:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            try:
                fit = stats.mmrm(
                    rows,
                    formula,
                    subject="USUBJID",
                    visit="AVISITCD",
                    covariance=covariance,
                    df_method="kenward-roger",
                )
            except (ConvergenceWarning, ValueError) as exc:
                problems.append(f"{covariance}: {exc}")
                logger.warning("MMRM with %s covariance failed (%s); trying the next one", covariance, exc)
                continue
        contrasts = fit.contrasts("TRT01P", design.reference_arm, by="AVISITCD")
        lsmeans = fit.lsmeans("TRT01P", by="AVISITCD")
        fit_info = {"covariance": covariance, "formula": formula, "not_converged": problems}
        return fit, contrasts, lsmeans, fit_info
    msg = "the MMRM did not converge with any pre-specified covariance structure: " + "; ".join(problems)
    raise ConvergenceError(msg)


def run_analysis(
    datasets: AnalysisDatasets,
    design: StudyDesign,
    *,
    omics_input: tuple[Any, pd.DataFrame] | None = None,
    omics_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> AnalysisResults:
    """Run the study file's statistical analysis plan.

    Parameters
    ----------
    datasets
        ADSL, ADEFF and ADAE (:func:`ssctrial.derive.create_analysis_datasets`).
    design
        The study design: endpoints, their visits and methods.
    omics_input
        ``(counts, samples)`` for the transcriptome plan (:func:`ssctrial.omics.load_store_counts`),
        or None to skip it.
    omics_options
        Keyword arguments for :func:`ssctrial.omics.run_transcriptome` (e.g. ``n_perm``).
    progress
        Optional callback receiving a message at each step.

    Returns
    -------
    AnalysisResults
        Every result, plus ``info`` (data hash) and per-step ``timings``.

    Notes
    -----
    Analysis population: ITT (``ITTFL = "Y"``), one record per subject and visit (``ANL01FL``),
    complete cases for the single-visit analyses; the MMRM uses every post-baseline visit
    (missing at random). Arms are ordered with the reference arm first. ANCOVA adjusts for
    baseline and the stratification factors; the MMRM has arm x visit and baseline x visit
    terms, the strata, REML, Kenward-Roger degrees of freedom and an unstructured covariance; if
    that does not converge, the pre-specified fallbacks ``MMRM_COVARIANCE_SEQUENCE`` are tried in
    order and the structure used is reported (``info["mmrm"]``).
    Responders: ACR-CRISS improved (CRIT1FL), missing = non-responder.
    """
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    adeff = datasets.adeff
    primary_endpoint = design.primary_endpoint
    if primary_endpoint is None:
        msg = "the study file has no primary endpoint"
        raise ValueError(msg)
    start = time.perf_counter()
    say("primary endpoint")
    primary_visit = primary_endpoint.visits[-1]
    primary = _endpoint_at(design, adeff, primary_endpoint, primary_visit)
    if primary is None:
        msg = f"no {primary_endpoint.paramcd} data at {primary_visit}: nothing to analyse"
        raise ValueError(msg)
    fit, mmrm_contrasts, mmrm_lsmeans, mmrm_info = _mmrm(design, adeff, primary_endpoint)
    timings["primary"] = time.perf_counter() - start

    start = time.perf_counter()
    say("secondary endpoints")
    endpoints = [primary]
    for endpoint in design.endpoints:
        for visit in endpoint.visits:
            if endpoint is primary_endpoint and visit == primary_visit:
                continue
            result = _endpoint_at(design, adeff, endpoint, visit)
            if result is not None:
                endpoints.append(result)
    timings["secondary"] = time.perf_counter() - start

    start = time.perf_counter()
    say("safety")
    adsl, adae = datasets.adsl, datasets.adae
    safety_pop = _arm_categorical(adsl[adsl["SAFFL"] == "Y"], design, "TRT01A")
    safety = {
        "overview": stats.create_ae_overview(adae, safety_pop),
        "by_term": stats.create_ae_by_term(adae, safety_pop),
        "serious": stats.create_ae_by_term(adae, safety_pop, serious_only=True),
        "by_grade": stats.create_ae_by_grade(adae, safety_pop),
    }
    timings["safety"] = time.perf_counter() - start

    omics = omics_expression = None
    if omics_input is not None:
        from ssctrial.omics import run_transcriptome

        start = time.perf_counter()
        say("transcriptome")
        counts, samples = omics_input
        omics = run_transcriptome(counts, samples, design, **(omics_options or {}))
        omics_expression = _normalised_log_counts(counts, NAMED_GENES, omics.qc)
        timings["omics"] = time.perf_counter() - start

    info = {
        "data_hash": hash_datasets(datasets),
        "n_itt": int((adsl["ITTFL"] == "Y").sum()),
        "mmrm": mmrm_info,
    }
    return AnalysisResults(
        design=design,
        datasets=datasets,
        primary=primary,
        mmrm=fit,
        mmrm_contrasts=mmrm_contrasts,
        mmrm_lsmeans=mmrm_lsmeans,
        endpoints=endpoints,
        safety=safety,
        omics=omics,
        omics_expression=omics_expression,
        omics_samples=None if omics_input is None else omics_input[1],
        info=info,
        timings=timings,
    )


#: Genes the BASICS publication names (IL1RL1 down, SYT17 up after baricitinib).
NAMED_GENES = ("IL1RL1", "SYT17")


def _normalised_log_counts(
    counts: Any, genes: tuple[str, ...], qc: pd.DataFrame | None
) -> pd.DataFrame | None:
    """log2(count / size factor + 1) of ``genes`` (genes x samples), with the QC stage's size factors.

    The size factors are the transcriptome QC table's (DESeq2 median of ratios), not recomputed;
    without QC (or without any of the genes) there is nothing to plot.
    """
    import numpy as np

    if qc is None or "size_factor" not in qc:
        return None
    if hasattr(counts, "X"):  # AnnData, samples x genes
        matrix = np.asarray(counts.X.toarray() if hasattr(counts.X, "toarray") else counts.X, dtype=float)
        names, samples = list(map(str, counts.var_names)), list(map(str, counts.obs_names))
    else:  # genes x samples DataFrame
        matrix = counts.to_numpy(dtype=float).T
        names, samples = list(map(str, counts.index)), list(map(str, counts.columns))
    present = [g for g in genes if g in names]
    if not present:
        return None
    size_factors = qc["size_factor"].reindex(samples).to_numpy(dtype=float)
    index = [names.index(g) for g in present]
    values = np.log2(matrix[:, index] / size_factors[:, None] + 1.0)
    return pd.DataFrame(values.T, index=present, columns=samples)
