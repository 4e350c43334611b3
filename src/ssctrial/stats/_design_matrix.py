"""R-style model formulas and treatment-coded design matrices.

A small, dependency-free implementation of the part of R's ``model.matrix`` that mixed models
for repeated measures need: ``y ~ a + b*c + d:e - 1``; factors (non-numeric columns, or pandas
Categoricals) get treatment (dummy) coding with the first level as reference, numeric columns
enter as covariates. Terms are ordered as R orders them (by degree, then by appearance),
variables inside an interaction follow their first appearance in the formula, and a factor in
a term whose margin (the term without that factor) is absent from the model is coded with a
full set of indicators, exactly R's rule. Column names copy R's (``ARMCDTRT:AVISITVIS2``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError

__all__ = ["DesignSpec", "Term", "parse_formula"]

_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|([A-Za-z_.][A-Za-z0-9_.]*)|(\d+)|(\S))")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing blanks left
            break
        tok = m.group(1) or m.group(2) or m.group(3) or m.group(4)
        if tok is None:
            break
        tokens.append(tok)
        pos = m.end()
    return tokens


class _Parser:
    """Recursive-descent parser for the right-hand side: sets of variable-name sets."""

    def __init__(self, tokens: list[str], formula: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.formula = formula
        self.order: list[str] = []

    def _fail(self, why: str) -> None:
        msg = f"formula {self.formula!r}: {why}; allowed: names, 1, 0, +, -, *, :, parentheses"
        raise InputError(msg)

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expr(self) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
        """Return (added terms, removed terms)."""
        add: list[frozenset[str]] = []
        remove: list[frozenset[str]] = []
        sign = "+"
        if self.peek() == "-":
            self.take()
            sign = "-"
        while True:
            terms = self.term()
            (add if sign == "+" else remove).extend(terms)
            tok = self.peek()
            if tok in ("+", "-"):
                sign = self.take()
                continue
            break
        return add, remove

    def term(self) -> list[frozenset[str]]:
        left = self.atom()
        while self.peek() in ("*", ":"):
            op = self.take()
            right = self.atom()
            inter = [a | b for a in left for b in right]
            left = _unique(left + right + inter) if op == "*" else _unique(inter)
        return left

    def atom(self) -> list[frozenset[str]]:
        tok = self.peek()
        if tok is None:
            self._fail("it ends unexpectedly")
        tok = self.take()
        if tok == "(":
            add, remove = self.expr()
            if self.peek() != ")":
                self._fail("a parenthesis is not closed")
            self.take()
            if remove:
                self._fail("'-' inside parentheses is not supported")
            return add
        if tok in ("1", "0"):
            return [frozenset({"__intercept__" if tok == "1" else "__zero__"})]
        if tok.startswith("`"):
            tok = tok[1:-1]
        elif not re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", tok):
            self._fail(f"unexpected {tok!r}")
        if tok not in self.order:
            self.order.append(tok)
        return [frozenset({tok})]


def _unique(terms: list[frozenset[str]]) -> list[frozenset[str]]:
    out: list[frozenset[str]] = []
    for t in terms:
        if t not in out:
            out.append(t)
    return out


def parse_formula(formula: str) -> tuple[str, list[tuple[str, ...]], bool]:
    """Parse ``"y ~ a + b*c"`` into the response, R-ordered terms and the intercept flag.

    Parameters
    ----------
    formula
        A two-sided R-style formula.

    Returns
    -------
    tuple
        ``(response, terms, intercept)``; each term is a tuple of variable names in order of
        first appearance in the formula; terms are sorted by degree, then by appearance.
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        msg = f"formula {formula!r} must be a string of the form 'outcome ~ terms'"
        raise InputError(msg)
    lhs, rhs = (s.strip() for s in formula.split("~"))
    lhs = lhs.strip("`")
    if not re.fullmatch(r"[^\s`]+", lhs or ""):
        msg = f"formula {formula!r}: the left-hand side must be one outcome column name"
        raise InputError(msg)
    parser = _Parser(_tokenize(rhs), formula)
    add, remove = parser.expr()
    if parser.peek() is not None:
        parser._fail(f"unexpected {parser.peek()!r}")
    intercept = True
    terms: list[frozenset[str]] = []
    for t in add:
        if t == frozenset({"__intercept__"}):
            intercept = True
        elif t == frozenset({"__zero__"}):
            intercept = False
        elif any(v.startswith("__") for v in t):
            parser._fail("1 and 0 cannot be part of an interaction")
        elif t not in terms:
            terms.append(t)
    for t in remove:
        if t == frozenset({"__intercept__"}):
            intercept = False
        elif t in terms:
            terms.remove(t)
    order = {v: k for k, v in enumerate(parser.order)}
    ordered = sorted(
        (tuple(sorted(t, key=order.__getitem__)) for t in terms),
        key=lambda t: len(t),  # stable: keeps order of appearance within a degree
    )
    return lhs, ordered, intercept


@dataclass
class Term:
    """One model term: its variables, which factors are contrast-coded, and its columns."""

    variables: tuple[str, ...]
    factors: tuple[str, ...]
    covariates: tuple[str, ...]
    contrast: dict[str, bool]
    columns: list[str] = field(default_factory=list)
    slice: slice = field(default_factory=lambda: slice(0, 0))

    @property
    def label(self) -> str:
        """R term label, e.g. ``ARMCD:AVISIT``."""
        return ":".join(self.variables)


@dataclass
class DesignSpec:
    """Everything needed to rebuild the design matrix on new rows (LS-mean grids, L matrices)."""

    response: str
    intercept: bool
    terms: list[Term]
    levels: dict[str, list[object]]
    covariates: list[str]
    column_names: list[str]

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame) -> DesignSpec:
        """Parse ``formula`` and learn factor levels and covariates from ``data``.

        Levels follow a pandas Categorical's category order (unused categories dropped),
        else sorted order; the first level is the reference of the treatment coding.
        """
        response, raw_terms, intercept = parse_formula(formula)
        variables = list(dict.fromkeys(v for t in raw_terms for v in t))
        missing = [v for v in [response, *variables] if v not in data.columns]
        if missing:
            msg = (
                f"formula {formula!r} names column(s) {missing} that are not in the data; "
                f"available columns: {list(data.columns)}"
            )
            raise InputError(msg)
        levels: dict[str, list[object]] = {}
        covariates: list[str] = []
        for v in variables:
            col = data[v]
            if isinstance(col.dtype, pd.CategoricalDtype):
                present = set(col.dropna().unique())
                levels[v] = [c for c in col.cat.categories if c in present]
            elif pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
                levels[v] = sorted(col.dropna().unique().tolist(), key=_sort_key)
            else:
                covariates.append(v)
        for v, lv in levels.items():
            if len(lv) < 2:
                msg = f"factor {v!r} has {len(lv)} level(s) {lv} in the analysed rows; at least 2 are needed"
                raise InputError(msg)
        term_sets = {frozenset(t) for t in raw_terms}
        if intercept:
            term_sets.add(frozenset())
        terms: list[Term] = []
        names: list[str] = ["(Intercept)"] if intercept else []
        for t in raw_terms:
            factors = tuple(v for v in t if v in levels)
            covs = tuple(v for v in t if v not in levels)
            contrast = {f: (frozenset(t) - {f}) in term_sets for f in factors}
            pieces: list[list[str]] = []
            for v in t:
                if v in levels:
                    lv = levels[v][1:] if contrast[v] else levels[v]
                    pieces.append([f"{v}{lev}" for lev in lv])
                else:
                    pieces.append([v])
            # R varies the first variable fastest
            cols = [":".join(reversed(c)) for c in itertools.product(*reversed(pieces))]
            term = Term(t, factors, covs, contrast, cols, slice(len(names), len(names) + len(cols)))
            names.extend(cols)
            terms.append(term)
        return cls(response, intercept, terms, levels, covariates, names)

    @property
    def variables(self) -> list[str]:
        """All right-hand-side variables."""
        return list(dict.fromkeys(v for t in self.terms for v in t.variables))

    def codes(self, data: pd.DataFrame) -> dict[str, np.ndarray]:
        """Integer level codes of every factor (``-1`` for a value that is not a known level)."""
        out = {}
        for v, lv in self.levels.items():
            out[v] = pd.Index(lv).get_indexer(pd.Index(np.asarray(data[v], dtype=object))).astype(np.int64)
        return out

    def build(
        self,
        data: pd.DataFrame,
        *,
        derivative: frozenset[str] | None = None,
    ) -> np.ndarray:
        """Design matrix of ``data`` (rows x columns, as :attr:`column_names`).

        With ``derivative`` set to a set of covariates Z, every column is replaced by its
        derivative with respect to the covariates in Z at covariates = 0 (the factor part where
        the term's covariates are exactly Z, else 0): the SAS Type III convention.
        """
        n = len(data)
        codes = self.codes(data)
        for v, c in codes.items():
            if (c < 0).any():
                bad = pd.Series(data[v])[c < 0].unique().tolist()[:5]
                msg = (
                    f"column {v!r} has values {bad} that are not levels of the fitted model {self.levels[v]}"
                )
                raise InputError(msg)
        cov = {v: np.asarray(data[v], dtype=float) for v in self.covariates if v in data.columns}
        X = np.zeros((n, len(self.column_names)))
        if self.intercept:
            X[:, 0] = 0.0 if derivative else 1.0
        for term in self.terms:
            if derivative is not None:
                cov_part = np.full(n, 1.0 if frozenset(term.covariates) == derivative else 0.0)
            else:
                cov_part = np.ones(n)
                for v in term.covariates:
                    cov_part = cov_part * cov[v]
            blocks: list[np.ndarray] = []
            for v in term.factors:
                lv = self.levels[v]
                onehot = np.zeros((n, len(lv)))
                onehot[np.arange(n), codes[v]] = 1.0
                blocks.append(onehot[:, 1:] if term.contrast[v] else onehot)
            # product with the first factor varying fastest
            cols = np.ones((n, 1))
            for b in blocks:
                cols = _kron_rows(cols, b)
            X[:, term.slice] = cols * cov_part[:, None]
        return X


def _kron_rows(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise product with ``left``'s columns varying fastest."""
    n = left.shape[0]
    return (right[:, :, None] * left[:, None, :]).reshape(n, -1)


def _sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, (int, float, np.number)) else (1, str(value))
