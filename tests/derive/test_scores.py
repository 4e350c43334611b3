"""Scoring item-level observations through the registry: values equal the instruments' own scorers.

The expected numbers come from the instruments' public entry points (each validated against
published reference vectors in tests/instruments), so this checks the pivot, the typing of
items, the options taken from the study file and the missing-item rule, not the formulas again.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ssctrial.derive._scores import compute_visit_scores
from ssctrial.design import load_study
from ssctrial.instruments import eq5d_index, get_instrument, lung_function


@pytest.fixture(scope="module")
def design():
    return load_study("basics")


def _obs(rows):
    frame = pd.DataFrame(rows, columns=["subject", "visit", "instrument", "item", "value"])
    frame["value"] = frame["value"].astype(object).map(lambda v: None if v is None else str(v))
    frame["value_num"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def test_mrss_total_and_missing_site_rule(design):
    sites = [i.code for i in get_instrument("MRSS").items if i.required]
    rows = [("S1", "BL", "MRSS", site, 2) for site in sites]
    rows += [("S1", "W12", "MRSS", site, 1) for site in sites[:-1]]  # one site not assessed
    scores = compute_visit_scores(_obs(rows), design)
    mrss = scores.set_index(["subject", "visit"]).query("PARAMCD == 'MRSS'")["AVAL"]
    assert mrss.loc[("S1", "BL")] == 2 * len(sites)
    assert np.isnan(mrss.loc[("S1", "W12")])  # SPEC: a missing site makes the total missing


def test_eq5d_uses_the_study_value_set(design):
    dims = ["mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression"]
    rows = [("S1", "BL", "EQ5D_5L", d, lvl) for d, lvl in zip(dims, [2, 1, 3, 4, 5], strict=True)]
    rows.append(("S1", "BL", "EQ5D_5L", "vas", 65))
    scores = compute_visit_scores(_obs(rows), design).set_index("PARAMCD")["AVAL"]
    # closed-form table look-up: exact
    assert scores["EQ5DIDX"] == pytest.approx(eq5d_index("21345", value_set="CN_5L_Luo2017"), abs=1e-12)
    assert scores["EQ5DVAS"] == 65


def test_pft_percent_predicted_uses_demographics_and_study_equation(design):
    subjects = pd.DataFrame(
        {"subject": ["S1", "S2"], "sex": ["F", "F"], "birth_date": [dt.date(1971, 4, 1)] * 2,
         "height_cm": [160.0, np.nan]}
    )
    visits = pd.DataFrame(
        {"subject": ["S1", "S2"], "visit": ["BL", "BL"], "visit_date": [dt.date(2021, 4, 1)] * 2}
    )
    rows = [("S1", "BL", "PFT", "fvc_l", 2.5), ("S2", "BL", "PFT", "fvc_l", 2.5)]
    scores = compute_visit_scores(_obs(rows), design, subjects=subjects, visit_dates=visits)
    fvcpp = scores.query("PARAMCD == 'FVCPP'").set_index("subject")["AVAL"]
    expected = lung_function(
        "FVC", sex="F", age=(dt.date(2021, 4, 1) - dt.date(1971, 4, 1)).days / 365.25, height_cm=160.0,
        measured=2.5, equation="GLI-2012", ethnicity="North-East Asian",
    )["percent_predicted"]
    assert fvcpp["S1"] == pytest.approx(expected, rel=1e-12)  # same function, same inputs
    assert np.isnan(fvcpp["S2"])  # no height: not scorable, missing rather than guessed
