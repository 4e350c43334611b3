"""The append-only, hash-chained audit log.

Each row's ``hash`` is the SHA-256 of its position, timestamp, user, action, table, record key,
old and new values (JSON), reason and the previous row's hash. The one-row ``audit_head`` table
holds the chain's length and last hash; writers lock it (``SELECT ... FOR UPDATE``; on SQLite
every write transaction holds the database lock), so the chain is strictly sequential even with
many concurrent writers. Editing, deleting or inserting a row behind the application's back
breaks the chain, and :func:`verify_audit_chain` reports where.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssctrial.store._models import AuditHead, AuditLog

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["GENESIS_HASH", "AuditReport", "audit_row_hash", "verify_audit_chain"]

logger = logging.getLogger(__name__)

#: ``prev_hash`` of the first audit row.
GENESIS_HASH = "0" * 64
_SEP = "\x1e"
_NULL = "\x00"


def audit_row_hash(
    prev_hash: str,
    row: Sequence[Any],
) -> str:
    """Return the chain hash of one audit row.

    Parameters
    ----------
    prev_hash
        Hash of the previous row (:data:`GENESIS_HASH` for the first).
    row
        ``(id, at, user_name, action, table_name, record_key, old, new, reason)``.
    """
    parts = [prev_hash, *(_NULL if v is None else str(v) for v in row)]
    return hashlib.sha256(_SEP.join(parts).encode("utf-8")).hexdigest()


def to_json(values: Any) -> str | None:
    """Canonical JSON of an audited value (sorted keys, dates as ISO text)."""
    if values is None:
        return None
    return json.dumps(values, sort_keys=True, default=str, separators=(",", ":"), ensure_ascii=False)


def now_utc() -> datetime:
    """Return the current UTC time as a naive datetime (the store keeps UTC throughout)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(at: datetime) -> str:
    """ISO 8601 text of a naive UTC datetime, with a ``Z``."""
    return at.isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class AuditEntry:
    """One change to audit (before it is numbered and hashed)."""

    action: str
    table: str
    record: str
    old: str | None = None
    new: str | None = None
    reason: str | None = None


def append_audit(
    session: Session,
    entries: Iterable[AuditEntry] | Iterable[tuple[str, str, str, str | None, str | None, str | None]],
    *,
    user: str,
    at: datetime | None = None,
) -> int:
    """Append audit rows in the session's transaction; return how many were written.

    ``entries`` are :class:`AuditEntry` objects or plain tuples
    ``(action, table, record, old_json, new_json, reason)`` (the bulk path).
    """
    stamp = iso(at or now_utc())
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    seq, prev = int(head.seq), str(head.hash)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    sha256 = hashlib.sha256
    sep = _SEP
    null = _NULL
    middle = f"{sep}{stamp}{sep}{user}{sep}"
    for entry in entries:
        if isinstance(entry, AuditEntry):
            action, table, record, old, new, reason = (
                entry.action,
                entry.table,
                entry.record,
                entry.old,
                entry.new,
                entry.reason,
            )
        else:
            action, table, record, old, new, reason = entry
        seq += 1
        # same bytes as audit_row_hash(prev, (seq, stamp, user, action, table, record, old, new, reason))
        payload = (
            f"{prev}{sep}{seq}{middle}{action}{sep}{table}{sep}{record}{sep}"
            f"{null if old is None else old}{sep}{null if new is None else new}{sep}"
            f"{null if reason is None else reason}"
        )
        digest = sha256(payload.encode("utf-8")).hexdigest()
        append((seq, stamp, user, action, table, record, old, new, reason, prev, digest))
        prev = digest
    if not rows:
        return 0
    conn = session.connection()
    sql = insert_sql(conn, "audit_log", _AUDIT_COLUMNS)
    for start in range(0, len(rows), 50_000):
        conn.exec_driver_sql(sql, rows[start : start + 50_000])
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return len(rows)


def append_audit_inserts(
    session: Session,
    table: str,
    records: Sequence[str],
    new: Sequence[str],
    *,
    user: str,
    at: datetime | None = None,
) -> int:
    """Append one ``insert`` audit row per record (no old value, no reason): the bulk-insert path.

    Exactly the rows :func:`append_audit` writes for the entries
    ``("insert", table, record, None, new_json, None)``, built without a tuple per entry.
    """
    n = len(records)
    if n != len(new):
        msg = f"append_audit_inserts: {n} records but {len(new)} new values"
        raise ValueError(msg)
    if n == 0:
        return 0
    stamp = iso(at or now_utc())
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    seq, prev = int(head.seq), str(head.hash)
    sep = _SEP
    # same bytes as audit_row_hash(prev, (seq, stamp, user, "insert", table, record, None, new, None))
    middle = f"{sep}{stamp}{sep}{user}{sep}insert{sep}{table}{sep}"
    after_record = f"{sep}{_NULL}{sep}"
    tail = f"{sep}{_NULL}"
    sha256 = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for record, value in zip(records, new, strict=True):
        seq += 1
        digest = sha256(f"{prev}{sep}{seq}{middle}{record}{after_record}{value}{tail}".encode()).hexdigest()
        append((seq, stamp, user, "insert", table, record, None, value, None, prev, digest))
        prev = digest
    conn = session.connection()
    sql = insert_sql(conn, "audit_log", _AUDIT_COLUMNS)
    for start in range(0, n, 50_000):
        conn.exec_driver_sql(sql, rows[start : start + 50_000])
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return n


_AUDIT_COLUMNS = (
    "id",
    "at",
    "user_name",
    "action",
    "table_name",
    "record_key",
    "old",
    "new",
    "reason",
    "prev_hash",
    "hash",
)


def insert_sql(conn: Any, table: str, columns: Sequence[str]) -> str:
    """Return a plain ``INSERT`` statement in the driver's parameter style (for ``executemany``)."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        marks = ", ".join("?" for _ in columns)
    elif style in ("format", "pyformat"):
        marks = ", ".join("%s" for _ in columns)
    elif style == "numeric":
        marks = ", ".join(f":{i + 1}" for i in range(len(columns)))
    else:  # pragma: no cover - named styles are not used by the supported drivers
        msg = f"unsupported DBAPI paramstyle {style!r}"
        raise RuntimeError(msg)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


@dataclass
class AuditReport:
    """Result of :func:`verify_audit_chain`.

    Attributes
    ----------
    ok
        Whether the whole chain verified.
    n_rows
        Rows read from the audit log.
    problems
        One line per problem found (row id and what is wrong).
    head_hash
        The last hash of the chain (record it elsewhere to anchor the log).
    """

    ok: bool
    n_rows: int
    problems: list[str] = field(default_factory=list)
    head_hash: str = GENESIS_HASH

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.n_rows} rows, head {self.head_hash[:16]}..."
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return f"audit chain BROKEN: {len(self.problems)} problem(s) in {self.n_rows} rows: {shown}{more}"


def verify_audit_chain(store: Store) -> AuditReport:
    """Recompute the audit chain and report every edited, deleted or inserted row.

    Parameters
    ----------
    store
        An open :class:`~ssctrial.store.Store`.

    Returns
    -------
    AuditReport
        ``ok`` is ``True`` only when every row's hash matches its content and the previous row,
        the ids run 1, 2, ... without gaps, and the chain ends at the hash kept in ``audit_head``.
    """
    problems: list[str] = []
    prev = GENESIS_HASH
    expected_id = 1
    n = 0
    cols = (
        AuditLog.id,
        AuditLog.at,
        AuditLog.user_name,
        AuditLog.action,
        AuditLog.table_name,
        AuditLog.record_key,
        AuditLog.old,
        AuditLog.new,
        AuditLog.reason,
        AuditLog.prev_hash,
        AuditLog.hash,
    )
    with store.reader.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for the head and the rows
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
        result = conn.execution_options(yield_per=20_000).execute(select(*cols).order_by(AuditLog.id))
        for row in result:
            n += 1
            rid = int(row.id)
            if rid != expected_id:
                if rid > expected_id:
                    problems.append(f"rows {expected_id}..{rid - 1} are missing (deleted)")
                else:
                    problems.append(f"row {rid}: out of sequence (expected {expected_id})")
            if row.prev_hash != prev:
                problems.append(f"row {rid}: prev_hash does not match the previous row's hash")
            content = (
                rid,
                row.at,
                row.user_name,
                row.action,
                row.table_name,
                row.record_key,
                row.old,
                row.new,
                row.reason,
            )
            digest = audit_row_hash(row.prev_hash, content)
            if digest != row.hash:
                problems.append(
                    f"row {rid} ({row.table_name} {row.record_key}): content does not match its hash (edited)"
                )
            prev = row.hash
            expected_id = rid + 1
    if head is None:
        problems.append("audit_head is missing")
    else:
        if int(head.seq) != expected_id - 1:
            problems.append(
                f"audit_head says the chain has {head.seq} rows but it ends at row {expected_id - 1} "
                "(rows deleted from the end, or added outside the application)"
            )
        if head.hash != prev:
            problems.append("audit_head hash does not match the last row's hash")
    report = AuditReport(ok=not problems, n_rows=n, problems=problems, head_hash=prev)
    logger.info("%s", report)
    return report
