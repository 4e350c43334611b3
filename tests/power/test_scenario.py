"""Scenario validation: bad input is refused with a message naming the field and what is allowed."""

from __future__ import annotations

import pytest

from ssctrial.exceptions import InputError, SsctrialError
from ssctrial.power import PowerScenario, build_endpoint_model, create_scenario_grid, run_power
from ssctrial.power._scenario import parse_range


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"n": 1}, r"n: Input should be greater than or equal to 2"),
        ({"n": 20, "dropout": 1.5}, r"dropout: must be a probability in \[0, 1\), got 1.5"),
        ({"n": 20, "alpha": 0.0}, r"alpha: must be strictly between 0 and 1"),
        ({"n": 20, "method": "anova"}, r"method: Input should be 'ancova', 'mmrm'.*got 'anova'"),
        ({"n": 20, "dropout_pattern": "random"}, r"dropout_pattern: .*'uniform'.*got 'random'"),
        ({"n": 20, "allocation": {"BARI4": -1}}, r"allocation: allocation weights must be positive"),
        ({"n": 20, "method": "wilcoxon", "multiplicity": "dunnett"}, r"'dunnett' needs a t-based method"),
        ({"n": 20, "colour": "red"}, r"unknown scenario field\(s\) \[.colour.\]; allowed: study, n, effect"),
    ],
    ids=["n", "dropout", "alpha", "method", "pattern", "allocation", "dunnett", "unknown"],
)
def test_bad_scenario_values(values, match):
    with pytest.raises(InputError, match=match):
        create_scenario_grid(**values)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"arms": ("BARI8", "CTRL")}, r"arms: unknown arm code\(s\) \['BARI8'\]; the study 'BASICS' has"),
        ({"arms": ("BARI4", "BARI2")}, r"the control \(reference\) arm 'CTRL' must be kept"),
        ({"method": "ttest"}, r"method 'ttest' compares two arms; keep exactly two"),
        ({"effect": {"BARI4": -5.0}}, r"effect: give an effect for every active arm; missing \['BARI2'\]"),
        ({"study": "nosuchstudy"}, r"nosuchstudy"),
    ],
    ids=["unknown-arm", "no-control", "ttest-3-arms", "effect-missing", "study"],
)
def test_scenario_against_study(values, match):
    sc = PowerScenario(n=10, **values)
    with pytest.raises(SsctrialError, match=match):  # InputError, or NotFoundError for the study
        build_endpoint_model(sc)


def test_run_options_and_ranges():
    with pytest.raises(InputError, match="sims must be a positive integer, got 0"):
        run_power(PowerScenario(n=10), sims=0)
    with pytest.raises(InputError, match="unknown scenario field"):
        create_scenario_grid(n=10, nn=3)
    assert parse_range("16:40:8", name="--n") == [16, 24, 32, 40]
    assert parse_range("10,20", name="--n") == [10, 20]
    with pytest.raises(InputError, match="--n: cannot read '40:16'"):
        parse_range("40:16", name="--n")


def test_relative_effect_and_allocation():
    m = build_endpoint_model(
        PowerScenario(
            n=10, arms=("BARI4", "CTRL"), effect=0.5, effect_scale="relative", allocation={"BARI4": 2}
        )
    )
    # BASICS: -8.9 - (-3.6) = -5.3 at week 12; half of it
    assert m.true_effect[0] == pytest.approx(-2.65)
    assert m.arm_sizes.tolist() == [10, 20]
