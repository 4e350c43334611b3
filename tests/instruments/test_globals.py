"""Patient and physician global assessments: scale conversion and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import get_instrument, score_globals


def test_mm_converted_and_direct_kept():
    assert score_globals({"pt_global": 4.5, "md_global_mm": 30}) == {"pt_global": 4.5, "md_global": 3.0}


def test_frame_mixed_units_per_row():
    frame = pd.DataFrame(
        {"pt_global": [5.0, np.nan], "pt_global_mm": [np.nan, 72.0], "md_global": [1.0, 2.0]}
    )
    result = score_globals(frame)
    np.testing.assert_allclose(result["pt_global"], [5.0, 7.2], rtol=1e-12)
    np.testing.assert_allclose(result["md_global"], [1.0, 2.0], rtol=1e-12)


def test_agreeing_duplicates_accepted_disagreeing_rejected():
    assert score_globals({"pt_global": 5, "pt_global_mm": 50, "md_global": 1})["pt_global"] == 5.0
    with pytest.raises(InputError, match=r"GLOBAL item pt_global and pt_global_mm disagree .* in row\(s\) 0"):
        score_globals({"pt_global": 5, "pt_global_mm": 60, "md_global": 1})


def test_out_of_range_and_missing_column():
    with pytest.raises(
        InputError,
        match=r"GLOBAL item 'pt_global' \(Patient global assessment \(0-10\)\): value 55 is not "
        r"allowed; expected a number from 0 to 10$",
    ):
        score_globals({"pt_global": 55})
    with pytest.raises(InputError, match=r"GLOBAL: the data has neither md_global \(0-10\) nor md_global_mm"):
        score_globals(pd.DataFrame({"pt_global": [1.0]}))


def test_missing_global_is_missing():
    assert score_globals({"pt_global": 2}) == {"pt_global": 2.0, "md_global": None}


def test_registry_entry():
    inst = get_instrument("GLOBAL")
    assert inst.outputs == {"pt_global": "PTGLOBAL", "md_global": "MDGLOBAL"}
    assert inst.item("pt_global_mm").unit == "mm"
