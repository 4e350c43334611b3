"""The pure generative model of a trial: a study design and a seed in, tidy DataFrames out (no DB)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.simulate._adverse import simulate_adverse_events
from ssctrial.simulate._course import build_schedule, simulate_clinical, simulate_course
from ssctrial.simulate._items import simulate_items, simulate_screening_items, stack_items
from ssctrial.simulate._params import SimulationParameters, load_simulation_parameters
from ssctrial.simulate._patients import derive_strata, draw_categorical, simulate_patients

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ssctrial.design import StudyDesign

__all__ = ["SimulatedTrial", "simulate_trial_data"]

logger = logging.getLogger(__name__)

#: Independent random streams, one per model component (adding a component never shifts another).
_STREAMS = (
    "patients",
    "screening",
    "allocation",
    "skin",
    "conduct",
    "globals",
    "haq",
    "lung",
    "organ",
    "crp",
    "joints",
    "du",
    "tfr",
    "skin_extra",
    "mrss",
    "mrss_scr",
    "haq_items",
    "eq5d",
    "du_items",
    "pft",
    "pft_scr",
    "adverse",
)


def component_rngs(seed: int) -> dict[str, np.random.Generator]:
    """One numpy Generator (PCG64) per model component, each from ``SeedSequence([seed, k])``."""
    return {name: np.random.default_rng(np.random.SeedSequence([seed, k])) for k, name in enumerate(_STREAMS)}


@dataclass
class SimulatedTrial:
    """Everything a simulated trial produced, as tidy DataFrames.

    Attributes
    ----------
    subjects
        One row per screened person: ``subject``, ``site``, ``consent_date``, ``birth_date``,
        ``sex``, ``age`` (years at baseline), ``height_cm``, ``weight_kg``, ``ethnicity``,
        ``subtype``, ``disease_duration_months``, ``autoantibody``, ``bg_*`` (background
        therapy, bool), one column per stratification factor, ``status`` (``screen_failed``,
        ``completed``, ``withdrawn``), ``screen_failure_reason``, ``arm`` (None when not
        randomised), ``baseline_date``, ``withdrawal_date``, ``withdrawal_reason``, ``last_day``.
    visits
        ``subject, visit, day, visit_date, status`` (``completed``, ``missed``, ``withdrawn``) for
        every randomised subject and scheduled visit (screening included).
    observations
        The long item-level table ``subject, visit, instrument, item, value`` (attended visits
        only, the instruments the study file schedules there, item codes of the registry).
    adverse_events
        ``subject, term, body_system, start_date, stop_date, grade, serious, relatedness,
        outcome`` (and the study days ``start_day``, ``stop_day``).
    organ_events
        ACR-CRISS step-1 events: ``subject, event`` (``renal_crisis``, ``fvc_decline``,
        ``lv_failure``, ``pah``), ``day``, ``event_date``.
    truth
        The latent course: ``subject, visit, arm, skin_true, skin_change_true, haq_latent,
        fvc_pct_true, dlco_pct_true`` (the truth that analyses are tested against).
    design, params, seed
        What produced it.
    """

    subjects: pd.DataFrame
    visits: pd.DataFrame
    observations: pd.DataFrame
    adverse_events: pd.DataFrame
    organ_events: pd.DataFrame
    truth: pd.DataFrame
    design: StudyDesign
    params: SimulationParameters
    seed: int

    @property
    def randomised(self) -> pd.DataFrame:
        """The randomised subjects (rows of :attr:`subjects` with an arm)."""
        return self.subjects[self.subjects["arm"].notna()].reset_index(drop=True)


def _check_n_seed(n: object, seed: object) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        msg = f"n={n!r} is not allowed; expected the number of randomised patients, an integer of at least 1"
        raise InputError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed={seed!r} is not allowed; expected an integer of at least 0"
        raise InputError(msg)
    return int(n), int(seed)


def _concat_categorical(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate long tables whose key columns are categoricals (union of the categories)."""
    keys = ("subject", "visit", "instrument", "item")
    cats = {}
    for k in keys:
        seen: dict[str, None] = {}
        for f in frames:
            seen.update(dict.fromkeys(f[k].cat.categories if hasattr(f[k], "cat") else f[k].unique()))
        cats[k] = list(seen)
    fixed = [f.assign(**{k: pd.Categorical(f[k], categories=cats[k]) for k in keys}) for f in frames]
    return pd.concat(fixed, ignore_index=True)


def allocate_arms(design: StudyDesign, strata: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Stratified permuted blocks (the study's block sizes and ratio) for the pure model.

    :func:`ssctrial.simulate.simulate_trial` randomises through ``ssctrial.randomize`` instead;
    this keeps the pure generator free of a database.
    """
    arms = [a.code for a in design.arms]
    unit = [a.code for a in design.arms for _ in range(a.ratio)]
    sizes = list(design.randomization.block_sizes) or [len(unit)]
    keys = (
        strata.astype(str).agg("|".join, axis=1).to_numpy() if strata.shape[1] else np.full(len(strata), "")
    )
    out = np.empty(len(strata), dtype=object)
    for key in sorted(set(keys)):
        idx = np.flatnonzero(keys == key)
        seq: list[str] = []
        while len(seq) < idx.size:
            size = sizes[int(rng.integers(0, len(sizes)))]
            block = np.array(unit * (size // len(unit)), dtype=object)
            seq.extend(block[rng.permutation(block.size)])
        out[idx] = seq[: idx.size]
    if not set(out) <= set(arms):  # pragma: no cover - by construction
        msg = "allocation produced an unknown arm"
        raise RuntimeError(msg)
    return out


def _where_none(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Object array: ``values`` where ``mask``, else None."""
    out = np.full(mask.shape, None, dtype=object)
    out[mask] = np.asarray(values, dtype=object)[mask]
    return out


@dataclass
class Screened:
    """Everyone screened: who fails (and why), their characteristics, strata and dates."""

    fail: np.ndarray
    reasons: np.ndarray
    candidates: pd.DataFrame
    strata: pd.DataFrame
    factors: dict[str, tuple[str, ...]]
    ids: np.ndarray
    consent: list
    baseline_dates: list
    gap: np.ndarray
    n_screened: int
    subjects: (
        pd.DataFrame
    )  # enrolment view: subject, site, consent_date, birth_date, sex, height_cm, strata...


def _screen(
    design: StudyDesign, p: SimulationParameters, n: int, rngs: dict[str, np.random.Generator]
) -> Screened:
    # screening: candidates until n are eligible
    f = p.screening.failure_rate
    n_cand = int(np.ceil(n / max(1.0 - f, 1e-3) * 1.5)) + 20
    fail = rngs["screening"].random(n_cand) < f
    eligible_rank = np.cumsum(~fail)
    n_screened = int(np.searchsorted(eligible_rank, n) + 1)
    fail = fail[:n_screened]
    reasons = draw_categorical(rngs["screening"], p.screening.failure_reasons, n_screened)
    candidates = simulate_patients(p, rngs["patients"], n_screened)
    factors = {fc.code: fc.levels for fc in design.stratification_factors}
    strata = derive_strata(p, candidates, factors)
    width = max(3, len(str(n_screened)))
    ids = np.array([f"{design.study_id}-{i + 1:0{width}d}" for i in range(n_screened)], dtype=object)
    c = p.conduct
    screen_day = np.floor(np.arange(n_screened) / max(n_screened, 1) * (c.recruitment_days + 1)).astype(int)
    span = p.screening.days_before_baseline
    gap = span.min + np.floor(rngs["screening"].random(n_screened) * (span.max - span.min + 1)).astype(int)
    consent = [c.first_screening_date + timedelta(days=int(d)) for d in screen_day]
    baseline_dates = [consent[i] + timedelta(days=int(gap[i])) for i in range(n_screened)]
    subjects = pd.DataFrame(
        {
            "subject": ids,
            "site": design.sites[0].code if design.sites else None,
            "consent_date": consent,
            "birth_date": [
                baseline_dates[i] - timedelta(days=round(float(age) * 365.25))
                for i, age in enumerate(candidates["age"].to_numpy(dtype=float))
            ],
            "sex": candidates["sex"].to_numpy(),
            "height_cm": candidates["height_cm"].to_numpy(),
            "screen_failed": fail,
            "screen_failure_reason": _where_none(fail, reasons),
        }
    )
    for code in factors:
        subjects[code] = strata[code].to_numpy()
    return Screened(
        fail, reasons, candidates, strata, factors, ids, consent, baseline_dates, gap, n_screened, subjects
    )


def screen_candidates(design: StudyDesign, params: SimulationParameters, *, n: int, seed: int) -> Screened:
    """Screen people until ``n`` are eligible (the arm-independent first step of the model)."""
    n, seed = _check_n_seed(n, seed)
    return _screen(design, params, n, component_rngs(seed))


def _demog_observations(
    design: StudyDesign, patients: pd.DataFrame, subjects: np.ndarray, visit: str
) -> pd.DataFrame:
    """Build the DEMOG form (baseline characteristics) of each randomised patient, at screening."""
    from ssctrial.instruments import BACKGROUND_THERAPIES

    if "DEMOG" not in {i for v in design.visits if v.code == visit for i in v.instruments}:
        return pd.DataFrame(columns=["subject", "visit", "instrument", "item", "value"])
    columns: dict[str, list[object]] = {
        "weight_kg": [round(float(w), 1) for w in patients["weight_kg"]],
        "ethnicity": [design.lung_equation.ethnicity] * len(patients),
        "subtype": list(patients["subtype"]),
        "disease_duration_months": [float(d) for d in patients["disease_duration_months"]],
        "autoantibody": list(patients["autoantibody"]),
    }
    for name in BACKGROUND_THERAPIES:
        if f"bg_{name}" in patients:
            columns[f"bg_{name}"] = [bool(b) for b in patients[f"bg_{name}"]]
    parts = [
        pd.DataFrame(
            {"subject": subjects, "visit": visit, "instrument": "DEMOG", "item": item, "value": values}
        )
        for item, values in columns.items()
    ]
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["subject"], kind="stable").reset_index(drop=True)


def _organ_observations(
    design: StudyDesign, clin: dict, course: Any, subjects: np.ndarray, visit_codes: list[str]
) -> pd.DataFrame:
    """Build the ORGAN form at each attended follow-up visit: a step-1 event since the previous one."""
    scheduled = {v.code for v in design.visits if "ORGAN" in v.instruments}
    events = cast("dict[str, np.ndarray]", clin["events"])
    rows: list[pd.DataFrame] = []
    previous = np.zeros(len(subjects))
    for v, code in enumerate(visit_codes):
        day = course.day[:, v].astype(float)
        attended = course.attended[:, v]
        if code in scheduled and attended.any():
            idx = np.flatnonzero(attended)
            for name in ("renal_crisis", "fvc_decline", "lv_failure", "pah"):
                when = events[name].astype(float)
                happened = (when >= 0) & (when > previous) & (when <= day)
                rows.append(
                    pd.DataFrame(
                        {
                            "subject": subjects[idx],
                            "visit": code,
                            "instrument": "ORGAN",
                            "item": name,
                            "value": [bool(x) for x in happened[idx]],
                        }
                    )
                )
        previous = np.where(attended, day, previous)
    if not rows:
        return pd.DataFrame(columns=["subject", "visit", "instrument", "item", "value"])
    return pd.concat(rows, ignore_index=True)


def simulate_trial_data(
    design: StudyDesign,
    *,
    n: int,
    seed: int,
    arms: Sequence[str] | None = None,
    params: SimulationParameters | None = None,
) -> SimulatedTrial:
    """Simulate a whole trial from the study file's ``simulation:`` section, without a database.

    Parameters
    ----------
    design
        The study (:func:`ssctrial.design.load_study`); its arms, strata, visit schedule and
        ``simulation:`` section drive the model.
    n
        Number of randomised patients (screen failures come on top).
    seed
        Seed of every random stream (same seed and study file -> identical output).
    arms
        Arm of each randomised patient, in order (as ``ssctrial.randomize`` allocated them);
        default: stratified permuted blocks drawn from the seed.
    params
        Parameters to use instead of the study file's section (for sensitivity runs).

    Returns
    -------
    SimulatedTrial
        Subjects, visits, item-level observations, adverse events, organ events and the truth.

    Raises
    ------
    InputError
        Bad ``n``, ``seed`` or ``arms``, or a simulation section that does not fit the study.

    Notes
    -----
    The model (docs/simulation.md): screening with failures and reasons; demographics, subtype,
    disease duration, autoantibodies, background therapy and strata; a latent skin course per
    patient (its expected change from baseline equals the study file's mean change per arm and
    visit) from which the 17 mRSS site grades are drawn; globals, HAQ-DI, EQ-5D-5L, joints,
    digital ulcers, friction rubs, CRP, FVC/DLCO (litres and mL/min/mmHg; % predicted is left to
    the GLI equations) coupled to it; visit dates inside windows, missed visits, withdrawals
    missing at random; adverse events.

    Examples
    --------
    >>> from ssctrial.design import load_study
    >>> trial = simulate_trial_data(load_study("basics"), n=12, seed=1)
    >>> sorted(trial.randomised["arm"].unique())
    ['BARI2', 'BARI4', 'CTRL']
    """
    t0 = time.perf_counter()
    n, seed = _check_n_seed(n, seed)
    p = params if params is not None else load_simulation_parameters(design)
    if params is not None:
        p.check_against(design)
    rngs = component_rngs(seed)
    schedule = build_schedule(design)

    sc = _screen(design, p, n, rngs)
    fail, reasons, candidates, strata, factors = sc.fail, sc.reasons, sc.candidates, sc.strata, sc.factors
    ids, consent, baseline_dates, gap, n_screened = (
        sc.ids,
        sc.consent,
        sc.baseline_dates,
        sc.gap,
        sc.n_screened,
    )
    rand_idx = np.flatnonzero(~fail)
    if arms is None:
        arm = allocate_arms(design, strata.iloc[rand_idx], rngs["allocation"])
    else:
        arm = np.asarray(list(arms), dtype=object)
        if arm.size != n:
            msg = f"arms: got {arm.size} arm codes for n={n} randomised patients; give one per patient"
            raise InputError(msg)
        bad = sorted(set(arm) - set(design.arm_codes))
        if bad:
            msg = f"arms: unknown arm code(s) {bad!r}; the study's arms are {design.arm_codes!r}"
            raise InputError(msg)

    patients = candidates.iloc[rand_idx].reset_index(drop=True)
    course = simulate_course(p, schedule, patients, arm, rngs)
    clin = simulate_clinical(p, course, patients, rngs)
    lung = {
        "ethnicity": design.lung_equation.ethnicity,
        "equation": design.lung_equation.spirometry,
        "transfer_equation": design.lung_equation.transfer_factor,
    }
    items = simulate_items(p, course, clin, patients, rngs, lung=lung)
    subj = ids[rand_idx]
    sched_map = {v.code: v.instruments for v in design.visits}
    obs = [stack_items(items, subj, schedule.codes, course.attended, sched_map)]
    if schedule.screening is not None:
        scr_items = simulate_screening_items(p, course, clin, patients, -gap[rand_idx], rngs, lung=lung)
        obs.insert(0, stack_items(scr_items, subj, [schedule.screening], np.ones((n, 1), bool), sched_map))
    if schedule.screening is not None:
        obs.append(_demog_observations(design, patients, subj, schedule.screening))
    obs.append(_organ_observations(design, clin, course, subj, schedule.codes))
    observations = _concat_categorical(obs)

    # subjects table
    last_visit_day = np.where(course.attended, course.day, -1).max(axis=1)
    last_day = np.where(course.withdrawn_after >= 0, course.withdrawal_day, last_visit_day)
    subjects = candidates.drop(columns="skin_baseline").copy()
    subjects.insert(0, "subject", ids)
    subjects.insert(1, "site", design.sites[0].code if design.sites else None)
    subjects.insert(2, "consent_date", consent)
    subjects.insert(
        3,
        "birth_date",
        sc.subjects["birth_date"].to_numpy(),
    )
    subjects["ethnicity"] = design.lung_equation.ethnicity
    for code in factors:
        subjects[code] = strata[code].to_numpy()
    status = np.full(n_screened, "screen_failed", dtype=object)
    status[rand_idx] = np.where(course.withdrawn_after >= 0, "withdrawn", "completed")
    subjects["status"] = status
    subjects["screen_failure_reason"] = _where_none(fail, reasons)
    arm_full = np.full(n_screened, None, dtype=object)
    arm_full[rand_idx] = arm
    subjects["arm"] = arm_full
    base_full = np.full(n_screened, None, dtype=object)
    base_full[rand_idx] = [baseline_dates[i] for i in rand_idx]
    subjects["baseline_date"] = base_full
    wd = np.full(n_screened, None, dtype=object)
    wr = np.full(n_screened, None, dtype=object)
    ld = np.full(n_screened, np.nan)
    for k, i in enumerate(rand_idx):
        if course.withdrawn_after[k] >= 0:
            wd[i] = baseline_dates[i] + timedelta(days=int(course.withdrawal_day[k]))
            wr[i] = course.withdrawal_reason[k]
        ld[i] = last_day[k]
    subjects["withdrawal_date"] = wd
    subjects["withdrawal_reason"] = wr
    subjects["last_day"] = ld

    # visits table
    bdates = np.array([baseline_dates[i] for i in rand_idx], dtype=object)
    vrows = []
    if schedule.screening is not None:
        vrows.append(
            pd.DataFrame(
                {
                    "subject": subj,
                    "visit": schedule.screening,
                    "day": -gap[rand_idx],
                    "visit_date": [consent[i] for i in rand_idx],
                    "status": "completed",
                }
            )
        )
    for v, code in enumerate(schedule.codes):
        vrows.append(
            pd.DataFrame(
                {
                    "subject": subj,
                    "visit": code,
                    "day": course.day[:, v],
                    "visit_date": [
                        b + timedelta(days=int(d)) for b, d in zip(bdates, course.day[:, v], strict=True)
                    ],
                    "status": course.status[:, v],
                }
            )
        )
    visits = pd.concat(vrows, ignore_index=True)
    order = {
        c: k for k, c in enumerate(([schedule.screening] if schedule.screening else []) + schedule.codes)
    }
    visits = visits.sort_values(["subject", "visit"], key=lambda s: s.map(order) if s.name == "visit" else s)
    visits = visits.reset_index(drop=True)

    # adverse and organ events
    control = (design.reference_arm,)
    events = cast("dict[str, np.ndarray]", clin["events"])
    ae = simulate_adverse_events(p, subj, arm, last_day, events, rngs["adverse"], control_arms=control)
    start_of = dict(zip(subj, bdates, strict=True))
    ae["start_date"] = [
        start_of[s] + timedelta(days=int(d)) for s, d in zip(ae["subject"], ae["start_day"], strict=True)
    ]
    ae["stop_date"] = [
        None if pd.isna(d) else start_of[s] + timedelta(days=int(d))
        for s, d in zip(ae["subject"], ae["stop_day"], strict=True)
    ]
    ae = ae[
        [
            "subject",
            "term",
            "body_system",
            "start_date",
            "stop_date",
            "grade",
            "serious",
            "relatedness",
            "outcome",
            "start_day",
            "stop_day",
        ]
    ]
    ev_rows = []
    for name, days in events.items():
        has = (days >= 0) & (days <= last_day)
        ev_rows.append(pd.DataFrame({"subject": subj[has], "event": name, "day": days[has]}))
    organ = (
        pd.concat(ev_rows, ignore_index=True)
        .sort_values(["subject", "day"], kind="stable")
        .reset_index(drop=True)
    )
    organ["event_date"] = [
        start_of[s] + timedelta(days=int(d)) for s, d in zip(organ["subject"], organ["day"], strict=True)
    ]

    truth = pd.DataFrame(
        {
            "subject": np.repeat(subj, len(schedule.codes)),
            "visit": np.tile(schedule.codes, n),
            "arm": np.repeat(arm, len(schedule.codes)),
            "skin_true": course.skin_true.reshape(-1),
            "skin_change_true": course.skin_change_true.reshape(-1),
            "haq_latent": clin["haq"].reshape(-1),
            "fvc_pct_true": clin["fvc_pct"].reshape(-1),
            "dlco_pct_true": clin["dlco_pct"].reshape(-1),
        }
    )
    logger.info(
        "simulated %d screened / %d randomised patients, %d observations in %.2f s",
        n_screened,
        n,
        len(observations),
        time.perf_counter() - t0,
    )
    return SimulatedTrial(
        subjects=subjects.reset_index(drop=True),
        visits=visits,
        observations=observations,
        adverse_events=ae.reset_index(drop=True),
        organ_events=organ,
        truth=truth,
        design=design,
        params=p,
        seed=seed,
    )
