"""Fixtures for the omics tests: the DESeq2 reference dataset in tests/reference/omics/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REF = Path(__file__).resolve().parents[1] / "reference" / "omics"  # see its README.md


def read_ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, index_col=0)


@pytest.fixture(scope="session")
def ref_counts() -> pd.DataFrame:
    return read_ref("paired_counts.csv.gz")


@pytest.fixture(scope="session")
def ref_samples() -> pd.DataFrame:
    s = read_ref("paired_samples.csv")
    s["arm"] = pd.Categorical(s["arm"], categories=["CTRL", "BARI2", "BARI4"])
    s["visit"] = pd.Categorical(s["visit"], categories=["W0", "W12"])
    s["subj_n"] = s["subj_n"].astype(str)
    return s


@pytest.fixture(scope="session")
def nested_fit(ref_counts, ref_samples):
    from ssctrial.omics import fit_deseq

    return fit_deseq(ref_counts, ref_samples, "~ arm + arm:subj_n + arm:visit")
