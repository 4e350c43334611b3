"""The batched MMRM gives what ssctrial.stats.mmrm gives on the same trials (estimates, KR SE and df)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssctrial.power._mmrm_batch import analyse_mmrm
from ssctrial.power._model import build_endpoint_model, draw_trials
from ssctrial.power._scenario import make_scenario
from ssctrial.stats import mmrm


def test_batched_mmrm_equals_public_mmrm():
    model = build_endpoint_model(make_scenario({"n": 12, "dropout": 0.25, "method": "mmrm"}))
    batch = draw_trials(model, np.random.default_rng(11), 3)
    res = analyse_mmrm(batch)
    for i in range(3):
        rows = [
            {
                "USUBJID": j,
                "AVISIT": model.visits[v],
                "CHG": batch.chg[i, j, v],
                "BASE": batch.base[i, j],
                "ARM": model.arms[batch.arm_index[j]],
            }
            for j in range(batch.chg.shape[1])
            for v in range(len(model.visits))
            if batch.observed[i, j, v]
        ]
        d = pd.DataFrame(rows)
        d["ARM"] = pd.Categorical(d["ARM"], categories=list(model.arms))
        d["AVISIT"] = pd.Categorical(d["AVISIT"], categories=list(model.visits))
        fit = mmrm(d, "CHG ~ BASE*AVISIT + ARM*AVISIT", subject="USUBJID", visit="AVISIT")
        c = fit.contrasts("ARM", reference="CTRL", by="AVISIT")
        c = c[c["AVISIT"] == "W12"]
        # same engine and same REML optimum from a different parameterisation of the mean model:
        # agreement to the optimiser's tolerance
        np.testing.assert_allclose(res.estimate[i], c["estimate"].to_numpy(), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(res.se[i], c["se"].to_numpy(), rtol=1e-5)
        np.testing.assert_allclose(res.df[i], c["df"].to_numpy(), rtol=1e-4)
        np.testing.assert_allclose(res.p[i], c["p"].to_numpy(), rtol=1e-4, atol=1e-10)
