"""Report building blocks from hand-made ADSL/ADEFF: Table 1, CONSORT counts, data queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.design import load_study
from ssctrial.report import create_baseline_table, create_consort_flow, create_data_queries


@pytest.fixture(scope="module")
def design():
    return load_study("basics")


def _adsl():
    rows = []
    arms = ["BARI4", "BARI4", "BARI2", "CTRL", None, None]
    for i, arm in enumerate(arms):
        randomised = arm is not None
        rows.append(
            {
                "USUBJID": f"S{i}",
                "ITTFL": "Y" if randomised else "",
                "SAFFL": "Y" if randomised else "",
                "PPROTFL": "Y" if randomised and i != 1 else "",
                "TRT01P": arm,
                "SCRFFL": "" if randomised else "Y",
                "SCRFREAS": "" if randomised else ("mRSS out of range" if i == 4 else "declined"),
                "EOSSTT": "DISCONTINUED" if i == 1 else ("COMPLETED" if randomised else "SCREEN FAILURE"),
                "DCSREAS": "adverse event" if i == 1 else "",
                "AGE": 40.0 + i,
                "SEX": "F" if i % 2 == 0 else "M",
                "HEIGHTBL": 160.0,
                "WEIGHTBL": np.nan,
                "BMIBL": np.nan,
                "SSCTYPE": np.nan,
                "DISDURM": np.nan,
                "AUTOAB": np.nan,
                "BGGC": "",
                "BGMMF": "",
                "BGMTX": "",
                "MRSSBL": 20.0 + i,
                "FVCPPBL": 80.0,
                "DLCOPPBL": 70.0,
                "HAQDIBL": 1.0,
                "SUBTYPE": "diffuse",
                "DURATION": "early" if i < 2 else "late",
            }
        )
    return pd.DataFrame(rows)


def test_baseline_table_counts_and_missing_characteristics(design):
    table = create_baseline_table(_adsl(), design).set_index("Characteristic")
    assert list(table.columns) == [
        "Baricitinib 4 mg (n=2)",
        "Baricitinib 2 mg (n=1)",
        "Control (n=1)",
        "Total (n=4)",
    ]
    # S0 (F), S1 (M) in BARI4; S2 (F) BARI2; S3 (M) CTRL
    assert table.loc["Female, n (%)", "Baricitinib 4 mg (n=2)"] == "1 (50.0%)"
    assert table.loc["Female, n (%)", "Total (n=4)"] == "2 (50.0%)"
    assert table.loc["Age, years, mean (SD)", "Baricitinib 4 mg (n=2)"] == "40.5 (0.7)"
    assert table.loc["mRSS, mean (SD)", "Total (n=4)"] == "21.5 (1.3)"
    assert table.loc["Weight, kg, mean (SD)", "Total (n=4)"] == "not captured"
    assert table.loc["Stratum Disease duration: early, n (%)", "Baricitinib 4 mg (n=2)"] == "2 (100.0%)"


def test_consort_counts_from_adsl(design):
    flow = create_consort_flow(_adsl(), design)
    assert flow.assessed == 6
    assert flow.excluded == {"mRSS out of range": 1, "declined": 1}
    assert flow.randomised == 4
    bari4 = flow.arms[0]
    assert (bari4.allocated, bari4.received, bari4.analysed) == (2, 2, 1)
    assert bari4.discontinued == {"adverse event": 1}
    assert bari4.excluded_from_analysis == {"primary endpoint missing": 1}


def test_data_queries_find_missing_values_and_out_of_window_visits(design):
    adsl = _adsl()
    adeff = pd.DataFrame(
        {
            "USUBJID": ["S0", "S0", "S2"],
            "VISIT": ["W12", "W12", "W24"],
            "PARAMCD": ["MRSS", "HAQDI", "MRSS"],
            "AVAL": [12.0, np.nan, 10.0],
            "AVISITCD": ["W12", "W12", None],
            "ARELDY": [84.0, 84.0, 200.0],
        }
    )
    queries = create_data_queries(adeff, adsl, design)
    missing = queries[queries["Query"] == "value missing at an attended visit"]
    assert ("S0", "W12", "HAQDI") in set(
        zip(missing["Subject"], missing["Visit"], missing["Parameter"], strict=True)
    )
    outside = queries[queries["Query"].str.contains("outside every analysis window")]
    assert list(outside["Subject"]) == ["S2"]
    assert "day 200" in outside["Query"].iloc[0]
