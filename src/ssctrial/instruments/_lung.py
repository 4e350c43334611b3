"""Lung function: predicted value, LLN, z-score and % predicted by the GLI reference equations.

Spirometry (FEV1, FVC, FEV1/FVC) by GLI-2012 (five ethnic groups) or GLI Global 2022
(race-neutral); transfer factor (TLCO in SI units, DLCO in traditional units, KCO, VA) by GLI-2017
with its 2020 erratum. The formulas are in :mod:`ssctrial.instruments._gli`; this module validates
input at the boundary and offers one-record and DataFrame entry points that share one computation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._gli import (
    EQUATIONS,
    ETHNICITIES,
    lms,
    normalise_equation,
    outcomes,
    param_table,
)
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._tables import as_float_column, column_problem, require_columns

__all__ = [
    "LUNG_EQUATIONS",
    "compute_lung_function",
    "lung_function",
    "score_pft",
]

logger = logging.getLogger(__name__)

#: Equation name -> parameters it gives (with their units).
LUNG_EQUATIONS: dict[str, dict[str, str]] = {name: dict(info.parameters) for name, info in EQUATIONS.items()}

_WHERE = "PFT"
_PARAM_ALIASES = {"FEV1/FVC": "FEV1FVC", "FEV1_FVC": "FEV1FVC", "KCO_SI": "KCO", "DLCO_SI": "TLCO"}
_SEX_ALIASES = {"F": 0, "M": 1, "FEMALE": 0, "MALE": 1}
_ETH_LOOKUP = {e.upper(): k for k, e in enumerate(ETHNICITIES)}
_ETH_LOOKUP.update({"NE ASIAN": 2, "SE ASIAN": 3, "OTHER": 4, "MIXED": 4, "BLACK": 1, "WHITE": 0})


def _resolve(parameter: Any, equation: Any) -> tuple[str, str]:
    eq = normalise_equation(equation)
    if eq is None:
        msg = f"{_WHERE} option 'equation': value {equation!r} is not allowed; expected one of " + ", ".join(
            EQUATIONS
        )
        raise InputError(msg)
    param = str(parameter).strip().upper() if isinstance(parameter, str) else parameter
    param = _PARAM_ALIASES.get(param, param)
    info = EQUATIONS[eq]
    if param not in info.parameters:
        all_params = sorted({p for i in EQUATIONS.values() for p in i.parameters})
        offered = ", ".join(info.parameters)
        if param in all_params:
            others = ", ".join(n for n, i in EQUATIONS.items() if param in i.parameters)
            msg = (
                f"{_WHERE} parameter {parameter!r} is not given by equation {eq} (which gives {offered}); "
                f"use equation={others}"
            )
        else:
            msg = (
                f"{_WHERE} parameter {parameter!r} is not known; {eq} gives {offered} "
                f"(all equations: {', '.join(all_params)})"
            )
        raise InputError(msg)
    return param, eq


def _range_text(low: float, high: float, unit: str) -> str:
    return f"from {low:g} to {high:g} {unit}"


def _measured_rule(param: str, unit: str) -> str:
    if param == "FEV1FVC":
        return "a ratio above 0 and at most 1 (FEV1/FVC as a fraction, not a percentage)"
    return f"a positive number in {unit}"


def _sex_index(sex: Any) -> int:
    key = sex.strip().upper() if isinstance(sex, str) else None
    if key not in _SEX_ALIASES:
        msg = f"{_WHERE} field 'sex': value {sex!r} is not allowed; expected 'F' or 'M'"
        raise InputError(msg)
    return _SEX_ALIASES[key]


def _eth_index(ethnicity: Any, eq: str) -> int:
    if not EQUATIONS[eq].uses_ethnicity:
        return 0
    key = ethnicity.strip().upper() if isinstance(ethnicity, str) else None
    if key not in _ETH_LOOKUP:
        msg = (
            f"{_WHERE} field 'ethnicity': value {ethnicity!r} is not allowed for {eq}; expected one of "
            + ", ".join(repr(e) for e in ETHNICITIES)
            + " (mainland Chinese patients: 'North-East Asian')"
        )
        raise InputError(msg)
    return _ETH_LOOKUP[key]


def _number(field: str, value: Any, low: float, high: float, unit: str, eq: str) -> float:
    ok = not isinstance(value, bool | np.bool_)
    try:
        number = float(value) if ok else math.nan
    except (TypeError, ValueError):
        number, ok = math.nan, False
    if not ok or math.isnan(number) or not low <= number <= high:
        msg = (
            f"{_WHERE} field {field!r}: value {value!r} is outside the range of {eq} "
            f"({_range_text(low, high, unit)}); reference equations are not extrapolated"
        )
        raise InputError(msg)
    return number


def lung_function(
    parameter: str,
    *,
    sex: str,
    age: float,
    height_cm: float,
    measured: float | None = None,
    equation: str = "GLI-2012",
    ethnicity: str = "Caucasian",
) -> Mapping[str, float | None]:
    """Return the predicted value, LLN, z-score and % predicted of one lung-function measurement.

    Parameters
    ----------
    parameter
        ``FEV1``, ``FVC`` (litres) or ``FEV1FVC`` (ratio 0-1) for ``GLI-2012`` and
        ``GLI-Global-2022``; ``TLCO`` (SI, mmol/min/kPa), ``DLCO`` (traditional, mL/min/mmHg),
        ``KCO`` (SI, mmol/min/kPa/L), ``KCO_TRAD`` (mL/min/mmHg/L) or ``VA`` (litres) for
        ``GLI-2017``.
    sex
        ``"F"`` or ``"M"``.
    age
        Age at the test in decimal years; inside the equation's range (GLI-2012 and GLI Global
        2022: 3-95; GLI-2017: 5-85).
    height_cm
        Standing height in cm (80-250).
    measured
        The measured value in the parameter's unit, or ``None`` for reference values only.
    equation
        ``GLI-2012`` (default), ``GLI-Global-2022`` or ``GLI-2017``.
    ethnicity
        GLI-2012 group: ``Caucasian`` (default), ``African-American``, ``North-East Asian``,
        ``South-East Asian`` or ``Other/mixed``; ignored by the other equations.

    Returns
    -------
    Mapping
        ``predicted`` (median M), ``lln`` (5th centile), ``z`` and ``percent_predicted``
        (``100 * measured / predicted``); ``z`` and ``percent_predicted`` are ``None`` when
        ``measured`` is ``None``, and NaN when it is NaN or ``pd.NA`` (a missing measurement).

    Raises
    ------
    InputError
        Unknown parameter, equation, sex or ethnic group, a parameter the equation does not give,
        an age or height outside the equation's range (never extrapolated), or a measured value that
        is not positive (FEV1FVC above 1). The message names the field, the value and what is
        allowed.

    Notes
    -----
    GLI LMS model: M, S and L from the coefficients and the age-spline tables, interpolated
    linearly between the quarter-year rows; ``z = ((x/M)**L - 1) / (L*S)``,
    ``LLN = M * (1 - 1.645*L*S)**(1/L)``. Tables and their sources: ``data/PROVENANCE.md``.

    See Also
    --------
    compute_lung_function : the same, vectorised over a DataFrame.

    Examples
    --------
    >>> r = lung_function("FVC", sex="F", age=45, height_cm=160, measured=2.6, ethnicity="North-East Asian")
    >>> round(r["predicted"], 4), round(r["z"], 4), round(r["percent_predicted"], 2)
    (3.3612, -2.1468, 77.35)
    """
    param, eq = _resolve(parameter, equation)
    info = EQUATIONS[eq]
    sex_i = _sex_index(sex)
    eth_i = _eth_index(ethnicity, eq)
    age_v = _number("age", age, *info.age_range, "years", eq)
    height_v = _number("height_cm", height_cm, *info.height_range, "cm", eq)
    measured_arr = None
    if measured is not None:
        # NaN / pd.NA: measured but missing -> NaN z and % predicted, as in the DataFrame form
        missing = measured is pd.NA or (isinstance(measured, float | np.floating) and math.isnan(measured))
        value = math.nan if missing else _measured_value(param, info.parameters[param], measured)
        measured_arr = np.array([value])
    el, m, s = lms(
        param_table(eq, param),
        np.array([sex_i]),
        np.array([age_v]),
        np.array([height_v]),
        np.array([eth_i]),
    )
    res = outcomes(el, m, s, measured_arr)
    return {
        "predicted": float(res["predicted"][0]),
        "lln": float(res["lln"][0]),
        "z": None if measured is None else float(res["z"][0]),
        "percent_predicted": None if measured is None else float(res["percent_predicted"][0]),
    }


def _measured_value(param: str, unit: str, measured: Any) -> float:
    try:
        value = math.nan if isinstance(measured, bool | np.bool_) else float(measured)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value) or math.isinf(value) or value <= 0 or (param == "FEV1FVC" and value > 1):
        msg = (
            f"{_WHERE} field 'measured' ({param}): value {measured!r} is not allowed; expected "
            + _measured_rule(param, unit)
        )
        raise InputError(msg)
    return value


def _map_codes(series: pd.Series, lookup: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map a text column through ``lookup`` (case-insensitive); return (codes, missing, invalid).

    Only the distinct values are looked up (``pandas.factorize``), so a million rows cost one pass.
    """
    positions, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array(
        [lookup.get(u.strip().upper(), -1) if isinstance(u, str) else -1 for u in uniques] + [-1],
        dtype=np.intp,
    )
    codes = mapped[positions]  # position -1 (missing) picks the trailing -1
    missing = positions < 0
    invalid = (codes < 0) & ~missing
    return np.where(codes < 0, 0, codes), missing, invalid


def compute_lung_function(
    data: pd.DataFrame,
    parameter: str,
    *,
    equation: str = "GLI-2012",
    ethnicity: str = "Caucasian",
    measured_col: str | None = None,
    sex_col: str = "sex",
    age_col: str = "age",
    height_col: str = "height_cm",
    ethnicity_col: str | None = None,
) -> pd.DataFrame:
    """Compute GLI predicted value, LLN, z-score and % predicted for every row, vectorised.

    Parameters
    ----------
    data
        One row per measurement, with columns for sex (``F``/``M``), age (decimal years) and
        height (cm), and optionally the measured value and the GLI-2012 ethnic group.
    parameter
        As in :func:`lung_function` (``FEV1``, ``FVC``, ``FEV1FVC``, ``TLCO``, ``DLCO``, ``KCO``...).
    equation
        ``GLI-2012`` (default), ``GLI-Global-2022`` or ``GLI-2017``.
    ethnicity
        GLI-2012 group for every row (default ``Caucasian``), used unless ``ethnicity_col``.
    measured_col
        Column of measured values in the parameter's unit; ``None`` -> reference values only.
    sex_col, age_col, height_col
        Columns of sex, age and height.
    ethnicity_col
        Column of GLI-2012 ethnic groups (per row), overriding ``ethnicity``.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data`` (not re-sorted), columns:

        - ``predicted``: predicted median (M);
        - ``lln``: lower limit of normal (5th centile);
        - ``z``: z-score (NaN where the measured value is missing or not given);
        - ``percent_predicted``: 100 * measured / predicted (NaN likewise).

        Rows with a missing sex, age, height (or ethnic group) are NaN throughout. Every value is
        identical to :func:`lung_function` on the same row.

    Raises
    ------
    InputError
        Unknown parameter/equation/ethnicity, missing columns, or values not allowed; the message
        names each field and **every** offending row (index label and value) and what is allowed.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["F", "M"], "age": [45.0, 50.0], "height_cm": [160.0, 170.0],
    ...                    "fvc": [2.6, 3.4]})
    >>> out = compute_lung_function(df, "FVC", measured_col="fvc", ethnicity="North-East Asian")
    >>> out["percent_predicted"].round(2).tolist()
    [77.35, 79.09]
    """
    param, eq = _resolve(parameter, equation)
    info = EQUATIONS[eq]
    needed = [sex_col, age_col, height_col]
    if measured_col is not None:
        needed.append(measured_col)
    if ethnicity_col is not None and info.uses_ethnicity:
        needed.append(ethnicity_col)
    require_columns(data, needed, what=f"{_WHERE} {param} ({eq})")
    index = data.index
    n = len(data)
    problems: list[str] = []

    sex, sex_missing, sex_bad = _map_codes(data[sex_col], _SEX_ALIASES)
    if sex_bad.any():
        problems.append(_problem("sex", sex_col, index, sex_bad, data[sex_col], "'F' or 'M'"))

    missing = sex_missing.copy()
    if info.uses_ethnicity:
        if ethnicity_col is not None:
            eth, eth_missing, eth_bad = _map_codes(data[ethnicity_col], _ETH_LOOKUP)
            if eth_bad.any():
                allowed = "one of " + ", ".join(repr(e) for e in ETHNICITIES)
                problems.append(
                    _problem("ethnicity", ethnicity_col, index, eth_bad, data[ethnicity_col], allowed)
                )
            missing |= eth_missing
        else:
            eth = np.full(n, _eth_index(ethnicity, eq), dtype=np.intp)
    else:
        eth = np.zeros(n, dtype=np.intp)

    ranges = (("age", age_col, info.age_range, "years"), ("height_cm", height_col, info.height_range, "cm"))
    numbers = []
    for field, col, (low, high), unit in ranges:
        values, unparseable = as_float_column(data[col])
        bad = unparseable | (~np.isnan(values) & ((values < low) | (values > high)))
        if bad.any():
            allowed = f"{_range_text(low, high, unit)} ({eq}; no extrapolation)"
            problems.append(_problem(field, col, index, bad, data[col], allowed))
        missing |= np.isnan(values)
        numbers.append(values)
    age, height = numbers

    measured = None
    if measured_col is not None:
        measured, unparseable = as_float_column(data[measured_col])
        bad = unparseable | (~np.isnan(measured) & ~((measured > 0) & np.isfinite(measured)))
        if param == "FEV1FVC":
            bad |= ~np.isnan(measured) & (measured > 1)
        if bad.any():
            allowed = _measured_rule(param, info.parameters[param])
            problems.append(
                _problem(f"measured ({param})", measured_col, index, bad, data[measured_col], allowed)
            )
    if problems:
        raise InputError("; ".join(problems))

    if missing.any():
        age = np.where(missing, info.age_range[0], age)
        height = np.where(missing, 150.0, height)
    el, m, s = lms(param_table(eq, param), sex, age, height, eth)
    res = outcomes(el, m, s, measured)
    out = pd.DataFrame(res, index=index)
    if missing.any():
        out.loc[missing, :] = np.nan
    return out


def _problem(field: str, col: str, index: pd.Index, mask: np.ndarray, series: pd.Series, allowed: str) -> str:
    where = f"{_WHERE} field {field!r}" + (f" (column {col!r})" if col != field else "")
    return column_problem(where, index, mask, series.to_numpy(dtype=object), allowed)


# -- the PFT instrument ---------------------------------------------------------------------------

#: PFT items that have a GLI parameter, and the parameter they are scored by.
_PFT_MEASURES: dict[str, tuple[str, str]] = {
    "fvc_l": ("FVC", "fvc"),
    "fev1_l": ("FEV1", "fev1"),
    "dlco": ("DLCO", "dlco"),
    "tlco": ("TLCO", "tlco"),
    "kco": ("KCO", "kco"),
}


def score_pft(
    data: pd.DataFrame,
    *,
    equation: str = "GLI-2012",
    ethnicity: str = "Caucasian",
    transfer_equation: str = "GLI-2017",
    sex_col: str = "sex",
    age_col: str = "age",
    height_col: str = "height_cm",
    ethnicity_col: str | None = None,
) -> pd.DataFrame:
    """Score pulmonary function test records: % predicted, z-scores and LLN for each measure.

    This is the registry scorer of ``PFT``. Sex, age and height are not PFT items of the
    visit but subject data (height may also be captured as the optional item ``height_cm``);
    merge them into ``data`` first.

    Parameters
    ----------
    data
        One row per test with any of the PFT item columns ``fvc_l``, ``fev1_l`` (litres),
        ``dlco`` (mL/min/mmHg), ``tlco`` (mmol/min/kPa), ``kco`` (mmol/min/kPa/L), plus sex, age
        and height columns.
    equation
        Spirometry equation: ``GLI-2012`` (default) or ``GLI-Global-2022``.
    ethnicity
        GLI-2012 ethnic group for every row (default ``Caucasian``); see :func:`lung_function`.
    transfer_equation
        Transfer-factor equation: ``GLI-2017`` (the only one shipped).
    sex_col, age_col, height_col, ethnicity_col
        Column names, as in :func:`compute_lung_function`.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``. For each measure present (``fvc``, ``fev1``, ``dlco``, ``tlco``,
        ``kco``): ``<m>_pct_pred``, ``<m>_z`` and ``<m>_lln``; plus ``fev1fvc`` (the ratio) with
        ``fev1fvc_z`` and ``fev1fvc_lln`` when both FEV1 and FVC are present, and
        ``dlco_pct_pred_any``: DLCO % predicted from ``dlco`` or, where that is missing, from
        ``tlco`` (both give the same % predicted; this column feeds ``DLCOPP``). Measures absent
        from ``data`` give no columns, except ``fvc_pct_pred`` and ``dlco_pct_pred_any``, which are
        always present (NaN when not measured).

    Raises
    ------
    InputError
        As :func:`compute_lung_function`, for every measure; all offending rows are listed.
    """
    spiro = normalise_equation(equation)
    if spiro not in ("GLI-2012", "GLI-Global-2022"):
        msg = (
            f"{_WHERE} option 'equation': value {equation!r} is not allowed; "
            "expected 'GLI-2012' or 'GLI-Global-2022'"
        )
        raise InputError(msg)
    transfer = normalise_equation(transfer_equation)
    if transfer != "GLI-2017":
        msg = (
            f"{_WHERE} option 'transfer_equation': value {transfer_equation!r} is not allowed; "
            "expected 'GLI-2017'"
        )
        raise InputError(msg)
    common = {"sex_col": sex_col, "age_col": age_col, "height_col": height_col}
    out = pd.DataFrame(index=data.index)
    problems: list[str] = []

    def run(param: str, eq: str, column: str, prefix: str, measured: pd.DataFrame | None = None) -> None:
        frame = data if measured is None else measured
        try:
            res = compute_lung_function(
                frame,
                param,
                equation=eq,
                ethnicity=ethnicity,
                measured_col=column,
                ethnicity_col=ethnicity_col,
                **common,
            )
        except InputError as exc:
            problems.append(str(exc))
            return
        out[f"{prefix}_pct_pred"] = res["percent_predicted"]
        out[f"{prefix}_z"] = res["z"]
        out[f"{prefix}_lln"] = res["lln"]

    for item, (param, prefix) in _PFT_MEASURES.items():
        if item in data.columns:
            run(param, spiro if param in ("FVC", "FEV1") else transfer, item, prefix)
    if "fvc_l" in data.columns and "fev1_l" in data.columns:
        fvc, _ = as_float_column(data["fvc_l"])
        fev1, _ = as_float_column(data["fev1_l"])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(fvc > 0, fev1 / fvc, np.nan)
        above = ratio > 1
        if above.any():
            problems.append(
                column_problem(
                    f"{_WHERE} items 'fev1_l' and 'fvc_l'",
                    data.index,
                    above,
                    [f"FEV1 {a:g} L > FVC {b:g} L" for a, b in zip(fev1, fvc, strict=True)],
                    "FEV1 at most FVC",
                )
            )
        else:
            run("FEV1FVC", spiro, "_fev1fvc", "fev1fvc", data.assign(_fev1fvc=ratio))
        out["fev1fvc"] = ratio
    if problems:
        raise InputError("; ".join(problems))
    if "fvc_pct_pred" not in out.columns:
        out["fvc_pct_pred"] = np.nan
    dlco_any = pd.Series(np.nan, index=data.index)
    if "dlco_pct_pred" in out.columns:
        dlco_any = out["dlco_pct_pred"]
    if "tlco_pct_pred" in out.columns:
        dlco_any = dlco_any.fillna(out["tlco_pct_pred"])
    out["dlco_pct_pred_any"] = dlco_any
    return out


_PFT_ITEMS = (
    Item(
        "fvc_l",
        "Forced vital capacity (FVC)",
        "number",
        min=0.3,
        max=8.0,
        unit="L",
        description="Best FVC of an acceptable test (BTPS), litres",
    ),
    Item(
        "fev1_l",
        "Forced expiratory volume in 1 s (FEV1)",
        "number",
        min=0.2,
        max=7.0,
        unit="L",
        required=False,
        description="Best FEV1 (BTPS), litres; FEV1/FVC is derived from FEV1 and FVC",
    ),
    Item(
        "dlco",
        "Diffusing capacity for CO (DLCO), traditional units",
        "number",
        min=1.0,
        max=60.0,
        unit="mL/min/mmHg",
        required=False,
        description="Single-breath DLCO, uncorrected for haemoglobin; record SI values as 'tlco'",
    ),
    Item(
        "tlco",
        "Transfer factor for CO (TLCO), SI units",
        "number",
        min=0.3,
        max=20.0,
        unit="mmol/min/kPa",
        required=False,
        description="Single-breath TLCO (= DLCO / 2.986), uncorrected for haemoglobin",
    ),
    Item(
        "kco",
        "Transfer coefficient (KCO), SI units",
        "number",
        min=0.2,
        max=4.0,
        unit="mmol/min/kPa/L",
        required=False,
        description="KCO = TLCO / VA",
    ),
    Item(
        "height_cm",
        "Standing height at the test",
        "number",
        min=80.0,
        max=250.0,
        unit="cm",
        required=False,
        description="Needed for % predicted; if not captured here, taken from subject data",
    ),
)

PFT = register(
    Instrument(
        code="PFT",
        name="Pulmonary function tests (spirometry and CO transfer factor), GLI reference values",
        items=_PFT_ITEMS,
        scorer=score_pft,
        outputs={
            "fvc_pct_pred": "FVCPP",
            "dlco_pct_pred_any": "DLCOPP",
            "fvc_z": None,
            "fvc_lln": None,
            "fev1_pct_pred": None,
            "fev1_z": None,
            "fev1fvc": None,
            "fev1fvc_z": None,
            "dlco_pct_pred": None,
            "tlco_pct_pred": None,
            "kco_pct_pred": None,
        },
        score_range="% predicted: > 0 (100 = predicted median); z-scores: LLN at z = -1.645",
        missing_rule=(
            "each measure scored on its own; a missing measure, sex, age or height gives a missing "
            "result for that row (no imputation); ages or heights outside the equation's range are errors"
        ),
        citation=" | ".join(info.citation for info in EQUATIONS.values()),
        options={
            "equation": "GLI-2012",
            "ethnicity": "Caucasian",
            "transfer_equation": "GLI-2017",
        },
    )
)
