"""Trial-aware DESeq2 designs built from a study's arms and visits (never typed by hand).

Three families (DESeq2 vignette, "Group-specific condition effects, individuals nested within
groups"; Love et al. 2014):

- **paired** pre/post within one arm or within all active arms: ``~ subject + visit``; the
  contrast is ``(visit, followup, baseline)``.
- **nested**: all arms in one model, ``~ arm + arm:subj_n + arm:visit`` with ``subj_n`` the index
  of a subject within its arm, so that subject effects are nested in arms without confounding
  the arm effect (no rank deficiency; all-zero columns of unequal arms are dropped). It gives the
  visit effect in every arm (``arm<A>.visit<V>``), the difference of visit effects between each
  active arm and control (the interaction), and a likelihood-ratio test of "the visit effect is
  the same in all arms" against ``~ arm + arm:subj_n + visit``.
- **dose trend**: ``~ arm + arm:subj_n + visit + visit_dose`` with ``visit_dose`` the dose in mg
  (control 0) at the follow-up visit and 0 at baseline; its coefficient is the change of the visit
  effect per mg, with a 1-df LRT.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.omics._input import assert_omics_samples

__all__ = ["DEAnalysis", "create_dose_design", "create_nested_design", "create_paired_design"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DEAnalysis:
    """One trial-aware DE model: the samples, formula and the results to extract from it.

    Attributes
    ----------
    name
        Short identifier, e.g. ``"paired_BARI4"``, ``"nested"``.
    samples
        Sample metadata of the samples used (index = sample id), with ``subject``, ``arm``,
        ``visit`` as categoricals (reference levels first) and ``subj_n`` for nested designs.
    design
        The formula.
    contrasts
        Result label -> contrast accepted by :func:`~ssctrial.omics.deseq` (Wald tests).
    lrt
        Result label -> ``(reduced formula, reported coefficient)`` for likelihood-ratio tests.
    description
        Human-readable description of each result label.
    """

    name: str
    samples: pd.DataFrame
    design: str
    contrasts: dict[str, Any]
    lrt: dict[str, tuple[str, str]] = field(default_factory=dict)
    description: dict[str, str] = field(default_factory=dict)


def _ordered(values: Sequence[Any], order: Sequence[str] | None) -> list[str]:
    present = [str(v) for v in pd.unique(pd.Series(values).astype(str))]
    if order is None:
        return sorted(present)
    first = [o for o in order if o in present]
    return first + sorted(set(present) - set(first))


def _prepare(
    samples: pd.DataFrame,
    *,
    baseline: str,
    followup: str,
    arms: Sequence[str],
    reference_arm: str | None,
    subject_col: str,
    visit_col: str,
    arm_col: str,
) -> pd.DataFrame:
    assert_omics_samples(samples, visits=[baseline, followup], subject_col=subject_col,
                         visit_col=visit_col, arm_col=arm_col)
    if baseline == followup:
        msg = f"baseline and followup are both {baseline!r}; they must be two different visits"
        raise InputError(msg)
    s = samples[samples[visit_col].astype(str).isin([baseline, followup])
                & samples[arm_col].astype(str).isin([str(a) for a in arms])].copy()
    missing_arms = [a for a in arms if a not in set(s[arm_col].astype(str))]
    if missing_arms:
        msg = (f"arm(s) {missing_arms} have no samples at visits {baseline!r}/{followup!r}; arms present: "
               f"{sorted(set(samples[arm_col].astype(str)))}")
        raise InputError(msg)
    n_visits = s.groupby(s[subject_col].astype(str))[visit_col].nunique()
    incomplete = n_visits.index[n_visits < 2]
    if len(incomplete):
        logger.info("dropping %d subject(s) without both %s and %s samples: %s", len(incomplete), baseline,
                    followup, list(incomplete[:10]))
        s = s[~s[subject_col].astype(str).isin(incomplete)]
    if s.empty:
        msg = f"no subject has samples at both {baseline!r} and {followup!r}"
        raise InputError(msg)
    arm_order = list(arms)
    if reference_arm is not None:
        arm_order = [reference_arm] + [a for a in arm_order if a != reference_arm]
    out = pd.DataFrame(index=s.index)
    out["subject"] = pd.Categorical(s[subject_col].astype(str))
    out["visit"] = pd.Categorical(s[visit_col].astype(str), categories=[baseline, followup])
    kept_arms = [a for a in arm_order if a in set(s[arm_col].astype(str))]
    out["arm"] = pd.Categorical(s[arm_col].astype(str), categories=kept_arms)
    extra = [c for c in s.columns if c not in (subject_col, visit_col, arm_col)]
    for c in extra:
        out[c] = s[c]
    return out


def create_paired_design(
    samples: pd.DataFrame,
    *,
    arms: Sequence[str],
    baseline: str,
    followup: str,
    name: str | None = None,
    subject_col: str = "subject",
    visit_col: str = "visit",
    arm_col: str = "arm",
) -> DEAnalysis:
    """Paired pre/post design ``~ subject + visit`` within one arm or a group of arms.

    Parameters
    ----------
    samples
        Sample metadata indexed by sample id (subject, visit, arm columns).
    arms
        The arm(s) whose patients are analysed together (e.g. ``["BARI4"]`` or all active arms).
    baseline, followup
        Visit codes, e.g. ``"BL"`` and ``"W12"``.
    name
        Analysis name (default ``"paired_<arms joined by +>"``).
    subject_col, visit_col, arm_col
        Column names in ``samples``.

    Returns
    -------
    DEAnalysis
        One Wald result ``"<name>"``: log2 fold change ``followup`` vs ``baseline``. Subjects
        without both visits are dropped (they carry no within-subject information).
    """
    if isinstance(arms, str):
        arms = [arms]
    s = _prepare(samples, baseline=baseline, followup=followup, arms=list(arms), reference_arm=None,
                 subject_col=subject_col, visit_col=visit_col, arm_col=arm_col)
    label = name or "paired_" + "+".join(arms)
    return DEAnalysis(
        name=label, samples=s, design="~ subject + visit",
        contrasts={label: ("visit", followup, baseline)},
        description={label: f"{followup} vs {baseline} within patients of {', '.join(arms)} "
                            f"(~ subject + visit, {s['subject'].nunique()} patients)"},
    )


def _add_subj_n(s: pd.DataFrame) -> pd.DataFrame:
    s = s.copy()
    n = s.groupby("arm", observed=True)["subject"].transform(
        lambda x: pd.Series(pd.factorize(x.astype(str), sort=True)[0] + 1, index=x.index))
    max_n = int(n.max())
    s["subj_n"] = pd.Categorical(n.astype(int).astype(str), categories=[str(i) for i in range(1, max_n + 1)])
    return s


def create_nested_design(
    samples: pd.DataFrame,
    *,
    arms: Sequence[str],
    reference_arm: str,
    baseline: str,
    followup: str,
    subject_col: str = "subject",
    visit_col: str = "visit",
    arm_col: str = "arm",
) -> DEAnalysis:
    """Arm-specific visit effects with patients nested in arms: ``~ arm + arm:subj_n + arm:visit``.

    Parameters
    ----------
    samples
        Sample metadata indexed by sample id.
    arms
        Arms to include (e.g. the study's ``arm_codes``).
    reference_arm
        The control arm (first level of ``arm``).
    baseline, followup
        Visit codes.
    subject_col, visit_col, arm_col
        Column names in ``samples``.

    Returns
    -------
    DEAnalysis
        Wald results ``visit_<ARM>`` (followup vs baseline in each arm) and ``interaction_<ARM>``
        (visit effect in ARM minus that in the reference arm), and the LRT ``lrt_arm_by_visit``
        (visit effect differs between arms; df = number of arms - 1) against
        ``~ arm + arm:subj_n + visit``.
    """
    if reference_arm not in arms:
        msg = f"reference_arm={reference_arm!r} is not among arms {list(arms)}"
        raise InputError(msg)
    if len(arms) < 2:
        msg = f"a nested design compares arms; got arms={list(arms)}"
        raise InputError(msg)
    s = _prepare(samples, baseline=baseline, followup=followup, arms=list(arms), reference_arm=reference_arm,
                 subject_col=subject_col, visit_col=visit_col, arm_col=arm_col)
    s = _add_subj_n(s)
    v = f"visit{followup}"
    contrasts: dict[str, Any] = {}
    desc: dict[str, str] = {}
    for a in s["arm"].cat.categories:
        contrasts[f"visit_{a}"] = f"arm{a}.{v}"
        desc[f"visit_{a}"] = f"{followup} vs {baseline} in {a} (nested design)"
    for a in s["arm"].cat.categories[1:]:
        contrasts[f"interaction_{a}"] = ([f"arm{a}.{v}"], [f"arm{reference_arm}.{v}"])
        desc[f"interaction_{a}"] = (f"difference of the {followup} vs {baseline} change between {a} and "
                                    f"{reference_arm}")
    last = s["arm"].cat.categories[-1]
    lrt = {"lrt_arm_by_visit": ("~ arm + arm:subj_n + visit", f"arm{last}.{v}")}
    desc["lrt_arm_by_visit"] = (f"LRT: does the {followup} vs {baseline} change differ between arms "
                                f"({len(s['arm'].cat.categories) - 1} df); log2FoldChange shown for {last}")
    return DEAnalysis(name="nested", samples=s, design="~ arm + arm:subj_n + arm:visit",
                      contrasts=contrasts, lrt=lrt, description=desc)


def create_dose_design(
    samples: pd.DataFrame,
    *,
    doses: Mapping[str, float],
    reference_arm: str,
    baseline: str,
    followup: str,
    subject_col: str = "subject",
    visit_col: str = "visit",
    arm_col: str = "arm",
) -> DEAnalysis:
    """Linear dose trend of the visit effect: ``~ arm + arm:subj_n + visit + visit_dose``.

    Parameters
    ----------
    samples
        Sample metadata indexed by sample id.
    doses
        Arm -> daily dose in mg (control 0), e.g. ``{"CTRL": 0, "BARI2": 2, "BARI4": 4}``.
    reference_arm
        The control arm.
    baseline, followup
        Visit codes.
    subject_col, visit_col, arm_col
        Column names in ``samples``.

    Returns
    -------
    DEAnalysis
        Wald result ``dose_trend``: change of the log2 fold change (followup vs baseline) per mg,
        and LRT ``lrt_dose_trend`` (1 df) against ``~ arm + arm:subj_n + visit``.
    """
    if len(set(doses.values())) < 2:
        msg = f"doses={dict(doses)} must contain at least two different doses for a trend"
        raise InputError(msg)
    s = _prepare(samples, baseline=baseline, followup=followup, arms=list(doses), reference_arm=reference_arm,
                 subject_col=subject_col, visit_col=visit_col, arm_col=arm_col)
    s = _add_subj_n(s)
    s["dose"] = s["arm"].astype(str).map({str(k): float(v) for k, v in doses.items()}).astype(float)
    s["visit_dose"] = s["dose"] * (s["visit"].astype(str) == followup)
    name = "visit_dose"
    return DEAnalysis(
        name="dose", samples=s, design="~ arm + arm:subj_n + visit + visit_dose",
        contrasts={"dose_trend": name},
        lrt={"lrt_dose_trend": ("~ arm + arm:subj_n + visit", name)},
        description={"dose_trend": f"change of the {followup} vs {baseline} log2 fold change per mg",
                     "lrt_dose_trend": "LRT of a linear dose trend in the visit effect (1 df)"},
    )
