"""Run the example code of docs/statistics.md on the reference data."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ._refs import REF, basics_like

DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"


def test_statistics_md_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/statistics.md has no python example"
    adeff = basics_like().assign(CHG=lambda d: d["CHGMISS"])  # with missing week-12 values
    namespace = {
        "adeff": adeff,
        "adsl": pd.read_csv(REF / "data" / "adsl_like.csv"),
        "adae": pd.read_csv(REF / "data" / "adae_like.csv", dtype={"AETOXGR": str}),
    }
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
