"""The latent disease course of each patient and the conduct of the trial (visits, withdrawals).

Everything here is a pure function of the parameters, the patients, their arms and a numpy
Generator per component. Random numbers are drawn in the same amount whatever the arms, so
the same seed gives every patient the same noise in every arm (common random numbers): the arm
only shifts the course.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from ssctrial.simulate._params import SimulationParameters
from ssctrial.simulate._patients import draw_categorical, draw_normal, expected_skin_baseline

__all__: list[str] = []

MRSS_MAX = 51


@dataclass
class Schedule:
    """The on-study visits (baseline and later) of a design, in order."""

    codes: list[str]
    days: np.ndarray  # target day of each visit
    before: np.ndarray  # window before (days)
    after: np.ndarray  # window after (days)
    primary: str  # the primary visit (time scale of the random slopes)
    screening: str | None  # code of the screening visit (day < 0), if any

    @property
    def baseline_index(self) -> int:
        """Index of the baseline visit (always 0)."""
        return 0


@dataclass
class Course:
    """Latent and observed course of ``n`` patients over the ``V`` on-study visits (arrays n x V)."""

    schedule: Schedule
    arm: np.ndarray
    day: np.ndarray  # actual study day of each visit (int)
    attended: np.ndarray  # bool: the visit took place (not missed, not after withdrawal)
    status: np.ndarray  # "completed" / "missed" / "withdrawn"
    withdrawn_after: np.ndarray  # index of the last visit before withdrawal, -1 if completed
    withdrawal_day: np.ndarray  # study day of withdrawal (-1 if none)
    withdrawal_reason: np.ndarray  # object, "" if none
    skin_true: np.ndarray  # true mRSS (continuous)
    mrss_total: np.ndarray  # observed total (int) assessed at every visit (attended or not)
    screening_total: np.ndarray  # observed total at screening (n,)
    skin_change_true: np.ndarray  # true change from baseline
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def build_schedule(design) -> Schedule:  # noqa: ANN001 - StudyDesign (imported lazily by callers)
    """Return the on-study visit schedule of ``design`` (baseline and the visits after it)."""
    base = design.baseline_visit
    on = [v for v in design.visits if v.day >= base.day]
    screening = [v for v in design.visits if v.day < base.day]
    primary_ep = design.primary_endpoint
    primary = primary_ep.visits[0] if primary_ep is not None else on[-1].code
    return Schedule(
        codes=[v.code for v in on],
        days=np.array([v.day - base.day for v in on], dtype=float),
        before=np.array([v.window_before for v in on], dtype=int),
        after=np.array([v.window_after for v in on], dtype=int),
        primary=primary,
        screening=screening[0].code if screening else None,
    )


def arm_visit_matrix(
    mapping: dict[str, dict[str, float]], arms: np.ndarray, schedule: Schedule, *, carry: bool = False
) -> np.ndarray:
    """Per-patient mean at every visit from ``{arm: {visit: value}}`` (0 at baseline).

    Visits not given are interpolated linearly in target day between the given ones (and 0 at
    baseline); after the last given visit the last value is carried forward.
    """
    out = np.zeros((len(arms), len(schedule.codes)))
    for arm, by_visit in mapping.items():
        xs = [0.0] + [float(schedule.days[schedule.codes.index(v)]) for v in by_visit]
        ys = [0.0] + list(by_visit.values())
        order = np.argsort(xs)
        row = np.interp(schedule.days, np.asarray(xs)[order], np.asarray(ys)[order])
        out[arms == arm] = row
    return out


def stochastic_round(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Round to an integer up or down with probabilities that keep the expectation: E[out] = x."""
    lo = np.floor(x)
    return (lo + (rng.random(x.shape) < (x - lo))).astype(int)


def simulate_course(
    params: SimulationParameters,
    schedule: Schedule,
    patients: pd.DataFrame,
    arms: np.ndarray,
    rngs: dict[str, np.random.Generator],
) -> Course:
    """Simulate the skin course, visit timing, missed visits and withdrawals.

    The true mRSS of patient i at visit v is ``S0_i * (1 + k_i m_a(v)/E[S0] + b_i sqrt(t_v/t_p))``:
    ``S0_i`` the true baseline, ``m_a(v)`` the arm's mean change from the study file, ``E[S0]`` the
    population mean of ``S0``, ``k_i`` the responder multiplier (mean 1 in each arm; so the
    expected change is exactly ``m_a(v)``), ``b_i`` a
    patient-specific relative slope and ``t_p`` the day of the primary visit. The assessed total
    adds assessment error and is rounded stochastically to an integer (expectation kept).
    """
    n, nv = len(patients), len(schedule.codes)
    sk = params.skin
    rng = rngs["skin"]
    s0 = patients["skin_baseline"].to_numpy(dtype=float)
    es0 = expected_skin_baseline(params)
    m = arm_visit_matrix(sk.mean_change, arms, schedule)
    t_primary = float(schedule.days[schedule.codes.index(schedule.primary)])
    h = np.sqrt(np.clip(schedule.days, 0, None) / t_primary)
    b = rng.standard_normal(n) * sk.relative_slope_sd
    # responder mixture: multiplier k of the arm's mean change, E[k] = 1 within every arm
    u_resp = rng.random(n)
    k = np.ones(n)
    for arm, spec in sk.responders.items():
        k_non = 1.0 / (spec.fraction * spec.ratio + 1.0 - spec.fraction)
        k = np.where(arms == arm, np.where(u_resp < spec.fraction, spec.ratio * k_non, k_non), k)
    skin_true = s0[:, None] * (1.0 + k[:, None] * m / es0 + b[:, None] * h[None, :])
    skin_true = np.clip(skin_true, 0.0, MRSS_MAX)
    noise = rng.standard_normal((n, nv)) * sk.assessment_sd
    observed = np.clip(skin_true + noise, 0.0, MRSS_MAX)
    mrss_total = stochastic_round(rng, observed)
    scr = np.clip(s0 + rng.standard_normal(n) * sk.assessment_sd, 0.0, MRSS_MAX)
    screening_total = stochastic_round(rng, scr)

    # visit timing
    c = params.conduct
    rc = rngs["conduct"]
    u_on = rc.random((n, nv))
    u_day = rc.random((n, nv))
    lo = schedule.days - schedule.before
    width = schedule.before + schedule.after + 1
    drawn = lo[None, :] + np.floor(u_day * width[None, :])
    day = np.where(u_on < c.on_target_probability, schedule.days[None, :], drawn).astype(int)
    day[:, 0] = 0
    missed = rc.random((n, nv)) < c.missed_visit_probability
    missed[:, 0] = False

    # withdrawals, missing at random: depends on the observed worsening at the last attended visit
    u_w = rc.random((n, nv))
    u_wday = rc.random((n, nv))
    reasons = draw_categorical(rc, c.withdrawal_reasons, n)
    withdrawn_after = np.full(n, -1)
    withdrawal_day = np.full(n, -1)
    last_change = np.zeros(n)
    active = np.ones(n, dtype=bool)
    logit0 = special.logit(max(min(c.withdrawal_base_probability, 1 - 1e-12), 1e-12))
    for v in range(nv - 1):
        seen = active & ~missed[:, v]
        last_change = np.where(seen, mrss_total[:, v] - mrss_total[:, 0], last_change)
        if v == 0:
            continue  # no withdrawal between randomisation and the first follow-up in this model
        p = special.expit(logit0 + c.withdrawal_log_odds_per_mrss * np.clip(last_change, 0, None))
        leave = active & (u_w[:, v] < p)
        gap = np.maximum(day[:, v + 1] - day[:, v] - 1, 1)
        withdrawal_day = np.where(
            leave, day[:, v] + 1 + np.floor(u_wday[:, v] * gap).astype(int), withdrawal_day
        )
        withdrawn_after = np.where(leave, v, withdrawn_after)
        active &= ~leave
    after_withdrawal = (withdrawn_after[:, None] >= 0) & (np.arange(nv)[None, :] > withdrawn_after[:, None])
    attended = ~missed & ~after_withdrawal
    status = np.where(after_withdrawal, "withdrawn", np.where(missed, "missed", "completed")).astype(object)
    withdrawal_reason = np.where(withdrawn_after >= 0, reasons, "").astype(object)
    return Course(
        schedule=schedule,
        arm=np.asarray(arms),
        day=day,
        attended=attended,
        status=status,
        withdrawn_after=withdrawn_after,
        withdrawal_day=withdrawal_day,
        withdrawal_reason=withdrawal_reason,
        skin_true=skin_true,
        mrss_total=mrss_total,
        screening_total=screening_total,
        skin_change_true=skin_true - skin_true[:, :1],
    )


def allocate_sites(
    rng: np.random.Generator, totals: np.ndarray, log_weights: np.ndarray, visit_sd: float
) -> np.ndarray:
    """Spread integer mRSS totals over the 17 sites (0-3 each), following each patient's pattern.

    Each site has three "units" (its grades 1, 2, 3). Unit j of site k gets the priority
    ``log w_k + noise - 0.8 j``; the ``total`` units of highest priority are scored. So the sum
    of the site grades is exactly the total, the most involved sites (fingers, hands, forearms)
    fill first, and a patient's pattern is stable across visits.

    Parameters
    ----------
    totals
        Integer totals, shape (m,).
    log_weights
        Log site weights per row, shape (m, 17).
    visit_sd
        SD of the visit-level noise added to the log weights.

    Returns
    -------
    numpy.ndarray
        Site grades, shape (m, 17), integers 0-3.
    """
    m, k = log_weights.shape
    noise = rng.standard_normal((m, k)) * visit_sd
    unit = np.arange(3)[None, None, :]
    keys = (log_weights + noise)[:, :, None] - 0.8 * unit
    keys = keys.reshape(m, k * 3)
    order = np.argsort(-keys, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(k * 3)[None, :].repeat(m, axis=0), axis=1)
    chosen = rank < np.clip(totals, 0, k * 3)[:, None]
    return chosen.reshape(m, k, 3).sum(axis=2)


def simulate_skin_sites(
    params: SimulationParameters, totals: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Site grades for totals of shape (n, V): returns (n, V, 17)."""
    n, nv = totals.shape
    w = np.log(np.array(list(params.skin.site_weights.values())))
    pattern = w[None, :] + rng.standard_normal((n, w.size)) * params.skin.site_pattern_sd
    lw = np.repeat(pattern[:, None, :], nv, axis=1).reshape(n * nv, w.size)
    grades = allocate_sites(rng, totals.reshape(-1), lw, params.skin.site_visit_sd)
    return grades.reshape(n, nv, w.size)


def _clip(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(x, lo, hi)


def simulate_clinical(
    params: SimulationParameters,
    course: Course,
    patients: pd.DataFrame,
    rngs: dict[str, np.random.Generator],
) -> dict[str, np.ndarray]:
    """Latent and observed values of every other outcome at every visit (arrays n x V).

    Returns a dict with: ``pt_global``, ``md_global`` (0-10), ``haq`` (latent HAQ-DI 0-3),
    ``fvc_pct``, ``dlco_pct`` (true % predicted), ``fvc_noise``, ``dlco_noise`` (relative
    measurement error), ``crp`` (mg/L), ``tender_rate`` (expected tender joints), ``tfr`` (bool),
    ``du`` (n x V x 10 bool, one per finger tip), ``delta_skin`` (bool), ``event_day`` (dict of
    step-1 event days, -1 = none) and ``fvc_decline_event``.
    """
    n, nv = course.skin_true.shape
    arms = course.arm
    sched = course.schedule
    dskin = course.skin_change_true
    out: dict[str, np.ndarray] = {}

    # globals (0-10): baseline + coupling with the true skin change + arm effect + noise
    g = params.globals
    rg = rngs["globals"]
    pt0 = draw_normal(rg, g.patient_baseline.model_copy(update={"min": 0.0, "max": 10.0}), n)
    md0 = draw_normal(rg, g.physician_baseline.model_copy(update={"min": 0.0, "max": 10.0}), n)
    pt_arm = arm_visit_matrix(g.patient_mean_change, arms, sched)
    md_arm = arm_visit_matrix(g.physician_mean_change, arms, sched)
    out["pt_global"] = np.round(
        _clip(
            pt0[:, None] + g.patient_per_mrss * dskin + pt_arm + rg.standard_normal((n, nv)) * g.visit_sd,
            0,
            10,
        ),
        1,
    )
    out["md_global"] = np.round(
        _clip(
            md0[:, None] + g.physician_per_mrss * dskin + md_arm + rg.standard_normal((n, nv)) * g.visit_sd,
            0,
            10,
        ),
        1,
    )
    out["pt_global"][:, 0] = np.round(_clip(pt0, 0, 10), 1)
    out["md_global"][:, 0] = np.round(_clip(md0, 0, 10), 1)

    # HAQ-DI latent level (0-3)
    hq = params.haq
    rh = rngs["haq"]
    h0 = draw_normal(rh, hq.baseline.model_copy(update={"min": 0.0, "max": 3.0}), n)
    h_arm = arm_visit_matrix(hq.mean_change, arms, sched)
    haq = h0[:, None] + hq.per_mrss * dskin + h_arm + rh.standard_normal((n, nv)) * hq.visit_sd
    haq[:, 0] = h0
    out["haq"] = _clip(haq, 0, 3)

    # lung function: true % predicted and measurement error
    lu = params.lung
    rl = rngs["lung"]
    fvc0 = draw_normal(rl, lu.fvc_pct_baseline, n)
    dlco0 = draw_normal(rl, lu.dlco_pct_baseline, n)
    fvc_arm = arm_visit_matrix(lu.fvc_mean_change_pct, arms, sched)
    dlco_arm = arm_visit_matrix(lu.dlco_mean_change_pct, arms, sched)
    t_primary = float(sched.days[sched.codes.index(sched.primary)])
    hl = np.sqrt(np.clip(sched.days, 0, None) / t_primary)
    fvc_slope = rl.standard_normal(n) * lu.change_sd_pct
    dlco_slope = rl.standard_normal(n) * lu.change_sd_pct
    fvc = fvc0[:, None] + fvc_arm + fvc_slope[:, None] * hl[None, :]
    dlco = dlco0[:, None] + dlco_arm + dlco_slope[:, None] * hl[None, :]
    out["fev1_ratio"] = draw_normal(rl, lu.fev1_fvc_ratio, n)
    out["fvc_noise"] = rl.standard_normal((n, nv)) * lu.fvc_measurement_cv
    out["dlco_noise"] = rl.standard_normal((n, nv)) * lu.dlco_measurement_cv
    out["fvc_scr_noise"] = rl.standard_normal(n) * lu.fvc_measurement_cv
    out["dlco_scr_noise"] = rl.standard_normal(n) * lu.dlco_measurement_cv
    out["fvc_pct_baseline"] = fvc0
    out["dlco_pct_baseline"] = dlco0

    # ACR-CRISS step-1 organ events: each with its 24-week probability, on a uniform day
    oe = params.organ_events
    ro = rngs["organ"]
    end_day = float(sched.days[-1])
    events: dict[str, np.ndarray] = {}
    for name in ("renal_crisis", "fvc_decline", "lv_failure", "pah"):
        has = ro.random(n) < getattr(oe, name)
        when = 1 + np.floor(ro.random(n) * end_day).astype(int)
        events[name] = np.where(has, when, -1)
    # a confirmed FVC decline: >= 15 % relative and below 80 % predicted from the event on
    after = (events["fvc_decline"][:, None] >= 0) & (course.day >= events["fvc_decline"][:, None])
    declined = np.minimum(fvc0 * 0.80, 75.0)
    fvc = np.where(after, np.minimum(fvc, declined[:, None]), fvc)
    out["fvc_pct"] = _clip(fvc, 20, 150)
    out["dlco_pct"] = _clip(dlco, 15, 150)
    out["events"] = events  # type: ignore[assignment]

    # CRP (mg/L): log-normal, lowered by treatment after baseline
    cr = params.crp
    rcp = rngs["crp"]
    log_c0 = np.log(cr.median_mg_l) + rcp.standard_normal(n) * cr.log_sd
    fold = np.array([cr.fold_change[a] for a in arms]) if n else np.zeros(0)
    post = (sched.days > 0)[None, :]
    log_c = (
        log_c0[:, None]
        + np.where(post, np.log(fold)[:, None], 0.0)
        + rcp.standard_normal((n, nv)) * cr.visit_log_sd
    )
    out["crp"] = np.round(np.exp(log_c), 1)

    # joints: patients with arthritis have an expected tender count, reduced by treatment
    jp = params.joints
    rj = rngs["joints"]
    arthritis = rj.random(n) < jp.arthritis_prevalence
    tender0 = np.where(arthritis, rj.gamma(2.0, jp.tender_mean / 2.0, n), rj.gamma(0.5, 0.4, n))
    rel = arm_visit_matrix(jp.relative_change, arms, sched)
    out["tender_rate"] = _clip(tender0[:, None] * (1.0 + rel), 0, 28)
    out["joint_u"] = rj.random((n, 28))  # persistent joint propensities
    out["joint_visit_u"] = rj.random((n, nv, 28))
    out["swollen_u"] = rj.random((n, nv, 28))

    # digital ulcers: a Markov chain of ulcers on the 10 finger tips
    du = params.digital_ulcers
    rd = rngs["du"]
    prone = rd.random(n) < du.prevalence
    n0 = np.where(prone, 1 + rd.poisson(du.mean_count - 1.0, n), 0)
    tip_w = np.array([0.4, 1.0, 1.0, 0.8, 0.6] * 2)  # thumb .. little finger, right then left
    tip_w = tip_w / tip_w.sum()
    state = np.zeros((n, 10), dtype=bool)
    keys0 = np.log(rd.random((n, 10))) / tip_w[None, :]  # weighted sampling without replacement
    order = np.argsort(-keys0, axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(10)[None, :].repeat(n, axis=0), axis=1)
    state = rank < np.clip(n0, 0, 10)[:, None]
    du_states = np.zeros((n, nv, 10), dtype=bool)
    du_states[:, 0] = state
    heal = np.array([du.heal_probability[a] for a in arms]) if n else np.zeros(0)
    new_rate = np.array([du.new_rate[a] for a in arms]) if n else np.zeros(0)
    for v in range(1, nv):
        u_heal = rd.random((n, 10))
        u_new = rd.random((n, 10))
        # a prone patient gets a new ulcer on a free tip with probability new_rate x tip weight x 10 / 10
        p_new = np.where(prone, new_rate, new_rate * 0.1)[:, None] * tip_w[None, :] * 1.0
        state = np.where(state, u_heal >= heal[:, None], u_new < p_new)
        du_states[:, v] = state
    out["du"] = du_states

    # tendon friction rubs
    tf = params.tendon_friction_rubs
    rt = rngs["tfr"]
    tfr = np.zeros((n, nv), dtype=bool)
    tfr[:, 0] = rt.random(n) < tf.prevalence
    resolve = np.array([tf.resolve_probability[a] for a in arms]) if n else np.zeros(0)
    for v in range(1, nv):
        u = rt.random(n)
        tfr[:, v] = tfr[:, v - 1] & (u >= resolve)
    out["tfr"] = tfr

    # EUSTAR-AI delta-skin: patient-reported worsening of the skin in the previous month
    prev = np.concatenate([course.skin_true[:, :1], course.skin_true[:, :-1]], axis=1)
    p_ds = special.expit(
        params.skin.delta_skin_intercept + params.skin.delta_skin_slope * (course.skin_true - prev)
    )
    out["delta_skin"] = rngs["skin_extra"].random((n, nv)) < p_ds
    return out
