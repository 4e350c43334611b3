"""The trial report and dataset exports (XPORT v5, CDISC Dataset-JSON v1.1)."""

from __future__ import annotations

from ssctrial.report._export import (
    read_dataset_json,
    validate_dataset_json,
    write_dataset_json,
    write_xpt,
)

__all__ = [
    "read_dataset_json",
    "validate_dataset_json",
    "write_dataset_json",
    "write_xpt",
]
