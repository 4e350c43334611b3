"""The compact generative model of the primary endpoint (mRSS), for many trials at once.

It is the skin model of :mod:`ssctrial.simulate` (``simulate_course``), restricted to what the
primary analysis sees and drawn as 3-D arrays (trials x patients x visits):

* true baseline ``S0``: the study file's mixture over subtypes of truncated normals
  (``simulation.subtype``, ``simulation.skin.baseline``);
* true score at visit v: ``S0 (1 + k m_a(v) / E[S0] + b sqrt(t_v / t_primary))``, clipped to
  0..51, with ``m_a`` the arm's mean change (``skin.mean_change``, interpolated as the simulator
  does), ``k`` the responder multiplier (``skin.responders``, mean 1 in each arm) and
  ``b ~ N(0, skin.relative_slope_sd^2)``;
* assessed score: true + ``N(0, skin.assessment_sd^2)``, clipped to 0..51, rounded
  stochastically to an integer (expectation kept), at baseline and every visit;
* monotone dropout (the scenario's rate and pattern).

What it leaves out of the full simulator: screening, visit-day jitter, missed single visits,
the simulator's own withdrawal model (replaced by the scenario's dropout), every other
instrument. ``distribution="normal"`` replaces all of this by a multivariate normal with the
same means and the exact (analytic) covariance of the model, pooled over the kept arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ssctrial.design import StudyDesign, load_study
from ssctrial.exceptions import InputError
from ssctrial.power._scenario import PowerScenario, check_scenario
from ssctrial.simulate import load_simulation_parameters
from ssctrial.simulate._course import arm_visit_matrix, build_schedule
from ssctrial.simulate._patients import expected_skin_baseline

__all__ = ["EndpointModel", "build_endpoint_model", "draw_trials"]

MRSS_MAX = 51.0


@dataclass(frozen=True)
class EndpointModel:
    """Everything needed to draw the primary endpoint of many trials of one scenario."""

    scenario: PowerScenario
    arms: tuple[str, ...]  # control first
    visits: tuple[str, ...]  # post-baseline visits
    primary_index: int  # index of the primary visit in ``visits``
    arm_index: np.ndarray  # (N,) arm of each patient, 0 = control
    mean_change: np.ndarray  # (A, V) expected change per arm and visit
    true_effect: np.ndarray  # (A - 1,) active minus control at the primary visit
    # basics model
    subtype_p: np.ndarray  # (S,)
    base_mean: np.ndarray  # (S,)
    base_sd: np.ndarray
    base_lo: np.ndarray
    base_hi: np.ndarray
    es0: float
    h: np.ndarray  # (V,) sqrt(t_v / t_primary)
    resp_fraction: np.ndarray  # (A,)
    resp_ratio: np.ndarray  # (A,)
    slope_sd: float
    assessment_sd: float
    withdrawal_log_odds_per_mrss: float
    # normal model: mean and covariance of (baseline, change_1..V), pooled over arms
    mvn_mean0: float
    mvn_cov: np.ndarray  # (V + 1, V + 1)

    @property
    def n_patients(self) -> int:
        """Number of patients per trial."""
        return int(self.arm_index.size)

    @property
    def arm_sizes(self) -> np.ndarray:
        """Patients per arm (control first)."""
        return np.bincount(self.arm_index, minlength=len(self.arms))


def _responder_moments(fraction: float, ratio: float) -> tuple[float, float, float]:
    k_non = 1.0 / (fraction * ratio + 1.0 - fraction)
    k_res = ratio * k_non
    ek2 = fraction * k_res**2 + (1 - fraction) * k_non**2
    return k_non, k_res, ek2


def _truncnorm_moments(mean: float, sd: float, lo: float, hi: float) -> tuple[float, float]:
    from scipy import stats

    a, b = (lo - mean) / sd, (hi - mean) / sd
    m, v = stats.truncnorm.stats(a, b, loc=mean, scale=sd, moments="mv")
    return float(m), float(v)


def build_endpoint_model(scenario: PowerScenario, *, design: StudyDesign | None = None) -> EndpointModel:
    """Calibrate the compact endpoint model of a scenario from its study file.

    Parameters
    ----------
    scenario
        The scenario (study, arms, sizes, effect, dropout).
    design
        The loaded study (default: ``load_study(scenario.study)``).

    Returns
    -------
    EndpointModel

    Raises
    ------
    InputError
        The study has no usable simulation section, or the scenario does not fit the study.
    """
    design = load_study(scenario.study) if design is None else design
    params = load_simulation_parameters(design)
    arms = check_scenario(scenario, design)
    schedule = build_schedule(design)
    visits = tuple(schedule.codes[1:])
    primary = schedule.primary
    if primary not in visits:
        msg = f"the primary visit {primary!r} is not after baseline in the study's schedule"
        raise InputError(msg)
    p_idx = visits.index(primary)
    sk = params.skin
    missing = [a for a in arms if a not in sk.mean_change]
    if missing:
        msg = f"simulation.skin.mean_change has no course for arm(s) {missing!r}"
        raise InputError(msg)
    full = arm_visit_matrix(sk.mean_change, np.array(arms, dtype=object), schedule)[:, 1:]  # (A, V)
    study_diff = full[1:] - full[0]  # (A-1, V)
    # shape of the treatment effect over the visits: the study's largest active-vs-control difference
    j = int(np.argmax(np.abs(study_diff[:, p_idx])))
    if abs(study_diff[j, p_idx]) > 1e-12:
        shape = study_diff[j] / study_diff[j, p_idx]
    else:
        t = schedule.days[1:]
        shape = np.sqrt(t / t[p_idx])
    eff = scenario.effect
    if eff is None:
        effects = study_diff[:, p_idx].copy()
    else:
        given = (
            np.array([eff[a] for a in arms[1:]], dtype=float)
            if isinstance(eff, dict)
            else np.full(len(arms) - 1, float(eff))
        )
        effects = given * study_diff[:, p_idx] if scenario.effect_scale == "relative" else given
    mean_change = np.vstack([full[0], full[0][None, :] + effects[:, None] * shape[None, :]])

    weights = scenario.allocation or {}
    sizes = [max(1, round(scenario.n * float(weights.get(a, 1.0)))) for a in arms]
    if min(sizes) < 2:
        msg = f"n: every arm needs at least 2 patients, got sizes {dict(zip(arms, sizes, strict=True))}"
        raise InputError(msg)
    arm_index = np.repeat(np.arange(len(arms)), sizes)

    subtypes = list(sk.baseline)
    sp = np.array([params.subtype.get(s, 0.0) for s in subtypes])
    specs = [sk.baseline[s] for s in subtypes]
    base_lo = np.array([-np.inf if s.min is None else s.min for s in specs])
    base_hi = np.array([np.inf if s.max is None else s.max for s in specs])
    es0 = expected_skin_baseline(params)
    t_days = schedule.days[1:]
    h = np.sqrt(np.clip(t_days, 0, None) / t_days[p_idx])
    fr = np.array([sk.responders[a].fraction if a in sk.responders else 0.0 for a in arms])
    ra = np.array([sk.responders[a].ratio if a in sk.responders else 1.0 for a in arms])
    # an arm without effect behaves as control: its responder heterogeneity is part of the effect
    no_effect = np.r_[False, effects == 0]
    fr[no_effect], ra[no_effect] = fr[0], ra[0]

    # analytic moments of (observed baseline, change at each visit), ignoring clipping/rounding
    mom = [
        _truncnorm_moments(s.mean, s.sd, lo, hi) for s, lo, hi in zip(specs, base_lo, base_hi, strict=True)
    ]
    mu = float(sum(p * m for p, (m, _) in zip(sp, mom, strict=True)))
    es2 = float(sum(p * (v + m * m) for p, (m, v) in zip(sp, mom, strict=True)))
    tau2 = es2 - mu**2
    se2 = sk.assessment_sd**2
    nv = len(visits)
    cov = np.zeros((nv + 1, nv + 1))
    for a in range(len(arms)):
        _, _, ek2 = _responder_moments(fr[a], ra[a])
        c = mean_change[a] / es0
        ca = np.zeros((nv + 1, nv + 1))
        ca[0, 0] = tau2 + se2
        ca[0, 1:] = ca[1:, 0] = c * tau2 - se2
        ca[1:, 1:] = (
            np.outer(c, c) * (es2 * ek2 - mu**2) + np.outer(h, h) * es2 * sk.relative_slope_sd**2 + se2
        ) + np.eye(nv) * se2
        cov += ca * (sizes[a] / sum(sizes))
    return EndpointModel(
        scenario=scenario,
        arms=arms,
        visits=visits,
        primary_index=p_idx,
        arm_index=arm_index,
        mean_change=mean_change,
        true_effect=mean_change[1:, p_idx] - mean_change[0, p_idx],
        subtype_p=sp,
        base_mean=np.array([s.mean for s in specs]),
        base_sd=np.array([s.sd for s in specs]),
        base_lo=base_lo,
        base_hi=base_hi,
        es0=es0,
        h=h,
        resp_fraction=fr,
        resp_ratio=ra,
        slope_sd=sk.relative_slope_sd,
        assessment_sd=sk.assessment_sd,
        withdrawal_log_odds_per_mrss=params.conduct.withdrawal_log_odds_per_mrss,
        mvn_mean0=mu,
        mvn_cov=cov,
    )


@dataclass
class TrialBatch:
    """The primary endpoint of B simulated trials (N patients, V post-baseline visits)."""

    base: np.ndarray  # (B, N) observed baseline
    chg: np.ndarray  # (B, N, V) change from baseline (NaN after dropout)
    observed: np.ndarray  # (B, N, V) bool
    arm_index: np.ndarray  # (N,)
    primary_index: int


def _dropout_visit(model: EndpointModel, rng: np.random.Generator, b: int, chg: np.ndarray) -> np.ndarray:
    """First missing visit index per patient (V = completes), monotone."""
    sc = model.scenario
    n, nv = model.n_patients, len(model.visits)  # dropout time is over all visits
    if sc.dropout == 0:
        return np.full((b, n), nv)
    if sc.dropout_pattern == "mar":
        # per-interval hazard h0 with 1 - (1 - h0)^(V-1) = dropout, raised by observed worsening
        h0 = 1.0 - (1.0 - sc.dropout) ** (1.0 / max(nv - 1, 1))
        logit0 = special.logit(h0)
        first = np.full((b, n), nv)
        u = rng.random((b, n, nv))
        active = np.ones((b, n), dtype=bool)
        for v in range(1, nv):
            worse = np.clip(chg[:, :, v - 1], 0, None)
            p = special.expit(logit0 + model.withdrawal_log_odds_per_mrss * worse)
            leave = active & (u[:, :, v] < p)
            first = np.where(leave, v, first)
            active &= ~leave
        return first
    w = {"uniform": np.ones(nv), "early": np.arange(nv, 0, -1.0), "late": np.arange(1.0, nv + 1)}[
        sc.dropout_pattern
    ]
    cum = np.cumsum(w / w.sum())
    u_drop = rng.random((b, n))
    u_when = rng.random((b, n))
    when = np.searchsorted(cum, u_when, side="right").clip(0, nv - 1)
    return np.where(u_drop < sc.dropout, when, nv)


def draw_trials(
    model: EndpointModel, rng: np.random.Generator, n_trials: int, *, primary_only: bool = False
) -> TrialBatch:
    """Draw the primary endpoint of ``n_trials`` trials of one scenario.

    Parameters
    ----------
    model
        From :func:`build_endpoint_model`.
    rng
        The random stream (one per task: see :mod:`ssctrial.power._run`).
    n_trials
        Number of trials B.
    primary_only
        Draw only the baseline and the primary visit (V = 1): enough for the analyses of the
        primary visit when dropout does not depend on earlier visits (not ``"mar"``).

    Returns
    -------
    TrialBatch
        Observed baseline (B, N), change (B, N, V) with NaN after dropout and the observed mask.
    """
    b, n, nv_all = n_trials, model.n_patients, len(model.visits)
    arm = model.arm_index
    primary_only = primary_only and model.scenario.dropout_pattern != "mar"
    vsel = np.array([model.primary_index]) if primary_only else np.arange(nv_all)
    nv = vsel.size
    mean_change = model.mean_change[:, vsel]
    if model.scenario.distribution == "normal":
        idx = np.concatenate([[0], vsel + 1])
        chol = np.linalg.cholesky(model.mvn_cov[np.ix_(idx, idx)])
        x = rng.standard_normal((b, n, nv + 1)) @ chol.T
        base = model.mvn_mean0 + x[:, :, 0]
        chg = mean_change[arm][None] + x[:, :, 1:]
    else:
        # true baseline: mixture of truncated normals, by inversion
        s = np.searchsorted(np.cumsum(model.subtype_p)[:-1], rng.random((b, n)), side="right")
        mean, sd = model.base_mean[s], model.base_sd[s]
        lo = special.ndtr((model.base_lo[s] - mean) / sd)
        hi = special.ndtr((model.base_hi[s] - mean) / sd)
        p = np.clip(lo + rng.random((b, n)) * (hi - lo), 1e-12, 1 - 1e-12)
        s0 = mean + sd * special.ndtri(p)
        fr, ra = model.resp_fraction[arm], model.resp_ratio[arm]
        k_non = 1.0 / (fr * ra + 1.0 - fr)
        k = np.where(rng.random((b, n)) < fr[None, :], (ra * k_non)[None, :], k_non[None, :])
        slope = rng.standard_normal((b, n)) * model.slope_sd
        m = mean_change[arm] / model.es0  # (N, V)
        true = s0[:, :, None] * (
            1.0 + k[:, :, None] * m[None] + slope[:, :, None] * model.h[None, None, vsel]
        )
        true = np.concatenate([s0[:, :, None], true], axis=2)
        np.clip(true, 0.0, MRSS_MAX, out=true)
        obs = true + rng.standard_normal(true.shape) * model.assessment_sd
        np.clip(obs, 0.0, MRSS_MAX, out=obs)
        lo_i = np.floor(obs)
        obs = lo_i + (rng.random(obs.shape) < (obs - lo_i))
        base = obs[:, :, 0]
        chg = obs[:, :, 1:] - base[:, :, None]
    first = _dropout_visit(model, rng, b, chg)
    observed = vsel[None, None, :] < first[:, :, None]
    chg = np.where(observed, chg, np.nan)
    p_idx = 0 if primary_only else model.primary_index
    return TrialBatch(base=base, chg=chg, observed=observed, arm_index=arm, primary_index=p_idx)
