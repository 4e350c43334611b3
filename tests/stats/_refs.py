"""Paths and loaders for the committed reference data of the stats tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

REF = Path(__file__).resolve().parents[1] / "reference" / "stats"


def basics_like() -> pd.DataFrame:
    """The small BASICS-like dataset (48 subjects, 3 arms) that the R scripts read."""
    return pd.read_csv(REF / "data" / "basics_like.csv")


def load_json(method: str, name: str = "reference.json") -> dict:
    return json.loads((REF / method / name).read_text())
