"""The pure generative model: calibration to BASICS, validity of every item, reproducibility, coherence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.design import load_study
from ssctrial.exceptions import InputError
from ssctrial.instruments import get_instrument, score_mrss
from ssctrial.simulate import simulate_trial_data
from ssctrial.store import AE_OUTCOMES, AE_RELATEDNESS

from .scoring import score_criss, score_visits, wide

# BASICS (Chen F et al. Clin Rheumatol 2025;44:2861-71, abstract): mean change in mRSS from
# baseline to week 12 and mean ACR-CRISS at week 12, per arm.
MRSS_CHANGE_W12 = {"BARI4": -8.9, "BARI2": -3.8, "CTRL": -3.6}
CRISS_W12 = {"BARI4": 0.5, "BARI2": 0.3, "CTRL": 0.2}


@pytest.fixture(scope="module")
def design():
    return load_study("basics")


@pytest.fixture(scope="module")
def small(design):
    return simulate_trial_data(design, n=48, seed=2021)


@pytest.fixture(scope="module")
def large(design):
    # 9,000 randomised (3,000 per arm): the SE of a per-arm mean mRSS change is about 0.14
    # (SD ~7.7 in BARI4) so the 0.3 tolerance of the issue is > 2 SE; CRISS SE ~0.01 vs 0.05.
    return simulate_trial_data(design, n=9000, seed=4242)


# ----------------------------------------------------------------------------- calibration
def test_mean_mrss_change_at_week12_matches_basics(large):
    mrss = score_mrss(wide(large.observations, "MRSS"))["total"].astype(float)
    change = (mrss.xs("W12", level="visit") - mrss.xs("BL", level="visit")).dropna()
    arm = large.subjects.set_index("subject")["arm"]
    means = change.groupby(arm.loc[change.index].to_numpy()).mean()
    for code, target in MRSS_CHANGE_W12.items():
        # tolerance 0.3 points: the calibration criterion (sampling SE ~0.14 at 3,000/arm)
        np.testing.assert_allclose(means[code], target, atol=0.3, err_msg=code)
    # the arms are ordered as published: 4 mg improves most
    assert means["BARI4"] < means["BARI2"] - 3


def test_mean_criss_at_week12_matches_basics(large):
    criss = score_criss(large, "W12")
    means = criss.groupby("arm")["probability"].mean()
    for code, target in CRISS_W12.items():
        # tolerance 0.05: the criterion (sampling SE ~0.01 at 3,000/arm)
        np.testing.assert_allclose(means[code], target, atol=0.05, err_msg=code)


def test_secondary_outcomes_favour_4mg_over_24_weeks(large):
    s = score_visits(large)
    arm = large.subjects.set_index("subject")["arm"]
    fvc = (s.xs("W24", level="visit")["fvc_pct_pred"] - s.xs("BL", level="visit")["fvc_pct_pred"]).dropna()
    by = fvc.groupby(arm.loc[fvc.index].to_numpy()).mean()
    assert by["BARI4"] > by["CTRL"] + 2  # study file: +2.5 vs -2.0 points at W24
    from ssctrial.instruments import score_digital_ulcers, score_eq5d

    du = score_digital_ulcers(wide(large.observations, "DU"))["active_du"].astype(float)
    ch = (du.xs("W24", level="visit") - du.xs("BL", level="visit")).dropna()
    by = ch.groupby(arm.loc[ch.index].to_numpy()).mean()
    assert by["BARI4"] < by["CTRL"]
    eq = score_eq5d(wide(large.observations, "EQ5D_5L"), value_set="CN_5L_Luo2017")["index"]
    ch = (eq.xs("W24", level="visit") - eq.xs("BL", level="visit")).dropna()
    by = ch.groupby(arm.loc[ch.index].to_numpy()).mean()
    assert by["BARI4"] > by["CTRL"]


def test_adverse_events_similar_across_arms(large):
    ae = large.adverse_events
    rand = large.randomised
    any_ae = rand["subject"].isin(ae["subject"]).groupby(rand["arm"]).mean()
    assert any_ae.max() - any_ae.min() < 0.15
    assert set(ae["grade"]) <= {1, 2, 3, 4, 5}
    assert ae["serious"].any()


# ----------------------------------------------------------------------------- validity
def test_every_item_passes_the_registry_rules(small, large):
    for trial in (small, large):
        obs = trial.observations
        combos = obs[["instrument", "item", "value"]].drop_duplicates()
        for instrument, item, value in combos.itertuples(index=False):
            get_instrument(instrument).check_item(item, value)  # raises InputError if not allowed


def test_instruments_only_at_scheduled_visits_and_required_items_present(small, design):
    obs = small.observations
    for (visit, instrument), part in obs.groupby(["visit", "instrument"], observed=True):
        assert instrument in design.visit(visit).instruments
        inst = get_instrument(instrument)
        required = {i.code for i in inst.items if i.required}
        per_subject = part.groupby("subject", observed=True)["item"].apply(set)
        for items in per_subject:
            assert required <= items, (visit, instrument, required - items)
    # one value per subject, visit, instrument and item
    assert not obs.duplicated(["subject", "visit", "instrument", "item"]).any()


def test_visit_dates_inside_windows_and_conduct(small, large, design):
    for trial in (small, large):
        v = trial.visits
        for code in design.visit_codes:
            spec = design.visit(code)
            days = v.loc[v["visit"] == code, "day"]
            if spec.day >= 0:
                assert days.between(spec.day - spec.window_before, spec.day + spec.window_after).all(), code
        assert (v.loc[v["visit"] == "SCR", "day"] < 0).all()
    subj = large.subjects
    assert subj.loc[subj["status"] == "screen_failed", "screen_failure_reason"].notna().all()
    wd = subj[subj["status"] == "withdrawn"]
    assert len(wd) > 0 and wd["withdrawal_reason"].notna().all() and wd["withdrawal_date"].notna().all()
    statuses = large.visits["status"].value_counts(normalize=True)
    assert 0.005 < statuses["missed"] < 0.06
    # no data after withdrawal, none at missed visits
    done = large.visits[large.visits["status"] == "completed"][["subject", "visit"]].astype(str)
    seen = large.observations[["subject", "visit"]].drop_duplicates().astype(str)
    assert set(map(tuple, seen.to_numpy())) <= set(map(tuple, done.to_numpy()))


def test_withdrawal_is_missing_at_random_on_observed_worsening(large):
    mrss = score_mrss(wide(large.observations, "MRSS"))["total"].astype(float).unstack("visit")
    worsening = (mrss["W8"] - mrss["BL"]).dropna()
    status = large.subjects.set_index("subject")["status"]
    subj = large.visits.set_index(["subject", "visit"])
    # withdrew after W8 (attended W8, not W12 by withdrawal)
    after_w8 = [
        s
        for s in worsening.index
        if subj.loc[(s, "W12"), "status"] == "withdrawn" and subj.loc[(s, "W8"), "status"] == "completed"
    ]
    left = worsening.index.isin(after_w8)
    worse = worsening.to_numpy() >= 3
    better = worsening.to_numpy() <= 0
    # study file: per-interval log-odds +0.3 per point of observed worsening (missing at random)
    assert left[worse].mean() > 2 * left[better].mean()
    assert status.loc[worsening.index[left]].eq("withdrawn").all()


def test_strata_and_demographics(large, design):
    subj = large.subjects
    for factor in design.stratification_factors:
        assert set(subj[factor.code]) <= set(factor.levels)
    assert (subj.loc[subj["disease_duration_months"] < 36, "DURATION"] == "early").all()
    assert 0.75 < (subj["sex"] == "F").mean() < 0.85
    assert subj["age"].between(18, 75).all()
    rand = large.randomised
    counts = rand["arm"].value_counts()
    assert counts.max() - counts.min() < 0.02 * len(rand)  # permuted blocks keep the arms balanced


def test_adverse_event_fields_are_store_values(small, large):
    for trial in (small, large):
        ae = trial.adverse_events
        assert set(ae["relatedness"]) <= set(AE_RELATEDNESS)
        assert set(ae["outcome"]) <= set(AE_OUTCOMES)
        stop = ae["stop_date"].dropna()
        assert (stop.to_numpy() >= ae.loc[stop.index, "start_date"].to_numpy()).all()
        arm = trial.subjects.set_index("subject")["arm"]
        organ = ae["term"].isin(
            [
                "Scleroderma renal crisis",
                "Interstitial lung disease progression",
                "Left ventricular failure",
                "Pulmonary arterial hypertension",
            ]
        )
        in_ctrl = arm.loc[ae["subject"]].to_numpy() == "CTRL"
        # treatment-emergent terms: not related without treatment; organ events (SSc itself): unlikely
        assert (ae.loc[in_ctrl & ~organ, "relatedness"] == "not_related").all()
        assert ae.loc[~in_ctrl & ~organ, "relatedness"].isin(["possible", "probable"]).all()
        assert (ae.loc[organ, "relatedness"] == "unlikely").all() and ae.loc[organ, "serious"].all()


# ----------------------------------------------------------------------------- coherence
def test_skin_sites_follow_the_ssc_pattern(large):
    m = wide(large.observations, "MRSS").xs("BL", level="visit")
    assert m["fingers_right"].mean() > m["upper_arm_right"].mean() > m["abdomen"].mean()
    assert m["dorsum_hand_left"].mean() > m["anterior_chest"].mean()
    assert m.to_numpy().max() == 3 and m.to_numpy().min() == 0


def test_lung_function_is_derived_from_litres_by_gli(large):
    s = score_visits(large)
    truth = large.truth.set_index(["subject", "visit"])["fvc_pct_true"]
    joined = s[["fvc_pct_pred"]].join(truth, how="inner").dropna()
    # % predicted comes from litres through the GLI equations; only the 3 % measurement error
    # (and age within the visit window) separates it from the latent truth
    r = np.corrcoef(joined["fvc_pct_pred"], joined["fvc_pct_true"])[0, 1]
    assert r > 0.95
    np.testing.assert_allclose(joined["fvc_pct_pred"].mean(), joined["fvc_pct_true"].mean(), rtol=0.01)


def test_organ_events_force_criss_to_zero(large):
    criss = score_criss(large, "W24")
    assert large.organ_events["event"].nunique() >= 3
    hit = criss[criss["step1_event"].astype(bool)]
    assert len(hit) > 0
    assert (hit["probability"] == 0).all()


def test_globals_and_haq_follow_the_skin(large):
    s = score_visits(large)
    d = (s.xs("W12", level="visit") - s.xs("BL", level="visit")).dropna()
    assert np.corrcoef(d["mrss"], d["md_global"])[0, 1] > 0.2


# ----------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_data(design, small):
    again = simulate_trial_data(design, n=48, seed=2021)
    for name in ("subjects", "visits", "observations", "adverse_events", "organ_events", "truth"):
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name), check_exact=True)
    other = simulate_trial_data(design, n=48, seed=2022)
    assert not other.observations["value"].equals(small.observations["value"])


def test_given_arms_are_used(design):
    arms = ["CTRL"] * 6
    trial = simulate_trial_data(design, n=6, seed=3, arms=arms)
    assert trial.randomised["arm"].tolist() == arms


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0, "seed": 1}, r"n=0 is not allowed; expected the number of randomised patients"),
        ({"n": 5, "seed": -1}, r"seed=-1 is not allowed; expected an integer of at least 0"),
        ({"n": 2, "seed": 1, "arms": ["BARI4"]}, r"arms: got 1 arm codes for n=2"),
        ({"n": 1, "seed": 1, "arms": ["PLACEBO"]}, r"arms: unknown arm code\(s\) \['PLACEBO'\]"),
    ],
    ids=["n", "seed", "arms-length", "arms-code"],
)
def test_bad_arguments_are_refused(design, kwargs, match):
    with pytest.raises(InputError, match=match):
        simulate_trial_data(design, **kwargs)
