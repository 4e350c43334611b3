"""Large inputs to record_observations: visit dates checked once per distinct value, each row reported."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ssctrial.store import ObservationError


def _rows(subject, visit, n_items, visit_date):
    items = ["face", "anterior_chest", "abdomen", "fingers_right", "fingers_left"][:n_items]
    return pd.DataFrame(
        {
            "subject": subject,
            "visit": visit,
            "instrument": "MRSS",
            "item": items,
            "value": 1,
            "visit_date": [visit_date] * n_items,
        }
    )


def test_every_row_with_a_bad_visit_date_gets_its_own_message(store, allocate):
    allocate(store, "S001")
    allocate(store, "S002")
    frame = pd.concat(
        [
            _rows("S001", "BL", 3, "2024-01-20"),
            _rows("S001", "W4", 4, "2024-04-01"),  # outside the W4 window: all 4 rows
            _rows("S002", "BL", 2, "2024-01-01"),  # before S002's consent: both rows
            _rows("S002", "W4", 2, "soon"),  # not a date: both rows
            _rows("S002", "W8", 1, 5),  # a number: checked on its own
            _rows("S001", "W8", 2, date(2024, 3, 15)),  # good, as a date object
        ],
        ignore_index=True,
    )
    with pytest.raises(ObservationError) as err:
        store.record_observations(frame, user="ivan")
    errors = err.value.errors
    window = (
        "visit_date 2024-04-01 is study day 72, outside the window of W4 "
        "(days 21..35: 2024-02-10 to 2024-02-24)"
    )
    expected = (
        [(r, window) for r in range(3, 7)]
        + [(r, "visit_date 2024-01-01 is before consent (2024-02-10)") for r in (7, 8)]
        + [(r, "visit_date: 'soon' is not a date; expected YYYY-MM-DD") for r in (9, 10)]
    )
    got = list(zip(errors["row"].tolist(), errors["error"].tolist(), strict=True))
    assert got[: len(expected)] == expected
    assert [r for r, _ in got[len(expected) :]] == [11]  # the number, with the single-value message
    assert str(err.value).startswith("9 of 14 rows refused; nothing was written:")
    assert len(store.read_table("observation")) == 0
    ok = frame.loc[[0, 1, 2, 12, 13]]
    assert store.record_observations(ok, user="ivan").n_inserted == 5
    visits = store.read_table("visit").set_index(["subject_id", "visit_code"])["visit_date"]
    assert str(visits.loc[("S001", "W8")]) == "2024-03-15"
