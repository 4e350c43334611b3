"""Shared row-level validation: every offending row reported, typed record frames, CSV-style text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import MRSS_SITES, Item, ItemValueError, assert_items
from ssctrial.instruments._validate import prepare_input, validate_items

ITEMS = (
    Item("n", "A number", "number", min=0, max=10, unit="mm"),
    Item("i", "An integer", "integer", min=0, max=3),
    Item("b", "A flag", "boolean"),
    Item("c", "A choice", "categorical", allowed=(0, 1, "NE")),
)


def test_values_are_converted():
    frame = pd.DataFrame(
        {
            "n": ["1.5", " 2 ", "", None],
            "i": [0, 3, np.nan, 2],
            "b": ["yes", "False", "1", None],
            "c": ["NE", 1, "0", "1.0"],
        }
    )
    out = validate_items(frame, ITEMS, instrument="T")
    np.testing.assert_array_equal(out["n"], [1.5, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(out["i"], [0, 3, np.nan, 2])
    np.testing.assert_array_equal(out["b"], [1, 0, 1, np.nan])
    np.testing.assert_array_equal(out["c"], [2, 1, 0, 1])


def test_every_bad_row_of_every_item_in_one_error():
    frame = pd.DataFrame(
        {
            "n": [11, 5, -1, "abc"],
            "i": [0, 1.5, 2, 4],
            "b": [True, "maybe", False, 2],
            "c": ["NE", "ne", 2, 0],
        },
        index=["a", "b", "c", "d"],
    )
    with pytest.raises(ItemValueError) as info:
        validate_items(frame, ITEMS, instrument="T")
    errors = info.value.errors
    assert list(zip(errors["item"], errors["row"], strict=True)) == [
        ("n", "a"),
        ("n", "c"),
        ("n", "d"),
        ("i", "b"),
        ("i", "d"),
        ("b", "b"),
        ("b", "d"),
        ("c", "b"),
        ("c", "c"),
    ]
    message = str(info.value)
    assert message.splitlines()[0] == "T: 9 invalid value(s) in 4 row(s):"
    assert (
        "T item 'n' (A number): 3 value(s) not allowed (expected a number from 0 to 10 mm) "
        "in row a: 11; row c: -1; row d: 'abc'" in message
    )
    assert (
        "T item 'c' (A choice): 2 value(s) not allowed (expected one of 0, 1, 'NE') in row b: 'ne'; row c: 2"
        in message
    )


def test_inf_and_bool_are_not_numbers():
    frame = pd.DataFrame({"n": [np.inf, 1.0], "i": [1, 1], "b": [True, False], "c": [0, 0]})
    with pytest.raises(InputError, match="row 0: inf"):
        validate_items(frame, ITEMS, instrument="T")
    with pytest.raises(InputError, match=r"T item 'i' \(An integer\): value True is not allowed"):
        frame, single = prepare_input({"i": True}, ITEMS, instrument="T")
        validate_items(frame, ITEMS, instrument="T", single=single)


def test_record_is_typed_and_unknown_keys_rejected():
    frame, single = prepare_input({"n": 1.25, "b": True}, ITEMS, instrument="T")
    assert single and len(frame) == 1
    assert frame["n"].dtype == float and frame["b"].dtype == bool and frame["i"].isna().all()
    with pytest.raises(InputError, match=r"T: unknown item\(s\) 'x'; allowed items are: b, c, i, n"):
        prepare_input({"x": 1}, ITEMS, instrument="T")
    with pytest.raises(
        InputError, match="T: expected a mapping of item code to value or a DataFrame, got list"
    ):
        prepare_input([1, 2], ITEMS, instrument="T")


def test_assert_items_for_any_registered_instrument():
    good = pd.DataFrame([dict.fromkeys(MRSS_SITES, 0)] * 2)
    assert assert_items(good, "MRSS") is None
    bad = good.astype(object)
    bad.loc[0, "face"] = 7
    bad.loc[1, "face"] = 8
    with pytest.raises(ItemValueError, match="row 0: 7; row 1: 8"):
        assert_items(bad, "MRSS")
    with pytest.raises(InputError, match="MRSS item 'face' .*value 7 is not allowed"):
        assert_items({"face": 7}, "mrss")


def test_object_column_numbers_exact_and_text_parsed_without_loss():
    frame = pd.DataFrame(
        {
            "n": pd.Series([2.5, " 7.123456789012345 ", "", None, "1e0"], dtype=object),
            "i": 0,
            "b": True,
            "c": 0,
        }
    )
    out = validate_items(frame, ITEMS, instrument="T")
    np.testing.assert_array_equal(out["n"], [2.5, 7.123456789012345, np.nan, np.nan, 1.0])
