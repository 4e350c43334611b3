"""Run a simulated trial through the store: enrol, randomise, capture, report AEs and samples.

Everything enters the database through the same validated API that data capture uses
(:meth:`~ssctrial.store.Store.enroll_subjects`, :meth:`~ssctrial.store.Store.update_subject_statuses`,
:func:`ssctrial.randomize.randomize_subjects`: the bulk forms of the single-subject calls, with the same
validation and audit content, one transaction per batch;
:meth:`~ssctrial.store.Store.record_observations`, :meth:`~ssctrial.store.Store.record_adverse_events`,
:meth:`~ssctrial.store.Store.record_sample`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.simulate._generate import SimulatedTrial, screen_candidates, simulate_trial_data
from ssctrial.simulate._params import load_simulation_parameters
from ssctrial.simulate._rnaseq import simulate_rnaseq, write_rnaseq

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign
    from ssctrial.store import Store

__all__ = ["SimulationResult", "simulate_trial"]

logger = logging.getLogger(__name__)

#: The user the simulator writes as (created as the store's admin when the simulator creates it).
SIMULATOR_USER = "simulator"
#: Subjects whose observations are written per call of ``record_observations`` (memory, progress).
_CHUNK_SUBJECTS = 500
#: Screened people enrolled (and randomised) per transaction.
_CHUNK_ENROL = 2_000
#: Key columns of the observation table (categorical in :class:`SimulatedTrial`).
_KEYS = ("subject", "visit", "instrument", "item")
#: Adverse events recorded per transaction.
_CHUNK_AE = 2_000
#: Offset of the allocation-list seed from the simulation seed (keeps the two streams apart).
_ALLOCATION_SEED_KEY = 7919

Progress = Callable[[str, int, int], None]


@dataclass
class SimulationResult:
    """What :func:`simulate_trial` wrote.

    Attributes
    ----------
    store
        The open store.
    trial
        The simulated data (:class:`SimulatedTrial`), with the arms the store allocated.
    counts_path, truth_path
        The RNA-seq ``.h5ad`` file and its planted-truth CSV (``None`` without RNA-seq).
    timings
        Seconds spent per stage.
    n_samples
        Number of RNA-seq samples recorded.
    """

    store: Store
    trial: SimulatedTrial
    counts_path: Path | None
    truth_path: Path | None
    timings: dict[str, float]
    n_samples: int = 0

    def summary(self) -> pd.DataFrame:
        """Return counts of what was written: one row per table (``table``, ``rows``)."""
        t = self.trial
        samples = 0 if self.counts_path is None else int(self.n_samples)
        return pd.DataFrame(
            {
                "table": ["screened", "randomised", "observations", "adverse_events", "samples"],
                "rows": [
                    len(t.subjects),
                    len(t.randomised),
                    len(t.observations),
                    len(t.adverse_events),
                    samples,
                ],
            }
        )


def _sqlite_dir(url: str) -> Path | None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        return Path(url[len(prefix) :]).resolve().parent
    return None


def _open(
    store: Store | str | None, design: StudyDesign, source: StudyDesign | str | Path, *, user: str
) -> tuple[Store, str | None]:
    from ssctrial.store import Store, init_store

    if isinstance(store, Store):
        if store.design.study_id != design.study_id:
            msg = f"store holds study {store.design.study_id!r}, not {design.study_id!r}"
            raise InputError(msg)
        return store, getattr(store, "url", None)
    url = "sqlite:///:memory:" if store is None else str(store)
    return init_store(url, source, user=user), url


def _sized_design(design: StudyDesign, n: int) -> StudyDesign:
    """Return the design with enough allocation-list slots for ``n`` randomised subjects per stratum.

    The design itself when it already has enough (a list of ``target_enrolment`` slots per
    stratum holds any ``n <= target_enrolment``), so the store keeps the study file's own text.
    """
    r = design.randomization
    need = max(n, design.target_enrolment or 0, r.list_length_per_stratum or 0)
    if (r.list_length_per_stratum or design.target_enrolment or 0) >= need:
        return design
    return design.model_copy(update={"randomization": r.model_copy(update={"list_length_per_stratum": need})})


def simulate_trial(
    design: StudyDesign | str | Path,
    *,
    n: int,
    seed: int,
    store: Store | str | None = None,
    rnaseq: bool = True,
    rnaseq_path: str | Path | None = None,
    user: str = SIMULATOR_USER,
    progress: Progress | None = None,
) -> SimulationResult:
    """Simulate a trial and write everything into a store through its validated API.

    Parameters
    ----------
    design
        The study: a :class:`~ssctrial.design.StudyDesign`, a packaged study name (``"basics"``)
        or a study file path. Given a name or path, a new store keeps the file's own text (and
        hash) unless ``n`` needs a longer allocation list than ``target_enrolment``.
    n
        Number of randomised patients.
    seed
        Seed of the simulation (and of the concealed allocation list): same seed and study file
        give the same subjects, allocations, visits, observations, adverse events and samples.
    store
        An open :class:`~ssctrial.store.Store` whose allocation list is not yet created, or a
        database URL for a new store (``sqlite:///basics.db``); default: an in-memory SQLite store.
    rnaseq
        Also simulate baseline and week-12 blood RNA-seq of every randomised patient.
    rnaseq_path
        Where to write the ``.h5ad`` counts (default: beside a SQLite database file, named
        ``<db stem>_rnaseq.h5ad``; required for other databases when ``rnaseq`` is true).
    user
        Who writes (an admin or investigator of an existing store; the creator of a new one).
    progress
        Optional callback ``progress(stage, done, total)``; stages ``enrol``, ``observations``,
        ``adverse_events``, ``rnaseq``, ``samples``.

    Returns
    -------
    SimulationResult
        The store, the simulated data and timings.

    Raises
    ------
    InputError
        Bad arguments, or a store that holds another study.
    StateError
        The store already holds subjects or an allocation list.

    Notes
    -----
    Order of events, as in a real trial: each screened person is enrolled (consent date, sex,
    strata, birth date, height); screen failures get status ``screen_failed`` with the reason;
    the others are randomised in order of arrival by :func:`ssctrial.randomize.randomize_subjects`
    (batches of 2,000 screened people, each batch one transaction per step; the allocations are
    those of one-by-one :func:`~ssctrial.randomize.randomize_subject` calls in that order) from a
    concealed list created with a seed derived from ``seed``. The outcomes are then simulated given the
    allocated arms and recorded with their visit dates; withdrawn and completed subjects get
    their final status; adverse events and samples follow. Entry timestamps and the audit
    trail record when the simulation ran, so two runs differ only there.
    """
    from ssctrial.design import StudyDesign, load_study
    from ssctrial.randomize import create_allocation_list, randomize_subjects

    source = design
    if not isinstance(design, StudyDesign):
        design = load_study(design)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    params = load_simulation_parameters(design)
    if rnaseq_path is not None and not str(rnaseq_path).endswith(".h5ad"):
        msg = f"rnaseq_path {str(rnaseq_path)!r}: the counts file must end in .h5ad"
        raise InputError(msg)
    screened = screen_candidates(design, params, n=n, seed=seed)
    if rnaseq and rnaseq_path is None and not isinstance(store, str) and store is not None:
        url = getattr(store, "url", None)
        if url is None or _sqlite_dir(str(url)) is None:
            msg = "rnaseq_path is required to write RNA-seq counts for a store that is not a SQLite file"
            raise InputError(msg)
    sized = _sized_design(design, n)
    st, url = _open(store, sized, source if sized is design else sized, user=user)
    if rnaseq and rnaseq_path is None:
        folder = _sqlite_dir(url or "")
        if folder is None:
            msg = "rnaseq_path is required to write RNA-seq counts for an in-memory or server database"
            raise InputError(msg)
        stem = Path(str(url)[len("sqlite:///") :]).stem
        rnaseq_path = folder / f"{stem}_rnaseq.h5ad"
    create_allocation_list(st, sized, seed=seed + _ALLOCATION_SEED_KEY, user=user)
    timings["setup"] = time.perf_counter() - t0

    # enrolment, screen failures, randomisation
    t = time.perf_counter()
    subjects = screened.subjects
    total = len(subjects)
    factors = [f.code for f in sized.stratification_factors]
    arms: list[str] = []
    # in batches, each in one audited transaction: enrol, record screen failures, then randomise the
    # eligible in order of arrival (the allocations equal one-by-one randomisation in that order)
    for start in range(0, total, _CHUNK_ENROL):
        part = subjects.iloc[start : start + _CHUNK_ENROL]
        frame = pd.DataFrame(
            {
                "subject_id": part["subject"].astype(str).to_numpy(),
                "consent_date": part["consent_date"].to_numpy(dtype=object),
                "sex": part["sex"].to_numpy(dtype=object),
                "site": part["site"].to_numpy(dtype=object),
                "birth_date": part["birth_date"].to_numpy(dtype=object),
                "height_cm": part["height_cm"].astype(float).to_numpy(),
                **{f: part[f].astype(str).to_numpy() for f in factors},
            }
        )
        st.enroll_subjects(frame, user=user)
        failed = part["screen_failed"].astype(bool).to_numpy()
        if failed.any():
            st.update_subject_statuses(
                pd.DataFrame(
                    {
                        "subject_id": part["subject"].astype(str).to_numpy()[failed],
                        "status": "screen_failed",
                        "reason": part["screen_failure_reason"].to_numpy(dtype=object)[failed],
                    }
                ),
                user=user,
            )
        eligible = part["subject"].astype(str).to_numpy()[~failed].tolist()
        if eligible:
            arms += [rec.arm for rec in randomize_subjects(st, eligible, user=user)]
        report("enrol", min(start + _CHUNK_ENROL, total), total)
    timings["enrol_randomise"] = time.perf_counter() - t

    # outcomes given the allocated arms
    t = time.perf_counter()
    trial = simulate_trial_data(design, n=n, seed=seed, arms=arms, params=params)
    timings["generate"] = time.perf_counter() - t

    t = time.perf_counter()
    obs = trial.observations
    # category codes once for the whole table; each chunk takes its rows (in table order) by index
    cols = {c: (obs[c].cat.codes.to_numpy(), np.asarray(obs[c].cat.categories, dtype=object)) for c in _KEYS}
    subj_codes, subj_names = cols["subject"]
    visit_codes, visit_names = cols["visit"]
    values = obs["value"].to_numpy(dtype=object)
    # visit date of each (subject, visit) as a 2-D lookup by category codes
    v = trial.visits
    v_subj = pd.Categorical(v["subject"].astype(str), categories=subj_names).codes
    v_visit = pd.Categorical(v["visit"].astype(str), categories=visit_names).codes
    known = (v_subj >= 0) & (v_visit >= 0)
    date_table = np.full((len(subj_names), len(visit_names)), None, dtype=object)
    date_table[v_subj[known], v_visit[known]] = v["visit_date"].to_numpy(dtype=object)[known]
    n_subj = len(subj_names)
    written = 0
    for start in range(0, n_subj, _CHUNK_SUBJECTS):
        idx = np.flatnonzero((subj_codes >= start) & (subj_codes < start + _CHUNK_SUBJECTS))
        part = pd.DataFrame({c: names[codes[idx]] for c, (codes, names) in cols.items()})
        part["value"] = values[idx]
        part["visit_date"] = date_table[subj_codes[idx], visit_codes[idx]]
        st.record_observations(part, user=user)
        written += len(part)
        report("observations", written, len(obs))
    final = trial.subjects.loc[
        trial.subjects["status"].isin(["withdrawn", "completed"]), ["subject", "status", "withdrawal_reason"]
    ]
    if len(final):
        reasons = [
            r if status == "withdrawn" else None
            for status, r in zip(final["status"], final["withdrawal_reason"], strict=True)
        ]
        st.update_subject_statuses(
            pd.DataFrame(
                {
                    "subject_id": final["subject"].astype(str).to_numpy(),
                    "status": final["status"].astype(str).to_numpy(),
                    "reason": reasons,
                }
            ),
            user=user,
        )
    timings["observations"] = time.perf_counter() - t

    t = time.perf_counter()
    ae = trial.adverse_events
    for start in range(0, len(ae), _CHUNK_AE):
        part = ae.iloc[start : start + _CHUNK_AE]
        frame = pd.DataFrame(
            {
                "subject_id": part["subject"].astype(str).to_numpy(),
                "term": part["term"].to_numpy(dtype=object),
                "body_system": part["body_system"].to_numpy(dtype=object),
                "start_date": part["start_date"].to_numpy(dtype=object),
                "stop_date": part["stop_date"].to_numpy(dtype=object),
                "grade": [int(g) for g in part["grade"]],
                "serious": [bool(x) for x in part["serious"]],
                "relatedness": part["relatedness"].to_numpy(dtype=object),
                "outcome": part["outcome"].to_numpy(dtype=object),
            }
        )
        st.record_adverse_events(frame, user=user)
        report("adverse_events", start + len(part), len(ae))
    timings["adverse_events"] = time.perf_counter() - t

    counts_path = truth_path = None
    n_samples = 0
    if rnaseq:
        t = time.perf_counter()
        samples = rnaseq_samples(trial)
        report("rnaseq", 0, 1)
        adata, truth = simulate_rnaseq(samples, params, seed=seed)
        counts_path, truth_path = write_rnaseq(adata, truth, Path(rnaseq_path))  # type: ignore[arg-type]
        report("rnaseq", 1, 1)
        for k, srow in enumerate(samples.to_dict("records")):
            st.record_sample(
                srow["sample_id"],
                user=user,
                subject_id=srow["subject"],
                visit=srow["visit"],
                assay="rnaseq",
                counts_path=str(counts_path),
                collected_date=srow["visit_date"],
            )
            if (k + 1) % 20 == 0 or k + 1 == len(samples):
                report("samples", k + 1, len(samples))
        n_samples = len(samples)
        timings["rnaseq"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    logger.info("simulated trial written in %.1f s (%s)", timings["total"], timings)
    return SimulationResult(
        store=st,
        trial=trial,
        counts_path=counts_path,
        truth_path=truth_path,
        timings=timings,
        n_samples=n_samples,
    )


def rnaseq_samples(trial: SimulatedTrial, *, visits: tuple[str, ...] = ("BL", "W12")) -> pd.DataFrame:
    """Blood samples of every randomised patient at the given visits they attended.

    Returns
    -------
    pandas.DataFrame
        ``sample_id`` (``<subject>-<visit>-RNA``), ``subject``, ``visit``, ``arm``, ``visit_date``.
    """
    v = trial.visits
    v = v[v["visit"].isin(visits) & (v["status"] == "completed")]
    arm = trial.subjects.set_index("subject")["arm"]
    out = pd.DataFrame(
        {
            "sample_id": v["subject"].astype(str) + "-" + v["visit"].astype(str) + "-RNA",
            "subject": v["subject"].to_numpy(),
            "visit": v["visit"].to_numpy(),
            "arm": arm.loc[v["subject"]].to_numpy(),
            "visit_date": v["visit_date"].to_numpy(),
        }
    )
    return out.reset_index(drop=True)
