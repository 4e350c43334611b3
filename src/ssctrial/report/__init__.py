"""The trial report and dataset exports (XPORT v5, CDISC Dataset-JSON v1.1)."""

from __future__ import annotations

from ssctrial.report._analysis import AnalysisResults, EndpointResult, hash_datasets, run_analysis
from ssctrial.report._build import (
    build_report,
    create_baseline_table,
    create_consort_flow,
    create_data_queries,
)
from ssctrial.report._consort import ConsortArm, ConsortFlow, plot_consort
from ssctrial.report._document import Figure, Paragraph, ReportDocument, Section, Table
from ssctrial.report._export import (
    read_dataset_json,
    validate_dataset_json,
    write_dataset_json,
    write_xpt,
)
from ssctrial.report._pipeline import AnalysisRun, analyze_store, software_versions
from ssctrial.report._render import render_html, render_pdf, write_report

__all__ = [
    "AnalysisResults",
    "AnalysisRun",
    "ConsortArm",
    "ConsortFlow",
    "EndpointResult",
    "analyze_store",
    "build_report",
    "create_baseline_table",
    "create_consort_flow",
    "create_data_queries",
    "hash_datasets",
    "plot_consort",
    "run_analysis",
    "software_versions",
    "Figure",
    "Paragraph",
    "ReportDocument",
    "Section",
    "Table",
    "render_html",
    "render_pdf",
    "write_report",
    "read_dataset_json",
    "validate_dataset_json",
    "write_dataset_json",
    "write_xpt",
]
