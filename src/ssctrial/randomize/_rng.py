"""Random streams for randomisation that stay reproducible across numpy versions.

An allocation list must be regenerable from its seed years later, for audit. numpy promises
that the raw output of a bit generator (PCG64) and the seeding of :class:`numpy.random.SeedSequence`
do not change between versions, but not the output of :class:`numpy.random.Generator` methods
(``integers``, ``permutation``, ...), whose algorithms may be improved (NEP 19). So randomisation
draws only raw 64-bit words from PCG64 and turns them into bounded integers, uniforms and
shuffles with the small, fixed algorithms below.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from ssctrial.exceptions import InputError

T = TypeVar("T")

_MASK64 = (1 << 64) - 1
SEED_BITS = 128


def new_seed() -> int:
    """Return a fresh secret seed of 128 bits from the operating system's CSPRNG."""
    return secrets.randbits(SEED_BITS)


def check_seed(seed: object) -> int:
    """Validate a seed: a non-negative integer (a decimal string is accepted)."""
    if isinstance(seed, bool):
        msg = f"seed: {seed!r} is not allowed; give a non-negative integer"
        raise InputError(msg)
    if isinstance(seed, str):
        text = seed.strip()
        if not text.isdigit():
            msg = f"seed: {seed!r} is not a non-negative decimal integer"
            raise InputError(msg)
        return int(text)
    if isinstance(seed, int | np.integer):
        if int(seed) < 0:
            msg = f"seed: {seed!r} is negative; give a non-negative integer"
            raise InputError(msg)
        return int(seed)
    msg = f"seed: {seed!r} (type {type(seed).__name__}) is not a non-negative integer"
    raise InputError(msg)


def key_words(text: str) -> tuple[int, ...]:
    """Turn a text key (a stratum key) into four 32-bit words via SHA-256, for ``spawn_key``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class Stream:
    """A reproducible random stream keyed by a seed and a tuple of integers.

    Parameters
    ----------
    seed
        The study's secret seed (non-negative integer).
    key
        Integers that select an independent sub-stream (stratum hash, assignment index).
    """

    def __init__(self, seed: int, key: Sequence[int] = ()) -> None:
        sequence = np.random.SeedSequence(check_seed(seed), spawn_key=tuple(int(k) for k in key))
        self._bits = np.random.PCG64(sequence)

    def raw(self) -> int:
        """Return the next raw unsigned 64-bit word."""
        return int(self._bits.random_raw())

    def below(self, n: int) -> int:
        """Return an unbiased integer in ``[0, n)`` by rejection sampling of 64-bit words."""
        if n <= 0:
            msg = f"n: {n} must be positive"
            raise InputError(msg)
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            word = self.raw()
            if word < limit:
                return word % n

    def uniform(self) -> float:
        """Return a uniform float in ``[0, 1)`` from the top 53 bits of one word."""
        return (self.raw() >> 11) * (1.0 / (1 << 53))

    def shuffled(self, items: Sequence[T]) -> list[T]:
        """Return a shuffled copy of ``items`` (Fisher–Yates, Durstenfeld's form)."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out

    def choice_weighted(self, weights: Sequence[float]) -> int:
        """Return index ``i`` with probability ``weights[i] / sum(weights)``."""
        total = float(sum(weights))
        u = self.uniform() * total
        acc = 0.0
        for i, w in enumerate(weights):
            acc += w
            if u < acc:
                return i
        # Rounding can leave u == total; give it to the last index with positive weight.
        return max(i for i, w in enumerate(weights) if w > 0)
