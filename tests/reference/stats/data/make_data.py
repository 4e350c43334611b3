"""Generate the small BASICS-like datasets used as input for the R reference scripts.

Run once from the repository root: ``python tests/reference/stats/data/make_data.py``.
The CSV files it writes are committed; tests read the CSVs, never re-run this script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def make_efficacy(rng: np.random.Generator) -> pd.DataFrame:
    arms = np.repeat(["CTRL", "BARI2", "BARI4"], 16)
    n = arms.size
    stratum = rng.choice(["dcSSc", "lcSSc"], size=n, p=[0.6, 0.4])
    base = np.round(rng.normal(18, 6, size=n).clip(4, 40))
    effect = pd.Series(arms).map({"CTRL": -3.6, "BARI2": -3.8, "BARI4": -8.9}).to_numpy()
    chg = np.round(effect - 0.15 * (base - 18) + np.where(stratum == "dcSSc", -1.0, 1.0)
                   + rng.normal(0, 4, size=n))
    eta = -0.8 + 1.3 * (arms == "BARI4") + 0.3 * (arms == "BARI2") - 0.05 * (base - 18)
    p_resp = 1 / (1 + np.exp(-eta))
    resp = (rng.uniform(size=n) < p_resp).astype(float)
    resp[rng.choice(n, size=5, replace=False)] = np.nan
    exposure = np.round(rng.uniform(0.35, 0.46, size=n), 4)  # years (~18-24 weeks)
    exposure[rng.choice(n, size=4, replace=False)] = np.round(rng.uniform(0.05, 0.2, size=4), 4)
    rate = np.exp(np.log(3.0) - 0.7 * (arms == "BARI4") - 0.2 * (arms == "BARI2"))
    lam = rng.gamma(shape=2.0, scale=rate * exposure / 2.0)
    du = rng.poisson(lam)
    chg_miss = chg.copy()
    chg_miss[rng.choice(n, size=8, replace=False)] = np.nan
    return pd.DataFrame({
        "USUBJID": [f"BAS-{i + 1:03d}" for i in range(n)],
        "ARM": arms,
        "STRATUM": stratum,
        "AGE": np.round(rng.normal(45, 11, size=n)),
        "BASE": base,
        "CHG": chg,
        "CHGMISS": chg_miss,
        "RESP": resp,
        "DUCNT": du,
        "EXPYRS": exposure,
    })




def make_safety(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ADSL (48 subjects, safety flag, exposure days) and an ADAE-like table for the safety tables."""
    arms = np.repeat(["CTRL", "BARI2", "BARI4"], 16)
    n = arms.size
    adsl = pd.DataFrame({
        "USUBJID": [f"BAS-{i + 1:03d}" for i in range(n)],
        "TRT01A": arms,
        "SAFFL": np.where(np.arange(n) == 47, "N", "Y"),  # one subject never dosed
        "TRTDURD": rng.integers(60, 169, size=n),
    })
    terms = {
        "Infections and infestations": ["Upper respiratory tract infection", "Herpes zoster",
                                        "Urinary tract infection"],
        "Gastrointestinal disorders": ["Nausea", "Diarrhoea"],
        "Investigations": ["Alanine aminotransferase increased", "Blood creatine phosphokinase increased"],
        "Skin and subcutaneous tissue disorders": ["Rash"],
    }
    pairs = [(soc, t) for soc, ts in terms.items() for t in ts]
    rate = {"CTRL": 0.9, "BARI2": 1.3, "BARI4": 1.8}
    rows = []
    for subj, arm in zip(adsl.USUBJID, adsl.TRT01A, strict=True):
        for _ in range(rng.poisson(rate[arm])):
            soc, term = pairs[rng.integers(len(pairs))]
            grade = int(rng.choice([1, 2, 3, 4], p=[0.55, 0.3, 0.12, 0.03]))
            rows.append({
                "USUBJID": subj, "TRT01A": arm, "AESOC": soc, "AEDECOD": term, "AETOXGR": str(grade),
                "AESER": "Y" if grade >= 3 and rng.uniform() < 0.6 else "N",
                "AEACN": "DRUG WITHDRAWN" if grade >= 3 and rng.uniform() < 0.5 else "DOSE NOT CHANGED",
                "TRTEMFL": "Y" if rng.uniform() < 0.93 else "N",
            })
    return adsl, pd.DataFrame(rows)


def write_safety() -> None:
    adsl, adae = make_safety(np.random.default_rng(20210470))
    adsl.to_csv(HERE / "adsl_like.csv", index=False)
    adae.to_csv(HERE / "adae_like.csv", index=False)




def make_counts(rng: np.random.Generator) -> pd.DataFrame:
    """Overdispersed digital-ulcer counts (90 subjects, 3 arms) with unequal exposure."""
    arms = np.repeat(["CTRL", "BARI2", "BARI4"], 30)
    n = arms.size
    base = rng.poisson(2.0, size=n)
    exposure = np.round(rng.uniform(0.2, 0.5, size=n), 4)
    mu = np.exp(np.log(4.0) - 0.8 * (arms == "BARI4") - 0.3 * (arms == "BARI2") + 0.15 * base) * exposure
    counts = rng.poisson(rng.gamma(shape=0.8, scale=mu / 0.8))
    return pd.DataFrame({"USUBJID": [f"DU-{i + 1:03d}" for i in range(n)], "ARM": arms, "BASEDU": base,
                         "DUCNT": counts, "EXPYRS": exposure})


def main() -> None:
    rng = np.random.default_rng(20250517)
    make_efficacy(rng).to_csv(HERE / "basics_like.csv", index=False)
    write_safety()
    make_counts(np.random.default_rng(7433)).to_csv(HERE / "counts_like.csv", index=False)


if __name__ == "__main__":
    main()
