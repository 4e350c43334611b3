"""The :class:`Store`: connection, sessions, users and roles, and the audit trail."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ssctrial.design import StudyDesign, load_study, validate_study
from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.store._audit import GENESIS_HASH, AuditEntry, append_audit, now_utc, to_json
from ssctrial.store._engine import create_read_engine, create_store_engine
from ssctrial.store._lock import LOCK_REFUSED_ACTIONS, assert_unlocked
from ssctrial.store._migrate import current_revision, head_revision, upgrade_to_head
from ssctrial.store._models import ROLES, AppUser, AuditHead, Base, RandomizationSecret, Site, Study

__all__ = ["HIDDEN_COLUMNS", "PERMISSIONS", "Store", "init_store", "open_store"]

logger = logging.getLogger(__name__)

#: What each role may do. Reading needs no role; every write names a user whose role is checked.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "manage_users": frozenset({"admin"}),
    "create_allocation_list": frozenset({"admin"}),
    "enroll": frozenset({"admin", "investigator"}),
    "randomize": frozenset({"admin", "investigator"}),
    "record": frozenset({"admin", "investigator"}),
    "update_status": frozenset({"admin", "investigator"}),
    "read_secret": frozenset({"statistician"}),
    "export_concealed": frozenset({"statistician"}),
    "open_query": frozenset({"admin", "monitor"}),
    "answer_query": frozenset({"admin", "investigator"}),
    "close_query": frozenset({"admin", "monitor"}),
    "reopen_query": frozenset({"admin", "monitor"}),
    "lock": frozenset({"statistician"}),
    "unlock": frozenset({"statistician"}),
}

#: Columns never shown by :meth:`Store.read_table`, :meth:`Store.users` or ``export_tables``.
HIDDEN_COLUMNS: Mapping[str, tuple[str, ...]] = {"app_user": ("password_hash",)}

#: Tables internal to the web interface (sessions, failed log-ins): never read, exported or audited.
INTERNAL_TABLES: tuple[str, ...] = ("web_session", "web_login_failure")

#: Tables whose content would break allocation concealment.
CONCEALED_TABLES: tuple[str, ...] = ("randomization_list", "randomization_secret")


class Store:
    """An open trial store.

    Use :func:`init_store` to create one and :func:`open_store` to open an existing one.

    Attributes
    ----------
    url
        The SQLAlchemy URL (password hidden in ``repr``).
    engine
        The SQLAlchemy engine.
    design
        The :class:`~ssctrial.design.StudyDesign` the store was initialised with.
    """

    def __init__(self, engine: Engine, design: StudyDesign, *, url: str) -> None:
        self.engine = engine
        self.design = design
        self.url = url
        self.reader = create_read_engine(url, engine)
        self._sessionmaker = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        shown = self.engine.url.render_as_string(hide_password=True)
        return f"Store({shown!r}, study={self.design.study_id!r})"

    # ------------------------------------------------------------------ sessions
    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a SQLAlchemy session inside one transaction: committed on success, else rolled back.

        On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (it holds the write lock).
        """
        session = self._sessionmaker()
        try:
            with session.begin():
                yield session
        except IntegrityError as exc:
            msg = f"the database refused the change (nothing was written): {exc.orig}"
            raise StateError(msg) from exc
        except OperationalError as exc:
            msg = f"database error: {exc.orig}"
            raise StateError(msg) from exc
        finally:
            session.close()

    def close(self) -> None:
        """Release the engines' connections."""
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    # ------------------------------------------------------------------ users and roles
    def check_role(self, session: Session, user: str, action: str) -> AppUser:
        """Return ``user``'s row if their role may do ``action``; else raise.

        Raises
        ------
        PermissionDeniedError
            Unknown or inactive user, or a role without the permission (the message lists the
            roles that have it).
        StateError
            The database is locked and ``action`` changes trial data (one of
            ``LOCK_REFUSED_ACTIONS``); the lock is read in ``session``'s transaction.
        """
        if action not in PERMISSIONS:
            msg = f"unknown action {action!r}; actions are: {', '.join(sorted(PERMISSIONS))}"
            raise InputError(msg)
        if not user or not str(user).strip():
            msg = "every write must name its user (--user or SSCTRIAL_USER)"
            raise PermissionDeniedError(msg)
        row = session.get(AppUser, user)
        if row is None:
            msg = f"unknown user {user!r}; an admin adds users with `ssctrial users add NAME --role ROLE`"
            raise PermissionDeniedError(msg)
        if not row.active:
            msg = f"user {user!r} is deactivated"
            raise PermissionDeniedError(msg)
        allowed = PERMISSIONS[action]
        if row.role not in allowed:
            msg = f"user {user!r} has role {row.role!r}, which may not {action.replace('_', ' ')}; " + (
                f"roles allowed: {', '.join(sorted(allowed))}"
            )
            raise PermissionDeniedError(msg)
        if action in LOCK_REFUSED_ACTIONS:
            assert_unlocked(session)
        return row

    def add_user(
        self, name: str, role: str, *, user: str, site: str | None = None, password: str | None = None
    ) -> None:
        """Add a user with a role (admins only).

        Parameters
        ----------
        name
            The new user's name (letters, digits, ``._-@``; at most 64 characters).
        role
            One of ``admin``, ``investigator``, ``monitor``, ``statistician``.
        user
            The admin adding the user.
        site
            The one site the user may see (a site code of the study); ``None``: all sites.
        password
            The user's password (checked as by :meth:`set_password`); ``None``: none yet (the
            user cannot log in to the web interface until one is set).
        """
        from ssctrial.store._access import check_password, check_site, hash_password

        _check_user_name(name)
        if role not in ROLES:
            msg = f"role {role!r} is not allowed; expected one of {', '.join(ROLES)}"
            raise InputError(msg)
        if password is not None:
            check_password(name, password)
        # hash before the transaction: argon2 takes ~0.1 s, not to be spent holding the write lock
        hashed = hash_password(password) if password is not None else None
        with self.session() as s:
            self.check_role(s, user, "manage_users")
            site = check_site(s, site)
            if s.get(AppUser, name) is not None:
                msg = f"user {name!r} already exists"
                raise StateError(msg)
            at = now_utc()
            s.add(
                AppUser(
                    name=name,
                    role=role,
                    active=True,
                    created_at=at,
                    created_by=user,
                    password_hash=hashed,
                    site_code=site,
                )
            )
            new: dict[str, Any] = {"role": role}
            if site is not None:
                new["site"] = site
            if password is not None:
                new["password"] = "set"
            append_audit(s, [AuditEntry("insert", "app_user", name, None, to_json(new))], user=user, at=at)

    def set_password(self, name: str, password: str, *, user: str) -> None:
        """Set a user's password (an admin, or the user themself).

        Parameters
        ----------
        name
            Whose password.
        password
            10 to 128 characters, not the user name. Stored only as an argon2id hash.
        user
            Who sets it: an admin, or ``name`` themself.

        Raises
        ------
        InputError
            The password breaks a rule (the message names the rule, never the password).
        PermissionDeniedError
            ``user`` is neither an admin nor ``name``.
        NotFoundError
            Unknown user ``name``.

        Notes
        -----
        Audited as an ``update`` of ``app_user`` with new value ``{"password": "changed"}``.
        """
        from ssctrial.store._access import set_password

        set_password(self, name, password, user=user)

    def set_user_site(self, name: str, site: str | None, *, user: str) -> None:
        """Restrict a user to one site, or (``site=None``) let them see all sites (admins; audited)."""
        from ssctrial.store._access import set_user_site

        set_user_site(self, name, site, user=user)

    def set_user_active(self, name: str, *, active: bool, user: str) -> None:
        """Activate or deactivate a user (admins; audited; an admin cannot deactivate themself)."""
        from ssctrial.store._access import set_user_active

        set_user_active(self, name, active=active, user=user)

    def authenticate(self, name: str, password: str) -> dict[str, Any] | None:
        """Check a log-in.

        Returns
        -------
        dict or None
            ``{"name", "role", "site", "active"}`` when ``password`` matches an active user
            with a password; else ``None``.

        Notes
        -----
        An unknown user, or one without a password, costs the same one argon2 verification (of a
        dummy hash), so the time taken does not reveal which users exist. A hash made with older
        argon2 parameters is replaced. Not audited: the caller logs the attempt
        (:meth:`log_event`).
        """
        from ssctrial.store._access import authenticate

        return authenticate(self, name, password)

    def get_user(self, name: str) -> dict[str, Any] | None:
        """Return ``{"name", "role", "site", "active", "has_password"}`` of a user, or ``None``."""
        from ssctrial.store._access import get_user

        return get_user(self, name)

    def log_event(
        self, *, user: str, action: str, record: str, reason: str | None = None, table: str = "web"
    ) -> None:
        """Append one audit row in its own transaction (log-ins, log-outs, reads of the web layer).

        Parameters
        ----------
        user
            Who (any text, also an unknown name of a failed log-in; cut to 64 characters).
        action
            What, at most 16 characters (``login``, ``login_failed``, ``logout``, ``read``).
        record
            Which record (e.g. the page or the subject).
        reason
            Free text.
        table
            The audit row's table column (default ``web``).
        """
        from ssctrial.store._access import log_event

        log_event(self, user=user, action=action, record=record, reason=reason, table=table)

    def users(self) -> pd.DataFrame:
        """Return the users.

        Columns ``name``, ``role``, ``active``, ``created_at``, ``created_by``, ``site_code`` and
        ``has_password`` (never the password hash).
        """
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(
                    AppUser.name,
                    AppUser.role,
                    AppUser.active,
                    AppUser.created_at,
                    AppUser.created_by,
                    AppUser.site_code,
                    AppUser.password_hash.is_not(None).label("has_password"),
                ).order_by(AppUser.name)
            ).all()
        cols = ["name", "role", "active", "created_at", "created_by", "site_code", "has_password"]
        out = pd.DataFrame(rows, columns=cols)
        out["active"] = out["active"].astype(bool)
        out["has_password"] = out["has_password"].astype(bool)
        return out

    def subject_site(self, subject_id: str) -> str | None:
        """Return the site code of a subject (``None`` when it has none).

        Raises
        ------
        NotFoundError
            Unknown subject.
        """
        from ssctrial.store._models import Subject

        with self.reader.connect() as conn:
            row = conn.execute(select(Subject.site_code).where(Subject.subject_id == subject_id)).first()
        if row is None:
            msg = f"subject_id: unknown subject {subject_id!r}"
            raise NotFoundError(msg)
        return row.site_code

    # ------------------------------------------------------------------ data lock
    def lock(self, *, user: str, reason: str) -> None:
        """Lock the database (statistician; audited with the reason).

        While locked, every change of trial data (enrolment, randomisation, recording, status
        changes, allocation lists, data queries) is refused with :class:`StateError`; user
        management, reading and exports still work.

        Raises
        ------
        InputError
            Blank reason.
        StateError
            Already locked.
        """
        from ssctrial.store._lock import lock

        lock(self, user=user, reason=reason)

    def unlock(self, *, user: str, reason: str) -> None:
        """Unlock the database (statistician; the reason is audited). StateError if not locked."""
        from ssctrial.store._lock import unlock

        unlock(self, user=user, reason=reason)

    def lock_state(self) -> dict[str, Any]:
        """Return ``{"locked": bool, "locked_at", "locked_by", "reason"}`` (``None`` when unlocked)."""
        from ssctrial.store._lock import lock_state

        return lock_state(self)

    # ------------------------------------------------------------------ data queries
    def open_query(
        self,
        subject_id: str,
        *,
        user: str,
        text: str,
        visit: str | None = None,
        instrument: str | None = None,
        item: str | None = None,
    ) -> int:
        """Open a data query on a subject's data (monitor or admin); return its id.

        Parameters
        ----------
        subject_id
            An enrolled subject.
        user
            The monitor (or admin).
        text
            The question, 1 to 2000 characters, not blank.
        visit
            A visit code of the schedule.
        instrument, item
            An instrument of the registry and one of its items (an item needs its instrument).

        Raises
        ------
        InputError
            Bad text, visit, instrument or item (the message lists what is allowed).
        NotFoundError
            Unknown subject.
        StateError
            The database is locked.
        """
        from ssctrial.store._queries import open_query

        return open_query(
            self, subject_id, user=user, text=text, visit=visit, instrument=instrument, item=item
        )

    def answer_query(self, query_id: int, *, user: str, answer: str) -> None:
        """Answer an open (or re-answer an answered) query (investigator or admin); status ``answered``."""
        from ssctrial.store._queries import answer_query

        answer_query(self, query_id, user=user, answer=answer)

    def close_query(self, query_id: int, *, user: str, note: str | None = None) -> None:
        """Close an open or answered query (monitor or admin); closing a closed one is a StateError."""
        from ssctrial.store._queries import close_query

        close_query(self, query_id, user=user, note=note)

    def reopen_query(self, query_id: int, *, user: str, text: str) -> None:
        """Reopen an answered or closed query (monitor or admin); ``text`` is audited as the reason."""
        from ssctrial.store._queries import reopen_query

        reopen_query(self, query_id, user=user, text=text)

    def queries(self, *, status: str | None = None, subject: str | None = None) -> pd.DataFrame:
        """Return the data queries (every column of ``data_query``, ordered by id), optionally filtered."""
        from ssctrial.store._queries import queries

        return queries(self, status=status, subject=subject)

    # ------------------------------------------------------------------ audit
    def audit(
        self,
        session: Session,
        *,
        user: str,
        action: str,
        table: str,
        record: str,
        old: Mapping[str, Any] | None = None,
        new: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        """Append one audit row in ``session``'s transaction (who, what, old, new, why)."""
        entry = AuditEntry(action, table, str(record), to_json(old), to_json(new), reason)
        append_audit(session, [entry], user=user)

    # ------------------------------------------------------------------ data entry
    def enroll_subject(
        self,
        subject_id: str,
        *,
        user: str,
        consent_date: date | str,
        sex: str,
        strata: Mapping[str, str],
        site: str | None = None,
        birth_date: date | str | None = None,
        height_cm: float | None = None,
    ) -> dict[str, Any]:
        """Enrol (screen) a subject.

        Parameters
        ----------
        subject_id
            Study subject identifier (``BASICS-001``).
        user
            Who enrols (investigator or admin).
        consent_date
            Date of informed consent (not in the future).
        sex
            ``F`` or ``M`` (needed for % predicted lung function).
        strata
            Level of every stratification factor (``{"SUBTYPE": "diffuse", "DURATION": "early"}``).
        site
            Site code (default: the only site, when the study has one).
        birth_date, height_cm
            Demographics used by the lung-function equations.

        Returns
        -------
        dict
            The stored values, including the canonical ``stratum`` key.
        """
        from ssctrial.store._subjects import enroll_subject

        return enroll_subject(
            self,
            subject_id,
            user=user,
            consent_date=consent_date,
            sex=sex,
            strata=strata,
            site=site,
            birth_date=birth_date,
            height_cm=height_cm,
        )

    def update_subject_status(
        self, subject_id: str, status: str, *, user: str, reason: str | None = None
    ) -> None:
        """Set a subject's status (``screen_failed`` and ``withdrawn`` need a reason)."""
        from ssctrial.store._subjects import update_subject_status

        update_subject_status(self, subject_id, status, user=user, reason=reason)

    def enroll_subjects(self, frame: pd.DataFrame, *, user: str) -> pd.DataFrame:
        """Enrol (screen) many subjects in one transaction, all or nothing.

        Parameters
        ----------
        frame
            One row per subject: ``subject_id``, ``consent_date``, ``sex``; the stratification
            factors either as one column per factor code (``SUBTYPE``, ``DURATION``) or as a
            ``strata`` column of mappings; optional ``site``, ``birth_date``, ``height_cm``
            (a missing cell, None/NaN/NaT, means not given).
        user
            Who enrols (investigator or admin).

        Returns
        -------
        pandas.DataFrame
            The stored values, one row per subject in frame order (as :meth:`enroll_subject`
            returns for one).

        Raises
        ------
        SubjectBatchError
            Any row has bad input (each checked with the rules and messages of
            :meth:`enroll_subject`), an unknown site, or a subject id repeated in the frame;
            ``errors`` lists every problem. Nothing is written.
        StateError
            Otherwise valid rows name subjects already enrolled (all listed). Nothing is written.

        Notes
        -----
        One write transaction: the rows are inserted with one ``executemany`` and their audit
        rows (the same content as :meth:`enroll_subject` writes) are appended to the chain in one
        go, in frame order.
        """
        from ssctrial.store._bulk_subjects import enroll_subjects

        return enroll_subjects(self, frame, user=user)

    def update_subject_statuses(self, frame: pd.DataFrame, *, user: str) -> int:
        """Change the status of many subjects in one transaction, all or nothing.

        Parameters
        ----------
        frame
            ``subject_id``, ``status`` and optional ``reason`` (needed for ``screen_failed``
            and ``withdrawn``).
        user
            Who changes them.

        Returns
        -------
        int
            Number of subjects updated.

        Raises
        ------
        SubjectBatchError
            Bad status, missing reason or a subject repeated in the frame (every row listed).
        NotFoundError
            Unknown subject(s).
        StateError
            A change the rules of :meth:`update_subject_status` refuse (e.g. completing a
            subject never randomised). Nothing is written in any case.
        """
        from ssctrial.store._bulk_subjects import update_subject_statuses

        return update_subject_statuses(self, frame, user=user)

    def record_visit(
        self, subject_id: str, visit: str, *, user: str, visit_date: date | str, reason: str | None = None
    ) -> None:
        """Record a visit's date (checked against the schedule's window); a change needs a reason."""
        from ssctrial.store._subjects import record_visit

        record_visit(self, subject_id, visit, user=user, visit_date=visit_date, reason=reason)

    def record_observations(
        self,
        data: pd.DataFrame,
        *,
        user: str,
        reason: str | None = None,
        progress: Any = None,
    ) -> Any:
        """Validate and write long-format observations, all or nothing.

        See :func:`ssctrial.store.record_observations` (the one validated path that CSV import,
        the simulator and the web forms use).
        """
        from ssctrial.store._observations import record_observations

        return record_observations(self, data, user=user, reason=reason, progress=progress)

    def record_adverse_event(self, subject_id: str, *, user: str, **fields: Any) -> int:
        """Record an adverse event; see :func:`ssctrial.store.record_adverse_event`."""
        from ssctrial.store._events import record_adverse_event

        return record_adverse_event(self, subject_id, user=user, **fields)

    def record_adverse_events(self, frame: pd.DataFrame, *, user: str) -> list[int]:
        """Record many adverse events in one transaction, all or nothing; return their ids in row order.

        Parameters
        ----------
        frame
            One row per event: ``subject_id``, ``term``, ``body_system``, ``start_date``,
            ``grade``, ``serious``, ``relatedness``; optional ``outcome`` (default ``unknown``)
            and ``stop_date`` (a missing cell means not given).
        user
            Who records (investigator or admin).

        Raises
        ------
        SubjectBatchError
            Any row refused by the rules of :meth:`record_adverse_event` (same messages);
            ``errors`` lists every problem.
        NotFoundError
            Otherwise valid rows name unknown subjects (all listed).

        Notes
        -----
        Nothing is written when any row is refused. The audit rows are those of
        :meth:`record_adverse_event`, appended in row order in the same transaction.
        """
        from ssctrial.store._bulk_events import record_adverse_events

        return record_adverse_events(self, frame, user=user)

    def record_sample(self, biospecimen_id: str, *, user: str, **fields: Any) -> None:
        """Record a biospecimen; see :func:`ssctrial.store.record_sample`."""
        from ssctrial.store._events import record_sample

        record_sample(self, biospecimen_id, user=user, **fields)

    def observations(self) -> pd.DataFrame:
        """Return every observation in long format, in the order written.

        Columns: ``subject``, ``visit``, ``instrument``, ``item``, ``value`` (text),
        ``value_num`` (float or NaN), ``unit``, ``entered_by``, ``entered_at``.
        """
        from ssctrial.store._models import Observation

        cols = (
            Observation.subject_id.label("subject"),
            Observation.visit_code.label("visit"),
            Observation.instrument,
            Observation.item,
            Observation.value,
            Observation.value_num,
            Observation.unit,
            Observation.entered_by,
            Observation.entered_at,
        )
        with self.reader.connect() as conn:
            rows = conn.execute(select(*cols).order_by(Observation.id)).all()
        out = pd.DataFrame(rows, columns=[c.name for c in cols])
        out["value_num"] = out["value_num"].astype(float)
        return out

    # ------------------------------------------------------------------ randomisation secret
    def read_randomization_secret(self, *, user: str) -> dict[str, Any]:
        """Return the allocation seed and method (statistician role only; the read is audited)."""
        with self.session() as s:
            self.check_role(s, user, "read_secret")
            row = (
                s.execute(select(RandomizationSecret).order_by(RandomizationSecret.id.desc()))
                .scalars()
                .first()
            )
            if row is None:
                msg = "no randomisation secret stored: the allocation list has not been created"
                raise NotFoundError(msg)
            self.audit(
                s,
                user=user,
                action="read",
                table="randomization_secret",
                record=str(row.id),
                reason="secret read for audit",
            )
            return {
                "seed": row.seed,
                "method": row.method,
                "created_at": row.created_at,
                "created_by": row.created_by,
            }

    # ------------------------------------------------------------------ reading
    def table_names(self) -> list[str]:
        """Names of the store's tables (without Alembic's version table and the web's internal ones)."""
        return [t.name for t in Base.metadata.sorted_tables if t.name not in INTERNAL_TABLES]

    def read_table(self, name: str) -> pd.DataFrame:
        """Return a whole table as a DataFrame (no role needed; concealed tables refused).

        Columns in ``HIDDEN_COLUMNS`` (the password hashes) are never returned.

        Use :func:`~ssctrial.store.export_tables` with a statistician to export concealed tables.
        """
        if name not in self.table_names():
            msg = f"unknown table {name!r}; tables are: {', '.join(self.table_names())}"
            raise NotFoundError(msg)
        if name in CONCEALED_TABLES:
            msg = f"table {name!r} is concealed (allocation concealment); export it as a statistician"
            raise PermissionDeniedError(msg)
        return self._read_table(name)

    def _read_table(self, name: str) -> pd.DataFrame:
        table = Base.metadata.tables[name]
        hidden = HIDDEN_COLUMNS.get(name, ())
        columns = [c for c in table.columns if c.name not in hidden]
        order = list(table.primary_key.columns)
        with self.reader.connect() as conn:
            rows = conn.execute(select(*columns).order_by(*order)).all()
        return pd.DataFrame(rows, columns=[c.name for c in columns])


def _check_user_name(name: str) -> None:
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", name):
        msg = f"user name {name!r} is not allowed; use 1-64 letters, digits, '.', '_', '-' or '@'"
        raise InputError(msg)


def _design_and_text(design: StudyDesign | str | Path) -> tuple[StudyDesign, str]:
    if isinstance(design, StudyDesign):
        text = yaml.safe_dump(design.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        return design, text
    loaded = load_study(design)
    path = Path(design)
    if path.is_file():
        return loaded, path.read_text(encoding="utf-8")
    from importlib import resources

    text = (resources.files("ssctrial.design.studies") / f"{str(design).lower()}.yaml").read_text("utf-8")
    return loaded, text


def _is_initialised(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    return "study" in names


def init_store(url: str, design: StudyDesign | str | Path, *, user: str) -> Store:
    """Create a new trial store: run the migrations, record the study and its first admin.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///trial.db``, ``postgresql+psycopg://user:pw@host/db``).
    design
        A :class:`~ssctrial.design.StudyDesign`, a study file path or a packaged study name.
    user
        Name of the first user, who becomes an ``admin``.

    Returns
    -------
    Store
        The open store. Create the allocation list next
        (``ssctrial.randomize.create_allocation_list``).

    Raises
    ------
    StateError
        The database already holds a study.
    """
    _check_user_name(user)
    study, text = _design_and_text(design)
    engine = create_store_engine(url)
    if _is_initialised(engine):
        with engine.connect() as conn:
            existing = conn.execute(select(Study.study_id)).scalar()
        if existing is not None:
            engine.dispose()
            msg = f"the database at {url!r} already holds study {existing!r}; open it instead of initialising"
            raise StateError(msg)
    upgrade_to_head(engine)
    store = Store(engine, study, url=url)
    at = now_utc()
    with store.session() as s:
        s.add(AuditHead(id=1, seq=0, hash=GENESIS_HASH))
        s.add(AppUser(name=user, role="admin", active=True, created_at=at, created_by=user))
        s.flush()
        s.add(
            Study(
                study_id=study.study_id,
                title=study.title,
                design_yaml=text,
                design_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                created_at=at,
                created_by=user,
            )
        )
        for site in study.sites:
            s.add(Site(code=site.code, name=site.name))
        entries = [
            AuditEntry("insert", "app_user", user, None, to_json({"role": "admin"}), "store initialised"),
            AuditEntry(
                "insert",
                "study",
                study.study_id,
                None,
                to_json({"design_hash": hashlib.sha256(text.encode("utf-8")).hexdigest()}),
                "store initialised",
            ),
        ]
        entries += [
            AuditEntry("insert", "site", site.code, None, to_json({"name": site.name}))
            for site in study.sites
        ]
        append_audit(s, entries, user=user, at=at)
    logger.info(
        "initialised store for %s at %s", study.study_id, engine.url.render_as_string(hide_password=True)
    )
    return store


def open_store(url: str) -> Store:
    """Open an existing trial store (upgrading its schema to this version's migrations).

    Raises
    ------
    NotFoundError
        No ssctrial store at ``url`` (run ``ssctrial init`` first).
    """
    engine = create_store_engine(url)
    try:
        initialised = _is_initialised(engine)
    except OperationalError as exc:
        engine.dispose()
        msg = f"cannot open the database at {url!r}: {exc.orig}"
        raise NotFoundError(msg) from None
    if not initialised:
        engine.dispose()
        msg = f"no ssctrial store at {url!r}; create one with `ssctrial init`"
        raise NotFoundError(msg)
    with engine.connect() as conn:
        rev = current_revision(conn)
    if rev != head_revision():
        upgrade_to_head(engine)
    with engine.connect() as conn:
        text = conn.execute(select(Study.design_yaml)).scalar()
    if text is None:
        engine.dispose()
        msg = f"the database at {url!r} has no study recorded; it was not initialised completely"
        raise NotFoundError(msg)
    design = validate_study(yaml.safe_load(text), source="stored study", check_instruments=False)
    return Store(engine, design, url=url)


def as_date(value: Any, *, field: str) -> date | None:
    """Parse a date from ``date``, ``datetime`` or ISO text; ``None``/empty gives ``None``."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        msg = f"{field}: {value!r} is not a date; expected YYYY-MM-DD"
        raise InputError(msg) from None
