"""Power scenarios: one validated object per simulated design, and grids of them."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ssctrial.exceptions import InputError

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign

__all__ = ["PowerScenario", "create_scenario_grid"]

logger = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("ancova", "mmrm", "ttest", "wilcoxon", "kruskal")
MULTIPLICITY: tuple[str, ...] = ("none", "bonferroni", "holm", "hochberg", "dunnett")
DROPOUT_PATTERNS: tuple[str, ...] = ("uniform", "early", "late", "mar")
DISTRIBUTIONS: tuple[str, ...] = ("basics", "normal")


class PowerScenario(BaseModel):
    """One simulated design: arms, sizes, effect, dropout, analysis and error rate.

    Parameters
    ----------
    study
        Study name (``"basics"``) or path of a study YAML file with a ``simulation:`` section.
    n
        Patients per arm for an arm of allocation weight 1 (an arm of weight w gets ``n * w``).
    effect
        Treatment effect on the primary endpoint (active minus control, in endpoint units, e.g.
        mRSS points of change at week 12): one number for every active arm, or ``{arm: effect}``.
        ``None`` keeps the study file's own arm means.
    effect_scale
        ``"absolute"`` (the default) or ``"relative"``: ``effect`` multiplies the study file's own
        active-minus-control difference at the primary visit (1 = the BASICS estimate).
    arms
        Arm codes kept (control first or anywhere; the study's reference arm must be kept).
        ``None`` keeps every arm of the study.
    allocation
        Allocation weight per kept arm (``{"BARI4": 2, "CTRL": 1}`` = 2:1); default 1 each.
    dropout
        Probability that a patient drops out before the last visit (monotone dropout).
    dropout_pattern
        ``"uniform"`` (dropout time uniform over the post-baseline visits), ``"early"``, ``"late"``
        (weights falling / rising over the visits), or ``"mar"`` (missing at random: the hazard
        rises with the observed worsening, as in the full simulator).
    method
        ``"ancova"`` (change ~ baseline + arm at the primary visit, completers), ``"mmrm"``
        (unstructured covariance, REML, Kenward-Roger), ``"ttest"`` (pooled two-sample t on the
        change), ``"wilcoxon"`` (rank-sum, normal approximation) or ``"kruskal"``
        (Kruskal-Wallis over all kept arms: one global test).
    multiplicity
        Adjustment over the active-vs-control contrasts: ``"none"``, ``"bonferroni"``, ``"holm"``,
        ``"hochberg"`` or ``"dunnett"`` (ANCOVA / t-test only).
    alpha
        Two-sided significance level.
    distribution
        ``"basics"``: the study file's skin model (skewed mixture, responders, integer scores);
        ``"normal"``: a multivariate normal with the same means and (pooled) covariance.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: str = "basics"
    n: int = Field(ge=2)
    effect: float | dict[str, float] | None = None
    effect_scale: Literal["absolute", "relative"] = "absolute"
    arms: tuple[str, ...] | None = None
    allocation: dict[str, float] | None = None
    dropout: float = 0.0
    dropout_pattern: Literal["uniform", "early", "late", "mar"] = "uniform"
    method: Literal["ancova", "mmrm", "ttest", "wilcoxon", "kruskal"] = "ancova"
    multiplicity: Literal["none", "bonferroni", "holm", "hochberg", "dunnett"] = "holm"
    alpha: float = 0.05
    distribution: Literal["basics", "normal"] = "basics"

    @field_validator("dropout")
    @classmethod
    def _dropout(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            msg = f"must be a probability in [0, 1), got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            msg = f"must be strictly between 0 and 1, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("allocation")
    @classmethod
    def _allocation(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            bad = {k: v for k, v in value.items() if not v > 0}
            if bad:
                msg = f"allocation weights must be positive, got {bad!r}"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _combinations(self) -> PowerScenario:
        if self.method in ("wilcoxon", "kruskal") and self.multiplicity == "dunnett":
            msg = f"multiplicity 'dunnett' needs a t-based method (ancova, ttest, mmrm), not {self.method!r}"
            raise ValueError(msg)
        if self.method == "mmrm" and self.multiplicity == "dunnett":
            msg = "multiplicity 'dunnett' is available for ancova and ttest only; use 'holm' with mmrm"
            raise ValueError(msg)
        return self

    def with_(self, **changes: Any) -> PowerScenario:
        """Return a validated copy with some fields changed."""
        return make_scenario({**self.model_dump(), **changes})


def _format(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "scenario"
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if err["type"] == "literal_error":
            parts.append(f"{loc}: {err['msg']}; got {shown}")
        else:
            parts.append(f"{loc}: {err['msg'].removeprefix('Value error, ')} (got {shown})")
    return "; ".join(parts)


def make_scenario(values: Mapping[str, Any]) -> PowerScenario:
    """Validate a mapping into a :class:`PowerScenario`, with messages naming each field."""
    try:
        return PowerScenario.model_validate(dict(values))
    except ValidationError as exc:
        raise InputError("invalid power scenario: " + _format(exc)) from None


def check_scenario(scenario: PowerScenario, design: StudyDesign) -> tuple[str, ...]:
    """Check a scenario against its study; return the kept arms with the reference arm first."""
    codes = list(design.arm_codes)
    ref = design.reference_arm
    ref_code = ref if isinstance(ref, str) else getattr(ref, "code", ref)
    arms = tuple(scenario.arms) if scenario.arms is not None else tuple(codes)
    unknown = [a for a in arms if a not in codes]
    if unknown:
        msg = f"arms: unknown arm code(s) {unknown!r}; the study {design.study_id!r} has {codes}"
        raise InputError(msg)
    if len(set(arms)) != len(arms):
        msg = f"arms: each arm may be kept once, got {list(arms)!r}"
        raise InputError(msg)
    if ref_code not in arms:
        msg = f"arms: the control (reference) arm {ref_code!r} must be kept, got {list(arms)!r}"
        raise InputError(msg)
    if len(arms) < 2:
        msg = f"arms: keep the control and at least one active arm, got {list(arms)!r}"
        raise InputError(msg)
    if scenario.method in ("ttest", "wilcoxon") and len(arms) != 2:
        msg = (
            f"method {scenario.method!r} compares two arms; keep exactly two (e.g. arms=('BARI4', "
            f"'{ref_code}')) or use 'ancova', 'mmrm' or 'kruskal', got arms {list(arms)!r}"
        )
        raise InputError(msg)
    ordered = (ref_code, *[a for a in arms if a != ref_code])
    for field, mapping in (("allocation", scenario.allocation), ("effect", scenario.effect)):
        if isinstance(mapping, dict):
            extra = [a for a in mapping if a not in ordered]
            if extra:
                msg = f"{field}: arm(s) {extra!r} are not among the kept arms {list(ordered)!r}"
                raise InputError(msg)
    if isinstance(scenario.effect, dict):
        missing = [a for a in ordered[1:] if a not in scenario.effect]
        if missing:
            msg = f"effect: give an effect for every active arm; missing {missing!r}"
            raise InputError(msg)
    return ordered


def parse_range(text: str, *, name: str) -> list[int]:
    """Parse ``"16:120:8"`` (start:stop:step, stop included), ``"20,40,60"`` or ``"48``."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step <= 0 or stop < start:
                raise ValueError
            return list(range(start, stop + 1, step))
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        msg = (
            f"{name}: cannot read {text!r}; use start:stop:step (e.g. 16:120:8, stop included), "
            "a comma-separated list (20,40,60) or one number"
        )
        raise InputError(msg) from None


def create_scenario_grid(
    study: str = "basics",
    *,
    n: Sequence[int] | int,
    effect: Sequence[float | dict[str, float] | None] | float | dict[str, float] | None = None,
    dropout: Sequence[float] | float = 0.0,
    method: Sequence[str] | str = "ancova",
    **fixed: Any,
) -> list[PowerScenario]:
    """Build every combination of sample size, effect, dropout rate and method.

    Parameters
    ----------
    study
        Study name or path (checked when the scenarios are run).
    n, effect, dropout, method
        One value or a sequence of values each; the grid is their Cartesian product
        (sample size varying fastest).
    **fixed
        Any other :class:`PowerScenario` field, the same in every scenario (``arms``,
        ``allocation``, ``effect_scale``, ``dropout_pattern``, ``multiplicity``, ``alpha``,
        ``distribution``).

    Returns
    -------
    list of PowerScenario

    Raises
    ------
    InputError
        An unknown field or an invalid value (the message names the field and what is allowed).
    """

    def _seq(value: Any) -> list[Any]:
        if value is None or isinstance(value, str | int | float | dict):
            return [value]
        return list(value)

    unknown = [k for k in fixed if k not in PowerScenario.model_fields]
    if unknown:
        allowed = ", ".join(PowerScenario.model_fields)
        msg = f"unknown scenario field(s) {unknown!r}; allowed: {allowed}"
        raise InputError(msg)
    ns, effects, drops, methods = _seq(n), _seq(effect), _seq(dropout), _seq(method)
    for name, values in (("n", ns), ("dropout", drops), ("method", methods)):
        if not values:
            msg = f"{name}: give at least one value"
            raise InputError(msg)
    grid = []
    for m, d, e, size in itertools.product(methods, drops, effects, ns):
        grid.append(
            make_scenario({"study": study, "n": size, "effect": e, "dropout": d, "method": m, **fixed})
        )
    return grid
