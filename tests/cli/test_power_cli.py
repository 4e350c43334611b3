"""``ssctrial power`` end to end (small), and its error messages."""

from __future__ import annotations

import json

import pandas as pd

from ssctrial.cli.main import main


def test_power_command_writes_table_sizes_figure(tmp_path, capsys):
    out = tmp_path / "power"
    code = main(
        ["power", "--n", "10:30:10", "--effect", "-5.3", "--dropout", "0.1", "--sims", "300",
         "--arms", "BARI4,CTRL", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "power.csv")
    assert table["n"].tolist() == [10, 20, 30]
    assert table["power"].is_monotonic_increasing
    assert (table["sims"] == 300).all() and table["type1_error"].between(0, 0.2).all()
    sizes = pd.read_csv(out / "sample_size.csv")
    assert len(sizes) == 1
    assert (out / "power_curve.png").stat().st_size > 1000
    run = json.loads((out / "run.json").read_text())
    assert run["sims"] == 300 and len(run["scenarios"]) == 3
    printed = capsys.readouterr().out
    assert "per arm reaches power" in printed or "not reached" in printed


def test_power_command_bad_input(tmp_path, capsys):
    assert main(["power", "--n", "16:x", "--out", str(tmp_path)]) == 1
    assert "--n: cannot read '16:x'" in capsys.readouterr().err
    assert main(["power", "--n", "16", "--method", "anova", "--out", str(tmp_path)]) == 1
    assert "method: Input should be 'ancova'" in capsys.readouterr().err
    assert main(["power", "--n", "16", "--arms", "BARI4,BARI2", "--out", str(tmp_path)]) == 1
    assert "control (reference) arm 'CTRL' must be kept" in capsys.readouterr().err
