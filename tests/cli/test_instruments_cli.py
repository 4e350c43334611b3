"""CLI: ``ssctrial score`` and ``ssctrial instruments`` (exit codes, files written, messages)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.cli.main import main
from ssctrial.instruments import HAQ_CATEGORIES, MRSS_SITES, score_acr_criss, score_haq_di

QUESTIONS = [code for qs in HAQ_CATEGORIES.values() for code in qs]


@pytest.fixture
def mrss_csv(tmp_path):
    rows = [{"USUBJID": f"S{i}", "AVISIT": "Week 12", **dict.fromkeys(MRSS_SITES, i % 4)} for i in range(4)]
    path = tmp_path / "mrss.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_score_mrss_writes_ids_and_scores(mrss_csv, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", "MRSS", "--in", str(mrss_csv), "--out", str(out)]) == 0
    result = pd.read_csv(out)
    assert list(result.columns) == ["USUBJID", "AVISIT", "total", "n_sites"]
    assert result["total"].tolist() == [0, 17, 34, 51]
    assert "Scored 4 row(s) with MRSS" in capsys.readouterr().err


def test_score_to_stdout(mrss_csv, capsys):
    assert main(["score", "mrss", "--in", str(mrss_csv)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "USUBJID,AVISIT,total,n_sites"


def test_threshold_and_generic_options_are_passed(tmp_path):
    base = {
        "mrss_base": 25,
        "fvc_pct_pred_base": 80.0,
        "pt_global_base": 6.0,
        "md_global_base": 5.0,
        "haq_di_base": 1.0,
        "mrss": 18,
        "fvc_pct_pred": 80.0,
        "pt_global": 6.0,
        "md_global": 5.0,
        "haq_di": 1.0,
    }
    path = tmp_path / "criss.csv"
    pd.DataFrame([base]).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert main(["score", "ACR_CRISS", "--in", str(path), "--out", str(out), "--threshold", "0.9"]) == 0
    result = pd.read_csv(out)
    expected = score_acr_criss(base, threshold=0.9)
    np.testing.assert_allclose(result["probability"], expected["probability"], rtol=1e-12)
    assert bool(result["improved"].iloc[0]) is expected["improved"] is False
    assert (
        main(
            [
                "score",
                "RCRISS",
                "--in",
                str(path),
                "--out",
                str(out),
                "--threshold",
                "25",
                "--option",
                "fvc_change=absolute",
            ]
        )
        == 0
    )
    assert "responder" in pd.read_csv(out).columns


def test_haq_option_and_missing_values(tmp_path):
    rows = [
        {**dict.fromkeys(QUESTIONS, 0), "help_walking": True},
        {**dict.fromkeys(QUESTIONS, 1), "help_walking": None},
    ]
    path = tmp_path / "haq.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert main(["score", "HAQ_DI", "--in", str(path), "--out", str(out), "-o", "scoring=without_aids"]) == 0
    result = pd.read_csv(out)
    assert result["haq_di"].tolist() == [score_haq_di(r, scoring="without_aids")["haq_di"] for r in rows]


def test_bad_value_lists_rows_and_exits_1(tmp_path, capsys):
    rows = [dict.fromkeys(MRSS_SITES, 1) for _ in range(3)]
    rows[0]["face"] = 4
    rows[2]["face"] = 9
    path = tmp_path / "bad.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main(["score", "MRSS", "--in", str(path), "--out", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert (
        "MRSS item 'face' (Face): 2 value(s) not allowed" in err and "row 0: 4" in err and "row 2: 9" in err
    )
    assert "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "NOPE", "--in", "{csv}"], "unknown instrument 'NOPE'; registered instruments are:"),
        (
            ["score", "MRSS", "--in", "{csv}", "--threshold", "3"],
            "instrument MRSS has no option '--threshold'; its options are: none",
        ),
        (
            ["score", "MRSS", "--in", "{csv}", "--value-set", "X"],
            "instrument MRSS has no option '--value-set'",
        ),
        (
            ["score", "HAQ_DI", "--in", "{csv}", "-o", "colour=red"],
            "instrument HAQ_DI has no option 'colour'; its options are: scoring, vas_line_mm",
        ),
        (
            ["score", "HAQ_DI", "--in", "{csv}", "-o", "scoring"],
            "--option 'scoring' is not of the form NAME=VALUE",
        ),
        (["score", "MRSS", "--in", "{missing}"], "does not exist or is not a file"),
        (
            ["score", "HAQ_DI", "--in", "{csv}", "-o", "scoring=magic"],
            "HAQ_DI option scoring='magic' is not allowed",
        ),
        (
            ["score", "HAQ_DI", "--in", "{csv}"],
            "HAQ_DI: the data has no column for required item(s) dressing_grooming_1",
        ),
    ],
)
def test_errors_exit_1_without_traceback(args, message, mrss_csv, tmp_path, capsys):
    args = [a.format(csv=mrss_csv, missing=tmp_path / "missing.csv") for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_instruments_lists_registry(capsys):
    assert main(["instruments"]) == 0
    out = capsys.readouterr().out
    for code in ("MRSS", "HAQ_DI", "GLOBAL", "JOINTS", "DU", "EUSTAR_AI", "ACR_CRISS", "RCRISS"):
        assert code in out
    assert "total->MRSS" in out


def test_instruments_shows_items(capsys):
    assert main(["instruments", "mrss"]) == 0
    out = capsys.readouterr().out
    assert "forearm_left" in out and "an integer from 0 to 3" in out
    assert main(["instruments", "nothing"]) == 1
    assert "unknown instrument 'nothing'" in capsys.readouterr().err


def test_value_set_reaches_the_eq5d_scorer(tmp_path):
    # the CLI passes --value-set generically to whatever scorer is registered (EQ-5D here);
    # 55555 = -0.285 is the published England worst state (Devlin 2018 abstract)
    dims = ["mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression"]
    path = tmp_path / "eq5d.csv"
    pd.DataFrame([dict.fromkeys(dims, 5), dict.fromkeys(dims, 1)]).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert (
        main(["score", "EQ5D_5L", "--in", str(path), "--out", str(out), "--value-set", "EN_5L_Devlin2018"])
        == 0
    )
    np.testing.assert_allclose(pd.read_csv(out)["index"], [-0.285, 1.0], atol=5e-4)
    assert main(["score", "EQ5D_5L", "--in", str(path), "--out", str(out), "--threshold", "1"]) == 1
