"""A small linear-model design (sum-to-zero coding) with an emmeans-style reference grid.

Used by ANCOVA and the logistic/count models: formulas are column names joined by ``+``, ``:`` and
``*``. Categorical variables are coded with sum-to-zero contrasts (so Wald tests of a term are SAS /
``car::Anova(type = 3)`` Type III tests); LS means are invariant to the coding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import Formula

from ssctrial.exceptions import InputError
from ssctrial.stats._validate import assert_data_frame, group_levels


@dataclass
class Design:
    """A parsed formula: response, terms (tuples of variable names) and how each variable is coded."""

    response: str
    terms: list[tuple[str, ...]]
    factors: dict[str, list] = field(default_factory=dict)  # categorical variable -> levels
    numerics: dict[str, float] = field(default_factory=dict)  # numeric variable -> mean in the data
    treatment: dict[str, object] = field(default_factory=dict)  # factor -> reference level (dummy coding)
    columns: list[str] = field(default_factory=list)
    term_of_column: list[str] = field(default_factory=list)

    @property
    def variables(self) -> list[str]:
        """Every variable used on the right-hand side."""
        return list(dict.fromkeys(v for t in self.terms for v in t))

    def _coding(self, var: str, values: pd.Series) -> tuple[np.ndarray, list[str]]:
        if var in self.numerics:
            return values.to_numpy(float)[:, None], [var]
        levels = self.factors[var]
        lookup = {lev: i for i, lev in enumerate(levels)}
        codes = np.fromiter((lookup.get(v, -1) for v in values.to_numpy()), dtype=np.int64, count=len(values))
        if (codes < 0).any():
            bad = values[codes < 0].iloc[0]
            msg = f"value {bad!r} of {var!r} is not one of the fitted levels {levels}"
            raise InputError(msg)
        k = len(levels)
        if var in self.treatment:
            ref = levels.index(self.treatment[var])
            keep = [j for j in range(k) if j != ref]
            return np.eye(k)[codes][:, keep], [f"{var}[{levels[j]}]" for j in keep]
        contr = np.vstack([np.eye(k - 1), -np.ones(k - 1)])  # contr.sum
        return contr[codes], [f"{var}{j + 1}" for j in range(k - 1)]

    def matrix(self, data: pd.DataFrame) -> np.ndarray:
        """Model matrix of ``data`` (intercept first)."""
        blocks = [np.ones((len(data), 1))]
        names, terms = ["(Intercept)"], ["(Intercept)"]
        for term in self.terms:
            mats = [self._coding(v, data[v]) for v in term]
            block = mats[0][0]
            bnames = mats[0][1]
            for m, nm in mats[1:]:
                block = (block[:, :, None] * m[:, None, :]).reshape(len(data), -1)
                bnames = [f"{a}:{b}" for a in bnames for b in nm]
            blocks.append(block)
            names += bnames
            terms += [":".join(term)] * block.shape[1]
        self.columns, self.term_of_column = names, terms
        return np.hstack(blocks)

    def reference_grid(
        self, specs: list[str], *, weights: str, data: pd.DataFrame
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of the LS-means linear functions: one per combination of ``specs`` levels.

        Numeric covariates are held at their mean; other categorical variables are averaged with
        equal weights (``weights="equal"``, SAS/emmeans default) or with their observed marginal
        frequencies (``"proportional"``).
        """
        others = [v for v in self.factors if v not in specs]
        spec_combos = list(itertools.product(*[self.factors[s] for s in specs]))
        other_combos = list(itertools.product(*[self.factors[o] for o in others])) or [()]
        if weights == "equal" or not others:
            w = np.full(len(other_combos), 1 / len(other_combos))
        else:
            freq = data.groupby(others, observed=True).size()
            w = np.array([freq.get(c if len(c) > 1 else c[0], 0) for c in other_combos], float)
            w = w / w.sum()
        grid = pd.DataFrame([dict(zip(specs, sc, strict=True)) | dict(zip(others, oc, strict=True))
                             for sc in spec_combos for oc in other_combos])
        for v, mean in self.numerics.items():
            grid[v] = mean
        mat = self.matrix(grid).reshape(len(spec_combos), len(other_combos), -1)
        rows = np.einsum("o,sop->sp", w, mat)
        keys = pd.DataFrame(spec_combos, columns=specs)
        return keys, rows


def parse_design(formula: str, data: pd.DataFrame, *, factors: tuple[str, ...] = ()) -> Design:
    """Parse ``formula`` against ``data``: check every variable exists and decide its coding."""
    if not isinstance(formula, str) or "~" not in formula:
        msg = f"formula must be a string like 'CHG ~ ARM + BASE', got {formula!r}"
        raise InputError(msg)
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic raises several parser error types
        msg = f"cannot parse formula {formula!r}: {exc}"
        raise InputError(msg) from exc
    lhs = [str(f) for t in parsed.lhs for f in t.factors]
    if len(lhs) != 1:
        msg = f"formula {formula!r} must have exactly one response variable on the left of '~'"
        raise InputError(msg)
    terms = []
    for term in parsed.rhs:
        names = tuple(str(f) for f in term.factors)
        if names == ("1",):
            continue
        terms.append(names)
    if str(parsed.rhs).replace(" ", "").startswith("0") or "-1" in str(parsed.rhs).replace(" ", ""):
        msg = f"formula {formula!r}: models without an intercept are not supported"
        raise InputError(msg)
    variables = list(dict.fromkeys([lhs[0]] + [v for t in terms for v in t]))
    unknown = [v for v in variables if v not in data.columns]
    if unknown:
        msg = (f"formula {formula!r} uses {unknown}, which are not columns of data "
               f"(only plain column names joined by +, : and * are allowed); "
               f"available columns: {list(map(str, data.columns))}")
        raise InputError(msg)
    design = Design(response=lhs[0], terms=terms)
    for v in dict.fromkeys(v for t in terms for v in t):
        col = data[v]
        is_num = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if v in factors or not is_num:
            design.factors[v] = group_levels(data, v)
        else:
            design.numerics[v] = float("nan")
    return design


def complete_cases(data: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Rows with no missing value in the response or any model variable (a copy)."""
    cols = [design.response] + design.variables
    assert_data_frame(data, cols)
    sub = data.loc[data[cols].notna().all(axis=1), cols].copy()
    if sub.empty:
        counts = {c: int(data[c].notna().sum()) for c in cols}
        msg = f"no row has all of {cols} non-missing (non-missing counts: {counts})"
        raise InputError(msg)
    for v in design.factors:
        design.factors[v] = group_levels(sub, v)
        if len(design.factors[v]) < 2:
            msg = f"factor {v!r} has fewer than 2 levels in the complete cases: {design.factors[v]}"
            raise InputError(msg)
    for v in design.numerics:
        design.numerics[v] = float(sub[v].mean())
    return sub
