"""Permuted-block lists: balance bounds for any arrival sequence, reproducibility, input checks."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssctrial.exceptions import InputError
from ssctrial.randomize import check_ratio, permuted_block_list

ARMS = ["BARI4", "BARI2", "CTRL"]


@st.composite
def _designs(draw):
    n_arms = draw(st.integers(2, 4))
    arms = [f"A{i}" for i in range(n_arms)]
    ratio = draw(st.lists(st.integers(1, 3), min_size=n_arms, max_size=n_arms))
    total = sum(check_ratio(arms, ratio))
    multiples = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True))
    n_strata = draw(st.integers(1, 4))
    strata = [f"S={i}" for i in range(n_strata)]
    arrivals = draw(st.lists(st.sampled_from(strata), min_size=1, max_size=80))
    seed = draw(st.integers(0, 2**128 - 1))
    return arms, ratio, [m * total for m in multiples], strata, arrivals, seed


@pytest.mark.slow
@given(_designs())
def test_balance_bound_holds_for_any_sequence_of_strata(case):
    arms, ratio, block_sizes, strata, arrivals, seed = case
    n_per_stratum = max(Counter(arrivals).values())
    lst = permuted_block_list(
        arms, n_per_stratum=n_per_stratum, seed=seed, ratio=ratio, block_sizes=block_sizes, strata=strata
    )
    r = dict(zip(arms, check_ratio(arms, ratio), strict=True))
    total = sum(r.values())
    bound = Fraction(max(block_sizes), total)
    slots = {key: grp.reset_index(drop=True) for key, grp in lst.groupby("stratum", sort=False)}
    used = Counter()
    counts = {key: Counter() for key in strata}
    for key in arrivals:  # subjects arrive in any order of strata and take their stratum's next slot
        row = slots[key].iloc[used[key]]
        used[key] += 1
        counts[key][row["arm"]] += 1
        scaled = [Fraction(counts[key][a], r[a]) for a in arms]
        # the documented bound: |n_i/r_i - n_j/r_j| <= max block size / ratio sum, at every point
        assert max(scaled) - min(scaled) <= bound
        block_end = slots[key].loc[slots[key]["block"] == row["block"], "position"].max()
        if row["position"] == block_end:  # a block has just been completed: exact balance
            assert len(set(scaled)) == 1
    # overall (across strata) the imbalance is at most the sum of the strata's bounds
    overall = Counter()
    for c in counts.values():
        overall.update(c)
    scaled = [Fraction(overall[a], r[a]) for a in arms]
    assert max(scaled) - min(scaled) <= bound * len(strata)


@pytest.mark.slow
@given(_designs())
def test_every_block_holds_the_ratio_and_a_valid_size(case):
    arms, ratio, block_sizes, strata, arrivals, seed = case
    lst = permuted_block_list(
        arms, n_per_stratum=len(arrivals), seed=seed, ratio=ratio, block_sizes=block_sizes, strata=strata
    )
    reduced = check_ratio(arms, ratio)
    for _key, grp in lst.groupby(["stratum", "block"]):
        size = grp["block_size"].iloc[0]
        assert size in block_sizes
        assert len(grp) == size
        k = size // sum(reduced)
        assert Counter(grp["arm"]) == {a: k * q for a, q in zip(arms, reduced, strict=True)}
    for _key, grp in lst.groupby("stratum"):
        assert grp["position"].tolist() == list(range(1, len(grp) + 1))
        assert len(grp) >= len(arrivals)
        assert len(grp) - max(block_sizes) < len(arrivals)  # stops at the first complete block past n


@pytest.mark.slow
@given(_designs())
def test_same_seed_same_list_and_strata_are_independent(case):
    arms, ratio, block_sizes, strata, _arrivals, seed = case
    kwargs = {"n_per_stratum": 20, "ratio": ratio, "block_sizes": block_sizes}
    a = permuted_block_list(arms, seed=seed, strata=strata, **kwargs)
    b = permuted_block_list(arms, seed=seed, strata=strata, **kwargs)
    pd.testing.assert_frame_equal(a, b)
    # a stratum's list depends only on the seed and its key, not on which other strata exist
    alone = permuted_block_list(arms, seed=seed, strata=[strata[-1]], **kwargs)
    pd.testing.assert_frame_equal(a[a["stratum"] == strata[-1]].reset_index(drop=True), alone)


def test_different_seeds_give_different_lists():
    a = permuted_block_list(ARMS, n_per_stratum=60, seed=1, block_sizes=[3, 6])
    b = permuted_block_list(ARMS, n_per_stratum=60, seed=2, block_sizes=[3, 6])
    assert a["arm"].tolist() != b["arm"].tolist()


def test_block_sizes_vary_and_are_used_about_equally():
    lst = permuted_block_list(ARMS, n_per_stratum=3000, seed=11, block_sizes=[3, 6, 9])
    sizes = lst.drop_duplicates("block")["block_size"].value_counts()
    assert set(sizes.index) == {3, 6, 9}
    from scipy import stats

    assert stats.chisquare(sizes.to_numpy()).pvalue > 1e-3


def test_unequal_ratio_and_default_block_sizes():
    lst = permuted_block_list(["A", "B"], n_per_stratum=30, seed=3, ratio=[2, 1])
    assert set(lst["block_size"]) <= {3, 6}
    assert Counter(lst["arm"])["A"] == 2 * Counter(lst["arm"])["B"]
    # 2:2:2 is reduced to 1:1:1, so blocks of 3 are allowed
    assert check_ratio(ARMS, [2, 2, 2]) == (1, 1, 1)
    assert set(
        permuted_block_list(ARMS, n_per_stratum=3, seed=1, ratio=[2, 2, 2], block_sizes=[3])["block_size"]
    ) == {3}


def test_columns_and_default_stratum():
    lst = permuted_block_list(ARMS, n_per_stratum=5, seed=0, block_sizes=[3])
    assert list(lst.columns) == ["stratum", "position", "block", "block_size", "arm"]
    assert set(lst["stratum"]) == {""}
    assert len(lst) == 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"block_sizes": [4]},
            r"block_sizes: 4 is not allowed; each block size must be a positive multiple of 3, the sum",
        ),
        ({"block_sizes": []}, r"block_sizes: \[\] is not a non-empty list"),
        ({"block_sizes": [3, 3]}, r"block_sizes: \[3, 3\] contains duplicates"),
        ({"ratio": [1, 1]}, r"ratio: \[1, 1\] has 2 terms but there are 3 arms"),
        ({"ratio": [1, 0, 1]}, r"ratio\['BARI2'\]: 0 is not allowed"),
        ({"n_per_stratum": 0}, r"n_per_stratum: 0 is not allowed"),
        ({"strata": ["a", "a"]}, r"strata: \['a', 'a'\] contains duplicate keys"),
        ({"strata": "a"}, r"strata: 'a' must be a non-empty list"),
        ({"seed": -3}, r"seed: -3 is negative"),
    ],
    ids=[
        "size-not-multiple",
        "no-sizes",
        "dup-sizes",
        "ratio-len",
        "ratio-zero",
        "n",
        "dup-strata",
        "strata-str",
        "seed",
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs, match):
    args = {"n_per_stratum": 6, "seed": 1, "block_sizes": [3, 6]} | kwargs
    with pytest.raises(InputError, match=match):
        permuted_block_list(ARMS, **args)


@pytest.mark.parametrize(
    ("arms", "match"),
    [
        (["A"], "randomisation needs at least 2"),
        (["A", "A"], "duplicate"),
        ("AB", "expected a list"),
        (["A", ""], "not a non-empty string"),
    ],
)
def test_bad_arms_are_refused(arms, match):
    with pytest.raises(InputError, match=match):
        permuted_block_list(arms, n_per_stratum=2, seed=1)
