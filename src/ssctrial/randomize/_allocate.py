"""Concealed randomisation in the store: create the list once, assign slots atomically, reproduce.

Concurrency
-----------
``randomize_subject`` runs in one transaction that

1. locks the subject's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every write
   transaction starts with ``BEGIN IMMEDIATE`` and so holds the database's write lock), then checks
   that the subject is screened, eligible and not yet allocated;
2. permuted blocks: claims the first unused slot of the subject's stratum in list order in one
   statement, ``UPDATE randomization_list SET used_by_subject_id = ? WHERE id = (SELECT id ...
   ORDER BY position LIMIT 1 FOR UPDATE) AND used_by_subject_id IS NULL RETURNING ...``: on
   PostgreSQL a concurrent request waits for the slot and, once the first commits, re-checks the
   row, finds it used and moves on to the next slot, so slots are used strictly in order;
   minimisation: takes a per-study advisory lock (``pg_advisory_xact_lock``) so assignments are
   strictly sequential, rebuilds the marginal counts from stored allocations and draws the arm;
3. inserts the allocation, sets the subject's status and appends to the audit chain.

``UNIQUE`` constraints on ``randomization_list.used_by_subject_id``, ``allocation.subject_id`` and
``allocation.list_id`` make a double allocation impossible even if the locking were bypassed; a
conflict, deadlock or lock timeout rolls the whole transaction back and it is retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from ssctrial.exceptions import InputError, NotFoundError, StateError
from ssctrial.randomize._blocks import LIST_COLUMNS, check_block_sizes, check_ratio, permuted_block_list
from ssctrial.randomize._minimisation import Minimisation
from ssctrial.randomize._rng import check_seed, new_seed
from ssctrial.store._audit import AuditEntry, append_audit, to_json
from ssctrial.store._models import (
    Allocation,
    AuditLog,
    RandomizationList,
    RandomizationSecret,
    Study,
    Subject,
)

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign
    from ssctrial.store import Store

__all__ = [
    "AllocationRecord",
    "ReproductionReport",
    "assert_allocation_design",
    "create_allocation_list",
    "randomize_subject",
    "reproduce_allocation_list",
]

logger = logging.getLogger(__name__)

#: Name and version of the generation algorithm, recorded in the audit trail at creation.
ALGORITHM = "ssctrial-pcg64-v1"
_MAX_ATTEMPTS = 30
#: (method, seed) per open store: the secret is written once and never changes.
_SECRETS: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class AllocationRecord:
    """The result of randomising one subject.

    Attributes
    ----------
    subject_id
        The subject.
    arm
        Allocated arm code.
    arm_label
        The arm's label from the study design.
    stratum
        The subject's stratum key (``""`` for an unstratified study).
    method
        ``"permuted_blocks"`` or ``"minimisation"``.
    randomized_at
        UTC time of the allocation (naive datetime).
    randomized_by
        The user who randomised.
    """

    subject_id: str
    arm: str
    arm_label: str
    stratum: str
    method: str
    randomized_at: datetime
    randomized_by: str

    def __str__(self) -> str:
        return f"{self.subject_id} randomised to {self.arm} ({self.arm_label})"


@dataclass
class ReproductionReport:
    """Result of :func:`reproduce_allocation_list`.

    Attributes
    ----------
    ok
        Whether the regenerated sequence equals the stored one in every row.
    method
        Randomisation method.
    n_rows
        Rows compared (list slots, or allocations for minimisation).
    problems
        One line per difference found.
    data
        The comparison table. Permuted blocks: ``stratum, position, block, block_size, arm``
        (regenerated), ``stored_arm``, ``stored_block``, ``stored_block_size``,
        ``used_by_subject_id``, ``matches``. Minimisation: ``order, subject_id, stratum, arm``
        (regenerated), ``stored_arm``, ``matches``.
    """

    ok: bool
    method: str
    n_rows: int
    problems: list[str] = field(default_factory=list)
    data: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __str__(self) -> str:
        what = "list slots" if self.method == "permuted_blocks" else "allocations"
        if self.ok:
            return (
                f"allocation sequence reproduced from the seed: {self.n_rows} {what} identical "
                f"({self.method})"
            )
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return f"allocation sequence DIFFERS from the seed: {len(self.problems)} problem(s): {shown}{more}"


# ---------------------------------------------------------------------------------------- helpers
def _list_length(design: StudyDesign) -> int:
    spec = design.randomization
    if spec.list_length_per_stratum is not None:
        n = spec.list_length_per_stratum
    elif design.target_enrolment is not None:
        # every subject could fall in one stratum, so each stratum gets the whole enrolment
        n = design.target_enrolment
    else:
        msg = (
            "randomization.list_length_per_stratum: not set, and the study has no target_enrolment; "
            "set one of them so that the allocation list can be generated"
        )
        raise InputError(msg)
    if n < 1:
        msg = f"randomization.list_length_per_stratum: {n} is not allowed; give a positive integer"
        raise InputError(msg)
    return int(n)


def assert_allocation_design(design: StudyDesign) -> None:
    """Check that the design's randomisation settings can generate a sequence; raise if not.

    Parameters
    ----------
    design
        The study design.

    Raises
    ------
    InputError
        The list length is unknown (no ``randomization.list_length_per_stratum`` and no
        ``target_enrolment``), or the ratio, block sizes or minimisation settings are invalid;
        the message names the field.
    """
    if design.randomization.method == "permuted_blocks":
        _list_length(design)
        check_block_sizes(
            list(design.randomization.block_sizes) or None,
            check_ratio(design.arm_codes, [a.ratio for a in design.arms]),
        )
    else:
        _minimiser(design, 0)


def _allocation_params(design: StudyDesign) -> tuple[Any, ...]:
    """Everything of a design that the allocation sequence depends on."""
    return (
        tuple((a.code, a.ratio) for a in design.arms),
        tuple((f.code, tuple(f.levels)) for f in design.stratification_factors),
        design.randomization.model_dump(mode="json"),
        design.target_enrolment,
    )


def _generate_list(design: StudyDesign, seed: int) -> pd.DataFrame:
    return permuted_block_list(
        design.arm_codes,
        n_per_stratum=_list_length(design),
        seed=seed,
        ratio=[a.ratio for a in design.arms],
        block_sizes=list(design.randomization.block_sizes) or None,
        strata=design.stratum_keys(),
    )


def _minimiser(design: StudyDesign, seed: int) -> Minimisation:
    spec = design.randomization
    try:
        return Minimisation(
            design.arm_codes,
            {f.code: list(f.levels) for f in design.stratification_factors},
            seed=seed,
            ratio=[a.ratio for a in design.arms],
            p_preferred=spec.minimisation_p,
            imbalance="range",
            weights=dict(spec.minimisation_weights) or None,
        )
    except InputError as exc:
        names = {"p_preferred": "minimisation_p", "weights": "minimisation_weights"}
        field, _, rest = str(exc).partition(":")
        msg = (
            f"randomization.{names.get(field.split('[')[0], field)}{field[len(field.split('[')[0]) :]}:{rest}"
        )
        raise InputError(msg) from None


def _list_digest(data: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for row in data[LIST_COLUMNS].itertuples(index=False):
        digest.update(("\x1f".join(str(v) for v in row) + "\n").encode("utf-8"))
    return digest.hexdigest()


def _advisory_key(study_id: str) -> int:
    raw = hashlib.sha256(f"ssctrial:minimisation:{study_id}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


def _is_conflict(exc: BaseException) -> bool:
    """Whether an error is a transient write conflict worth retrying (not a rule violation)."""
    cause = exc.__cause__ if isinstance(exc, StateError) else exc
    return isinstance(cause, IntegrityError | OperationalError | _SlotTaken)


class _SlotTaken(Exception):
    """The chosen slot was claimed by another transaction between SELECT and UPDATE."""


# ------------------------------------------------------------------------------------ creation
def create_allocation_list(
    store: Store,
    design: StudyDesign | None = None,
    *,
    seed: int | str | None = None,
    user: str,
) -> pd.DataFrame:
    """Generate the study's concealed allocation sequence, once, from a secret seed.

    Parameters
    ----------
    store
        An open :class:`~ssctrial.store.Store` (see :func:`ssctrial.store.init_store`).
    design
        The study design; default ``store.design``. It must be the design the store holds.
    seed
        Non-negative integer seed. Default: 128 fresh bits from the operating system's CSPRNG
        (:func:`secrets.randbits`), which is what a real trial should use. The seed is stored in
        ``randomization_secret`` and never shown.
    user
        The user creating the list (role ``admin``).

    Returns
    -------
    pandas.DataFrame
        One row per stratum, revealing nothing of the sequence: ``stratum``, ``slots`` (number
        of list slots; 0 for minimisation, which has no list).

    Raises
    ------
    StateError
        The list (or minimisation secret) already exists.
    PermissionDeniedError
        The user is not an admin.

    Notes
    -----
    Permuted blocks: the whole list for every stratum is generated now by
    :func:`permuted_block_list` (``randomization.list_length_per_stratum`` slots per stratum,
    default ``target_enrolment``) and stored in ``randomization_list``. Minimisation: only the
    seed is stored; each assignment draws from it (see :class:`Minimisation`). The audit trail
    records the method, list size, algorithm and a SHA-256 of the list (not the seed).
    """
    design = store.design if design is None else design
    if design.study_id != store.design.study_id:
        msg = (
            f"design: study {design.study_id!r} is not the study this store holds ({store.design.study_id!r})"
        )
        raise InputError(msg)
    if _allocation_params(design) != _allocation_params(store.design):
        msg = (
            "design: its arms, ratios, stratification or randomization settings differ from the design "
            "stored in the database, from which the sequence is reproduced for audit; initialise the "
            "store with this design instead"
        )
        raise InputError(msg)
    seed_i = new_seed() if seed is None else check_seed(seed)
    assert_allocation_design(design)
    method = design.randomization.method
    data = _generate_list(design, seed_i) if method == "permuted_blocks" else None
    at = _now()
    with store.session() as s:
        store.check_role(s, user, "create_allocation_list")
        if s.execute(select(func.count()).select_from(RandomizationSecret)).scalar_one():
            msg = (
                "the allocation sequence already exists; it is generated once per study and cannot be "
                "replaced (a statistician can reproduce it with `ssctrial randomize --reproduce`)"
            )
            raise StateError(msg)
        secret = RandomizationSecret(seed=str(seed_i), method=method, created_at=at, created_by=user)
        s.add(secret)
        s.flush()
        summary: dict[str, Any] = {"method": method, "algorithm": ALGORITHM}
        if data is not None:
            rows = [
                {
                    "stratum": str(stratum),
                    "position": int(position),
                    "arm": str(arm),
                    "block": int(block),
                    "block_size": int(block_size),
                    "used_by_subject_id": None,
                    "used_at": None,
                }
                for stratum, position, block, block_size, arm in zip(
                    *(data[c].tolist() for c in LIST_COLUMNS), strict=True
                )
            ]
            s.execute(insert(RandomizationList), rows)
            summary |= {
                "slots": len(rows),
                "strata": int(data["stratum"].nunique()),
                "list_length_per_stratum": _list_length(design),
                "block_sizes": list(design.randomization.block_sizes),
                "list_sha256": _list_digest(data),
            }
        store.audit(
            s,
            user=user,
            action="insert",
            table="randomization_secret",
            record=str(secret.id),
            new={"method": method},
            reason="allocation sequence generated (seed concealed)",
        )
        store.audit(
            s,
            user=user,
            action="insert",
            table="randomization_list",
            record=design.study_id,
            new=summary,
            reason="concealed allocation sequence generated",
        )
    logger.info("created %s allocation sequence for %s", method, design.study_id)
    if data is None:
        return pd.DataFrame({"stratum": design.stratum_keys(), "slots": 0})
    counts = data.groupby("stratum", sort=False).size()
    return pd.DataFrame({"stratum": counts.index.tolist(), "slots": counts.to_numpy()})


# ---------------------------------------------------------------------------------- assignment
def randomize_subject(store: Store, subject_id: str, *, user: str) -> AllocationRecord:
    """Randomise one subject: atomically assign the next slot of their stratum (or minimise).

    Parameters
    ----------
    store
        An open store whose allocation sequence has been created.
    subject_id
        The screened subject to randomise.
    user
        The user randomising (role ``investigator`` or ``admin``).

    Returns
    -------
    AllocationRecord
        The allocation; the arm is known only once it is stored.

    Raises
    ------
    NotFoundError
        Unknown subject, or no allocation sequence yet.
    StateError
        The subject is screen-failed, withdrawn, already randomised, or their stratum's list is
        used up.
    PermissionDeniedError
        The user's role may not randomise.

    Notes
    -----
    Safe under any number of concurrent callers in any number of processes, on SQLite and
    PostgreSQL: no slot is used twice, no subject is allocated twice, and slots of a stratum are
    used in list order. See the module documentation and ``docs/randomization.md``.
    """
    if not isinstance(subject_id, str) or not subject_id.strip():
        msg = f"subject_id: {subject_id!r} is not a subject identifier"
        raise InputError(msg)
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            return _randomize_once(store, subject_id, user=user)
        except (StateError, IntegrityError, OperationalError, _SlotTaken) as exc:
            if not _is_conflict(exc):
                raise
            if attempt == _MAX_ATTEMPTS:
                msg = (
                    f"subject {subject_id}: randomisation did not complete after {attempt} attempts "
                    f"because of concurrent writes ({exc}); nothing was allocated, try again"
                )
                raise StateError(msg) from exc
            logger.debug("randomize %s: conflict (%s), retry %d", subject_id, exc, attempt)
            time.sleep(random.uniform(0.002, 0.02) * min(attempt, 10))  # noqa: S311 - back-off jitter
    msg = "unreachable"  # pragma: no cover
    raise AssertionError(msg)  # pragma: no cover


def _secret(store: Store, session: Any) -> tuple[str, str]:
    """Return ``(method, seed)``; cached per store, as the secret is written once and never changed."""
    cached = _SECRETS.get(store)
    if cached is not None:
        return cached
    row = session.execute(
        select(RandomizationSecret.method, RandomizationSecret.seed).order_by(RandomizationSecret.id).limit(1)
    ).first()
    if row is None:
        msg = "no allocation sequence: create it first (`ssctrial init` does, or create_allocation_list)"
        raise NotFoundError(msg)
    _SECRETS[store] = (str(row.method), str(row.seed))
    return _SECRETS[store]


def _randomize_once(store: Store, subject_id: str, *, user: str) -> AllocationRecord:
    postgres = store.engine.dialect.name == "postgresql"
    with store.session() as s:
        store.check_role(s, user, "randomize")
        method, seed = _secret(store, s)
        # lock the subject (PostgreSQL; SQLite holds the database write lock) and see any allocation
        subject = s.execute(
            select(
                Subject.subject_id,
                Subject.status,
                Subject.status_reason,
                Subject.stratum,
                Allocation.randomized_at,
                Allocation.randomized_by,
            )
            .outerjoin(Allocation, Allocation.subject_id == Subject.subject_id)
            .where(Subject.subject_id == subject_id)
            .with_for_update(of=Subject)
        ).first()
        if subject is None:
            msg = f"unknown subject {subject_id!r}; enrol the subject before randomising"
            raise NotFoundError(msg)
        _assert_eligible(subject)
        at = _now()
        slot_info: dict[str, Any] = {}
        if method == "minimisation":
            arm = _minimise_one(s, store, _levels(subject.stratum), seed=seed, postgres=postgres)
            list_id = None
        else:
            arm, list_id, position = _claim_next_slot(s, subject_id, subject.stratum, at=at)
            slot_info = {"list_id": list_id, "position": position}
        s.execute(
            insert(Allocation).values(
                subject_id=subject_id,
                arm=arm,
                stratum=subject.stratum,
                list_id=list_id,
                randomized_at=at,
                randomized_by=user,
            )
        )
        s.execute(update(Subject).where(Subject.subject_id == subject_id).values(status="randomised"))
        new = {"arm": arm, "stratum": subject.stratum, "method": method, **slot_info}
        append_audit(
            s,
            [
                AuditEntry("insert", "allocation", subject_id, None, to_json(new)),
                AuditEntry(
                    "update",
                    "subject",
                    subject_id,
                    to_json({"status": subject.status}),
                    to_json({"status": "randomised"}),
                    "randomised",
                ),
            ],
            user=user,
            at=at,
        )
    logger.info("randomised %s (stratum %r)", subject_id, subject.stratum)
    label = store.design.arm(arm).label
    return AllocationRecord(subject_id, arm, label, subject.stratum, method, at, user)


def _claim_next_slot(session: Any, subject_id: str, stratum: str, *, at: datetime) -> tuple[str, int, int]:
    """Claim the first unused slot of ``stratum`` in list order, in one statement.

    ``UPDATE ... WHERE id = (SELECT id ... ORDER BY position LIMIT 1 FOR UPDATE) AND
    used_by_subject_id IS NULL RETURNING ...``: on PostgreSQL the sub-select waits for a slot
    another transaction holds and, when that one commits, re-checks it and takes the next.
    """
    first_free = (
        select(RandomizationList.id)
        .where(RandomizationList.stratum == stratum)
        .where(RandomizationList.used_by_subject_id.is_(None))
        .order_by(RandomizationList.position)
        .limit(1)
        .with_for_update()
        .scalar_subquery()
    )
    claimed = session.execute(
        update(RandomizationList)
        .where(RandomizationList.id == first_free)
        .where(RandomizationList.used_by_subject_id.is_(None))
        .values(used_by_subject_id=subject_id, used_at=at)
        .returning(RandomizationList.id, RandomizationList.arm, RandomizationList.position)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is not None:
        return str(claimed.arm), int(claimed.id), int(claimed.position)
    free = session.execute(
        select(func.count())
        .where(RandomizationList.stratum == stratum)
        .where(RandomizationList.used_by_subject_id.is_(None))
    ).scalar_one()
    if free:  # a concurrent claim got there first: roll back and retry
        raise _SlotTaken(stratum)
    total = session.execute(select(func.count()).where(RandomizationList.stratum == stratum)).scalar_one()
    msg = (
        f"subject {subject_id}: the allocation list of stratum {stratum!r} is used up "
        f"({total} slots); randomisation cannot continue in this stratum"
    )
    raise StateError(msg)


def _assert_eligible(subject: Any) -> None:
    if subject.randomized_at is not None or subject.status == "randomised":
        when = ""
        if subject.randomized_at is not None:
            when = f" on {subject.randomized_at:%Y-%m-%d %H:%M} UTC by {subject.randomized_by}"
        msg = f"subject {subject.subject_id} is already randomised{when}; a subject is randomised only once"
        raise StateError(msg)
    if subject.status != "screened":
        reason = f" ({subject.status_reason})" if subject.status_reason else ""
        status = subject.status.replace("_", "-")
        msg = (
            f"subject {subject.subject_id} is {status}{reason} and cannot be randomised; "
            "only screened, eligible subjects can"
        )
        raise StateError(msg)


def _levels(stratum: str) -> dict[str, str]:
    """Factor levels from a stratum key (``"SUBTYPE=diffuse|DURATION=early"``; ``""``: none).

    Minimisation works from the key stored with each allocation (not the subject's current
    strata), so a later correction of a subject's strata cannot change the replayed history.
    """
    if not stratum:
        return {}
    return dict(part.split("=", 1) for part in stratum.split("|"))


def _minimise_one(session: Any, store: Store, levels: dict[str, str], *, seed: str, postgres: bool) -> str:
    if postgres:  # one minimisation at a time per study (SQLite: BEGIN IMMEDIATE already serialises)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key(store.design.study_id)})
    method = _minimiser(store.design, int(seed))
    past = session.execute(select(Allocation.arm, Allocation.stratum).order_by(Allocation.id)).all()
    for arm, stratum in past:
        method.record(_levels(stratum), arm)
    return method.assign(levels)


# ---------------------------------------------------------------------------------- reproduction
def reproduce_allocation_list(store: Store, *, user: str) -> ReproductionReport:
    """Regenerate the allocation sequence from the secret seed and compare it with the stored one.

    Parameters
    ----------
    store
        An open store.
    user
        A user with the ``statistician`` role (the read of the seed is audited).

    Returns
    -------
    ReproductionReport
        ``ok`` is ``True`` when every stored slot (permuted blocks) or every stored allocation
        in order of arrival (minimisation) equals what the seed regenerates.

    Raises
    ------
    PermissionDeniedError
        The user is not a statistician.
    NotFoundError
        No allocation sequence.
    """
    secret = store.read_randomization_secret(user=user)
    seed = check_seed(secret["seed"])
    design = store.design
    problems: list[str] = []
    with store.reader.connect() as conn:
        if secret["method"] == "minimisation":
            stored = pd.DataFrame(
                conn.execute(
                    select(Allocation.subject_id, Allocation.stratum, Allocation.arm).order_by(Allocation.id)
                ).all(),
                columns=["subject_id", "stratum", "stored_arm"],
            )
        else:
            stored = pd.DataFrame(
                conn.execute(
                    select(
                        RandomizationList.stratum,
                        RandomizationList.position,
                        RandomizationList.arm,
                        RandomizationList.block,
                        RandomizationList.block_size,
                        RandomizationList.used_by_subject_id,
                    ).order_by(RandomizationList.stratum, RandomizationList.position)
                ).all(),
                columns=[
                    "stratum",
                    "position",
                    "stored_arm",
                    "stored_block",
                    "stored_block_size",
                    "used_by_subject_id",
                ],
            )
        design_hash = conn.execute(select(Study.design_hash)).scalar()
        created = conn.execute(
            select(AuditLog.new)
            .where(AuditLog.table_name == "randomization_list", AuditLog.action == "insert")
            .order_by(AuditLog.id)
            .limit(1)
        ).scalar()
    if secret["method"] == "minimisation":
        method = _minimiser(design, seed)
        arms = [method.assign(_levels(key)) for key in stored["stratum"]]
        data = stored.assign(arm=arms)
        data.insert(0, "order", range(1, len(data) + 1))
        data = data[["order", "subject_id", "stratum", "arm", "stored_arm"]]
        data["matches"] = data["arm"] == data["stored_arm"]
        problems += [
            f"allocation {r.order} ({r.subject_id}): stored {r.stored_arm}, seed gives {r.arm}"
            for r in data.loc[~data["matches"]].itertuples()
        ]
    else:
        regenerated = _generate_list(design, seed)
        data = regenerated.merge(stored, on=["stratum", "position"], how="outer", indicator=True)
        only_new = data["_merge"] == "left_only"
        only_stored = data["_merge"] == "right_only"
        problems += [
            f"slot {r.stratum!r}#{r.position}: missing from the store" for r in data[only_new].itertuples()
        ]
        problems += [
            f"slot {r.stratum!r}#{r.position}: in the store but not generated by the seed"
            for r in data[only_stored].itertuples()
        ]
        both = data["_merge"] == "both"
        data["matches"] = (
            both
            & (data["arm"] == data["stored_arm"])
            & (data["block"] == data["stored_block"])
            & (data["block_size"] == data["stored_block_size"])
        )
        problems += [
            f"slot {r.stratum!r}#{r.position:.0f}: stored {r.stored_arm} (block {r.stored_block:.0f} of "
            f"{r.stored_block_size:.0f}), seed gives {r.arm} (block {r.block:.0f} of {r.block_size:.0f})"
            for r in data[both & ~data["matches"]].itertuples()
        ]
        data = data.drop(columns="_merge")
        # the SHA-256 recorded (hash-chained) at creation must match too: this catches a seed and
        # a list replaced together so that they agree with each other
        recorded = json.loads(created).get("list_sha256") if created else None
        if recorded is None:
            problems.append("the audit trail has no record of the list's creation with its SHA-256")
        elif recorded != _list_digest(regenerated):
            problems.append(
                "the list the seed generates does not match the SHA-256 recorded in the audit trail when "
                "the list was created (seed or list replaced)"
            )
    report = ReproductionReport(
        ok=not problems,
        method=secret["method"],
        n_rows=len(data),
        problems=problems,
        data=data.reset_index(drop=True),
    )
    logger.info("%s (design %s)", report, (design_hash or "")[:12])
    return report
