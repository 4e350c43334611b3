"""GLI reference equations: shipped tables and the vectorised LMS computation.

For a parameter with coefficients (a, p, q) and age-spline look-up tables (Lspline, Mspline,
Sspline in 0.25-year steps), the GLI LMS model gives for sex, age (decimal years), height (cm)
and, for GLI-2012, ethnic group::

    M = exp(a0 + a1 ln(height) + a2 ln(age) + a_eth + Mspline(age))     predicted (median)
    S = exp(p0 + p1 ln(age) + p_eth + Sspline(age))                     coefficient of variation
    L = q0 + q1 ln(age) + Lspline(age)                                  skewness (Box-Cox power)
    z = ((x / M) ** L - 1) / (L S)
    LLN = M (1 - 1.645 L S) ** (1 / L)
    % predicted = 100 x / M

Spline values between two table rows are interpolated linearly; the closed-form terms use the
exact age. Ages and heights outside the equation's range are refused by the callers (never
extrapolated).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssctrial.instruments._tables import read_table

__all__: list[str] = []

#: z of the 5th centile used by GLI for the lower limit of normal (the papers and SPEC use 1.645).
Z_LLN = 1.645

ETHNICITIES: tuple[str, ...] = (
    "Caucasian",
    "African-American",
    "North-East Asian",
    "South-East Asian",
    "Other/mixed",
)

SEXES: tuple[str, ...] = ("F", "M")


@dataclass(frozen=True)
class EquationInfo:
    """What an equation offers: parameters with units, valid age range, citation."""

    name: str
    parameters: dict[str, str]  # public parameter name -> unit
    table_names: dict[str, str]  # public parameter name -> name in the shipped CSV
    age_range: tuple[float, float]
    height_range: tuple[float, float]
    uses_ethnicity: bool
    files: tuple[str, str]  # coefficients CSV, splines CSV
    citation: str


# Height range: the GLI papers state no height limits; 80-250 cm is a plausibility bound that covers
# every age the equations accept (a 3-year-old is ~85-105 cm) and refuses obvious unit errors
# (a height of 20 cm, or 1.70 written in metres).
_HEIGHT = (80.0, 250.0)

EQUATIONS: dict[str, EquationInfo] = {
    "GLI-2012": EquationInfo(
        name="GLI-2012",
        parameters={"FEV1": "L", "FVC": "L", "FEV1FVC": "ratio"},
        table_names={"FEV1": "FEV1", "FVC": "FVC", "FEV1FVC": "FEV1FVC"},
        age_range=(3.0, 95.0),
        height_range=_HEIGHT,
        uses_ethnicity=True,
        files=("gli2012_spirometry_coefficients.csv", "gli2012_spirometry_splines.csv"),
        citation=(
            "Quanjer PH, Stanojevic S, Cole TJ, et al. Multi-ethnic reference values for spirometry for "
            "the 3-95-yr age range: the global lung function 2012 equations. Eur Respir J "
            "2012;40(6):1324-43, doi:10.1183/09031936.00080312"
        ),
    ),
    "GLI-Global-2022": EquationInfo(
        name="GLI-Global-2022",
        parameters={"FEV1": "L", "FVC": "L", "FEV1FVC": "ratio"},
        table_names={"FEV1": "FEV1", "FVC": "FVC", "FEV1FVC": "FEV1FVC"},
        age_range=(3.0, 95.0),
        height_range=_HEIGHT,
        uses_ethnicity=False,
        files=("gli_global2022_spirometry_coefficients.csv", "gli_global2022_spirometry_splines.csv"),
        citation=(
            "Bowerman C, Bhakta NR, Brazzale D, et al. A race-neutral approach to the interpretation of "
            "lung function measurements. Am J Respir Crit Care Med 2023;207(6):768-74, "
            "doi:10.1164/rccm.202205-0963OC"
        ),
    ),
    "GLI-2017": EquationInfo(
        name="GLI-2017",
        parameters={
            "TLCO": "mmol/min/kPa",
            "DLCO": "mL/min/mmHg",
            "KCO": "mmol/min/kPa/L",
            "KCO_TRAD": "mL/min/mmHg/L",
            "VA": "L",
        },
        table_names={"TLCO": "TLCO", "DLCO": "DLCO", "KCO": "KCO_SI", "KCO_TRAD": "KCO_trad", "VA": "VA"},
        # The look-up tables run from 5 to 90 years, but the paper derived reference values for
        # "Caucasians aged 5-85 years" (abstract); beyond 85 is extrapolation and is refused.
        age_range=(5.0, 85.0),
        height_range=_HEIGHT,
        uses_ethnicity=False,
        files=("gli2017_transfer_factor_coefficients.csv", "gli2017_transfer_factor_splines.csv"),
        citation=(
            "Stanojevic S, Graham BL, Cooper BG, et al. Official ERS technical standards: Global Lung "
            "Function Initiative reference values for the carbon monoxide transfer factor for "
            "Caucasians. Eur Respir J 2017;50(3):1700010, doi:10.1183/13993003.00010-2017; erratum Eur "
            "Respir J 2020;56(4):1750010, doi:10.1183/13993003.50010-2017"
        ),
    ),
}

_ALIASES = {
    "GLI2012": "GLI-2012",
    "GLIGLOBAL2022": "GLI-Global-2022",
    "GLIGLOBAL": "GLI-Global-2022",
    "GLI2022": "GLI-Global-2022",
    "GLI2017": "GLI-2017",
    "GLI2017TLCO": "GLI-2017",
    "GLI2017DLCO": "GLI-2017",
}


def normalise_equation(name: object) -> str | None:
    """Return the canonical equation name for ``name`` (case, dashes and spaces ignored) or None."""
    if not isinstance(name, str):
        return None
    key = "".join(ch for ch in name.upper() if ch.isalnum())
    return _ALIASES.get(key)


@dataclass(frozen=True)
class ParamTable:
    """Coefficients (indexed by sex: 0 = F, 1 = M) and flattened spline tables of one parameter."""

    a0: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    a_eth: np.ndarray  # (2, 5): ethnic-group terms of ln M (Caucasian = 0)
    p0: np.ndarray
    p1: np.ndarray
    p_eth: np.ndarray  # (2, 5)
    q0: np.ndarray
    q1: np.ndarray
    age0: float  # first age of the spline table
    n_ages: int  # rows per sex
    l_spline: np.ndarray  # (2 * n_ages,), sex-major
    m_spline: np.ndarray
    s_spline: np.ndarray


@functools.cache
def param_table(equation: str, parameter: str) -> ParamTable:
    """Build (once) the arrays of ``parameter`` of ``equation`` from the shipped CSVs."""
    info = EQUATIONS[equation]
    name = info.table_names[parameter]
    coefs = read_table(info.files[0])
    splines = read_table(info.files[1])
    rows = coefs[coefs["param"] == name].set_index("sex").loc[list(SEXES)]

    def col(c: str) -> np.ndarray:
        return rows[c].to_numpy(dtype=float) if c in rows.columns else np.zeros(2)

    a_eth = np.zeros((2, 5))
    p_eth = np.zeros((2, 5))
    if info.uses_ethnicity:
        for k, (a, p) in enumerate((("a3", "p2"), ("a4", "p3"), ("a5", "p4"), ("a6", "p5")), start=1):
            a_eth[:, k] = col(a)
            p_eth[:, k] = col(p)
    tables = []
    for sex in SEXES:
        part = splines[(splines["param"] == name) & (splines["sex"] == sex)].sort_values("age")
        tables.append(part)
    ages = tables[0]["age"].to_numpy(dtype=float)
    steps = np.diff(ages)
    if not np.allclose(steps, 0.25) or not np.array_equal(ages, tables[1]["age"].to_numpy(dtype=float)):
        msg = f"{equation} {parameter}: spline table is not in 0.25-year steps"  # pragma: no cover
        raise RuntimeError(msg)  # pragma: no cover
    stacked = pd.concat(tables)
    return ParamTable(
        a0=col("a0"),
        a1=col("a1"),
        a2=col("a2"),
        a_eth=a_eth,
        p0=col("p0"),
        p1=col("p1"),
        p_eth=p_eth,
        q0=col("q0"),
        q1=col("q1"),
        age0=float(ages[0]),
        n_ages=len(ages),
        l_spline=stacked["Lspline"].to_numpy(dtype=float),
        m_spline=stacked["Mspline"].to_numpy(dtype=float),
        s_spline=stacked["Sspline"].to_numpy(dtype=float),
    )


def lms(
    table: ParamTable, sex: np.ndarray, age: np.ndarray, height: np.ndarray, ethnicity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (L, M, S) for arrays of sex index (0/1), age, height and ethnic-group index (0-4).

    Inputs must already be validated (ages inside the table, heights positive).
    """
    pos = (age - table.age0) * 4.0
    i = np.minimum(np.floor(pos).astype(np.intp), table.n_ages - 2)
    frac = pos - i
    row = sex * table.n_ages + i
    lo = 1.0 - frac
    l_sp = table.l_spline[row] * lo + table.l_spline[row + 1] * frac
    m_sp = table.m_spline[row] * lo + table.m_spline[row + 1] * frac
    s_sp = table.s_spline[row] * lo + table.s_spline[row + 1] * frac
    ln_age = np.log(age)
    m = np.exp(
        table.a0[sex]
        + table.a1[sex] * np.log(height)
        + table.a2[sex] * ln_age
        + table.a_eth[sex, ethnicity]
        + m_sp
    )
    s = np.exp(table.p0[sex] + table.p1[sex] * ln_age + table.p_eth[sex, ethnicity] + s_sp)
    el = table.q0[sex] + table.q1[sex] * ln_age + l_sp
    return el, m, s


def outcomes(
    el: np.ndarray, m: np.ndarray, s: np.ndarray, measured: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Predicted, LLN, z and % predicted from L, M, S and the measured values (NaN = not measured)."""
    lln = m * (1.0 - Z_LLN * el * s) ** (1.0 / el)
    if measured is None:
        nan = np.full(m.shape, np.nan)
        return {"predicted": m, "lln": lln, "z": nan, "percent_predicted": nan}
    z = ((measured / m) ** el - 1.0) / (el * s)
    return {"predicted": m, "lln": lln, "z": z, "percent_predicted": 100.0 * measured / m}
