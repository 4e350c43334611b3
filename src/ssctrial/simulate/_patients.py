"""Screening and baseline characteristics of simulated patients (pure: a Generator in, DataFrames out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.simulate._params import LogNormal, Normal, SimulationParameters

__all__: list[str] = []


def draw_normal(rng: np.random.Generator, spec: Normal, size: int) -> np.ndarray:
    """Draw from a (truncated) normal by inversion (one uniform per value: stable streams)."""
    lo = -np.inf if spec.min is None else spec.min
    hi = np.inf if spec.max is None else spec.max
    u = rng.random(size)
    if spec.sd == 0:
        return np.clip(np.full(size, spec.mean), lo, hi)
    a = stats.norm.cdf((lo - spec.mean) / spec.sd)
    b = stats.norm.cdf((hi - spec.mean) / spec.sd)
    p = np.clip(a + u * (b - a), 1e-12, 1 - 1e-12)
    return np.clip(spec.mean + spec.sd * stats.norm.ppf(p), lo, hi)


def normal_mean(spec: Normal) -> float:
    """Return the mean of a (truncated) normal."""
    if spec.sd == 0:
        return float(np.clip(spec.mean, spec.min or -np.inf, spec.max or np.inf))
    lo = -np.inf if spec.min is None else (spec.min - spec.mean) / spec.sd
    hi = np.inf if spec.max is None else (spec.max - spec.mean) / spec.sd
    return float(stats.truncnorm.mean(lo, hi, loc=spec.mean, scale=spec.sd))


def draw_lognormal(rng: np.random.Generator, spec: LogNormal, size: int) -> np.ndarray:
    """Draw from a truncated log-normal given by its median and log-SD."""
    u = rng.random(size)
    mu = np.log(spec.median)
    lo = stats.norm.cdf((np.log(spec.min) - mu) / spec.log_sd) if spec.min > 0 and spec.log_sd > 0 else 0.0
    hi = (
        stats.norm.cdf((np.log(spec.max) - mu) / spec.log_sd)
        if np.isfinite(spec.max) and spec.log_sd > 0
        else 1.0
    )
    p = np.clip(lo + u * (hi - lo), 1e-12, 1 - 1e-12)
    return np.clip(np.exp(mu + spec.log_sd * stats.norm.ppf(p)), spec.min, spec.max)


def draw_categorical(rng: np.random.Generator, probabilities: dict[str, float], size: int) -> np.ndarray:
    """Draw category labels with the given probabilities (one uniform per value)."""
    labels = np.array(list(probabilities), dtype=object)
    cum = np.cumsum(list(probabilities.values()))
    cum[-1] = 1.0
    return labels[np.searchsorted(cum, rng.random(size), side="right").clip(0, len(labels) - 1)]


def simulate_patients(params: SimulationParameters, rng: np.random.Generator, size: int) -> pd.DataFrame:
    """Draw ``size`` patients' baseline characteristics.

    Returns one row per patient with: ``sex`` (F/M), ``age`` (years, 1 dp), ``height_cm``,
    ``weight_kg``, ``ethnicity``, ``subtype``, ``disease_duration_months``, ``autoantibody``,
    one boolean column per background therapy (``bg_<name>``), and the true baseline mRSS
    ``skin_baseline`` (continuous, latent).
    """
    d = params.demographics
    female = rng.random(size) < d.female_fraction
    age = np.round(draw_normal(rng, d.age, size), 1)
    h_f = draw_normal(rng, d.height_cm["female"], size)
    h_m = draw_normal(rng, d.height_cm["male"], size)
    height = np.round(np.where(female, h_f, h_m), 0)
    bmi = draw_normal(rng, d.bmi, size)
    weight = np.round(bmi * (height / 100.0) ** 2, 1)
    subtype = draw_categorical(rng, params.subtype, size)
    duration = np.round(draw_lognormal(rng, params.disease_duration_months, size), 1)
    antibody = draw_categorical(rng, params.autoantibodies, size)
    out = pd.DataFrame(
        {
            "sex": np.where(female, "F", "M"),
            "age": age,
            "height_cm": height,
            "weight_kg": weight,
            "subtype": subtype.astype(str),
            "disease_duration_months": duration,
            "autoantibody": antibody.astype(str),
        }
    )
    for name, p in params.background_therapy.items():
        out[f"bg_{name}"] = rng.random(size) < p
    skin = np.empty(size)
    for sub, spec in params.skin.baseline.items():
        draw = draw_normal(rng, spec, size)
        skin = np.where(out["subtype"].to_numpy() == sub, draw, skin)
    out["skin_baseline"] = skin
    return out


def expected_skin_baseline(params: SimulationParameters) -> float:
    """Return the population mean of the true baseline mRSS (mixture of truncated normals over subtypes)."""
    return sum(params.subtype[s] * normal_mean(spec) for s, spec in params.skin.baseline.items())


def derive_strata(
    params: SimulationParameters, patients: pd.DataFrame, factors: dict[str, tuple[str, ...]]
) -> pd.DataFrame:
    """Return one column per stratification factor with each patient's level."""
    out = pd.DataFrame(index=patients.index)
    for code in factors:
        rule = params.strata[code]
        values = patients[rule.attribute]
        if rule.cut is not None and rule.levels is not None:
            out[code] = np.where(values.to_numpy(dtype=float) < rule.cut, rule.levels[0], rule.levels[1])
        else:
            out[code] = values.astype(str).to_numpy()
    return out
