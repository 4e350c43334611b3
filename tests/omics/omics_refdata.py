"""Paths and readers for the DESeq2 reference dataset in tests/reference/omics/ (see its README)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REF = Path(__file__).resolve().parents[1] / "reference" / "omics"


def read_ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, index_col=0)
