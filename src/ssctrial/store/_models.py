"""SQLAlchemy 2 models of the trial store.

Every table is created by the Alembic migrations shipped in ``ssctrial/store/migrations``; a
test checks that the migrations and these models agree (autogenerate finds no difference).

Subjects are keyed by their study subject identifier (``subject_id``, e.g. ``BASICS-001``), so
every table refers to a subject by the same string users type.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AE_OUTCOMES",
    "AE_RELATEDNESS",
    "QUERY_STATUSES",
    "ROLES",
    "SUBJECT_STATUSES",
    "AdverseEvent",
    "Allocation",
    "AppUser",
    "AuditHead",
    "AuditLog",
    "Base",
    "DataQuery",
    "Observation",
    "RandomizationList",
    "RandomizationSecret",
    "Sample",
    "Site",
    "Study",
    "Subject",
    "Visit",
    "WebLoginFailure",
    "WebSession",
]

#: User roles, from most to least privileged for data entry.
ROLES: tuple[str, ...] = ("admin", "investigator", "monitor", "statistician")
#: Subject statuses (``screen_failed`` and ``withdrawn`` carry a reason).
SUBJECT_STATUSES: tuple[str, ...] = ("screened", "screen_failed", "randomised", "completed", "withdrawn")
#: Statuses of a data query (a monitor opens, the site answers, the monitor closes).
QUERY_STATUSES: tuple[str, ...] = ("open", "answered", "closed")
#: Relatedness of an adverse event to the study treatment.
AE_RELATEDNESS: tuple[str, ...] = ("not_related", "unlikely", "possible", "probable", "definite")
#: Outcome of an adverse event.
AE_OUTCOMES: tuple[str, ...] = (
    "recovered",
    "recovering",
    "not_recovered",
    "recovered_with_sequelae",
    "fatal",
    "unknown",
)

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=_NAMING)


class Study(Base):
    """The one study this store holds, with the study file it was initialised from."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    design_yaml: Mapped[str] = mapped_column(Text)
    design_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, doc="data lock time (UTC)")
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lock_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Site(Base):
    """A recruiting site."""

    __tablename__ = "site"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class AppUser(Base):
    """A person (or program) who writes to the store, with one role."""

    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True, doc="argon2id hash; never shown")
    site_code: Mapped[str | None] = mapped_column(
        ForeignKey("site.code"), nullable=True, doc="the one site the user may see (NULL: all sites)"
    )


class Subject(Base):
    """An enrolled (screened) subject: demographics needed by the scorers, strata, status."""

    __tablename__ = "subject"
    __table_args__ = (
        CheckConstraint(_in("status", SUBJECT_STATUSES), name="status"),
        CheckConstraint("sex IN ('F', 'M')", name="sex"),
    )

    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_code: Mapped[str | None] = mapped_column(ForeignKey("site.code"), nullable=True)
    consent_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    strata: Mapped[str] = mapped_column(Text, doc="JSON object: factor code -> level")
    stratum: Mapped[str] = mapped_column(String(255), doc="canonical stratum key")
    status: Mapped[str] = mapped_column(String(16), default="screened")
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime)
    enrolled_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class RandomizationList(Base):
    """One slot of the concealed allocation sequence of a stratum."""

    __tablename__ = "randomization_list"
    __table_args__ = (UniqueConstraint("stratum", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stratum: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)
    arm: Mapped[str] = mapped_column(String(32))
    block: Mapped[int] = mapped_column(Integer)
    block_size: Mapped[int] = mapped_column(Integer)
    used_by_subject_id: Mapped[str | None] = mapped_column(
        ForeignKey("subject.subject_id"), unique=True, nullable=True
    )
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RandomizationSecret(Base):
    """The secret seed of the allocation sequence (read only via the statistician API)."""

    __tablename__ = "randomization_secret"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seed: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class Allocation(Base):
    """A subject's randomised arm (at most one per subject)."""

    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subject.subject_id"), unique=True)
    arm: Mapped[str] = mapped_column(String(32))
    stratum: Mapped[str] = mapped_column(String(255))
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("randomization_list.id"), unique=True, nullable=True
    )
    randomized_at: Mapped[datetime] = mapped_column(DateTime)
    randomized_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class Visit(Base):
    """A visit that took place (or is being entered) for a subject."""

    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("subject_id", "visit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subject.subject_id"))
    visit_code: Mapped[str] = mapped_column(String(32))
    visit_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class Observation(Base):
    """One item value of one instrument at one visit (item level, as captured)."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("subject_id", "visit_code", "instrument", "item"),
        ForeignKeyConstraint(
            ["subject_id", "visit_code"],
            ["visit.subject_id", "visit.visit_code"],
            name="fk_observation_visit",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subject.subject_id"))
    visit_code: Mapped[str] = mapped_column(String(32))
    instrument: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text, nullable=True, doc="canonical text of the value")
    value_num: Mapped[float | None] = mapped_column(Float, nullable=True, doc="numeric value, if numeric")
    unit: Mapped[str | None] = mapped_column(String(16), nullable=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class AdverseEvent(Base):
    """An adverse event (CTCAE grade 1-5)."""

    __tablename__ = "adverse_event"
    __table_args__ = (
        CheckConstraint("grade BETWEEN 1 AND 5", name="grade"),
        CheckConstraint(_in("relatedness", AE_RELATEDNESS), name="relatedness"),
        CheckConstraint(_in("outcome", AE_OUTCOMES), name="outcome"),
        CheckConstraint("stop_date IS NULL OR stop_date >= start_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subject.subject_id"))
    term: Mapped[str] = mapped_column(Text)
    body_system: Mapped[str] = mapped_column(Text)
    start_date: Mapped[date] = mapped_column(Date)
    stop_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    grade: Mapped[int] = mapped_column(Integer)
    serious: Mapped[bool] = mapped_column(Boolean)
    relatedness: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class Sample(Base):
    """A biospecimen, with the path of its counts file (``.h5ad``) when assayed."""

    __tablename__ = "sample"

    biospecimen_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subject.subject_id"))
    visit_code: Mapped[str] = mapped_column(String(32))
    assay: Mapped[str] = mapped_column(String(32))
    counts_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    collected_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    entered_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))


class DataQuery(Base):
    """A monitor's question about a subject's data (optionally one visit, instrument and item)."""

    __tablename__ = "data_query"
    __table_args__ = (CheckConstraint(_in("status", QUERY_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subject.subject_id"))
    visit_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    instrument: Mapped[str | None] = mapped_column(String(32), nullable=True)
    item: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(ForeignKey("app_user.name"))
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.name"), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.name"), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    close_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditLog(Base):
    """Append-only, hash-chained history of every change.

    ``hash`` = SHA-256 of the row's content and ``prev_hash`` (see ``_audit.py``); ``id`` is the
    position in the chain (1, 2, ...), so a deleted row leaves a gap.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32), doc="UTC ISO 8601 timestamp")
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    table_name: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(Text)
    old: Mapped[str | None] = mapped_column(Text, nullable=True, doc="JSON of the old values")
    new: Mapped[str | None] = mapped_column(Text, nullable=True, doc="JSON of the new values")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the length and last hash of the audit chain (also the writers' lock)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class WebSession(Base):
    """A web session (server side; the cookie holds only the token, this row its SHA-256).

    Internal to the web interface: not exported and not audited (log-ins and log-outs are).
    """

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    site_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    flash: Mapped[str | None] = mapped_column(Text, nullable=True, doc="JSON list of [kind, message]")


class WebLoginFailure(Base):
    """A failed web log-in, per key (``user:NAME`` or ``addr:ADDRESS``), for the rate limit."""

    __tablename__ = "web_login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
