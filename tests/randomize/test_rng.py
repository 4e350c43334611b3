"""The random streams behind randomisation: stable, unbiased, reproducible."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from ssctrial.exceptions import InputError
from ssctrial.randomize._rng import SEED_BITS, Stream, check_seed, key_words, new_seed


def test_raw_words_are_pinned():
    # Regression guard for audit reproducibility: these are the first PCG64 words for
    # SeedSequence(12345, spawn_key=(1, 2)) as produced by numpy 2.4 on 2026-11-25. numpy
    # promises that BitGenerator streams and SeedSequence never change (NEP 19); if this test
    # fails, stored allocation lists could no longer be reproduced from their seeds.
    s = Stream(12345, (1, 2))
    assert [s.raw() for _ in range(3)] == [
        1815291046763935771,
        15553682901380088712,
        13356404918886679386,
    ]


def test_uniform_matches_numpy_generator_random():
    # numpy's Generator.random() maps a PCG64 word to (word >> 11) * 2**-53 too: an independent
    # implementation of the same map, so the two must agree exactly for the same seed.
    for seed in (0, 1, 2**100 + 7):
        ours = Stream(seed)
        ref = np.random.default_rng(seed)
        assert [ours.uniform() for _ in range(5)] == ref.random(5).tolist()


def test_keys_give_independent_streams():
    assert Stream(5, (1,)).raw() != Stream(5, (2,)).raw()
    assert Stream(5, key_words("A")).raw() != Stream(5, key_words("B")).raw()
    assert Stream(5, key_words("A")).raw() == Stream(5, key_words("A")).raw()


def test_below_is_in_range_and_uniform():
    s = Stream(2024)
    draws = [s.below(6) for _ in range(6000)]
    assert set(draws) == set(range(6))
    # chi-square goodness of fit to uniform; a fixed seed, so this is deterministic, and a
    # correct sampler passes it with probability 0.999 over seeds.
    chi = stats.chisquare(list(Counter(draws).values()))
    assert chi.pvalue > 1e-3


def test_shuffle_is_uniform_over_permutations():
    counts = Counter(tuple(Stream(seed).shuffled("ABC")) for seed in range(3000))
    assert set(counts) == set(itertools.permutations("ABC"))
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3


def test_choice_weighted_follows_weights():
    s = Stream(99)
    draws = Counter(s.choice_weighted([0.8, 0.1, 0.1]) for _ in range(5000))
    assert stats.binomtest(draws[0], 5000, 0.8).pvalue > 1e-3
    assert Stream(1).choice_weighted([0.0, 1.0]) == 1


def test_new_seed_is_large_and_fresh():
    seeds = {new_seed() for _ in range(5)}
    assert len(seeds) == 5
    assert all(0 <= s < 2**SEED_BITS for s in seeds)


@pytest.mark.parametrize(
    ("seed", "match"),
    [(-1, "negative"), ("12a", "not a non-negative decimal"), (1.5, "type float"), (True, "not allowed")],
    ids=["negative", "text", "float", "bool"],
)
def test_bad_seed_is_refused(seed, match):
    with pytest.raises(InputError, match=match):
        check_seed(seed)


def test_seed_as_decimal_string():
    assert check_seed(" 123 ") == 123
    assert check_seed(np.int64(4)) == 4
