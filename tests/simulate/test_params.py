"""The simulation section of the study file: loaded, typed and checked against the design."""

from __future__ import annotations

import copy

import pytest

from ssctrial.design import load_study
from ssctrial.exceptions import InputError
from ssctrial.simulate import SimulationParameters, load_simulation_parameters


@pytest.fixture(scope="module")
def design():
    return load_study("basics")


def _section(design):
    return copy.deepcopy(dict(design.simulation))


def test_basics_section_loads_with_the_published_targets(design):
    p = load_simulation_parameters(design)
    assert isinstance(p, SimulationParameters)
    # BASICS abstract: mean mRSS change at W12
    assert {a: v["W12"] for a, v in p.skin.mean_change.items()} == {
        "BARI4": -8.9,
        "BARI2": -3.8,
        "CTRL": -3.6,
    }
    assert p.rnaseq.fixed_log2fc["IL1RL1"] < 0 < p.rnaseq.fixed_log2fc["SYT17"]
    assert p.rnaseq.dose_fraction == {"BARI4": 1.0, "BARI2": 0.45, "CTRL": 0.0}


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (
            ("screening", "failure_rate"),
            1.5,
            r"simulation\.screening\.failure_rate: .*probability from 0 to 1",
        ),
        (("subtype",), {"diffuse": 0.5, "limited": 0.4}, r"simulation\.subtype: .*sum to 1"),
        (("skin", "assessment_sd"), -1, r"simulation\.skin\.assessment_sd: .*greater than or equal to 0"),
        (("skin", "unknown_key"), 1, r"simulation\.skin\.unknown_key: Extra inputs are not permitted"),
        (("demographics", "height_cm"), {"female": {"mean": 1, "sd": 1}}, r"must give 'female' and 'male'"),
    ],
    ids=["probability", "distribution", "negative-sd", "unknown-key", "sexes"],
)
def test_bad_values_name_the_yaml_path(design, path, value, match):
    section = _section(design)
    target = section
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InputError, match=match):
        load_simulation_parameters(section)


def test_missing_key_is_named(design):
    section = _section(design)
    del section["lung"]
    with pytest.raises(InputError, match=r"simulation\.lung: Field required"):
        load_simulation_parameters(section)


def test_arms_must_match_the_study(design):
    section = _section(design)
    section["skin"]["mean_change"]["PLACEBO"] = section["skin"]["mean_change"].pop("CTRL")
    changed = design.model_copy(update={"simulation": section})
    with pytest.raises(
        InputError, match=r"simulation\.skin\.mean_change: arms \['BARI2', 'BARI4', 'PLACEBO'\]"
    ):
        load_simulation_parameters(changed)


def test_visits_must_be_post_baseline_visits(design):
    section = _section(design)
    section["lung"]["fvc_mean_change_pct"]["CTRL"]["W99"] = 1.0
    changed = design.model_copy(update={"simulation": section})
    with pytest.raises(
        InputError, match=r"simulation\.lung\.fvc_mean_change_pct\.CTRL: unknown post-baseline"
    ):
        load_simulation_parameters(changed)


def test_every_stratification_factor_needs_a_rule(design):
    section = _section(design)
    del section["strata"]["DURATION"]
    changed = design.model_copy(update={"simulation": section})
    with pytest.raises(InputError, match=r"simulation\.strata\.DURATION: no rule"):
        load_simulation_parameters(changed)


def test_empty_section_is_refused(design):
    changed = design.model_copy(update={"simulation": {}})
    with pytest.raises(InputError, match=r"has no simulation parameters: add a 'simulation:' section"):
        load_simulation_parameters(changed)
