"""Adverse events: JAK-inhibitor-typical terms with CTCAE grade and seriousness, and SSc organ events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssctrial.simulate._params import SimulationParameters

__all__: list[str] = []

#: ACR-CRISS step-1 events, reported as serious adverse events (term, MedDRA SOC, grade).
ORGAN_EVENT_TERMS: dict[str, tuple[str, str, int]] = {
    "renal_crisis": ("Scleroderma renal crisis", "Renal and urinary disorders", 4),
    "fvc_decline": (
        "Interstitial lung disease progression",
        "Respiratory, thoracic and mediastinal disorders",
        3,
    ),
    "lv_failure": ("Left ventricular failure", "Cardiac disorders", 3),
    "pah": ("Pulmonary arterial hypertension", "Respiratory, thoracic and mediastinal disorders", 3),
}

_COLUMNS = [
    "subject",
    "term",
    "body_system",
    "start_day",
    "stop_day",
    "grade",
    "serious",
    "relatedness",
    "outcome",
]


def simulate_adverse_events(
    params: SimulationParameters,
    subjects: np.ndarray,
    arms: np.ndarray,
    last_day: np.ndarray,
    events: dict[str, np.ndarray],
    rng: np.random.Generator,
    *,
    control_arms: tuple[str, ...],
) -> pd.DataFrame:
    """Draw adverse events for each randomised subject over their time on study.

    A subject has each listed term at least once with the term's 24-week probability for the arm,
    scaled to the time on study (``1 - (1 - p) ** (t / 168)``); onset is uniform over the time on
    study, duration geometric (mean 14 days); events still running at the last study day are
    ``not_recovered``. Grade follows the term's CTCAE grade distribution; grade 4-5 events are
    always serious. Relatedness: ``not_related`` in the control arm, else ``possible`` or
    ``probable``. Organ events (ACR-CRISS step 1) that fall before the last study day are added as
    serious events.

    Returns
    -------
    pandas.DataFrame
        ``subject, term, body_system, start_day, stop_day`` (NaN = ongoing), ``grade`` (1-5),
        ``serious`` (bool), ``relatedness``, ``outcome``; sorted by subject and onset.
    """
    n = len(subjects)
    rows: list[pd.DataFrame] = []
    span = np.maximum(last_day, 1).astype(float)
    is_control = np.isin(arms, list(control_arms))
    for spec in params.adverse_events:
        p24 = np.array([spec.probability[a] for a in arms]) if n else np.zeros(0)
        p = 1.0 - (1.0 - p24) ** (span / 168.0)
        u = rng.random(n)
        u_start = rng.random(n)
        u_dur = rng.random(n)
        u_grade = rng.random(n)
        u_ser = rng.random(n)
        u_rel = rng.random(n)
        has = u < p
        if not has.any():
            continue
        start = 1 + np.floor(u_start * span).astype(int)
        duration = 1 + np.floor(np.log(np.clip(u_dur, 1e-12, 1)) / np.log(1 - 1 / 14.0)).astype(int)
        stop = start + duration
        cum = np.cumsum(spec.grade_probabilities)
        grade = 1 + np.searchsorted(cum, u_grade, side="right").clip(0, 4)
        serious = (u_ser < spec.serious_probability) | (grade >= 4)
        related = np.where(is_control, "not_related", np.where(u_rel < 0.6, "possible", "probable"))
        ongoing = stop > span
        rows.append(
            pd.DataFrame(
                {
                    "subject": subjects[has],
                    "term": spec.term,
                    "body_system": spec.soc,
                    "start_day": start[has],
                    "stop_day": np.where(ongoing, np.nan, stop)[has],
                    "grade": grade[has],
                    "serious": serious[has],
                    "relatedness": related[has],
                    "outcome": np.where(ongoing, "not_recovered", "recovered")[has],
                }
            )
        )
    for name, (term, soc, grade_value) in ORGAN_EVENT_TERMS.items():
        day = events[name]
        has = (day >= 0) & (day <= span)
        if not has.any():
            continue
        rows.append(
            pd.DataFrame(
                {
                    "subject": subjects[has],
                    "term": term,
                    "body_system": soc,
                    "start_day": day[has],
                    "stop_day": np.nan,
                    "grade": grade_value,
                    "serious": True,
                    "relatedness": "unlikely",
                    "outcome": "not_recovered",
                }
            )
        )
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in _COLUMNS})
    out = pd.concat(rows, ignore_index=True)
    order = np.lexsort((out["term"].to_numpy(), out["start_day"].to_numpy(), out["subject"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)[_COLUMNS]
