"""Score item-level observations with the instrument registry: one row per subject, visit, parameter.

Every per-visit instrument's items are pivoted to one row per subject and visit and passed to
the registry's own vectorised scorer, so a score with too many missing items is missing by that
instrument's rule (the scorer's), never by a rule invented here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ssctrial.derive._bds import assert_columns
from ssctrial.instruments import Instrument, get_instrument

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign

__all__ = ["compute_visit_scores", "instrument_options"]

logger = logging.getLogger(__name__)

_TRUE = {"true", "1", "1.0", "yes", "y", "t"}
_FALSE = {"false", "0", "0.0", "no", "n", "f"}


def _is_yes(values: pd.Series) -> pd.Series:
    """Return True where a stored text value means yes (the store's canonical 'True', or 1/yes)."""
    return values.astype("string").str.strip().str.lower().isin(_TRUE).fillna(False).astype(bool)


def instrument_options(instrument: Instrument, design: StudyDesign) -> dict[str, Any]:
    """Return the scorer options the study file sets for ``instrument`` (value set, lung equations)."""
    options: dict[str, Any] = {}
    if instrument.code.startswith("EQ5D") and design.eq5d_value_set:
        wanted = design.eq5d_value_set
        # a 5L value set only applies to the 5L instrument (and 3L to 3L)
        if ("_5L_" in wanted) == (instrument.code == "EQ5D_5L"):
            options["value_set"] = wanted
    if instrument.code == "PFT":
        options.update(
            equation=design.lung_equation.spirometry,
            transfer_equation=design.lung_equation.transfer_factor,
            ethnicity=design.lung_equation.ethnicity,
        )
    return options


def _typed_items(instrument: Instrument, long: pd.DataFrame) -> pd.DataFrame:
    """Pivot one instrument's observations to subject x visit rows with typed item columns.

    Numeric items take the stored numeric value, booleans are parsed from their canonical text,
    categorical items keep their text (or their integer code). The last stored value of an item
    wins (the store keeps one current value per item; corrections replace it).
    """
    keys = ["subject", "visit", "item"]
    latest = long.drop_duplicates(keys, keep="last").set_index(keys)
    text = latest["value"].unstack("item")
    numbers = latest["value_num"].unstack("item")
    columns: dict[str, Any] = {}
    for item in instrument.items:
        code = item.code
        if code not in text.columns:
            continue
        if item.type in ("integer", "number"):
            columns[code] = numbers[code].astype(float).to_numpy()
        elif item.type == "boolean":
            lowered = text[code].astype("string").str.strip().str.lower()
            values = pd.array([pd.NA] * len(lowered), dtype="boolean")
            values[lowered.isin(_TRUE).fillna(False).to_numpy()] = True
            values[lowered.isin(_FALSE).fillna(False).to_numpy()] = False
            columns[code] = values
        elif item.allowed is not None and all(isinstance(a, int) for a in item.allowed):
            columns[code] = pd.to_numeric(text[code], errors="coerce").to_numpy()
        else:
            columns[code] = text[code].to_numpy()
    return pd.DataFrame(columns, index=text.index)


def compute_visit_scores(
    observations: pd.DataFrame,
    design: StudyDesign,
    *,
    subjects: pd.DataFrame | None = None,
    visit_dates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every per-visit instrument and return one row per subject, visit and parameter.

    Parameters
    ----------
    observations
        Long item-level data: ``subject, visit, instrument, item, value`` (text) and
        ``value_num`` (numeric value or NaN), as :meth:`ssctrial.store.Store.observations` gives.
    design
        The study design (value set, lung-function equations).
    subjects
        ``subject, sex, birth_date, height_cm``: needed by instruments that need demographics
        (lung function % predicted). Age is taken at the visit date.
    visit_dates
        ``subject, visit, visit_date``: the date of each visit (for the age at the visit).

    Returns
    -------
    DataFrame
        ``subject, visit, instrument, PARAMCD, AVAL``: one row per scored parameter (the
        registry's ``outputs`` that map to a PARAMCD), AVAL NaN where the instrument's missing-
        item rule makes the score missing.
    """
    assert_columns(
        observations, ["subject", "visit", "instrument", "item", "value", "value_num"], what="observations"
    )
    pieces: list[pd.DataFrame] = []
    for code, long in observations.groupby("instrument", sort=True, observed=True):
        instrument = get_instrument(str(code))
        if not instrument.per_visit:
            continue
        params = {col: paramcd for col, paramcd in instrument.outputs.items() if paramcd}
        if not params:
            continue
        wide = _typed_items(instrument, long)
        scorable = np.ones(len(wide), dtype=bool)
        if instrument.code == "PFT":
            wide = _with_demographics(wide, subjects, visit_dates)
            # a visit without a date, or a subject without birth date or height, has no age or
            # height for the equations: its % predicted values are missing, the rest are scored
            scorable = wide[["age", "height_cm"]].notna().all(axis=1).to_numpy()
        options = instrument_options(instrument, design)
        scores = instrument.scorer(wide.loc[scorable].reset_index(drop=True), **options)
        index = wide.index.to_frame(index=False)
        for column, paramcd in params.items():
            if column not in scores:
                continue
            aval = np.full(len(wide), np.nan)
            aval[scorable] = pd.to_numeric(pd.Series(scores[column]), errors="coerce").astype(float)
            pieces.append(index.assign(instrument=instrument.code, PARAMCD=paramcd, AVAL=aval))
    if not pieces:
        return pd.DataFrame(columns=["subject", "visit", "instrument", "PARAMCD", "AVAL"])
    out = pd.concat(pieces, ignore_index=True)
    logger.info("scored %d parameter values from %d observations", len(out), len(observations))
    return out


def _with_demographics(
    wide: pd.DataFrame, subjects: pd.DataFrame | None, visit_dates: pd.DataFrame | None
) -> pd.DataFrame:
    """Add sex, age at the visit and height (the PFT height item wins where captured)."""
    if subjects is None or visit_dates is None:
        msg = "lung function % predicted needs subjects (sex, birth_date, height_cm) and visit dates"
        raise ValueError(msg)
    keys = wide.index.to_frame(index=False)
    demo = keys.merge(subjects[["subject", "sex", "birth_date", "height_cm"]], on="subject", how="left")
    demo = demo.merge(visit_dates[["subject", "visit", "visit_date"]], on=["subject", "visit"], how="left")
    visit = pd.to_datetime(demo["visit_date"])
    birth = pd.to_datetime(demo["birth_date"])
    out = wide.copy()
    out["sex"] = demo["sex"].to_numpy()
    out["age"] = ((visit - birth).dt.days / 365.25).to_numpy()
    captured = out["height_cm"].to_numpy(dtype=float) if "height_cm" in out else np.full(len(out), np.nan)
    out["height_cm"] = np.where(np.isnan(captured), demo["height_cm"].astype(float).to_numpy(), captured)
    return out
