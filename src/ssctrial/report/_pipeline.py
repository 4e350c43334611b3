"""The analysis run end to end: store -> analysis datasets -> statistics -> report and exports."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ssctrial import __version__
from ssctrial.derive import create_analysis_datasets
from ssctrial.design import StudyDesign, load_study
from ssctrial.report._analysis import AnalysisResults, run_analysis
from ssctrial.report._build import build_report
from ssctrial.report._export import write_dataset_json, write_xpt
from ssctrial.report._render import write_report

__all__ = ["AnalysisRun", "analyze_store", "software_versions"]

logger = logging.getLogger(__name__)


def software_versions() -> dict[str, str]:
    """Versions of Python and of the libraries the results depend on."""
    names = ["numpy", "scipy", "pandas", "statsmodels", "pydeseq2", "sqlalchemy", "matplotlib"]
    out = {"python": platform.python_version(), "ssctrial": __version__}
    for name in names:
        try:
            out[name] = version(name)
        except Exception:  # noqa: BLE001 - a missing optional library is reported as such
            out[name] = "not installed"
    return out


@dataclass
class AnalysisRun:
    """What :func:`analyze_store` produced: results, output paths and per-stage timings."""

    results: AnalysisResults
    paths: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)


def analyze_store(
    store: Any,
    design: StudyDesign | str | Path,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    omics: bool = True,
    omics_options: dict[str, Any] | None = None,
    pdf: bool = True,
    progress: Callable[[str], None] | None = None,
) -> AnalysisRun:
    """Derive the analysis datasets from ``store``, run the SAP and write the report and exports.

    Parameters
    ----------
    store
        An open :class:`ssctrial.store.Store`.
    design
        The study design, a study file or a packaged study name.
    out_dir
        Output folder: ``report.html``, ``report.pdf``, ``tables/``, ``figures/``, ``adam/``
        (XPT and Dataset-JSON), ``results.json``.
    seed
        The simulation seed, when the data were simulated (printed in the report header).
    omics
        Run the transcriptome plan when the store has RNA-seq samples.
    omics_options
        Options for :func:`ssctrial.omics.run_transcriptome`.
    pdf
        Also write the PDF.
    progress
        Optional callback receiving the name of each stage as it starts.

    Returns
    -------
    AnalysisRun
    """
    say = progress or (lambda _msg: None)
    study = load_study(design) if not isinstance(design, StudyDesign) else design
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    say("derive")
    datasets = create_analysis_datasets(store, study)
    adam = out / "adam"
    for name, frame in datasets.items():
        write_xpt(frame, adam / f"{name.lower()}.xpt")
        write_dataset_json(frame, adam / f"{name.lower()}.json", study_oid=study.study_id)
    timings["derive"] = time.perf_counter() - start

    omics_input = None
    if omics:
        sample = store.read_table("sample")
        if len(sample):
            from ssctrial.omics import load_store_counts

            omics_input = load_store_counts(store)
    start = time.perf_counter()
    results = run_analysis(
        datasets, study, omics_input=omics_input, omics_options=omics_options, progress=say
    )
    timings["analysis"] = time.perf_counter() - start - results.timings.get("omics", 0.0)
    if "omics" in results.timings:
        timings["omics"] = results.timings["omics"]

    start = time.perf_counter()
    say("report")
    study_hash = hashlib.sha256(study.model_dump_json().encode()).hexdigest()
    header = {
        "Seed": "" if seed is None else str(seed),
        "Study file (SHA-256)": study_hash,
        "Software": ", ".join(f"{k} {v}" for k, v in software_versions().items()),
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    document = build_report(results, header=header)
    paths = write_report(document, out, pdf=pdf)
    paths["adam"] = adam
    summary = {
        "study": study.study_id,
        "seed": seed,
        "data_hash": results.info["data_hash"],
        "study_hash": study_hash,
        "primary": {
            "descriptives": results.primary.descriptives.to_dict("records"),
            "global_tests": None
            if results.primary.global_tests is None
            else results.primary.global_tests.to_dict("records"),
            "ancova_contrasts": None
            if results.primary.ancova is None
            else results.primary.ancova.contrasts.to_dict("records"),
            "mmrm_contrasts": results.mmrm_contrasts.astype({"AVISITCD": str}).to_dict("records"),
        },
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    paths["results"] = out / "results.json"
    timings["report"] = time.perf_counter() - start
    return AnalysisRun(results=results, paths=paths, timings=timings)
