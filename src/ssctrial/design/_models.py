"""Pydantic models of a study definition (the YAML study file)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ssctrial.exceptions import NotFoundError

__all__ = [
    "ANALYSIS_METHODS",
    "Arm",
    "Endpoint",
    "LungEquation",
    "RandomizationSpec",
    "Site",
    "StratificationFactor",
    "StudyDesign",
    "Visit",
]

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

#: Analysis methods an endpoint may name (the ``stats`` stage implements them).
ANALYSIS_METHODS: tuple[str, ...] = (
    "anova",
    "kruskal_wallis",
    "ancova",
    "mmrm",
    "responder",
    "chisq",
    "fisher",
    "cmh",
    "logistic",
    "wilcoxon",
    "descriptive",
)


def _check_code(value: str) -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        msg = f"must be a code of letters, digits and '_' starting with a letter, got {value!r}"
        raise ValueError(msg)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Arm(_Model):
    """A treatment arm: code (``BARI4``), label, daily dose in mg and allocation ratio."""

    code: str
    label: str
    dose_mg: float | None = Field(default=None, description="Daily dose in mg; 0 or None for control.")
    ratio: int = 1
    reference: bool = Field(default=False, description="The reference (control) arm for contrasts.")

    _code = field_validator("code")(_check_code)

    @field_validator("ratio", mode="before")
    @classmethod
    def _ratio(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            msg = f"must be a positive integer, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("dose_mg")
    @classmethod
    def _dose(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            msg = f"must be a dose of at least 0 mg, got {value!r}"
            raise ValueError(msg)
        return value


class StratificationFactor(_Model):
    """A stratification factor (``SUBTYPE``) with its levels (``diffuse``, ``limited``)."""

    code: str
    label: str
    levels: tuple[str, ...]
    description: str = ""

    _code = field_validator("code")(_check_code)

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) < 2:
            msg = f"must list at least 2 levels, got {list(value)!r}"
            raise ValueError(msg)
        if len(set(value)) != len(value):
            dup = sorted({v for v in value if value.count(v) > 1})
            msg = f"levels must be unique, got duplicates {dup!r}"
            raise ValueError(msg)
        for level in value:
            _check_code(level)
        return value


class Visit(_Model):
    """A scheduled visit: code, label, target study day, window and instruments collected."""

    code: str
    label: str
    day: int = Field(description="Target study day (baseline = day 0).")
    window_before: int = Field(default=0, description="Days allowed before the target day.")
    window_after: int = Field(default=0, description="Days allowed after the target day.")
    instruments: tuple[str, ...] = ()
    baseline: bool = Field(default=False, description="The baseline visit (randomisation).")

    _code = field_validator("code")(_check_code)

    @field_validator("window_before", "window_after")
    @classmethod
    def _window(cls, value: int) -> int:
        if value < 0:
            msg = f"must be a number of days of at least 0, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            dup = sorted({v for v in value if value.count(v) > 1})
            msg = f"instruments must be unique, got duplicates {dup!r}"
            raise ValueError(msg)
        return tuple(v.upper().replace("-", "_") for v in value)

    @property
    def earliest_day(self) -> int:
        """First study day inside the window."""
        return self.day - self.window_before

    @property
    def latest_day(self) -> int:
        """Last study day inside the window."""
        return self.day + self.window_after


class Endpoint(_Model):
    """An analysis endpoint: ADaM ``PARAMCD``, the instrument it comes from, visits and methods."""

    paramcd: str
    label: str
    instrument: str | None = Field(default=None, description="Registry code of the source instrument.")
    role: Literal["primary", "secondary", "exploratory", "safety"] = "secondary"
    type: Literal["continuous", "binary", "count", "ordinal"] = "continuous"
    visits: tuple[str, ...]
    baseline_visit: str | None = "BL"
    analysis: Literal["change", "value"] = "change"
    methods: tuple[str, ...] = ("ancova",)
    responder_threshold: float | None = None
    direction: Literal["lower_better", "higher_better"] = "lower_better"

    _code = field_validator("paramcd")(_check_code)

    @field_validator("visits")
    @classmethod
    def _visits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            msg = "must list at least one visit"
            raise ValueError(msg)
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            msg = f"must list at least one method, one of {', '.join(ANALYSIS_METHODS)}"
            raise ValueError(msg)
        bad = [m for m in value if m not in ANALYSIS_METHODS]
        if bad:
            msg = f"unknown method(s) {bad!r}; allowed: {', '.join(ANALYSIS_METHODS)}"
            raise ValueError(msg)
        return value

    @field_validator("instrument")
    @classmethod
    def _instrument(cls, value: str | None) -> str | None:
        return None if value is None else value.upper().replace("-", "_")


class RandomizationSpec(_Model):
    """How subjects are randomised (the seed is never in the study file: it is secret)."""

    method: Literal["permuted_blocks", "minimisation"] = "permuted_blocks"
    block_sizes: tuple[int, ...] = ()
    stratify_by: tuple[str, ...] = ()
    list_length_per_stratum: int | None = Field(
        default=None, description="Slots generated per stratum (default: enough for the target enrolment)."
    )
    minimisation_p: float = Field(default=0.8, description="Probability of the minimising arm.")
    minimisation_weights: Mapping[str, float] = Field(default_factory=dict)

    @field_validator("block_sizes", mode="before")
    @classmethod
    def _blocks(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            for v in value:
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    msg = f"block sizes must be positive integers, got {v!r}"
                    raise ValueError(msg)
        return value

    @field_validator("minimisation_p")
    @classmethod
    def _p(cls, value: float) -> float:
        if not 0.5 <= value <= 1.0:
            msg = f"must be a probability from 0.5 to 1, got {value!r}"
            raise ValueError(msg)
        return value


class LungEquation(_Model):
    """Reference equations for % predicted lung function."""

    spirometry: str = "GLI-2012"
    transfer_factor: str = "GLI-2017"
    ethnicity: str = "North-East Asian"


class Site(_Model):
    """A recruiting site."""

    code: str
    name: str

    _code = field_validator("code")(_check_code)


class EligibilityCriterion(_Model):
    """One inclusion or exclusion criterion, shown as a checklist item at enrolment."""

    code: str
    text: str
    kind: Literal["inclusion", "exclusion"] = "inclusion"

    _code = field_validator("code")(_check_code)


class StudyDesign(_Model):
    """A validated study definition.

    Build it with :func:`ssctrial.design.load_study`; constructing it directly runs the same
    checks (field types, then the cross-field rules in :meth:`_cross_checks`).
    """

    study_id: str
    title: str
    registration: str | None = None
    description: str = ""
    target_enrolment: int | None = None
    sites: tuple[Site, ...] = ()
    eligibility: tuple[EligibilityCriterion, ...] = ()
    arms: tuple[Arm, ...]
    strata: tuple[StratificationFactor, ...] = ()
    visits: tuple[Visit, ...]
    endpoints: tuple[Endpoint, ...] = ()
    randomization: RandomizationSpec = RandomizationSpec()
    lung_equation: LungEquation = LungEquation()
    eq5d_value_set: str | None = None
    simulation: dict[str, Any] = Field(default_factory=dict)

    _code = field_validator("study_id")(_check_code)

    @field_validator("target_enrolment")
    @classmethod
    def _target(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            msg = f"must be a positive integer, got {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> StudyDesign:
        context = info.context or {}
        check = bool(context.get("check_instruments", True))
        problems = list(_cross_field_problems(self, check_instruments=check))
        if problems:
            raise ValueError(_CROSS_MARK + "\n".join(f"{p}: {m}" for p, m in problems))
        return self

    # ------------------------------------------------------------------ helpers
    @property
    def arm_codes(self) -> list[str]:
        """Arm codes in file order."""
        return [a.code for a in self.arms]

    @property
    def visit_codes(self) -> list[str]:
        """Visit codes in schedule order."""
        return [v.code for v in self.visits]

    @property
    def strata_codes(self) -> list[str]:
        """Stratification factor codes in file order."""
        return [s.code for s in self.strata]

    @property
    def reference_arm(self) -> str:
        """Code of the reference (control) arm: the one marked ``reference``, else the last."""
        for arm in self.arms:
            if arm.reference:
                return arm.code
        return self.arms[-1].code

    @property
    def baseline_visit(self) -> Visit:
        """The baseline visit (marked ``baseline``, else the one at day 0)."""
        for v in self.visits:
            if v.baseline:
                return v
        for v in self.visits:
            if v.day == 0:
                return v
        msg = f"study {self.study_id} has no baseline visit"
        raise NotFoundError(msg)

    @property
    def primary_endpoint(self) -> Endpoint | None:
        """The endpoint with role ``primary`` (``None`` if none)."""
        for e in self.endpoints:
            if e.role == "primary":
                return e
        return None

    def arm(self, code: str) -> Arm:
        """Return the arm ``code`` or raise :class:`NotFoundError` listing the arms."""
        for a in self.arms:
            if a.code == code:
                return a
        msg = f"unknown arm {code!r}; arms are: {', '.join(self.arm_codes)}"
        raise NotFoundError(msg)

    def visit(self, code: str) -> Visit:
        """Return the visit ``code`` or raise :class:`NotFoundError` listing the visits."""
        for v in self.visits:
            if v.code == code:
                return v
        msg = f"unknown visit {code!r}; visits are: {', '.join(self.visit_codes)}"
        raise NotFoundError(msg)

    def endpoint(self, paramcd: str) -> Endpoint:
        """Return the endpoint ``paramcd`` or raise :class:`NotFoundError`."""
        for e in self.endpoints:
            if e.paramcd == paramcd:
                return e
        known = ", ".join(e.paramcd for e in self.endpoints)
        msg = f"unknown endpoint {paramcd!r}; endpoints are: {known}"
        raise NotFoundError(msg)

    def stratum_key(self, levels: Mapping[str, str]) -> str:
        """Return the canonical stratum key of a subject, e.g. ``"SUBTYPE=diffuse|DURATION=early"``.

        Only the factors in ``randomization.stratify_by`` (all factors when that is empty) take
        part, in file order. Every such factor must be given with one of its levels.
        """
        factors = self.stratification_factors
        parts = []
        for factor in factors:
            if factor.code not in levels:
                msg = (
                    f"stratum: factor {factor.code} ({factor.label}) is missing; "
                    f"give one of {', '.join(factor.levels)}"
                )
                raise _input_error(msg)
            value = str(levels[factor.code])
            if value not in factor.levels:
                msg = (
                    f"stratum: {factor.code} = {value!r} is not allowed; "
                    f"expected one of {', '.join(factor.levels)}"
                )
                raise _input_error(msg)
            parts.append(f"{factor.code}={value}")
        return "|".join(parts)

    @property
    def stratification_factors(self) -> list[StratificationFactor]:
        """The factors randomisation stratifies by (``randomization.stratify_by``, else all)."""
        if self.randomization.stratify_by:
            by = {s.code: s for s in self.strata}
            return [by[c] for c in self.randomization.stratify_by]
        return list(self.strata)

    def stratum_keys(self) -> list[str]:
        """Every stratum key (the Cartesian product of the stratification factors' levels)."""
        factors = self.stratification_factors
        combos = itertools.product(*(f.levels for f in factors))
        return ["|".join(f"{f.code}={lv}" for f, lv in zip(factors, combo, strict=True)) for combo in combos]

    def visit_instruments(self) -> dict[str, tuple[str, ...]]:
        """Map each visit code to the instrument codes collected there."""
        return {v.code: v.instruments for v in self.visits}


_CROSS_MARK = "\x00cross\x00"


def _input_error(msg: str) -> Exception:
    from ssctrial.exceptions import InputError

    return InputError(msg)


def _duplicates(values: list[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            yield i, v
        seen.add(v)


def _cross_field_problems(d: StudyDesign, *, check_instruments: bool) -> Iterator[tuple[str, str]]:
    """Yield ``(yaml path, message)`` for every rule that spans fields."""
    for i, code in _duplicates([a.code for a in d.arms]):
        yield f"arms[{i}].code", f"duplicate arm code {code!r}; arm codes must be unique"
    for i, code in _duplicates([s.code for s in d.strata]):
        yield f"strata[{i}].code", f"duplicate stratification factor {code!r}"
    for i, code in _duplicates([v.code for v in d.visits]):
        yield f"visits[{i}].code", f"duplicate visit code {code!r}; visit codes must be unique"
    for i, code in _duplicates([e.paramcd for e in d.endpoints]):
        yield f"endpoints[{i}].paramcd", f"duplicate endpoint {code!r}"
    for i, code in _duplicates([s.code for s in d.sites]):
        yield f"sites[{i}].code", f"duplicate site code {code!r}"
    if len(d.arms) < 2:
        yield "arms", f"a randomised study needs at least 2 arms, got {len(d.arms)}"
    refs = [i for i, a in enumerate(d.arms) if a.reference]
    if len(refs) > 1:
        yield f"arms[{refs[1]}].reference", "only one arm may be the reference arm"
    if not d.visits:
        yield "visits", "must list at least one visit"
    # schedule: days strictly increasing, windows must not overlap
    for i in range(1, len(d.visits)):
        prev, cur = d.visits[i - 1], d.visits[i]
        if cur.day <= prev.day:
            yield (
                f"visits[{i}].day",
                f"visit {cur.code} at day {cur.day} must come after {prev.code} (day {prev.day})",
            )
        elif cur.earliest_day < prev.latest_day:
            yield (
                f"visits[{i}].window_before",
                f"window of {cur.code} (days {cur.earliest_day}..{cur.latest_day}) overlaps "
                f"{prev.code} (days {prev.earliest_day}..{prev.latest_day})",
            )
    baselines = [i for i, v in enumerate(d.visits) if v.baseline]
    if len(baselines) > 1:
        yield f"visits[{baselines[1]}].baseline", "only one visit may be the baseline visit"
    if not baselines and d.visits and not any(v.day == 0 for v in d.visits):
        yield "visits", "no baseline visit: mark one visit 'baseline: true' or schedule one at day 0"
    visit_codes = {v.code for v in d.visits}
    allowed_visits = ", ".join(v.code for v in d.visits)
    for i, e in enumerate(d.endpoints):
        for j, vc in enumerate(e.visits):
            if vc not in visit_codes:
                yield f"endpoints[{i}].visits[{j}]", f"unknown visit {vc!r}; visits are: {allowed_visits}"
        if e.baseline_visit is not None and e.baseline_visit not in visit_codes:
            yield (
                f"endpoints[{i}].baseline_visit",
                f"unknown visit {e.baseline_visit!r}; visits are: {allowed_visits}",
            )
        if "responder" in e.methods and e.responder_threshold is None and e.type == "continuous":
            yield f"endpoints[{i}].responder_threshold", "method 'responder' needs a responder_threshold"
    primaries = [i for i, e in enumerate(d.endpoints) if e.role == "primary"]
    if len(primaries) > 1:
        yield f"endpoints[{primaries[1]}].role", "only one endpoint may be primary"
    # randomisation
    r = d.randomization
    strata_codes = {s.code for s in d.strata}
    for j, code in enumerate(r.stratify_by):
        if code not in strata_codes:
            known = ", ".join(s.code for s in d.strata) or "(none defined)"
            yield (
                f"randomization.stratify_by[{j}]",
                f"unknown stratification factor {code!r}; factors: {known}",
            )
    for key in r.minimisation_weights:
        if key not in strata_codes:
            yield f"randomization.minimisation_weights.{key}", f"unknown stratification factor {key!r}"
    total_ratio = sum(a.ratio for a in d.arms)
    if r.method == "permuted_blocks":
        if not r.block_sizes:
            yield "randomization.block_sizes", "permuted blocks need at least one block size"
        for j, size in enumerate(r.block_sizes):
            if size % total_ratio:
                yield (
                    f"randomization.block_sizes[{j}]",
                    f"block size {size} is not a multiple of the sum of the arm ratios ({total_ratio})",
                )
    # instruments in the registry, when the registry is populated
    registered = _registered_instruments() if check_instruments else set()
    if registered:
        known_instruments = ", ".join(sorted(registered))
        for i, v in enumerate(d.visits):
            for j, code in enumerate(v.instruments):
                if code not in registered:
                    yield (
                        f"visits[{i}].instruments[{j}]",
                        f"unknown instrument {code!r}; registered instruments are: {known_instruments}",
                    )
        for i, e in enumerate(d.endpoints):
            if e.instrument is not None and e.instrument not in registered:
                yield (
                    f"endpoints[{i}].instrument",
                    f"unknown instrument {e.instrument!r}; registered instruments are: {known_instruments}",
                )


def _registered_instruments() -> set[str]:
    """Codes in the instrument registry, or an empty set when it cannot be read.

    ``design`` comes before ``instruments`` in the data flow, so the registry is consulted
    lazily and only when the instruments package imports cleanly.
    """
    try:
        import importlib

        module = importlib.import_module("ssctrial.instruments")
        return {i.code for i in module.list_instruments()}
    except Exception:  # noqa: BLE001 - the registry is optional for the design stage
        return set()
