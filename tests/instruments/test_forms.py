"""The DEMOG and ORGAN capture forms: item validation and pass-through reading."""

from __future__ import annotations

import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import get_instrument, read_form


def test_demog_items_validate_values():
    demog = get_instrument("DEMOG")
    assert demog.check_item("weight_kg", "61.5") == 61.5
    assert demog.check_item("subtype", "diffuse") == "diffuse"
    assert demog.check_item("bg_mycophenolate", "yes") is True
    expected = r"DEMOG item 'weight_kg' .*value '12' is not allowed; expected a number from 25 to 250 kg"
    with pytest.raises(InputError, match=expected):
        demog.check_item("weight_kg", "12")
    expected = r"DEMOG item 'autoantibody'.*expected one of 'anti_topoisomerase_I'"
    with pytest.raises(InputError, match=expected):
        demog.check_item("autoantibody", "ANA")


def test_organ_form_has_exactly_the_criss_step1_events():
    organ = {i.code for i in get_instrument("ORGAN").items}
    criss_step1 = {i.code for i in get_instrument("ACR_CRISS").items if i.type == "boolean"}
    assert organ == criss_step1 == {"renal_crisis", "fvc_decline", "lv_failure", "pah"}


def test_forms_are_read_not_scored():
    frame = pd.DataFrame({"weight_kg": [60.0], "subtype": ["limited"]})
    out = read_form(frame)
    pd.testing.assert_frame_equal(out, frame)
    assert out is not frame
    assert read_form({"renal_crisis": True}) == {"renal_crisis": True}
