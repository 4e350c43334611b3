"""Stratified permuted-block allocation lists with randomly varying block sizes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.randomize._rng import Stream, check_seed, key_words

__all__ = ["check_ratio", "permuted_block_list"]

#: Columns of an allocation list, in order.
LIST_COLUMNS = ["stratum", "position", "block", "block_size", "arm"]


def check_arms(arms: Sequence[str]) -> tuple[str, ...]:
    """Validate arm codes: a list of at least two distinct non-empty strings."""
    if isinstance(arms, str) or not isinstance(arms, Sequence):
        msg = f"arms: expected a list of arm codes, got {arms!r}"
        raise InputError(msg)
    out = tuple(arms)
    if len(out) < 2:
        msg = f"arms: {list(out)} has {len(out)} arm(s); randomisation needs at least 2"
        raise InputError(msg)
    bad = [a for a in out if not isinstance(a, str) or not a]
    if bad:
        msg = f"arms: arm code {bad[0]!r} is not a non-empty string"
        raise InputError(msg)
    if len(set(out)) != len(out):
        msg = f"arms: {list(out)} contains duplicate codes"
        raise InputError(msg)
    return out


def check_ratio(arms: Sequence[str], ratio: Sequence[int] | None = None) -> tuple[int, ...]:
    """Validate an allocation ratio and reduce it to lowest terms.

    Parameters
    ----------
    arms
        Arm codes.
    ratio
        One positive integer per arm (``None``: equal allocation).

    Returns
    -------
    tuple of int
        The ratio divided by the greatest common divisor of its terms (2:2:2 becomes 1:1:1).
    """
    arms_t = check_arms(arms)
    if ratio is None:
        return (1,) * len(arms_t)
    ratio_t = tuple(ratio)
    if len(ratio_t) != len(arms_t):
        msg = (
            f"ratio: {list(ratio_t)} has {len(ratio_t)} terms but there are {len(arms_t)} arms {list(arms_t)}"
        )
        raise InputError(msg)
    for arm, r in zip(arms_t, ratio_t, strict=True):
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            msg = f"ratio[{arm!r}]: {r!r} is not allowed; each term must be a positive integer"
            raise InputError(msg)
    g = math.gcd(*ratio_t)
    return tuple(r // g for r in ratio_t)


def check_block_sizes(block_sizes: Sequence[int] | None, ratio: Sequence[int]) -> tuple[int, ...]:
    """Validate block sizes: positive multiples of the ratio's sum (default: 1 and 2 times it)."""
    total = sum(ratio)
    if block_sizes is None:
        return (total, 2 * total)
    if isinstance(block_sizes, int | str) or not isinstance(block_sizes, Sequence) or not block_sizes:
        msg = f"block_sizes: {block_sizes!r} is not a non-empty list of integers"
        raise InputError(msg)
    sizes = tuple(block_sizes)
    for b in sizes:
        if isinstance(b, bool) or not isinstance(b, int) or b < total or b % total:
            ratio_text = ":".join(str(r) for r in ratio)
            msg = (
                f"block_sizes: {b!r} is not allowed; each block size must be a positive multiple of "
                f"{total}, the sum of the allocation ratio {ratio_text}"
            )
            raise InputError(msg)
    if len(set(sizes)) != len(sizes):
        msg = f"block_sizes: {list(sizes)} contains duplicates"
        raise InputError(msg)
    return sizes


def permuted_block_list(
    arms: Sequence[str],
    *,
    n_per_stratum: int,
    seed: int,
    ratio: Sequence[int] | None = None,
    block_sizes: Sequence[int] | None = None,
    strata: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Create a stratified permuted-block allocation list with randomly varying block sizes.

    Parameters
    ----------
    arms
        Arm codes, e.g. ``["BARI4", "BARI2", "CTRL"]``.
    n_per_stratum
        Minimum number of slots in each stratum; each stratum's list ends with a complete block,
        so it may be longer.
    seed
        Non-negative integer seed. The same seed, arms, ratio, block sizes and stratum keys give
        the same list on any machine and numpy version.
    ratio
        Allocation ratio, one positive integer per arm (default: equal). Reduced to lowest terms.
    block_sizes
        Allowed block sizes, each a multiple of the ratio's sum (default: 1 and 2 times the sum).
        Each block's size is drawn uniformly from these.
    strata
        Stratum keys (as made by :meth:`ssctrial.design.StudyDesign.stratum_keys`, e.g.
        ``"SUBTYPE=diffuse|DURATION=early"``); default one stratum with the empty key ``""``
        (an unstratified study).

    Returns
    -------
    pandas.DataFrame
        One row per slot, sorted by stratum (in the given order) and position:

        - ``stratum``: stratum key;
        - ``position``: 1-based position within the stratum (the order of use);
        - ``block``: 1-based block number within the stratum;
        - ``block_size``: size of that block;
        - ``arm``: the arm code of the slot.

    Notes
    -----
    Each block of size ``b = k * sum(ratio)`` holds exactly ``k * ratio[a]`` slots of arm ``a``,
    in an order drawn uniformly at random (Fisher–Yates shuffle). Block sizes vary at random so
    that the end of a block cannot be predicted from past allocations (Schulz & Grimes, Lancet
    2002;359:614-618). Hence after every complete block the stratum is exactly balanced, and at
    any point ``|n_i / r_i - n_j / r_j| <= max(block_sizes) / sum(ratio)`` for any arms ``i, j``.

    Each stratum draws from its own PCG64 stream, seeded by ``SeedSequence(seed,
    spawn_key=sha256(stratum))``, so a stratum's list does not depend on the other strata.

    Examples
    --------
    >>> lst = permuted_block_list(["A", "B"], n_per_stratum=6, seed=1, block_sizes=[2, 4])
    >>> bool((lst.groupby("block")["arm"].apply(lambda a: (a == "A").sum() * 2 == len(a))).all())
    True
    """
    arms_t = check_arms(arms)
    ratio_t = check_ratio(arms_t, ratio)
    sizes = check_block_sizes(block_sizes, ratio_t)
    seed_i = check_seed(seed)
    if isinstance(n_per_stratum, bool) or not isinstance(n_per_stratum, int) or n_per_stratum < 1:
        msg = f"n_per_stratum: {n_per_stratum!r} is not allowed; give a positive integer"
        raise InputError(msg)
    keys = [""] if strata is None else list(strata)
    if isinstance(strata, str) or not keys or any(not isinstance(k, str) for k in keys):
        msg = f"strata: {strata!r} must be a non-empty list of stratum keys (strings)"
        raise InputError(msg)
    if len(set(keys)) != len(keys):
        msg = f"strata: {keys!r} contains duplicate keys"
        raise InputError(msg)

    total = sum(ratio_t)
    rows: list[tuple[str, int, int, int, str]] = []
    for key in keys:
        stream = Stream(seed_i, key_words(key))
        position = 0
        block = 0
        while position < n_per_stratum:
            size = sizes[stream.below(len(sizes))]
            k = size // total
            content = [a for a, r in zip(arms_t, ratio_t, strict=True) for _ in range(k * r)]
            block += 1
            for arm in stream.shuffled(content):
                position += 1
                rows.append((key, position, block, size, arm))
    return pd.DataFrame(rows, columns=LIST_COLUMNS)
