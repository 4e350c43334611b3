"""The trial report and dataset exports (XPORT v5, CDISC Dataset-JSON v1.1)."""

from __future__ import annotations

from ssctrial.report._document import Figure, Paragraph, ReportDocument, Section, Table
from ssctrial.report._export import (
    read_dataset_json,
    validate_dataset_json,
    write_dataset_json,
    write_xpt,
)
from ssctrial.report._render import render_html, render_pdf, write_report

__all__ = [
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
