"""Pocock–Simon minimisation: marginal-imbalance allocation with a random element."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Literal

import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.randomize._blocks import check_arms, check_ratio
from ssctrial.randomize._rng import Stream, check_seed

__all__ = ["Minimisation", "minimise"]


def _check_factors(factors: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(factors, Mapping):
        msg = f"factors: expected a mapping of factor code to its levels, got {type(factors).__name__}"
        raise InputError(msg)
    out: dict[str, tuple[str, ...]] = {}
    for code, levels in factors.items():
        if not isinstance(code, str) or not code:
            msg = f"factors: factor code {code!r} must be a non-empty string"
            raise InputError(msg)
        if isinstance(levels, str) or not isinstance(levels, Sequence) or len(levels) == 0:
            msg = f"factors[{code!r}]: levels {levels!r} must be a non-empty list of strings"
            raise InputError(msg)
        levels_t = tuple(str(v) for v in levels)
        if len(set(levels_t)) != len(levels_t):
            msg = f"factors[{code!r}]: levels {list(levels_t)} contain duplicates"
            raise InputError(msg)
        out[code] = levels_t
    return out


Imbalance = Literal["range", "variance"]
_IMBALANCES = ("range", "variance")
#: Sub-stream namespace of minimisation draws ("MIN" in ASCII), so they never meet the block streams.
_NAMESPACE = 0x4D494E


class Minimisation:
    """Allocate subjects one at a time by Pocock–Simon minimisation.

    Parameters
    ----------
    arms
        Arm codes.
    factors
        Factor code -> allowed levels, in design order (may be empty: then the method balances
        the overall arm totals).
    seed
        Non-negative integer seed; assignments are a deterministic function of the seed and
        the order and factor levels of arrivals.
    ratio
        Allocation ratio, one positive integer per arm (default: equal).
    p_preferred
        Probability of giving the arm that minimises imbalance (Pocock & Simon's ``p``), in
        ``[1/len(arms), 1]``. ``1`` makes the method deterministic apart from ties;
        ``1/len(arms)`` is simple randomisation (equal ratio).
    imbalance
        ``"range"`` (max - min of the ratio-scaled counts) or ``"variance"`` (their population
        variance) within each factor level.
    weights
        Weight of each factor in the total imbalance (default 1 each).

    Attributes
    ----------
    n_assigned_
        Number of subjects allocated or recorded so far.
    assignments_
        List of ``(levels, arm)`` in arrival order.

    Notes
    -----
    For a new subject with level ``l_f`` of each factor ``f``, and each candidate arm ``a``,
    let ``x_j = n_{f,l_f,j} / r_j`` be the ratio-scaled count of arm ``j`` at that level after
    hypothetically adding the subject to ``a``. The imbalance ``G_a = sum_f w_f d(x)`` with
    ``d`` the range or variance (Pocock & Simon, Biometrics 1975;31:103-115). Arms with the
    smallest ``G`` share probability ``p_preferred``; the others share ``1 - p_preferred``
    equally. When every arm ties the subject is allocated with probability proportional to
    the ratio. Scores are computed in exact rational arithmetic so ties are exact.

    The ``k``-th arrival (0-based) draws one uniform number from its own PCG64 stream
    ``SeedSequence(seed, spawn_key=(0x4D494E, k))``, so replaying the arrivals regenerates the
    allocations exactly (see :meth:`record` and :func:`ssctrial.randomize.reproduce_allocation_list`).
    """

    def __init__(
        self,
        arms: Sequence[str],
        factors: Mapping[str, Sequence[str]],
        *,
        seed: int,
        ratio: Sequence[int] | None = None,
        p_preferred: float = 0.8,
        imbalance: Imbalance = "range",
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.arms = check_arms(arms)
        self.ratio = check_ratio(self.arms, ratio)
        self.factors = _check_factors(factors)
        self.seed = check_seed(seed)
        if isinstance(p_preferred, bool) or not isinstance(p_preferred, int | float):
            msg = f"p_preferred: {p_preferred!r} is not a number"
            raise InputError(msg)
        low = 1.0 / len(self.arms)
        if not (low <= float(p_preferred) <= 1.0):
            msg = f"p_preferred: {p_preferred!r} is not allowed; it must be in [{low:.4g}, 1]"
            raise InputError(msg)
        self.p_preferred = float(p_preferred)
        if imbalance not in _IMBALANCES:
            msg = f"imbalance: {imbalance!r} is not one of {', '.join(_IMBALANCES)}"
            raise InputError(msg)
        self.imbalance: Imbalance = imbalance
        weights = {} if weights is None else dict(weights)
        unknown = sorted(set(weights) - set(self.factors))
        if unknown:
            known = ", ".join(self.factors) or "(none)"
            msg = f"weights: factor {unknown[0]!r} is not one of the factors {known}"
            raise InputError(msg)
        for code, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, int | float) or not w > 0:
                msg = f"weights[{code!r}]: {w!r} is not allowed; weights must be positive numbers"
                raise InputError(msg)
        self.weights = {code: Fraction(weights.get(code, 1)) for code in self.factors}
        self._counts: dict[tuple[str, str], list[int]] = {
            (code, level): [0] * len(self.arms) for code, levels in self.factors.items() for level in levels
        }
        self._total = [0] * len(self.arms)
        self.assignments_: list[tuple[dict[str, str], str]] = []

    @property
    def n_assigned_(self) -> int:
        """Number of subjects allocated or recorded so far."""
        return len(self.assignments_)

    def _check_levels(self, levels: Mapping[str, object]) -> dict[str, str]:
        if not isinstance(levels, Mapping):
            msg = f"levels: expected a mapping of factor code to level, got {type(levels).__name__}"
            raise InputError(msg)
        out = {}
        for code, allowed in self.factors.items():
            if code not in levels or levels[code] is None:
                msg = f"strata: factor {code!r} is missing; allowed levels: {', '.join(allowed)}"
                raise InputError(msg)
            value = str(levels[code])
            if value not in allowed:
                msg = f"strata[{code!r}]: level {value!r} is not one of {', '.join(allowed)}"
                raise InputError(msg)
            out[code] = value
        return out

    def _spread(self, counts: Sequence[int], plus: int) -> Fraction:
        scaled = [
            Fraction(c + (1 if j == plus else 0), r)
            for j, (c, r) in enumerate(zip(counts, self.ratio, strict=True))
        ]
        if self.imbalance == "range":
            return max(scaled) - min(scaled)
        mean = sum(scaled, Fraction(0)) / len(scaled)
        return sum(((x - mean) ** 2 for x in scaled), Fraction(0)) / len(scaled)

    def scores(self, levels: Mapping[str, object]) -> dict[str, Fraction]:
        """Return the total imbalance ``G_a`` the subject would cause in each arm ``a``."""
        checked = self._check_levels(levels)
        out = {}
        for a, arm in enumerate(self.arms):
            if self.factors:
                g = sum(
                    (
                        self.weights[code] * self._spread(self._counts[(code, lvl)], a)
                        for code, lvl in checked.items()
                    ),
                    Fraction(0),
                )
            else:
                g = self._spread(self._total, a)
            out[arm] = g
        return out

    def probabilities(self, levels: Mapping[str, object]) -> dict[str, float]:
        """Return the probability of each arm for a subject with these levels, given the past."""
        scores = self.scores(levels)
        best = min(scores.values())
        preferred = [arm for arm in self.arms if scores[arm] == best]
        if len(preferred) == len(self.arms):
            total = sum(self.ratio)
            return {arm: r / total for arm, r in zip(self.arms, self.ratio, strict=True)}
        others = len(self.arms) - len(preferred)
        return {
            arm: self.p_preferred / len(preferred) if arm in preferred else (1 - self.p_preferred) / others
            for arm in self.arms
        }

    def assign(self, levels: Mapping[str, object]) -> str:
        """Allocate the next subject and return its arm.

        Parameters
        ----------
        levels
            The subject's level of each factor.

        Returns
        -------
        str
            The arm code.
        """
        probs = self.probabilities(levels)
        stream = Stream(self.seed, (_NAMESPACE, self.n_assigned_))
        arm = self.arms[stream.choice_weighted([probs[a] for a in self.arms])]
        self.record(levels, arm)
        return arm

    def record(self, levels: Mapping[str, object], arm: str) -> None:
        """Add a past allocation without drawing (to rebuild the state from stored allocations)."""
        checked = self._check_levels(levels)
        if arm not in self.arms:
            msg = f"arm: {arm!r} is not one of {', '.join(self.arms)}"
            raise InputError(msg)
        a = self.arms.index(arm)
        for code, lvl in checked.items():
            self._counts[(code, lvl)][a] += 1
        self._total[a] += 1
        self.assignments_.append((checked, arm))

    @property
    def counts_(self) -> pd.DataFrame:
        """Counts per factor level and arm: columns ``factor``, ``level``, ``arm``, ``n``."""
        rows = [
            (code, lvl, arm, counts[j])
            for (code, lvl), counts in self._counts.items()
            for j, arm in enumerate(self.arms)
        ]
        rows += [("ALL", "ALL", arm, self._total[j]) for j, arm in enumerate(self.arms)]
        return pd.DataFrame(rows, columns=["factor", "level", "arm", "n"])


def minimise(
    data: pd.DataFrame,
    *,
    arms: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    seed: int,
    ratio: Sequence[int] | None = None,
    p_preferred: float = 0.8,
    imbalance: Imbalance = "range",
    weights: Mapping[str, float] | None = None,
    new_col: str = "arm",
) -> pd.DataFrame:
    """Allocate the subjects of ``data`` by minimisation, in row order (the order of arrival).

    Parameters
    ----------
    data
        One row per subject with one column per factor (named by factor code).
    arms, factors, seed, ratio, p_preferred, imbalance, weights
        As in :class:`Minimisation`.
    new_col
        Name of the new arm column.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with the column ``new_col`` holding each subject's arm.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["F", "M", "F", "F"]})
    >>> minimise(df, arms=["A", "B"], factors={"sex": ["F", "M"]}, seed=7)["arm"].tolist()  # doctest: +SKIP
    """
    if not isinstance(data, pd.DataFrame):
        msg = f"data: expected a pandas DataFrame, got {type(data).__name__}"
        raise InputError(msg)
    missing = [code for code in factors if code not in data.columns]
    if missing:
        msg = f"data: factor column {missing[0]!r} is missing; columns are {list(data.columns)}"
        raise InputError(msg)
    method = Minimisation(
        arms, factors, seed=seed, ratio=ratio, p_preferred=p_preferred, imbalance=imbalance, weights=weights
    )
    codes = list(factors)
    arms_out = [
        method.assign(dict(zip(codes, row, strict=True))) for row in data[codes].itertuples(index=False)
    ]
    out = data.copy()
    out[new_col] = arms_out
    return out
