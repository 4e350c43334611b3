"""Build the trial report (a :class:`ReportDocument`) from :class:`AnalysisResults`.

Sections: trial flow (CONSORT), baseline characteristics (Table 1), primary endpoint,
secondary endpoints, safety, transcriptomics, methods, appendix of data queries. Numbers are
formatted from the analysis results at fixed precision (the CSV files keep the same strings).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ssctrial.report._consort import ConsortArm, ConsortFlow, plot_consort
from ssctrial.report._document import Figure, ReportDocument, Table

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign
    from ssctrial.report._analysis import AnalysisResults, EndpointResult

__all__ = ["build_report", "create_baseline_table", "create_consort_flow", "create_data_queries"]

logger = logging.getLogger(__name__)

_COLORS = {0: "#7f7f7f", 1: "#1f77b4", 2: "#d62728", 3: "#2ca02c", 4: "#9467bd"}


def _f(value: Any, digits: int = 2) -> str:
    """Format a number at fixed precision ('' for missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{float(value):.{digits}f}"


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _arm_order(design: StudyDesign) -> list[str]:
    """Arms as the report shows them: active arms in study-file order, the reference last."""
    ref = design.reference_arm
    return [a.code for a in design.arms if a.code != ref] + [ref]


def _arm_labels(design: StudyDesign) -> dict[str, str]:
    return {a.code: a.label for a in design.arms}


# ---------------------------------------------------------------------------- CONSORT


def create_consort_flow(adsl: pd.DataFrame, design: StudyDesign) -> ConsortFlow:
    """Count the CONSORT 2010 flow from ADSL (screening, allocation, discontinuation, analysis).

    Excluded = screen failures (by reason); allocated = randomised (by arm); received = SAFFL;
    discontinued = EOSSTT DISCONTINUED (by DCSREAS); analysed = PPROTFL (primary endpoint
    available), excluded from analysis = ITT without the primary endpoint.
    """
    screened = adsl
    excluded = (
        screened.loc[screened["SCRFFL"] == "Y", "SCRFREAS"].replace("", "reason not recorded").value_counts()
    )
    itt = adsl[adsl["ITTFL"] == "Y"]
    labels = _arm_labels(design)
    arms = []
    for code in [a.code for a in design.arms]:
        arm = itt[itt["TRT01P"] == code]
        disc = arm.loc[arm["EOSSTT"] == "DISCONTINUED", "DCSREAS"].replace("", "reason not recorded")
        not_analysed = int((arm["PPROTFL"] != "Y").sum())
        arms.append(
            ConsortArm(
                label=labels[code],
                allocated=len(arm),
                received=int((arm["SAFFL"] == "Y").sum()),
                discontinued=disc.value_counts().to_dict(),
                analysed=int((arm["PPROTFL"] == "Y").sum()),
                excluded_from_analysis={"primary endpoint missing": not_analysed} if not_analysed else {},
            )
        )
    return ConsortFlow(
        assessed=len(screened),
        excluded=excluded.to_dict(),
        randomised=len(itt),
        arms=tuple(arms),
    )


# ---------------------------------------------------------------------------- Table 1


def _mean_sd(values: pd.Series) -> str:
    v = values.dropna().astype(float)
    return f"{v.mean():.1f} ({v.std(ddof=1):.1f})" if len(v) > 1 else (f"{v.mean():.1f}" if len(v) else "")


def _median_iqr(values: pd.Series) -> str:
    v = values.dropna().astype(float)
    if not len(v):
        return ""
    q1, q2, q3 = np.percentile(v, [25, 50, 75])
    return f"{q2:.1f} ({q1:.1f}-{q3:.1f})"


def _n_pct(flags: pd.Series) -> str:
    n = int(flags.sum())
    total = len(flags)
    return f"{n} ({100 * n / total:.1f}%)" if total else ""


def create_baseline_table(adsl: pd.DataFrame, design: StudyDesign) -> pd.DataFrame:
    """Table 1: baseline characteristics of the ITT population by arm and overall.

    Continuous: mean (SD), or median (Q1-Q3) for skewed ones (disease duration); categorical:
    n (%). Returns one row per characteristic, one column per arm plus "Total".
    """
    itt = adsl[adsl["ITTFL"] == "Y"]
    groups = [(labels, itt[itt["TRT01P"] == code]) for code, labels in _arm_labels(design).items()]
    order = {a.code: i for i, a in enumerate(design.arms)}
    groups.sort(key=lambda g: order.get(next(iter(g[1]["TRT01P"]), ""), 0))
    groups.append(("Total", itt))
    rows: list[dict[str, str]] = []

    def add(label: str, fn: Any, column: str | None = None) -> None:
        if column is not None and (column not in itt or itt[column].isna().all() or itt[column].eq("").all()):
            # not captured in this study: say so rather than print 0 (0.0%)
            rows.append(
                {"Characteristic": label, **{f"{name} (n={len(g)})": "not captured" for name, g in groups}}
            )
            return
        rows.append({"Characteristic": label, **{f"{name} (n={len(g)})": fn(g) for name, g in groups}})

    add("Age, years, mean (SD)", lambda g: _mean_sd(g["AGE"]))
    add("Female, n (%)", lambda g: _n_pct(g["SEX"] == "F"))
    add("Height, cm, mean (SD)", lambda g: _mean_sd(g["HEIGHTBL"]))
    add("Weight, kg, mean (SD)", lambda g: _mean_sd(g["WEIGHTBL"]), "WEIGHTBL")
    add("BMI, kg/m2, mean (SD)", lambda g: _mean_sd(g["BMIBL"]), "BMIBL")
    for level in ("diffuse", "limited"):
        add(f"SSc subtype {level}, n (%)", lambda g, lv=level: _n_pct(g["SSCTYPE"] == lv), "SSCTYPE")
    add("Disease duration, months, median (IQR)", lambda g: _median_iqr(g["DISDURM"]), "DISDURM")
    for level in sorted(itt["AUTOAB"].dropna().unique()):
        add(
            f"Autoantibody {str(level).replace('_', ' ')}, n (%)",
            lambda g, lv=level: _n_pct(g["AUTOAB"] == lv),
        )
    for col, label in (
        ("BGGC", "low-dose glucocorticoid"),
        ("BGMMF", "mycophenolate"),
        ("BGMTX", "methotrexate"),
    ):
        add(f"Background {label}, n (%)", lambda g, c=col: _n_pct(g[c] == "Y"), col)
    add("mRSS, mean (SD)", lambda g: _mean_sd(g["MRSSBL"]), "MRSSBL")
    add("FVC % predicted, mean (SD)", lambda g: _mean_sd(g["FVCPPBL"]), "FVCPPBL")
    add("DLCO % predicted, mean (SD)", lambda g: _mean_sd(g["DLCOPPBL"]), "DLCOPPBL")
    add("HAQ-DI, mean (SD)", lambda g: _mean_sd(g["HAQDIBL"]), "HAQDIBL")
    for factor in design.strata:
        for level in factor.levels:
            add(
                f"Stratum {factor.label}: {level}, n (%)",
                lambda g, c=factor.code, lv=level: _n_pct(g[c] == lv),
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- tables of results


def _descriptive_table(result: EndpointResult, design: StudyDesign) -> pd.DataFrame:
    d = result.descriptives
    labels = _arm_labels(design)
    out = pd.DataFrame(
        {
            "Arm": d["TRT01P"].map(labels).astype(str),
            "n": d["n"].astype(int).astype(str),
            "Mean": d["mean"].map(_f),
            "SD": d["sd"].map(_f),
            "SE": d["se"].map(_f),
            "Median": d["median"].map(_f),
            "95% CI": [f"{_f(lo)} to {_f(hi)}" for lo, hi in zip(d["lower"], d["upper"], strict=True)],
        }
    )
    order = {labels[c]: i for i, c in enumerate(_arm_order(design))}
    return out.sort_values("Arm", key=lambda s: s.map(order)).reset_index(drop=True)


def _tests_table(tests: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Test": tests["test"],
            "Statistic": tests["statistic"].map(_f),
            "df": [
                f"{_f(a, 0)}" + (f", {_f(b, 1)}" if pd.notna(b) else "")
                for a, b in zip(tests["df1"], tests["df2"], strict=True)
            ],
            "p": tests["p"].map(_p),
        }
    )


def _contrast_table(contrasts: pd.DataFrame, *, by: str | None = None, method: str = "") -> pd.DataFrame:
    out = pd.DataFrame({"Contrast": contrasts["contrast"]})
    if by:
        out["Visit"] = contrasts[by].astype(str)
    out["Difference"] = contrasts["estimate"].map(_f)
    out["SE"] = contrasts["se"].map(_f)
    out["df"] = contrasts["df"].map(lambda v: _f(v, 1))
    out["95% CI"] = [
        f"{_f(lo)} to {_f(hi)}" for lo, hi in zip(contrasts["lower"], contrasts["upper"], strict=True)
    ]
    out["p"] = contrasts["p"].map(_p)
    if method:
        out["Method"] = method
    return out


def _lsmeans_table(lsmeans: pd.DataFrame, design: StudyDesign, *, by: str | None = None) -> pd.DataFrame:
    labels = _arm_labels(design)
    out = pd.DataFrame({"Arm": lsmeans["TRT01P"].astype(str).map(labels)})
    if by:
        out["Visit"] = lsmeans[by].astype(str)
    out["LS mean"] = lsmeans["estimate"].map(_f)
    out["SE"] = lsmeans["se"].map(_f)
    out["95% CI"] = [
        f"{_f(lo)} to {_f(hi)}" for lo, hi in zip(lsmeans["lower"], lsmeans["upper"], strict=True)
    ]
    return out


# ---------------------------------------------------------------------------- figures


def _mean_se_figure(adeff: pd.DataFrame, design: StudyDesign, paramcd: str, variable: str, title: str) -> Any:
    import matplotlib.pyplot as plt

    rows = adeff[(adeff["PARAMCD"] == paramcd) & (adeff["ANL01FL"] == "Y") & (adeff["ITTFL"] == "Y")]
    rows = rows[rows["AVISITN"].notna() & rows[variable].notna() & (rows["AVISITN"] >= 0)]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    labels = _arm_labels(design)
    for i, code in enumerate(_arm_order(design)):
        arm = rows[rows["TRT01P"] == code].groupby("AVISITN")[variable]
        mean, se = arm.mean(), arm.std(ddof=1) / np.sqrt(arm.count())
        offset = (i - 1) * 0.15
        ax.errorbar(
            mean.index + offset,
            mean.to_numpy(),
            yerr=se.to_numpy(),
            marker="o",
            capsize=3,
            label=labels[code],
            color=_COLORS[(i + 1) % len(_COLORS)] if code != design.reference_arm else _COLORS[0],
        )
    ax.set_xlabel("Week")
    ax.set_ylabel(("Change in " if variable == "CHG" else "") + title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _trajectories_figure(adeff: pd.DataFrame, design: StudyDesign, paramcd: str) -> Any:
    import matplotlib.pyplot as plt

    rows = adeff[(adeff["PARAMCD"] == paramcd) & (adeff["ANL01FL"] == "Y") & (adeff["ITTFL"] == "Y")]
    rows = rows[rows["AVISITN"].notna() & (rows["AVISITN"] >= 0)]
    arms = _arm_order(design)
    fig, axes = plt.subplots(1, len(arms), figsize=(3.0 * len(arms), 3.2), sharey=True)
    labels = _arm_labels(design)
    for ax, code in zip(np.atleast_1d(axes), arms, strict=True):
        for _, subject in rows[rows["TRT01P"] == code].groupby("USUBJID"):
            subject = subject.sort_values("AVISITN")
            ax.plot(subject["AVISITN"], subject["AVAL"], color="#555555", alpha=0.45, lw=0.8)
        ax.set_title(labels[code], fontsize=9)
        ax.set_xlabel("Week")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel(paramcd)
    fig.tight_layout()
    return fig


def _forest_figure(rows: pd.DataFrame, title: str) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    ax.errorbar(
        rows["estimate"],
        y,
        xerr=[rows["estimate"] - rows["lower"], rows["upper"] - rows["estimate"]],
        fmt="s",
        color="#1f77b4",
        capsize=3,
    )
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_yticks(y, rows["label"])
    ax.set_xlabel(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- queries


def create_data_queries(adeff: pd.DataFrame, adsl: pd.DataFrame, design: StudyDesign) -> pd.DataFrame:
    """List data queries: expected values missing at attended visits, and values outside every window.

    Missing: an ITT subject with a date for a scheduled visit but no score for an endpoint
    scheduled there. Out of window: a post-baseline record whose study day falls outside every
    visit window (``AVISITCD`` missing).
    """
    queries: list[dict[str, Any]] = []
    itt = set(adsl.loc[adsl["ITTFL"] == "Y", "USUBJID"])
    present = adeff[adeff["AVAL"].notna()].groupby(["USUBJID", "VISIT"])["PARAMCD"].agg(set)
    attended = adeff.groupby(["USUBJID", "VISIT"]).size().index
    for endpoint in design.endpoints:
        if endpoint.paramcd in ("CRISS", "RCRISS"):
            continue
        expected = [v for v in endpoint.visits] + (
            [endpoint.baseline_visit] if endpoint.baseline_visit else []
        )
        for subject, visit in attended:
            if (
                subject in itt
                and visit in expected
                and endpoint.paramcd not in present.get((subject, visit), set())
            ):
                queries.append(
                    {
                        "Subject": subject,
                        "Visit": visit,
                        "Parameter": endpoint.paramcd,
                        "Query": "value missing at an attended visit",
                    }
                )
    outside = adeff[
        (adeff["AVISITCD"].isna()) & (adeff["ARELDY"] > 0) & ~adeff["PARAMCD"].isin(["CRISS", "RCRISS"])
    ]
    for row in outside.drop_duplicates(["USUBJID", "VISIT", "ARELDY"]).itertuples():
        queries.append(
            {
                "Subject": row.USUBJID,
                "Visit": row.VISIT,
                "Parameter": "all",
                "Query": f"visit on day {int(row.ARELDY)} is outside every analysis window",
            }
        )
    return pd.DataFrame(queries, columns=["Subject", "Visit", "Parameter", "Query"])


# ---------------------------------------------------------------------------- the document


def _methods_text(design: StudyDesign) -> list[str]:
    primary = design.primary_endpoint
    arms = ", ".join(f"{a.label} ({a.code})" for a in design.arms)
    strata = ", ".join(f.label for f in design.strata) or "none"
    visits = ", ".join(
        f"{v.label} (day {v.day}, -{v.window_before}/+{v.window_after})" for v in design.visits
    )
    return [
        f"Design: {design.title}. Arms: {arms}, randomised {':'.join(str(a.ratio) for a in design.arms)} "
        f"by {design.randomization.method.replace('_', ' ')} stratified by {strata}.",
        f"Visits and analysis windows: {visits}. A record is assigned to the visit whose window contains "
        "its study day (baseline = day 0); within a window the record closest to the target day is "
        "analysed (ANL01FL). Baseline is the last non-missing value on or before day 0.",
        f"Primary endpoint: change in {primary.label if primary else ''} from baseline to "
        f"{primary.visits[-1] if primary else ''}, in the intention-to-treat population, analysed by one-way "
        "ANOVA and Kruskal-Wallis (as published), by ANCOVA adjusted for baseline and the stratification "
        "factors with LS means at the mean baseline and equal weights over strata, and by a mixed model for "
        "repeated measures over all post-baseline visits (arm x visit, baseline x visit, strata; "
        "unstructured covariance; REML; Kenward-Roger degrees of freedom), missing at random.",
        "Secondary endpoints: the same analyses at weeks 12 and 24 where the study file asks for them; "
        "ACR-CRISS as the predicted probability of improvement (ANOVA, Kruskal-Wallis) and as responders at "
        "the study's threshold (Wilson CIs, Newcombe risk differences, odds ratios, Fisher exact tests, Holm "
        "adjustment; missing counted as non-response).",
        "Safety: treatment-emergent adverse events in the safety population by arm: any, serious, "
        "grade >= 3, leading to discontinuation, by system organ class and term and by maximum grade; "
        "Fisher-Freeman-Halton exact tests across arms.",
        "Scores are computed by ssctrial.instruments from item-level data (each instrument's published "
        f"scoring and missing-item rule); lung function by {design.lung_equation.spirometry} "
        f"({design.lung_equation.ethnicity}) and {design.lung_equation.transfer_factor}; EQ-5D index "
        f"with the {design.eq5d_value_set} value set.",
    ]


def build_report(results: AnalysisResults, *, header: dict[str, Any] | None = None) -> ReportDocument:
    """Build the report document from the analysis results.

    Parameters
    ----------
    results
        From :func:`run_analysis`.
    header
        Facts printed at the top (study, seed, hashes, versions, date); the data hash of the
        results is always added.

    Returns
    -------
    ReportDocument
        Render it with :func:`write_report`.
    """
    design = results.design
    ds = results.datasets
    facts = {
        "Study": f"{design.study_id}: {design.title}",
        **(header or {}),
        "Data snapshot (SHA-256)": results.info["data_hash"],
    }
    doc = ReportDocument(f"{design.study_id} trial report", header=facts)

    flow_section = doc.section("Trial flow")
    flow = create_consort_flow(ds.adsl, design)
    flow_section.add(Figure.from_matplotlib("consort", "CONSORT 2010 flow diagram", plot_consort(flow)))

    baseline = doc.section("Baseline characteristics")
    baseline.add(
        Table(
            "table1_baseline",
            "Table 1. Baseline characteristics (ITT population)",
            create_baseline_table(ds.adsl, design),
            note="Mean (SD), median (Q1-Q3) or n (%).",
        )
    )

    _primary_section(doc, results)
    _secondary_section(doc, results)
    _safety_section(doc, results)
    if results.omics is not None:
        _omics_section(doc, results)

    methods = doc.section("Methods")
    for paragraph in _methods_text(design):
        methods.text(paragraph)

    appendix = doc.section("Appendix: data queries")
    queries = create_data_queries(ds.adeff, ds.adsl, design)
    appendix.text(f"{len(queries)} data queries (missing values at attended visits, out-of-window visits).")
    appendix.add(
        Table("data_queries", "Data queries", queries if len(queries) else pd.DataFrame({"Query": ["none"]}))
    )
    return doc


_COVARIANCE_NAMES = {
    "us": "unstructured",
    "toeph": "heterogeneous Toeplitz",
    "ar1h": "heterogeneous AR(1)",
    "cs": "compound symmetry",
}


def _primary_section(doc: ReportDocument, results: AnalysisResults) -> None:
    design = results.design
    mmrm = results.info["mmrm"]
    primary = results.primary
    endpoint = primary.endpoint
    section = doc.section("Primary endpoint")
    section.text(
        f"{endpoint.label}: {'change from baseline' if primary.variable == 'CHG' else 'value'} at "
        f"{design.visit(primary.visit).label}, ITT population."
    )
    section.add(
        Table(
            "primary_descriptives",
            f"{endpoint.label}: change from baseline to {design.visit(primary.visit).label} by arm",
            _descriptive_table(primary, design),
        )
    )
    if primary.global_tests is not None:
        section.add(
            Table(
                "primary_global_tests",
                "Global tests across arms (as published)",
                _tests_table(primary.global_tests),
            )
        )
    if primary.ancova is not None:
        section.add(
            Table(
                "primary_ancova_lsmeans",
                "ANCOVA: LS means (at mean baseline)",
                _lsmeans_table(primary.ancova.lsmeans, design),
            )
        )
        section.add(
            Table(
                "primary_ancova_contrasts",
                "ANCOVA: difference vs control",
                _contrast_table(primary.ancova.contrasts),
            )
        )
    section.add(
        Table(
            "primary_mmrm_contrasts",
            f"MMRM ({_COVARIANCE_NAMES.get(mmrm['covariance'], mmrm['covariance'])} covariance, "
            "Kenward-Roger): difference vs control by visit",
            _contrast_table(results.mmrm_contrasts, by="AVISITCD"),
            note=f"Model: {mmrm['formula']}."
            + (
                " Pre-specified fallback used: " + "; ".join(mmrm["not_converged"])
                if mmrm["not_converged"]
                else ""
            ),
        )
    )
    section.add(
        Figure.from_matplotlib(
            "primary_mean_se",
            f"Mean change in {endpoint.paramcd} over time (mean +/- SE)",
            _mean_se_figure(results.datasets.adeff, design, endpoint.paramcd, "CHG", endpoint.paramcd),
        )
    )
    section.add(
        Figure.from_matplotlib(
            "primary_trajectories",
            f"Individual {endpoint.paramcd} trajectories by arm",
            _trajectories_figure(results.datasets.adeff, design, endpoint.paramcd),
        )
    )
    forest = []
    if primary.ancova is not None:
        for row in primary.ancova.contrasts.itertuples():
            forest.append(
                {
                    "label": f"ANCOVA {row.contrast}",
                    "estimate": row.estimate,
                    "lower": row.lower,
                    "upper": row.upper,
                }
            )
    at_visit = results.mmrm_contrasts[results.mmrm_contrasts["AVISITCD"].astype(str) == primary.visit]
    for row in at_visit.itertuples():
        forest.append(
            {
                "label": f"MMRM {row.contrast}",
                "estimate": row.estimate,
                "lower": row.lower,
                "upper": row.upper,
            }
        )
    if forest:
        section.add(
            Figure.from_matplotlib(
                "primary_forest",
                "Differences vs control at the primary visit (95% CI)",
                _forest_figure(pd.DataFrame(forest), f"Difference in change in {endpoint.paramcd}"),
            )
        )


def _secondary_section(doc: ReportDocument, results: AnalysisResults) -> None:
    design = results.design
    section = doc.section("Secondary endpoints")
    labels = _arm_labels(design)
    by_param: dict[str, list[EndpointResult]] = {}
    for result in results.endpoints[1:]:
        by_param.setdefault(result.endpoint.paramcd, []).append(result)
    for paramcd, group in by_param.items():
        endpoint = group[0].endpoint
        rows = []
        for result in group:
            d = result.descriptives.set_index("TRT01P")
            row = {"Visit": design.visit(result.visit).label}
            for code in _arm_order(design):
                if code in d.index:
                    row[labels[code]] = (
                        f"{_f(d.loc[code, 'mean'])} ({_f(d.loc[code, 'sd'])}), n={int(d.loc[code, 'n'])}"
                    )
            if result.global_tests is not None:
                tests = result.global_tests.set_index("test")["p"]
                row["ANOVA p"] = _p(tests.get("ANOVA"))
                row["Kruskal-Wallis p"] = _p(tests.get("Kruskal-Wallis"))
            if result.ancova is not None:
                for c in result.ancova.contrasts.itertuples():
                    row[f"ANCOVA {c.contrast}"] = (
                        f"{_f(c.estimate)} ({_f(c.lower)} to {_f(c.upper)}), p={_p(c.p)}"
                    )
            rows.append(row)
        what = "change from baseline" if group[0].variable == "CHG" else "value"
        section.add(
            Table(
                f"secondary_{paramcd.lower()}",
                f"{endpoint.label} ({what}): mean (SD) by arm",
                pd.DataFrame(rows).fillna(""),
            )
        )
        for result in group:
            if result.responder is not None:
                prop = result.responder.proportions
                resp = pd.DataFrame(
                    {
                        "Arm": prop["TRT01P"].astype(str).map(labels),
                        "Responders": [
                            f"{int(r)}/{int(n)}" for r, n in zip(prop["responders"], prop["n"], strict=True)
                        ],
                        "Proportion (95% CI)": [
                            f"{_f(p)} ({_f(lo)} to {_f(hi)})"
                            for p, lo, hi in zip(
                                prop["proportion"], prop["lower"], prop["upper"], strict=True
                            )
                        ],
                    }
                )
                contrast = result.responder.to_frame()
                diff = contrast[contrast["statistic_type"] == "risk difference"]
                resp_note = "; ".join(
                    f"{r.contrast}: RD {_f(r.estimate)} ({_f(r.lower)} to {_f(r.upper)}), Fisher p={_p(r.p)}"
                    for r in diff.itertuples()
                )
                section.add(
                    Table(
                        f"responders_{paramcd.lower()}_{result.visit.lower()}",
                        f"{endpoint.label} responders at {design.visit(result.visit).label} "
                        "(missing = non-responder)",
                        resp,
                        note=resp_note,
                    )
                )
        variable = group[0].variable
        section.add(
            Figure.from_matplotlib(
                f"secondary_{paramcd.lower()}",
                f"{endpoint.label} over time (mean +/- SE)",
                _mean_se_figure(results.datasets.adeff, design, paramcd, variable, paramcd),
            )
        )


def _safety_section(doc: ReportDocument, results: AnalysisResults) -> None:
    design = results.design
    labels = _arm_labels(design)
    section = doc.section("Safety")
    section.text(
        "Treatment-emergent adverse events in the safety population; n (%) of subjects, "
        "Fisher-Freeman-Halton exact test across arms."
    )

    def wide(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        if table.empty:
            return pd.DataFrame({"": ["no events"]})
        t = table.copy()
        t["cell"] = [f"{int(n)} ({_f(p, 1)}%)" for n, p in zip(t["n"], t["percent"], strict=True)]
        out = t.pivot_table(index=keys, columns="TRT01A", values="cell", aggfunc="first", observed=True)
        out.columns = [labels.get(str(c), str(c)) for c in out.columns]
        if "p" in t:
            pvals = t.groupby(keys, sort=False)["p"].first()
            out["p"] = pvals.reindex(out.index).map(_p)
        return out.reset_index()

    overview = results.safety["overview"].to_frame()
    section.add(Table("safety_overview", "Overview of adverse events", wide(overview, ["category"])))
    by_term = results.safety["by_term"].to_frame()
    section.add(
        Table(
            "safety_by_term",
            "Adverse events by system organ class and term",
            wide(by_term, ["AESOC", "AEDECOD"]),
        )
    )
    by_grade = results.safety["by_grade"].to_frame()
    section.add(Table("safety_by_grade", "Subjects by maximum CTCAE grade", wide(by_grade, ["max_grade"])))
    serious = results.safety["serious"].to_frame()
    section.add(Table("safety_serious", "Serious adverse events", wide(serious, ["AESOC", "AEDECOD"])))


def _omics_section(doc: ReportDocument, results: AnalysisResults) -> None:
    from ssctrial.omics import plot_go_dots, plot_volcano

    omics = results.omics
    section = doc.section("Transcriptomics")
    section.text(
        f"Blood RNA-seq before and after treatment; DESeq2-style negative-binomial GLMs; GO release "
        f"{omics.go_release}. Low-count filter: {omics.filter_rule}."
    )
    summary = omics.summary() if callable(getattr(omics, "summary", None)) else None
    if summary is not None:
        section.add(Table("omics_summary", "Differential expression results", summary.astype(str)))
    main = _main_de_label(omics.de)
    if main is None:
        return
    de = omics.de[main]
    top = de.dropna(subset=["padj"]).sort_values("padj").head(20)
    table = pd.DataFrame(
        {
            "Gene": top.index.astype(str),
            "baseMean": top["baseMean"].map(lambda v: _f(v, 1)),
            "log2FoldChange": top["log2FoldChange"].map(_f),
            "lfcSE": top["lfcSE"].map(_f),
            "padj": top["padj"].map(lambda v: f"{v:.2e}"),
        }
    )
    section.add(Table("omics_top_genes", f"Top 20 genes: {main}", table))
    named = de.reindex([g for g in ("IL1RL1", "SYT17") if g in de.index])
    if len(named):
        section.add(
            Table(
                "omics_named_genes",
                f"IL1RL1 and SYT17: {main}",
                pd.DataFrame(
                    {
                        "Gene": named.index.astype(str),
                        "log2FoldChange": named["log2FoldChange"].map(_f),
                        "padj": named["padj"].map(lambda v: "" if pd.isna(v) else f"{v:.2e}"),
                    }
                ),
            )
        )
    section.add(
        Figure.from_matplotlib("omics_volcano", f"Volcano plot: {main}", plot_volcano(de, title=main))
    )
    if results.omics_expression is not None and results.omics_samples is not None:
        from ssctrial.omics import plot_paired_genes

        figure = plot_paired_genes(
            results.omics_expression, results.omics_samples, list(results.omics_expression.index)
        )
        section.add(
            Figure.from_matplotlib(
                "omics_named_gene_plots",
                "IL1RL1 and SYT17 before and after treatment, by arm",
                figure,
                caption="log2(normalised count + 1), median-of-ratios size factors; one line per patient.",
            )
        )
    ora = omics.ora.get(main)
    if ora is not None and len(ora):
        bp = ora[ora.get("ontology", pd.Series("BP", index=ora.index)) == "BP"] if "ontology" in ora else ora
        section.add(
            Figure.from_matplotlib(
                "omics_go_dots", f"GO enrichment (BP): {main}", plot_go_dots(bp, title=main)
            )
        )
        cols = [
            c
            for c in ("ontology", "direction", "term_id", "term", "name", "count", "size", "pvalue", "padj")
            if c in ora
        ]
        best = ora.sort_values("padj").head(20)[cols] if "padj" in ora else ora.head(20)[cols]
        section.add(Table("omics_go_table", f"Top GO terms: {main}", best.astype(str)))


def _main_de_label(de: dict[str, pd.DataFrame]) -> str | None:
    """Return the DE result the report leads with: the paired analysis of the highest-dose arm."""
    if not de:
        return None
    paired = [label for label in de if "paired" in label.lower()]
    for label in paired:
        if "BARI4" in label:
            return label
    return paired[0] if paired else next(iter(de))
