"""EQ-5D-5L and EQ-5D-3L index values from the published value sets; the EQ VAS kept apart.

The index of a health state (levels of mobility, self-care, usual activities, pain/discomfort and
anxiety/depression, written ``MO SC UA PD AD`` as in ``"21345"``) is

    index = 1 + sum of the level decrements of the five dimensions
              + constant   (if any dimension is above level 1; CN-3L, UK-3L, JP-5L)
              + N3 term    (if any dimension is at level 3; EQ-5D-3L sets only)

with the coefficients of the shipped table ``data/eq5d_value_set_coefficients.csv`` (decrements
stored as negative numbers). Every value set is pre-computed for all ``L**5`` states (243 or 3125)
when first used, so scoring a DataFrame is one integer code per row and one table look-up.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._tables import as_float_column, column_problem, read_table, require_columns

__all__ = [
    "EQ5D_DIMENSIONS",
    "compute_eq5d_index",
    "eq5d_index",
    "list_eq5d_value_sets",
    "score_eq5d",
]

logger = logging.getLogger(__name__)

#: Item codes of the five dimensions, in the order of a written state (MO SC UA PD AD).
EQ5D_DIMENSIONS: tuple[str, ...] = (
    "mobility",
    "self_care",
    "usual_activities",
    "pain_discomfort",
    "anxiety_depression",
)
_LABELS = ("Mobility", "Self-care", "Usual activities", "Pain/discomfort", "Anxiety/depression")
_TERM_PREFIX = ("MO", "SC", "UA", "PD", "AD")

DEFAULT_VALUE_SET = "CN_5L_Luo2017"
DEFAULT_VALUE_SET_3L = "CN_3L_Liu2014"

_TABLE = "eq5d_value_set_coefficients.csv"

# Country and primary publication of each value set in the coefficient table.
_META: dict[str, tuple[str, str]] = {
    "CN_3L_Liu2014": (
        "China",
        "Liu GG, Wu H, Li M, Gao C, Luo N. Chinese time trade-off values for EQ-5D health states. "
        "Value Health 2014;17(5):597-604, doi:10.1016/j.jval.2014.05.007",
    ),
    "UK_3L_Dolan1997": (
        "United Kingdom",
        "Dolan P. Modeling valuations for EuroQol health states. Med Care 1997;35(11):1095-108, "
        "doi:10.1097/00005650-199711000-00002",
    ),
    "CN_5L_Luo2017": (
        "China",
        "Luo N, Liu G, Li M, Guan H, Jin X, Rand-Hendriksen K. Estimating an EQ-5D-5L value set for "
        "China. Value Health 2017;20(4):662-9, doi:10.1016/j.jval.2016.11.016",
    ),
    "EN_5L_Devlin2018": (
        "England",
        "Devlin NJ, Shah KK, Feng Y, Mulhern B, van Hout B. Valuing health-related quality of life: "
        "an EQ-5D-5L value set for England. Health Econ 2018;27(1):7-22, doi:10.1002/hec.3564",
    ),
    "US_5L_Pickard2019": (
        "United States",
        "Pickard AS, Law EH, Jiang R, et al. United States valuation of EQ-5D-5L health states using "
        "an international protocol. Value Health 2019;22(8):931-41, doi:10.1016/j.jval.2019.02.009",
    ),
    "JP_5L_Shiroiwa2016": (
        "Japan",
        "Shiroiwa T, Ikeda S, Noto S, et al. Comparison of value set based on DCE and/or TTO data: "
        "scoring for EQ-5D-5L health states in Japan. Value Health 2016;19(5):648-54, "
        "doi:10.1016/j.jval.2016.03.1834 (coefficients to 6 dp)",
    ),
    "JP_5L_Shiroiwa2016_4dp": (
        "Japan",
        "Shiroiwa T, et al. Value Health 2016;19(5):648-54 (coefficients rounded to 4 dp, as in the "
        "R package eq5d)",
    ),
}


@dataclass(frozen=True)
class _ValueSet:
    id: str
    version: str  # "EQ-5D-5L" or "EQ-5D-3L"
    levels: int  # 5 or 3
    decrements: np.ndarray  # shape (5, levels + 1): [dimension, level]; level 0 unused, level 1 = 0
    constant: float  # added when any dimension > 1 (negative or 0)
    n3: float  # added when any dimension == 3 (3L only; negative or 0)
    states: np.ndarray  # index of every state, by code sum((level_d - 1) * levels ** (4 - d))

    @property
    def instrument(self) -> str:
        return "EQ5D_5L" if self.levels == 5 else "EQ5D_3L"


@functools.cache
def _value_sets() -> dict[str, _ValueSet]:
    table = read_table(_TABLE)
    out: dict[str, _ValueSet] = {}
    for vs_id, rows in table.groupby("value_set", sort=False):
        terms = dict(zip(rows["term"], rows["coefficient"].astype(float), strict=True))
        version = str(rows["version"].iloc[0])
        levels = 5 if version == "EQ-5D-5L" else 3
        start = terms.pop("StartValue", terms.pop("FullHealth", 1.0))
        constant = terms.pop("AtLeastOne2Or3", 0.0) + terms.pop("Intercept", 0.0)
        n3 = terms.pop("AtLeastOne3", 0.0)
        decrements = np.zeros((5, levels + 1))
        for d, prefix in enumerate(_TERM_PREFIX):
            for level in range(2, levels + 1):
                decrements[d, level] = terms.pop(f"{prefix}{level}")
        if terms:  # pragma: no cover - guards the shipped table
            msg = f"EQ-5D value set {vs_id}: unexpected terms {sorted(terms)}"
            raise RuntimeError(msg)
        grid = np.indices((levels,) * 5).reshape(5, -1) + 1  # every state, first dimension slowest
        index = start + sum(decrements[d, grid[d]] for d in range(5))
        index = index + constant * (grid > 1).any(axis=0) + n3 * (grid == 3).any(axis=0)
        states = np.round(index, 12)  # remove float noise of the sums (coefficients have <= 6 dp)
        states.setflags(write=False)
        decrements.setflags(write=False)
        out[str(vs_id)] = _ValueSet(str(vs_id), version, levels, decrements, constant, n3, states)
    return out


def _get_value_set(value_set: str, *, version: str | None = None) -> _ValueSet:
    sets = _value_sets()
    if not isinstance(value_set, str) or value_set not in sets:
        known = ", ".join(sets)
        msg = f"EQ-5D value set {value_set!r} is not known; known value sets are: {known}"
        raise InputError(msg)
    vs = sets[value_set]
    if version is not None and vs.version != version:
        same = ", ".join(k for k, v in sets.items() if v.version == version)
        msg = (
            f"EQ-5D value set {value_set!r} is an {vs.version} value set and cannot score {version} "
            f"data (a crosswalk is a separate, explicit step); {version} value sets are: {same}"
        )
        raise InputError(msg)
    return vs


def list_eq5d_value_sets() -> pd.DataFrame:
    """List the shipped EQ-5D value sets.

    Returns
    -------
    pandas.DataFrame
        One row per value set:

        - ``value_set``: the id to pass as ``value_set=``;
        - ``version``: ``EQ-5D-5L`` or ``EQ-5D-3L``;
        - ``country``: the population valued;
        - ``min_index``: the index of the worst state (``55555`` or ``33333``);
        - ``citation``: the primary publication.

    Examples
    --------
    >>> list_eq5d_value_sets()["value_set"].tolist()[:2]
    ['CN_3L_Liu2014', 'UK_3L_Dolan1997']
    """
    rows = [
        {
            "value_set": vs.id,
            "version": vs.version,
            "country": _META.get(vs.id, ("", ""))[0],
            "min_index": float(vs.states[-1]),
            "citation": _META.get(vs.id, ("", ""))[1],
        }
        for vs in _value_sets().values()
    ]
    return pd.DataFrame(rows)


def _item_message(vs: _ValueSet, d: int, value: Any) -> str:
    allowed = ", ".join(str(k) for k in range(1, vs.levels + 1))
    return (
        f"{vs.instrument} item {EQ5D_DIMENSIONS[d]!r} ({_LABELS[d]}): value {value!r} is not allowed; "
        f"expected one of {allowed} (value set {vs.id} is an {vs.version} value set)"
    )


def _state_message(vs: _ValueSet, state: Any, problem: str) -> str:
    return (
        f"{vs.instrument} state {state!r}: {problem}; expected 5 levels, one per dimension "
        f"(mobility, self-care, usual activities, pain/discomfort, anxiety/depression), each from 1 to "
        f"{vs.levels}, written as a string such as {'21321' if vs.levels == 3 else '21345'!r} or a "
        f"sequence of 5 integers"
    )


def _parse_level(vs: _ValueSet, d: int, value: Any) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        raise InputError(_item_message(vs, d, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(_item_message(vs, d, value)) from None
    if not number.is_integer() or not 1 <= number <= vs.levels:
        raise InputError(_item_message(vs, d, value))
    return int(number)


def eq5d_index(state: str | Sequence[Any], value_set: str = DEFAULT_VALUE_SET) -> float:
    """Return the EQ-5D index value of one health state.

    Parameters
    ----------
    state
        The five dimension levels in the order mobility, self-care, usual activities,
        pain/discomfort, anxiety/depression: a string of 5 digits (``"21345"``) or a sequence of
        5 integers (``[2, 1, 3, 4, 5]``). A sequence may contain ``None`` for a missing dimension.
    value_set
        Id of a shipped value set (see :func:`list_eq5d_value_sets`): ``CN_5L_Luo2017``
        (default), ``CN_3L_Liu2014``, ``EN_5L_Devlin2018``, ``US_5L_Pickard2019``,
        ``UK_3L_Dolan1997``, ``JP_5L_Shiroiwa2016`` or ``JP_5L_Shiroiwa2016_4dp``.
        A 3L state needs a 3L value set and a 5L state a 5L one.

    Returns
    -------
    float
        The index (1.0 for ``11111``; below 0 for states worse than dead in most sets), not
        rounded; ``nan`` when a dimension of a sequence is missing.

    Raises
    ------
    InputError
        For an unknown value set (the message lists the known ones), a state that is not 5 levels
        long, or a level outside 1..5 (5L) or 1..3 (3L); the message names the instrument, the
        dimension, the value and the allowed levels.

    Notes
    -----
    index = 1 + sum of level decrements + constant (any level > 1; CN-3L, UK-3L, JP-5L) + N3 term
    (any level = 3; 3L sets). Coefficients as published (see ``data/PROVENANCE.md``); the
    published tables are rounded to 3 dp (JP: 6 dp), so is the index up to float precision.
    The EQ VAS never enters the index.

    See Also
    --------
    compute_eq5d_index : the same, vectorised over a DataFrame.

    Examples
    --------
    >>> eq5d_index("11111")
    1.0
    >>> eq5d_index("55555", "EN_5L_Devlin2018")
    -0.285
    """
    vs = _get_value_set(value_set)
    if isinstance(state, str):
        text = state.strip()
        if len(text) != 5:
            raise InputError(_state_message(vs, state, f"{len(text)} characters instead of 5"))
        levels: list[Any] = list(text)
        for d, ch in enumerate(levels):
            if not ch.isdigit():
                raise InputError(_item_message(vs, d, ch))
    elif isinstance(state, Sequence | np.ndarray | pd.Series) and not isinstance(state, bytes):
        levels = list(state)
        if len(levels) != 5:
            raise InputError(_state_message(vs, state, f"{len(levels)} levels instead of 5"))
    else:
        raise InputError(_state_message(vs, state, f"a value of type {type(state).__name__} is not a state"))
    parsed = [_parse_level(vs, d, v) for d, v in enumerate(levels)]
    if any(p is None for p in parsed):
        return math.nan
    code = 0
    for p in parsed:
        code = code * vs.levels + (int(p) - 1)  # type: ignore[arg-type]
    return float(vs.states[code])


def _levels_from_states(states: pd.Series, vs: _ValueSet) -> tuple[np.ndarray, list[str]]:
    """Split a column of written states into a (n, 5) float array; report malformed rows.

    Only the distinct values are parsed (``pandas.factorize``): there are at most ``L**5`` valid ones.
    """
    positions, uniques = pd.factorize(states, use_na_sentinel=True)
    parsed = np.full((len(uniques) + 1, 5), np.nan)  # trailing row: missing state
    malformed_u = np.zeros(len(uniques) + 1, dtype=bool)
    for k, u in enumerate(uniques):
        text = u.strip() if isinstance(u, str) else None
        if text is not None and len(text) == 5 and text.isascii() and text.isdigit():
            parsed[k] = [int(ch) for ch in text]
        else:
            malformed_u[k] = True
    levels = parsed[positions]
    malformed = malformed_u[positions]
    problems = []
    if malformed.any():
        problems.append(
            column_problem(
                f"{vs.instrument} state column {states.name!r}",
                states.index,
                malformed,
                states.to_numpy(dtype=object),
                f"5 digits, one per dimension (MO SC UA PD AD), each from 1 to {vs.levels}",
            )
        )
    return levels, problems


def compute_eq5d_index(
    data: pd.DataFrame | pd.Series,
    *,
    value_set: str = DEFAULT_VALUE_SET,
    dims: Sequence[str] | None = None,
    state_col: str | None = None,
) -> pd.Series:
    """Compute the EQ-5D index of every row, vectorised (no per-row Python).

    Parameters
    ----------
    data
        A DataFrame with one column per dimension (integer levels; missing as NaN/None), or with
        one column of written states (``state_col``); or a Series of written states.
    value_set
        Id of a shipped value set (see :func:`eq5d_index`); default ``CN_5L_Luo2017``.
    dims
        The five dimension columns in the order MO, SC, UA, PD, AD; default
        :data:`EQ5D_DIMENSIONS` (``mobility``, ``self_care``, ``usual_activities``,
        ``pain_discomfort``, ``anxiety_depression``).
    state_col
        Name of a column of written states (``"21345"``) to use instead of ``dims``.

    Returns
    -------
    pandas.Series
        ``eq5d_index``: float index per row, same index as ``data``; NaN where any dimension is
        missing. Identical to :func:`eq5d_index` row by row.

    Raises
    ------
    InputError
        Unknown value set, missing columns, or levels that are not allowed; the message names the
        instrument, each dimension and **every** offending row (index label and value).

    Examples
    --------
    >>> df = pd.DataFrame({"state": ["11111", "12345", None]})
    >>> compute_eq5d_index(df, state_col="state").round(3).tolist()
    [1.0, 0.335, nan]
    """
    vs = _get_value_set(value_set)
    problems: list[str] = []
    if isinstance(data, pd.Series):
        named = data if data.name is not None else data.rename("state")
        levels, problems = _levels_from_states(named, vs)
        index = data.index
        columns = [f"{data.name or 'state'}[{d}]" for d in EQ5D_DIMENSIONS]
    elif state_col is not None:
        require_columns(data, [state_col], what=f"{vs.instrument} scoring")
        levels, problems = _levels_from_states(data[state_col], vs)
        index = data.index
        columns = list(EQ5D_DIMENSIONS)
    else:
        columns = list(EQ5D_DIMENSIONS if dims is None else dims)
        if len(columns) != 5:
            msg = f"{vs.instrument} scoring: dims must name 5 columns (MO, SC, UA, PD, AD), got {columns}"
            raise InputError(msg)
        require_columns(data, columns, what=f"{vs.instrument} scoring")
        index = data.index
        levels = np.empty((len(data), 5))
        for d, col in enumerate(columns):
            values, unparseable = as_float_column(data[col])
            if unparseable.any():
                problems.append(
                    column_problem(
                        f"{vs.instrument} item {EQ5D_DIMENSIONS[d]!r} (column {col!r})",
                        index,
                        unparseable,
                        data[col].to_numpy(dtype=object),
                        f"an integer level from 1 to {vs.levels}",
                    )
                )
            levels[:, d] = values
    return pd.Series(_index_from_levels(levels, vs, index, columns, problems), index=index, name="eq5d_index")


def _index_from_levels(
    levels: np.ndarray, vs: _ValueSet, index: pd.Index, columns: Sequence[str], problems: list[str]
) -> np.ndarray:
    missing = np.isnan(levels)
    bad = ~missing & ((levels < 1) | (levels > vs.levels) | (levels != np.floor(levels)))
    if bad.any():
        allowed = "one of " + ", ".join(str(k) for k in range(1, vs.levels + 1))
        for d in map(int, np.flatnonzero(bad.any(axis=0))):
            where = f"{vs.instrument} item {EQ5D_DIMENSIONS[d]!r}"
            if columns[d] != EQ5D_DIMENSIONS[d]:
                where += f" (column {columns[d]!r})"
            problems.append(column_problem(where, index, bad[:, d], levels[:, d], allowed))
    if problems:
        raise InputError(f"value set {vs.id}: " + "; ".join(problems))
    any_missing = missing.any(axis=1)
    safe = np.where(missing, 1.0, levels).astype(np.int64) - 1
    code: np.ndarray = safe[:, 0]
    for d in range(1, 5):
        code = code * vs.levels + safe[:, d]
    result = vs.states[code]
    if any_missing.any():
        result = result.copy()
        result[any_missing] = np.nan
    return result


def score_eq5d(
    data: pd.DataFrame,
    *,
    version: str = "5L",
    value_set: str | None = None,
    dims: Sequence[str] | None = None,
    vas_col: str = "vas",
) -> pd.DataFrame:
    """Score EQ-5D records: the index from the five dimensions and the EQ VAS, kept apart.

    This is the registry scorer of ``EQ5D_5L`` and ``EQ5D_3L``.

    Parameters
    ----------
    data
        One row per record with the dimension columns (see ``dims``) and, optionally, the EQ VAS
        column ``vas_col`` (0-100).
    version
        ``"5L"`` (default) or ``"3L"``: the descriptive system the data were collected with.
    value_set
        Value set id; default ``CN_5L_Luo2017`` for 5L and ``CN_3L_Liu2014`` for 3L. It must be of
        the same version as the data.
    dims
        The five dimension columns (default :data:`EQ5D_DIMENSIONS`).
    vas_col
        Column of the EQ VAS; absent -> ``vas`` is all missing.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``, columns:

        - ``index``: EQ-5D index (feeds ``EQ5DIDX``);
        - ``vas``: EQ VAS 0-100 as recorded, validated, never combined with the index
          (feeds ``EQ5DVAS``).

    Raises
    ------
    InputError
        Bad version, value set of the other version, levels or VAS values not allowed (every
        offending row is listed).
    """
    versions = {"5L": "EQ-5D-5L", "3L": "EQ-5D-3L"}
    key = str(version).upper().removeprefix("EQ-5D-").removeprefix("EQ5D_")
    if key not in versions:
        msg = f"EQ-5D version {version!r} is not allowed; expected '5L' or '3L'"
        raise InputError(msg)
    if value_set is None:
        value_set = DEFAULT_VALUE_SET if key == "5L" else DEFAULT_VALUE_SET_3L
    vs = _get_value_set(value_set, version=versions[key])
    index = compute_eq5d_index(data, value_set=vs.id, dims=dims)
    if vas_col in data.columns:
        vas, unparseable = as_float_column(data[vas_col])
        bad = unparseable | (~np.isnan(vas) & ((vas < 0) | (vas > 100)))
        if bad.any():
            msg = column_problem(
                f"{vs.instrument} item 'vas' (column {vas_col!r})",
                data.index,
                bad,
                data[vas_col].to_numpy(dtype=object),
                "a number from 0 to 100",
            )
            raise InputError(msg)
    else:
        vas = np.full(len(data), np.nan)
    return pd.DataFrame({"index": index.to_numpy(), "vas": vas}, index=data.index)


def _score_eq5d_5l(data: pd.DataFrame, *, value_set: str = DEFAULT_VALUE_SET, **kwargs: Any) -> pd.DataFrame:
    """Registry scorer of EQ5D_5L (see :func:`score_eq5d`)."""
    return score_eq5d(data, version="5L", value_set=value_set, **kwargs)


def _score_eq5d_3l(
    data: pd.DataFrame, *, value_set: str = DEFAULT_VALUE_SET_3L, **kwargs: Any
) -> pd.DataFrame:
    """Registry scorer of EQ5D_3L (see :func:`score_eq5d`)."""
    return score_eq5d(data, version="3L", value_set=value_set, **kwargs)


_ANCHORS_5L = "1 = no problems, 2 = slight, 3 = moderate, 4 = severe, 5 = extreme problems / unable to"
_ANCHORS_3L = "1 = no problems, 2 = some problems, 3 = extreme problems / unable to"


def _items(levels: int) -> tuple[Item, ...]:
    anchors = _ANCHORS_5L if levels == 5 else _ANCHORS_3L
    dims = tuple(
        Item(code, label, "integer", allowed=tuple(range(1, levels + 1)), description=anchors)
        for code, label in zip(EQ5D_DIMENSIONS, _LABELS, strict=True)
    )
    vas = Item(
        "vas",
        "EQ VAS (own health today)",
        "integer",
        min=0,
        max=100,
        unit="points",
        required=False,
        description="0 = worst, 100 = best health you can imagine; reported apart, never enters the index",
    )
    return (*dims, vas)


def _citations(version: str) -> str:
    ids = [k for k, v in _META.items() if (k[3:5] == version)]
    return "EuroQol Group. EQ-5D. Value sets: " + " | ".join(f"{k}: {_META[k][1]}" for k in ids)


EQ5D_5L = register(
    Instrument(
        code="EQ5D_5L",
        name="EQ-5D-5L (index value and EQ VAS)",
        items=_items(5),
        scorer=_score_eq5d_5l,
        outputs={"index": "EQ5DIDX", "vas": "EQ5DVAS"},
        score_range="index: worst state (55555) to 1 (CN_5L_Luo2017: -0.391 to 1); VAS 0-100",
        missing_rule="any missing dimension -> index missing (no imputation); VAS scored on its own",
        citation=_citations("5L"),
        options={"value_set": DEFAULT_VALUE_SET},
    )
)

EQ5D_3L = register(
    Instrument(
        code="EQ5D_3L",
        name="EQ-5D-3L (index value and EQ VAS)",
        items=_items(3),
        scorer=_score_eq5d_3l,
        outputs={"index": "EQ5DIDX", "vas": "EQ5DVAS"},
        score_range="index: worst state (33333) to 1 (CN_3L_Liu2014: -0.149 to 1); VAS 0-100",
        missing_rule="any missing dimension -> index missing (no imputation); VAS scored on its own",
        citation=_citations("3L"),
        options={"value_set": DEFAULT_VALUE_SET_3L},
    )
)
