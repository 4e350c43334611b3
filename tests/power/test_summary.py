"""Sample-size search and the power-curve figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.power import find_sample_size, plot_power_curve


def _table():
    n = np.array([10, 20, 30, 40])
    power = np.array([0.4, 0.7, 0.85, 0.93])
    return pd.DataFrame(
        {
            "method": "ancova", "arms": "CTRL,BARI4", "effect": -5.3, "dropout": 0.1,
            "dropout_pattern": "uniform", "multiplicity": "holm", "alpha": 0.05,
            "distribution": "basics", "contrast": "BARI4 - CTRL", "n": n, "power": power,
            "power_se": np.sqrt(power * (1 - power) / 1000),
        }
    )  # fmt: skip


def test_find_sample_size_interpolates_with_uncertainty():
    out = find_sample_size(_table(), target=0.8).iloc[0]
    assert out["n_grid"] == 30
    # linear between (20, 0.70) and (30, 0.85): 20 + 10 * 0.1 / 0.15
    assert out["n_interpolated"] == pytest.approx(20 + 10 * 0.1 / 0.15)
    assert out["n_low"] < out["n_interpolated"] < out["n_high"]
    assert np.isnan(find_sample_size(_table(), target=0.99).iloc[0]["n_grid"])
    with pytest.raises(InputError, match="target power must be between 0 and 1, got 80"):
        find_sample_size(_table(), target=80)
    with pytest.raises(InputError, match="contrast 'any' is not in the table"):
        find_sample_size(_table(), contrast="any")


def test_plot_power_curve_writes_png(tmp_path):
    import matplotlib.pyplot as plt

    fig = plot_power_curve(_table(), tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert fig.axes[0].get_xlabel() == "patients per arm"
    plt.close(fig)
