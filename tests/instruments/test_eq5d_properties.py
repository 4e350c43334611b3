"""Property-based tests of the EQ-5D index (hypothesis): bounds, monotonicity, one-record == DataFrame."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssctrial.instruments import EQ5D_DIMENSIONS, compute_eq5d_index, eq5d_index, list_eq5d_value_sets

pytestmark = pytest.mark.slow

SETS = list_eq5d_value_sets()
LEVELS = dict(zip(SETS["value_set"], SETS["version"].map({"EQ-5D-5L": 5, "EQ-5D-3L": 3}), strict=True))


@st.composite
def set_and_state(draw):
    vs = draw(st.sampled_from(sorted(LEVELS)))
    state = draw(st.lists(st.integers(1, LEVELS[vs]), min_size=5, max_size=5))
    return vs, state


@given(set_and_state())
def test_index_at_most_one_and_one_only_for_full_health(case):
    vs, state = case
    value = eq5d_index(state, vs)
    assert value <= 1.0
    assert (value == 1.0) == (state == [1, 1, 1, 1, 1])


@given(set_and_state(), st.integers(0, 4))
def test_index_non_increasing_in_each_level(case, dim):
    vs, state = case
    if state[dim] == LEVELS[vs]:
        return
    worse = list(state)
    worse[dim] += 1
    assert eq5d_index(worse, vs) <= eq5d_index(state, vs)


@pytest.mark.parametrize("value_set", sorted(LEVELS))
def test_monotone_over_every_state_exhaustively(value_set):
    levels = LEVELS[value_set]
    states = np.array(list(itertools.product(range(1, levels + 1), repeat=5)))
    frame = pd.DataFrame(states, columns=list(EQ5D_DIMENSIONS))
    index = compute_eq5d_index(frame, value_set=value_set).to_numpy()
    assert index.max() == 1.0 and (index <= 1.0).all()
    lookup = {tuple(s): v for s, v in zip(states.tolist(), index, strict=True)}
    for s, v in lookup.items():
        for d in range(5):
            if s[d] < levels:
                worse = list(s)
                worse[d] += 1
                assert lookup[tuple(worse)] <= v, (s, d)


@given(
    st.sampled_from(sorted(LEVELS)),
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=5, max_size=5), min_size=1, max_size=30
    ),
)
def test_dataframe_equals_single_record(vs, rows):
    frame = pd.DataFrame(rows, columns=list(EQ5D_DIMENSIONS), dtype=object)
    got = compute_eq5d_index(frame, value_set=vs).to_numpy()
    single = np.array([eq5d_index(r, vs) for r in rows])
    np.testing.assert_array_equal(got, single)  # identical, NaN where a dimension is missing


@given(st.lists(st.text(alphabet="12345", min_size=5, max_size=5), min_size=2, max_size=40), st.randoms())
def test_row_order_invariance(states, rnd):
    frame = pd.DataFrame({"state": states})
    perm = list(range(len(states)))
    rnd.shuffle(perm)
    a = compute_eq5d_index(frame, state_col="state")
    b = compute_eq5d_index(frame.iloc[perm], state_col="state")
    pd.testing.assert_series_equal(a.loc[b.index], b)
