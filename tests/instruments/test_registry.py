"""The registry: the clinical instruments are registered completely, and the docs table lists all."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from ssctrial.exceptions import InputError, NotFoundError
from ssctrial.instruments import Instrument, Item, get_instrument, list_instruments

CLINICAL = ("MRSS", "HAQ_DI", "GLOBAL", "JOINTS", "DU", "EUSTAR_AI", "ACR_CRISS", "RCRISS")
DOCS = Path(__file__).parents[2] / "docs" / "instruments.md"


@pytest.mark.parametrize("code", CLINICAL)
def test_clinical_instrument_is_complete(code):
    inst = get_instrument(code)
    assert isinstance(inst, Instrument) and inst.code == code
    assert inst.items and all(isinstance(i, Item) for i in inst.items)
    assert len({i.code for i in inst.items}) == len(inst.items), "item codes must be unique"
    assert inst.citation and inst.missing_rule and inst.score_range
    # options are keyword arguments of the scorer, with the same defaults
    params = inspect.signature(inst.scorer).parameters
    for name, default in inst.options.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY and params[name].default == default
    assert inst.per_visit is (code not in ("ACR_CRISS", "RCRISS"))


def test_paramcd_of_design_are_produced():
    produced = {v for inst in list_instruments() for v in inst.outputs.values() if v}
    assert {
        "MRSS",
        "CRISS",
        "RCRISS",
        "HAQDI",
        "PTGLOBAL",
        "MDGLOBAL",
        "TJC28",
        "SJC28",
        "DUCNT",
        "EUSTARAI",
    } <= produced


def test_lookup_is_case_and_dash_insensitive():
    assert get_instrument("acr-criss") is get_instrument("ACR_CRISS")
    with pytest.raises(
        NotFoundError, match="unknown instrument 'MEDSGER'; registered instruments are: ACR_CRISS"
    ):
        get_instrument("MEDSGER")
    with pytest.raises(NotFoundError, match="MRSS has no item 'neck'; its items are: face"):
        get_instrument("MRSS").item("neck")


def test_item_check_messages():
    inst = get_instrument("HAQ_DI")
    assert inst.check_item("device_cane", "yes") is True
    with pytest.raises(
        InputError,
        match=r"HAQ_DI item 'grip_1' \(Open car doors\): value 5 is not allowed; "
        r"expected an integer from 0 to 3",
    ):
        inst.check_item("grip_1", 5)


def test_docs_table_lists_every_registered_instrument():
    text = DOCS.read_text()
    table = [line for line in text.splitlines() if line.startswith("| `")]
    documented = {line.split("`")[1] for line in table}
    assert {inst.code for inst in list_instruments()} <= documented
