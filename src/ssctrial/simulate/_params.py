"""Simulation parameters: the validated ``simulation:`` section of a study file.

Every number of the generative model lives in the study file (``basics.yaml``), with its source
in a comment beside it; this module only checks them. See ``docs/simulation.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ssctrial.exceptions import InputError

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign

__all__ = [
    "SimulationParameters",
    "load_simulation_parameters",
]

logger = logging.getLogger(__name__)

_MRSS_SITES: tuple[str, ...] = (
    "face",
    "anterior_chest",
    "abdomen",
    "fingers_right",
    "fingers_left",
    "dorsum_hand_right",
    "dorsum_hand_left",
    "forearm_right",
    "forearm_left",
    "upper_arm_right",
    "upper_arm_left",
    "thigh_right",
    "thigh_left",
    "lower_leg_right",
    "lower_leg_left",
    "dorsum_foot_right",
    "dorsum_foot_left",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        msg = f"must be a probability from 0 to 1, got {value!r}"
        raise ValueError(msg)
    return value


def _distribution(value: Mapping[str, float]) -> dict[str, float]:
    """Check a categorical distribution (non-negative weights summing to 1 within 1e-6)."""
    if not value:
        msg = "must list at least one category"
        raise ValueError(msg)
    bad = {k: v for k, v in value.items() if v < 0}
    if bad:
        msg = f"weights must be at least 0, got {bad!r}"
        raise ValueError(msg)
    total = sum(value.values())
    if abs(total - 1.0) > 1e-6:
        msg = f"probabilities must sum to 1, got {total:.6g} for {dict(value)!r}"
        raise ValueError(msg)
    return dict(value)


class Normal(_Model):
    """A normal distribution, optionally truncated to ``[min, max]``."""

    mean: float
    sd: float = Field(ge=0)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Normal:
        if self.min is not None and self.max is not None and self.min >= self.max:
            msg = f"min ({self.min}) must be below max ({self.max})"
            raise ValueError(msg)
        return self


class Range(_Model):
    """An inclusive integer range."""

    min: int
    max: int

    @model_validator(mode="after")
    def _order(self) -> Range:
        if self.min > self.max:
            msg = f"min ({self.min}) must not exceed max ({self.max})"
            raise ValueError(msg)
        return self


class Screening(_Model):
    """Screening: share of screen failures, their reasons and the timing of screening."""

    failure_rate: float
    failure_reasons: dict[str, float]
    days_before_baseline: Range

    _p = field_validator("failure_rate")(_probability)
    _d = field_validator("failure_reasons")(_distribution)


class Demographics(_Model):
    """Age (years), sex, height (cm, by sex) and body-mass index (kg/m^2)."""

    age: Normal
    female_fraction: float
    height_cm: dict[str, Normal]
    bmi: Normal

    _p = field_validator("female_fraction")(_probability)

    @field_validator("height_cm")
    @classmethod
    def _sexes(cls, value: dict[str, Normal]) -> dict[str, Normal]:
        if set(value) != {"female", "male"}:
            msg = f"must give 'female' and 'male', got {sorted(value)!r}"
            raise ValueError(msg)
        return value


class LogNormal(_Model):
    """A log-normal distribution given by its median and the SD of the log, truncated."""

    median: float = Field(gt=0)
    log_sd: float = Field(ge=0)
    min: float = 0.0
    max: float = float("inf")


class StratumRule(_Model):
    """How one stratification factor is read from a simulated patient.

    ``attribute`` names a patient attribute (``subtype``, ``disease_duration_months``, ...). A
    categorical attribute is used as the level; a numeric one is cut at ``cut`` into
    ``levels[0]`` (below) and ``levels[1]`` (at or above).
    """

    attribute: str
    cut: float | None = None
    levels: tuple[str, str] | None = None

    @model_validator(mode="after")
    def _cut_levels(self) -> StratumRule:
        if (self.cut is None) != (self.levels is None):
            msg = "'cut' and 'levels' go together: give both (numeric attribute) or neither"
            raise ValueError(msg)
        return self


ArmVisitMap = dict[str, dict[str, float]]


class Responders(_Model):
    """A responder subgroup: its share of the arm and its change relative to the non-responders."""

    fraction: float
    ratio: float = Field(gt=0)

    _p = field_validator("fraction")(_probability)


class Skin(_Model):
    """Modified Rodnan skin score: baseline, course per arm, noise and the site pattern."""

    baseline: dict[str, Normal]
    mean_change: ArmVisitMap
    responders: dict[str, Responders]
    relative_slope_sd: float = Field(ge=0)
    assessment_sd: float = Field(ge=0)
    site_weights: dict[str, float]
    site_pattern_sd: float = Field(ge=0)
    site_visit_sd: float = Field(ge=0)
    delta_skin_intercept: float
    delta_skin_slope: float

    @field_validator("site_weights")
    @classmethod
    def _sites(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [s for s in _MRSS_SITES if s not in value]
        extra = [s for s in value if s not in _MRSS_SITES]
        if missing or extra:
            msg = (
                f"must give a weight for each of the 17 mRSS sites; missing {missing!r}, "
                f"unknown {extra!r}; sites are: {', '.join(_MRSS_SITES)}"
            )
            raise ValueError(msg)
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            msg = f"site weights must be positive, got {bad!r}"
            raise ValueError(msg)
        return {s: value[s] for s in _MRSS_SITES}


class Lung(_Model):
    """FVC and DLCO: baseline % predicted, mean change per arm, noise."""

    fvc_pct_baseline: Normal
    dlco_pct_baseline: Normal
    fev1_fvc_ratio: Normal
    fvc_mean_change_pct: ArmVisitMap
    dlco_mean_change_pct: ArmVisitMap
    change_sd_pct: float = Field(ge=0)
    fvc_measurement_cv: float = Field(ge=0)
    dlco_measurement_cv: float = Field(ge=0)


class Globals(_Model):
    """Patient and physician global assessments (0-10)."""

    patient_baseline: Normal
    physician_baseline: Normal
    physician_per_mrss: float
    patient_per_mrss: float
    patient_mean_change: ArmVisitMap
    physician_mean_change: ArmVisitMap
    visit_sd: float = Field(ge=0)


class Haq(_Model):
    """HAQ-DI latent level, its course, and the item-response model."""

    baseline: Normal
    per_mrss: float
    mean_change: ArmVisitMap
    visit_sd: float = Field(ge=0)
    item_spread: float = Field(ge=0)
    aids_probability: float
    help_probability: float
    vas_per_haq: float

    _p = field_validator("aids_probability", "help_probability")(_probability)


class Eq5d(_Model):
    """EQ-5D-5L dimensions (from a latent driven by HAQ-DI) and the EQ VAS."""

    per_haq: float
    threshold_sd: float = Field(ge=0)
    mean_change: ArmVisitMap
    vas_baseline: Normal
    vas_per_haq: float
    vas_sd: float = Field(ge=0)


class Joints(_Model):
    """Tender and swollen joints of the 28-joint count."""

    arthritis_prevalence: float
    tender_mean: float = Field(ge=0)
    swollen_fraction: float
    relative_change: ArmVisitMap

    _p = field_validator("arthritis_prevalence", "swollen_fraction")(_probability)


class DigitalUlcers(_Model):
    """Digital ulcers per location: prevalence, healing and new ulcers per arm."""

    prevalence: float
    mean_count: float = Field(ge=1)
    heal_probability: dict[str, float]
    new_rate: dict[str, float]

    _p = field_validator("prevalence")(_probability)

    @field_validator("heal_probability")
    @classmethod
    def _heal(cls, value: dict[str, float]) -> dict[str, float]:
        for v in value.values():
            _probability(v)
        return value


class FrictionRubs(_Model):
    """Tendon friction rubs: prevalence and per-visit resolution per arm."""

    prevalence: float
    resolve_probability: dict[str, float]

    _p = field_validator("prevalence")(_probability)


class Crp(_Model):
    """C-reactive protein (mg/L): log-normal level and treatment effect."""

    median_mg_l: float = Field(gt=0)
    log_sd: float = Field(ge=0)
    fold_change: dict[str, float]
    visit_log_sd: float = Field(ge=0)


class OrganEvents(_Model):
    """Probability over 24 weeks of each ACR-CRISS step-1 event."""

    renal_crisis: float
    fvc_decline: float
    lv_failure: float
    pah: float

    _p = field_validator("renal_crisis", "fvc_decline", "lv_failure", "pah")(_probability)


class Conduct(_Model):
    """Trial conduct: recruitment, missed visits, visit timing and withdrawals (MAR)."""

    first_screening_date: date
    recruitment_days: int = Field(ge=0)

    missed_visit_probability: float
    on_target_probability: float
    withdrawal_base_probability: float
    withdrawal_log_odds_per_mrss: float
    withdrawal_reasons: dict[str, float]

    _p = field_validator("missed_visit_probability", "on_target_probability", "withdrawal_base_probability")(
        _probability
    )
    _d = field_validator("withdrawal_reasons")(_distribution)


class AdverseEventSpec(_Model):
    """One adverse-event term: per-arm probability over 24 weeks, CTCAE grade, seriousness."""

    term: str
    soc: str
    probability: dict[str, float]
    grade_probabilities: tuple[float, float, float, float, float]
    serious_probability: float

    _p = field_validator("serious_probability")(_probability)

    @field_validator("probability")
    @classmethod
    def _arm_p(cls, value: dict[str, float]) -> dict[str, float]:
        for v in value.values():
            _probability(v)
        return value

    @field_validator("grade_probabilities")
    @classmethod
    def _grades(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        _distribution({str(i + 1): v for i, v in enumerate(value)})
        return value


class RnaSeq(_Model):
    """Blood RNA-seq: library sizes, expression, dispersion trend and the planted effect."""

    n_genes: int | None = Field(default=None, ge=100)
    library_size_median: float = Field(gt=0)
    library_size_log_sd: float = Field(ge=0)
    log_mean_sd: float = Field(ge=0)
    dispersion_asymptotic: float = Field(gt=0)
    dispersion_extra: float = Field(ge=0)
    dispersion_log_sd: float = Field(ge=0)
    subject_log_sd: float = Field(ge=0)
    go_terms: tuple[str, ...]
    n_planted: int = Field(ge=2)
    planted_from_go_fraction: float
    log2fc_mean: float = Field(ge=0)
    log2fc_sd: float = Field(ge=0)
    fixed_log2fc: dict[str, float]
    dose_fraction: dict[str, float]

    _p = field_validator("planted_from_go_fraction")(_probability)


class SimulationParameters(_Model):
    """The validated ``simulation:`` section of a study file.

    Build it with :func:`load_simulation_parameters`, which also checks the section against the
    study's arms, visits and stratification factors. Every field mirrors a key of the YAML
    section; ``docs/simulation.md`` describes each one and its source.
    """

    version: int = 1
    screening: Screening
    demographics: Demographics
    subtype: dict[str, float]
    disease_duration_months: LogNormal
    autoantibodies: dict[str, float]
    background_therapy: dict[str, float]
    strata: dict[str, StratumRule] = Field(default_factory=dict)
    skin: Skin
    lung: Lung
    globals: Globals
    haq: Haq
    eq5d: Eq5d
    joints: Joints
    digital_ulcers: DigitalUlcers
    tendon_friction_rubs: FrictionRubs
    crp: Crp
    organ_events: OrganEvents
    conduct: Conduct
    adverse_events: tuple[AdverseEventSpec, ...]
    rnaseq: RnaSeq

    _d = field_validator("subtype", "autoantibodies")(_distribution)

    @field_validator("subtype")
    @classmethod
    def _subtypes(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"diffuse", "limited"}:
            msg = f"must give 'diffuse' and 'limited', got {sorted(value)!r}"
            raise ValueError(msg)
        return value

    @field_validator("background_therapy")
    @classmethod
    def _therapy(cls, value: dict[str, float]) -> dict[str, float]:
        for v in value.values():
            _probability(v)
        return value

    def check_against(self, design: StudyDesign) -> None:
        """Check that arms, visits and strata named here match ``design``.

        Raises
        ------
        InputError
            Naming the YAML path, the value and what the study file allows.
        """
        problems = list(_design_problems(self, design))
        if problems:
            text = "; ".join(f"simulation.{path}: {m}" for path, m in problems)
            msg = f"study {design.study_id}: the simulation section does not match the design: {text}"
            raise InputError(msg)


_PATIENT_ATTRIBUTES = ("subtype", "disease_duration_months", "age", "sex", "autoantibody")
_ALLOWED_ATTRIBUTES = ", ".join(_PATIENT_ATTRIBUTES)


def _design_problems(p: SimulationParameters, design: StudyDesign) -> list[tuple[str, str]]:
    arms = list(design.arm_codes)
    visits = list(design.visit_codes)
    baseline = design.baseline_visit.code
    post = [v for v in visits if design.visit(v).day > design.visit(baseline).day]
    problems: list[tuple[str, str]] = []

    def arm_map(path: str, value: Mapping[str, Any], *, visit_keys: bool) -> None:
        if set(value) != set(arms):
            problems.append((path, f"arms {sorted(value)!r} do not match the study's arms {arms!r}"))
            return
        if visit_keys:
            for arm, by_visit in value.items():
                bad = [v for v in by_visit if v not in post]
                if bad:
                    problems.append(
                        (f"{path}.{arm}", f"unknown post-baseline visit(s) {bad!r}; allowed: {post!r}")
                    )
                if not by_visit:
                    problems.append((f"{path}.{arm}", "must give at least one visit"))

    arm_map("skin.mean_change", p.skin.mean_change, visit_keys=True)
    arm_map("skin.responders", p.skin.responders, visit_keys=False)
    primary = "W12" if "W12" in post else (post[0] if post else None)
    for arm, by_visit in p.skin.mean_change.items():
        if primary is not None and arms and primary not in by_visit and set(p.skin.mean_change) == set(arms):
            problems.append((f"skin.mean_change.{arm}", f"must give the mean change at {primary}"))
    arm_map("lung.fvc_mean_change_pct", p.lung.fvc_mean_change_pct, visit_keys=True)
    arm_map("lung.dlco_mean_change_pct", p.lung.dlco_mean_change_pct, visit_keys=True)
    arm_map("globals.patient_mean_change", p.globals.patient_mean_change, visit_keys=True)
    arm_map("globals.physician_mean_change", p.globals.physician_mean_change, visit_keys=True)
    arm_map("haq.mean_change", p.haq.mean_change, visit_keys=True)
    arm_map("eq5d.mean_change", p.eq5d.mean_change, visit_keys=True)
    arm_map("joints.relative_change", p.joints.relative_change, visit_keys=True)
    arm_map("digital_ulcers.heal_probability", p.digital_ulcers.heal_probability, visit_keys=False)
    arm_map("digital_ulcers.new_rate", p.digital_ulcers.new_rate, visit_keys=False)
    arm_map(
        "tendon_friction_rubs.resolve_probability",
        p.tendon_friction_rubs.resolve_probability,
        visit_keys=False,
    )
    arm_map("crp.fold_change", p.crp.fold_change, visit_keys=False)
    arm_map("rnaseq.dose_fraction", p.rnaseq.dose_fraction, visit_keys=False)
    for i, ae in enumerate(p.adverse_events):
        arm_map(f"adverse_events[{i}].probability", ae.probability, visit_keys=False)
    for factor in design.stratification_factors:
        rule = p.strata.get(factor.code)
        if rule is None:
            problems.append(
                (
                    f"strata.{factor.code}",
                    f"no rule to read stratification factor {factor.code} from a patient",
                )
            )
            continue
        if rule.attribute not in _PATIENT_ATTRIBUTES:
            problems.append(
                (
                    f"strata.{factor.code}.attribute",
                    f"unknown patient attribute {rule.attribute!r}; allowed: {_ALLOWED_ATTRIBUTES}",
                )
            )
        levels = rule.levels if rule.levels is not None else tuple(p.subtype)
        if rule.attribute == "subtype" or rule.levels is not None:
            bad = [lv for lv in levels if lv not in factor.levels]
            if bad:
                problems.append(
                    (
                        f"strata.{factor.code}",
                        f"level(s) {bad!r} are not levels of {factor.code}: {factor.levels}",
                    )
                )
    for code in p.strata:
        if code not in {f.code for f in design.stratification_factors}:
            known = ", ".join(f.code for f in design.stratification_factors)
            problems.append((f"strata.{code}", f"unknown stratification factor; the study's are: {known}"))
    if design.visit_codes and "MRSS" not in {i for v in design.visits for i in v.instruments}:
        problems.append(("skin", "the study collects no MRSS at any visit"))
    return problems


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        parts.append(f"simulation.{loc}: {err['msg']} (got {shown})")
    return "; ".join(parts)


def load_simulation_parameters(design: StudyDesign | Mapping[str, Any]) -> SimulationParameters:
    """Validate the ``simulation:`` section of a study and return it as a typed object.

    Parameters
    ----------
    design
        A :class:`ssctrial.design.StudyDesign` (its ``simulation`` mapping is read and checked
        against its arms, visits and stratification factors), or the bare mapping.

    Returns
    -------
    SimulationParameters
        The validated parameters.

    Raises
    ------
    InputError
        If a key is missing or unknown, a value is out of range, or the section does not match the
        study's arms, visits or strata; the message names each offending YAML path.
    """
    if isinstance(design, Mapping):
        section, study = dict(design), None
    else:
        section, study = dict(design.simulation or {}), design
    if not section:
        msg = (
            "the study file has no simulation parameters: add a 'simulation:' section "
            "(see the BASICS study file and docs/simulation.md for every key)"
        )
        raise InputError(msg)
    try:
        params = SimulationParameters.model_validate(section)
    except ValidationError as exc:
        raise InputError(_format_validation_error(exc)) from None
    if study is not None:
        params.check_against(study)
    return params
