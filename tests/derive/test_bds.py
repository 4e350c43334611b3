"""BDS derivation rules: windows, baseline choice, change, percent change, analysis flag.

Expected values are worked by hand from the rules stated in each verb's docstring (and in
docs/derivation.md); each test states the case it pins down.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.derive._bds import (
    derive_var_ablfl,
    derive_var_anl01fl,
    derive_var_base,
    derive_var_chg,
    derive_var_pchg,
    derive_vars_visit_window,
)
from ssctrial.design import load_study
from ssctrial.exceptions import InputError


@pytest.fixture(scope="module")
def design():
    return load_study("basics")


def _records(rows):
    return pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "VISIT", "ARELDY", "AVAL"])


def test_window_rule_assigns_by_study_day(design):
    data = _records(
        [
            ("S1", "MRSS", "SCR", -10, 20),
            ("S1", "MRSS", "BL", 0, 21),
            ("S1", "MRSS", "W4", 35, 19),  # W4 window is 21..35: inside, on its edge
            ("S1", "MRSS", "W8", 36, 18),  # captured as W8 on day 36: outside W4, not yet W8 (49..63)
            ("S1", "MRSS", "W12", 90, 12),  # W12 = 84 +/- 7
            ("S1", "MRSS", "W24", 200, 10),  # W24 = 168 +/- 14: out of every window
        ]
    )
    out = derive_vars_visit_window(data, design)
    assert list(out["AVISITCD"]) == ["SCR", "BL", "W4", None, "W12", None]
    assert list(out["AVISIT"]) == ["Screening", "Baseline", "Week 4", None, "Week 12", None]
    np.testing.assert_array_equal(out["AWTARGET"], [-14, 0, 28, np.nan, 84, np.nan])
    np.testing.assert_array_equal(out["AVISITN"], [-2, 0, 4, np.nan, 12, np.nan])
    np.testing.assert_array_equal(out["AWTDIFF"], [4, 0, 7, np.nan, 6, np.nan])
    assert set(out["AWRULE"]) == {"window"}
    pd.testing.assert_frame_equal(out[data.columns], data)  # same rows, same order, input kept


def test_nominal_rule_keeps_the_captured_visit(design):
    data = _records([("S1", "MRSS", "W24", 200, 10)])
    out = derive_vars_visit_window(data, design, rule="nominal")
    assert out.loc[0, "AVISITCD"] == "W24"
    assert out.loc[0, "AWTDIFF"] == 32


def test_window_errors_name_the_problem(design):
    with pytest.raises(InputError, match=r"visit code\(s\) \['W6'\] not in the schedule"):
        derive_vars_visit_window(_records([("S1", "MRSS", "W6", 42, 1)]), design)
    with pytest.raises(InputError, match="rule must be 'window' or 'nominal', got 'closest'"):
        derive_vars_visit_window(_records([("S1", "MRSS", "W4", 28, 1)]), design, rule="closest")
    with pytest.raises(InputError, match=r"lacks required column\(s\) \['ARELDY'\]"):
        derive_vars_visit_window(_records([]).drop(columns="ARELDY"), design)


def test_baseline_is_last_nonmissing_on_or_before_day0():
    data = _records(
        [
            ("S1", "MRSS", "SCR", -10, 20),
            ("S1", "MRSS", "BL", 0, np.nan),  # missing at baseline: screening value is baseline
            ("S1", "MRSS", "W4", 28, 18),
            ("S2", "MRSS", "SCR", -5, 30),
            ("S2", "MRSS", "BL", 0, 31),  # the later of the two pre-treatment values
            ("S3", "MRSS", "W4", 28, 9),  # no pre-treatment value: no baseline
        ]
    )
    out = derive_var_ablfl(data)
    assert list(out["ABLFL"]) == ["Y", "", "", "", "Y", ""]


def test_base_change_and_percent_change():
    data = _records(
        [
            ("S1", "MRSS", "BL", 0, 20),
            ("S1", "MRSS", "W12", 84, 11),
            ("S2", "MRSS", "BL", 0, 0),
            ("S2", "MRSS", "W12", 84, 2),
            ("S3", "MRSS", "W12", 84, 5),
        ]
    )
    out = derive_var_pchg(derive_var_chg(derive_var_base(derive_var_ablfl(data))))
    np.testing.assert_array_equal(out["BASE"], [20, 20, 0, 0, np.nan])
    np.testing.assert_array_equal(out["CHG"], [np.nan, -9, np.nan, 2, np.nan])
    # PCHG: -9/20 = -45 %; base 0 gives no percent change
    np.testing.assert_allclose(out["PCHG"], [np.nan, -45.0, np.nan, np.nan, np.nan], rtol=1e-12)


def test_duplicate_baseline_is_refused():
    data = _records([("S1", "MRSS", "BL", 0, 20), ("S1", "MRSS", "BL", 0, 21)]).assign(ABLFL="Y")
    with pytest.raises(InputError, match=r"more than one baseline record .*'USUBJID': 'S1'"):
        derive_var_base(data)


def test_anl01fl_keeps_one_record_closest_to_target(design):
    data = _records(
        [
            ("S1", "MRSS", "BL", 0, 20),
            ("S1", "MRSS", "W12", 80, 12),  # 4 days early
            ("S1", "MRSS", "W12", 86, 11),  # 2 days late: closest, kept
            ("S1", "MRSS", "W4", 26, 18),  # 2 days early
            ("S1", "MRSS", "W4", 30, 17),  # 2 days late: tie, the later one is kept
            ("S1", "MRSS", "W8", 56, np.nan),  # missing value: never flagged
        ]
    )
    out = derive_var_anl01fl(derive_var_ablfl(derive_vars_visit_window(data, design)))
    assert list(out["ANL01FL"]) == ["Y", "", "Y", "", "Y", ""]


def test_verbs_do_not_mutate_their_input(design):
    data = _records([("S1", "MRSS", "BL", 0, 20), ("S1", "MRSS", "W12", 84, 11)])
    before = data.copy()
    derive_var_anl01fl(derive_var_ablfl(derive_vars_visit_window(data, design)))
    pd.testing.assert_frame_equal(data, before)
