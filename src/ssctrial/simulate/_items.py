"""Item-level answers of every instrument, drawn from the latent course (arrays in, long data out).

Each ``_items_<instrument>`` function returns ``{item code: array}`` over patients x visits, with
the item codes of the instrument registry. :func:`create_observations` keeps the attended visits
at which the study file schedules the instrument and stacks them into the long table
``subject, visit, instrument, item, value`` that :meth:`ssctrial.store.Store.record_observations`
takes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssctrial.instruments import (
    DU_LOCATIONS,
    HAQ_CATEGORIES,
    HAQ_DEVICES,
    JOINTS_28,
    MRSS_SITES,
    SHAQ_VAS,
    compute_lung_function,
)
from ssctrial.simulate._course import Course, arm_visit_matrix, simulate_skin_sites
from ssctrial.simulate._params import SimulationParameters

__all__: list[str] = []

ItemArrays = dict[str, np.ndarray]

# Relative difficulty of the 8 HAQ-DI categories for SSc patients (hands: eating, grip, dressing
# are hardest; walking and arising easiest). Model constants (assumed), centred on 0 so that the
# mean category score follows the latent HAQ-DI.
_HAQ_CATEGORY_SHIFT = {
    "dressing_grooming": 0.15,
    "arising": -0.25,
    "eating": 0.25,
    "walking": -0.3,
    "hygiene": -0.05,
    "reach": 0.0,
    "grip": 0.3,
    "activities": -0.1,
}
# Relative weight of each of the 28 joints for tenderness/swelling in SSc arthritis (assumed: hands
# and wrists most often involved, then knees, elbows, shoulders).
_JOINT_WEIGHT = {"shoulder": 0.6, "elbow": 0.6, "wrist": 1.6, "knee": 0.8}
# Where on a finger an ulcer sits (assumed): tip, volar pad, dorsal distal.
_DU_PLACE = (("tip", 0.7), ("volar", 0.2), ("dorsal_distal", 0.1))


def _items_mrss(params: SimulationParameters, course: Course, rng: np.random.Generator) -> ItemArrays:
    grades = simulate_skin_sites(params, course.mrss_total, rng)
    sites = list(params.skin.site_weights)
    if set(sites) != set(MRSS_SITES):  # pragma: no cover - guarded by the parameter model
        msg = f"simulation sites {sites} differ from the MRSS registry sites {list(MRSS_SITES)}"
        raise RuntimeError(msg)
    return {site: grades[:, :, k] for k, site in enumerate(sites)}


def _items_mrss_screening(
    params: SimulationParameters, course: Course, rng: np.random.Generator
) -> ItemArrays:
    grades = simulate_skin_sites(params, course.screening_total[:, None], rng)
    return {site: grades[:, :, k] for k, site in enumerate(params.skin.site_weights)}


def _items_globals(clin: dict[str, np.ndarray]) -> ItemArrays:
    return {"pt_global": clin["pt_global"], "md_global": clin["md_global"]}


def _items_haq(
    params: SimulationParameters, course: Course, clin: dict[str, np.ndarray], rng: np.random.Generator
) -> ItemArrays:
    """HAQ-DI answers: a category score around the latent level; its items at or just below it."""
    hq = params.haq
    h = clin["haq"]
    n, nv = h.shape
    out: ItemArrays = {}
    cats = list(HAQ_CATEGORIES)
    person = rng.standard_normal((n, len(cats))) * hq.item_spread * 0.6
    aid_u = rng.random((n, len(cats)))
    help_u = rng.random((n, len(cats)))
    for k, cat in enumerate(cats):
        latent = (
            h
            + _HAQ_CATEGORY_SHIFT[cat]
            + person[:, k : k + 1]
            + rng.standard_normal((n, nv)) * hq.item_spread * 0.4
        )
        score = np.clip(np.floor(latent + 0.5), 0, 3)
        items = list(HAQ_CATEGORIES[cat])
        top = rng.integers(0, len(items), size=(n, nv))
        for j, code in enumerate(items):
            lower = rng.random((n, nv)) < 0.5
            out[code] = np.where(top == j, score, np.clip(score - lower, 0, 3))
        difficulty = score >= 1
        devices = [d for d, (_, c) in HAQ_DEVICES.items() if c == cat]
        if devices:
            use = difficulty & (aid_u[:, k : k + 1] < hq.aids_probability)
            which = rng.integers(0, len(devices), size=n)
            for j, dev in enumerate(devices):
                out[dev] = out.get(dev, np.zeros((n, nv))) + (use & (which[:, None] == j))
        out[f"help_{cat}"] = (difficulty & (help_u[:, k : k + 1] < hq.help_probability)).astype(float)
    for dev in HAQ_DEVICES:
        out[dev] = (out.get(dev, np.zeros((n, nv))) > 0).astype(float)
    # Scleroderma-HAQ VAS, mm on a 150 mm line (0-3 after scaling): driven by the latent disability
    # and, for the organ scales, by the organ's own state
    any_du = clin["du"].any(axis=2)
    fvc = clin["fvc_pct"]
    base = {
        "vas_pain": hq.vas_per_haq * h,
        "vas_raynauds": 1.0 + 0.2 * h,
        "vas_digital_ulcers": 0.2 + 1.2 * any_du,
        "vas_gi": 0.6 + 0.2 * h,
        "vas_breathing": 0.3 + np.clip((85.0 - fvc) / 25.0, 0, 2),
        "vas_overall": hq.vas_per_haq * h + 0.03 * course.skin_true,
    }
    for code in SHAQ_VAS:
        score = np.clip(base[code] + rng.standard_normal((n, nv)) * 0.4, 0, 3)
        out[code] = np.round(score * 50.0, 0)
    return out


def _items_eq5d(
    params: SimulationParameters, course: Course, clin: dict[str, np.ndarray], rng: np.random.Generator
) -> ItemArrays:
    e = params.eq5d
    h = clin["haq"]
    n, nv = h.shape
    shift = arm_visit_matrix(e.mean_change, course.arm, course.schedule)
    load = {
        "mobility": 1.0,
        "self_care": 0.8,
        "usual_activities": 1.0,
        "pain_discomfort": 1.0,
        "anxiety_depression": 0.5,
    }
    out: ItemArrays = {}
    thresholds = np.array([0.5, 1.5, 2.5, 3.5])
    for dim, w in load.items():
        person = rng.standard_normal(n) * e.threshold_sd * 0.6
        latent = (
            w * e.per_haq * (h + shift)
            + person[:, None]
            + rng.standard_normal((n, nv)) * e.threshold_sd * 0.5
        )
        out[dim] = 1 + (latent[:, :, None] > thresholds[None, None, :]).sum(axis=2)
    vas0 = e.vas_baseline.mean + rng.standard_normal(n) * e.vas_baseline.sd
    dh = h - h[:, :1] + shift
    vas = vas0[:, None] + e.vas_per_haq * dh + rng.standard_normal((n, nv)) * e.vas_sd
    vas[:, 0] = vas0
    out["vas"] = np.clip(np.round(vas), 0, 100)
    return out


def _items_joints(clin: dict[str, np.ndarray], params: SimulationParameters) -> ItemArrays:
    rate = clin["tender_rate"]
    w = np.array([_JOINT_WEIGHT.get(j.split("_", 1)[1], 1.0) for j in JOINTS_28])
    prop = -np.log(np.clip(clin["joint_u"], 1e-12, 1.0)) * w[None, :]
    prop = prop / prop.sum(axis=1, keepdims=True) * len(JOINTS_28)
    p = np.clip(rate[:, :, None] * prop[:, None, :] / len(JOINTS_28), 0, 0.95)
    tender = clin["joint_visit_u"] < p
    swollen = tender & (clin["swollen_u"] < params.joints.swollen_fraction)
    out: ItemArrays = {}
    for k, j in enumerate(JOINTS_28):
        out[f"tender_{j}"] = tender[:, :, k].astype(float)
        out[f"swollen_{j}"] = swollen[:, :, k].astype(float)
    return out


def _items_du(clin: dict[str, np.ndarray], rng: np.random.Generator) -> ItemArrays:
    state = clin["du"]  # n x V x 10 (R1..R5, L1..L5)
    n, nv, _ = state.shape
    fingers = [f"{side}{d}" for side in ("R", "L") for d in range(1, 6)]
    cum = np.cumsum([w for _, w in _DU_PLACE])
    place = np.searchsorted(cum, rng.random((n, 10)), side="right").clip(0, len(_DU_PLACE) - 1)
    out: ItemArrays = {code: np.zeros((n, nv)) for code in DU_LOCATIONS}
    for f, finger in enumerate(fingers):
        for p, (where, _) in enumerate(_DU_PLACE):
            code = f"{finger}_{where}"
            if code in out:
                out[code] = (state[:, :, f] & (place[:, f : f + 1] == p)).astype(float)
    # other lesions over the extensor surfaces (not digital ulcers): rare
    for code in DU_LOCATIONS:
        if code.endswith(("dorsal_pip", "dorsal_mcp")):
            out[code] = (rng.random((n, nv)) < 0.004).astype(float)
    return out


def _age_at(patients: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    return patients["age"].to_numpy(dtype=float)[:, None] + days / 365.25


def predicted_lung(
    patients: pd.DataFrame, days: np.ndarray, *, ethnicity: str, equation: str, transfer_equation: str
) -> dict[str, np.ndarray]:
    """GLI predicted FVC, FEV1 (L) and DLCO (mL/min/mmHg) at each visit (arrays n x V)."""
    n, nv = days.shape
    age = _age_at(patients, days)
    frame = pd.DataFrame(
        {
            "sex": np.repeat(patients["sex"].to_numpy(), nv),
            "age": np.clip(age.reshape(-1), 5, 85),
            "height_cm": np.repeat(patients["height_cm"].to_numpy(dtype=float), nv),
        }
    )
    out = {}
    for param, eq in (("FVC", equation), ("FEV1", equation), ("DLCO", transfer_equation)):
        res = compute_lung_function(frame, param, equation=eq, ethnicity=ethnicity)
        out[param] = res["predicted"].to_numpy(dtype=float).reshape(n, nv)
    return out


def _items_pft(
    patients: pd.DataFrame, clin: dict[str, np.ndarray], pred: dict[str, np.ndarray], rng: np.random.Generator
) -> ItemArrays:
    fvc = clin["fvc_pct"] / 100.0 * pred["FVC"] * (1.0 + clin["fvc_noise"])
    ratio = np.clip(clin["fev1_ratio"][:, None] + rng.standard_normal(fvc.shape) * 0.02, 0.4, 0.99)
    fev1 = fvc * ratio
    dlco = clin["dlco_pct"] / 100.0 * pred["DLCO"] * (1.0 + clin["dlco_noise"])
    height = np.repeat(patients["height_cm"].to_numpy(dtype=float)[:, None], fvc.shape[1], axis=1)
    return {
        "fvc_l": np.round(np.clip(fvc, 0.3, 8.0), 2),
        "fev1_l": np.round(np.clip(fev1, 0.2, 7.0), 2),
        "dlco": np.round(np.clip(dlco, 1.0, 60.0), 1),
        "height_cm": height,
    }


def _items_eustar(
    course: Course, clin: dict[str, np.ndarray], pft: ItemArrays, pred: dict[str, np.ndarray]
) -> ItemArrays:
    active_du = clin["du"].any(axis=2)
    dlco_pct = np.round(100.0 * pft["dlco"] / pred["DLCO"], 1)
    return {
        "delta_skin": clin["delta_skin"].astype(float),
        "mrss": course.mrss_total.astype(float),
        "digital_ulcers": active_du.astype(float),
        "tendon_friction_rubs": clin["tfr"].astype(float),
        "crp_mg_l": np.clip(clin["crp"], 0, 1000),
        "dlco_pct_pred": np.clip(dlco_pct, 0, 250),
    }


def simulate_items(
    params: SimulationParameters,
    course: Course,
    clin: dict[str, np.ndarray],
    patients: pd.DataFrame,
    rngs: dict[str, np.random.Generator],
    *,
    lung: dict[str, str],
) -> dict[str, ItemArrays]:
    """Item arrays (patients x on-study visits) of every instrument, keyed by registry code."""
    pred = predicted_lung(patients, course.day.astype(float), **lung)
    pft = _items_pft(patients, clin, pred, rngs["pft"])
    return {
        "MRSS": _items_mrss(params, course, rngs["mrss"]),
        "GLOBAL": _items_globals(clin),
        "HAQ_DI": _items_haq(params, course, clin, rngs["haq_items"]),
        "EQ5D_5L": _items_eq5d(params, course, clin, rngs["eq5d"]),
        "JOINTS": _items_joints(clin, params),
        "DU": _items_du(clin, rngs["du_items"]),
        "PFT": pft,
        "EUSTAR_AI": _items_eustar(course, clin, pft, pred),
    }


def simulate_screening_items(
    params: SimulationParameters,
    course: Course,
    clin: dict[str, np.ndarray],
    patients: pd.DataFrame,
    screening_day: np.ndarray,
    rngs: dict[str, np.random.Generator],
    *,
    lung: dict[str, str],
) -> dict[str, ItemArrays]:
    """Item arrays (patients x 1) at the screening visit: MRSS and PFT."""
    days = screening_day.astype(float)[:, None]
    pred = predicted_lung(patients, days, **lung)
    scr_clin = {
        "fvc_pct": clin["fvc_pct_baseline"][:, None],
        "dlco_pct": clin["dlco_pct_baseline"][:, None],
        "fvc_noise": clin["fvc_scr_noise"][:, None],
        "dlco_noise": clin["dlco_scr_noise"][:, None],
        "fev1_ratio": clin["fev1_ratio"],
    }
    return {
        "MRSS": _items_mrss_screening(params, course, rngs["mrss_scr"]),
        "PFT": _items_pft(patients, scr_clin, pred, rngs["pft_scr"]),
    }


def stack_items(
    items: dict[str, ItemArrays],
    subjects: np.ndarray,
    visit_codes: list[str],
    keep: np.ndarray,
    schedule: dict[str, tuple[str, ...]],
) -> pd.DataFrame:
    """Stack item arrays into the long table, keeping attended visits where the instrument is scheduled.

    Parameters
    ----------
    items
        ``{instrument: {item: array n x V}}``.
    subjects
        Subject identifiers (n,).
    visit_codes
        The V visit codes of the arrays' columns.
    keep
        Boolean n x V: the visit took place.
    schedule
        ``{visit: instruments collected}`` from the study file.
    """
    subj_codes = np.arange(len(subjects))
    inst_names = list(items)
    item_names: list[str] = []
    parts: dict[str, list[np.ndarray]] = {
        "subject": [],
        "visit": [],
        "instrument": [],
        "item": [],
        "value": [],
    }
    for i_inst, instrument in enumerate(inst_names):
        arrays = items[instrument]
        codes = list(arrays)
        if not codes:
            continue
        first = len(item_names)
        item_names.extend(codes)
        item_idx = np.arange(first, first + len(codes))
        for v, visit in enumerate(visit_codes):
            if instrument not in schedule.get(visit, ()):
                continue
            rows = np.flatnonzero(keep[:, v])
            if rows.size == 0:
                continue
            values = np.empty((rows.size, len(codes)))
            for j, c in enumerate(codes):
                values[:, j] = arrays[c][rows, v]
            m = values.size
            parts["subject"].append(np.repeat(subj_codes[rows], len(codes)))
            parts["visit"].append(np.full(m, v, dtype=np.int16))
            parts["instrument"].append(np.full(m, i_inst, dtype=np.int16))
            parts["item"].append(np.tile(item_idx, rows.size))
            parts["value"].append(values.reshape(-1))
    if not parts["value"]:
        return pd.DataFrame({k: pd.Series([], dtype=object if k != "value" else float) for k in parts})
    # item codes repeat across instruments (e.g. "mrss"); categories must be unique
    uniq, inverse = np.unique(np.asarray(item_names, dtype=object), return_inverse=True)
    return pd.DataFrame(
        {
            "subject": pd.Categorical.from_codes(np.concatenate(parts["subject"]), categories=list(subjects)),
            "visit": pd.Categorical.from_codes(np.concatenate(parts["visit"]), categories=list(visit_codes)),
            "instrument": pd.Categorical.from_codes(
                np.concatenate(parts["instrument"]), categories=inst_names
            ),
            "item": pd.Categorical.from_codes(inverse[np.concatenate(parts["item"])], categories=list(uniq)),
            "value": np.concatenate(parts["value"]),
        }
    )
