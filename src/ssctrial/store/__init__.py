"""The trial store: SQL database (SQLite by default, PostgreSQL by URL) with an audit trail.

``init_store(url, design, user=...)`` creates a store, ``open_store(url)`` opens one. Every write
names its user, whose role is checked, and appends to the hash-chained ``audit_log``
(:func:`verify_audit_chain`). :meth:`Store.record_observations` is the one validated path for
item-level data; :func:`import_csv` and :func:`export_tables` move files in and out.
"""

from __future__ import annotations

from ssctrial.store._access import check_site_access
from ssctrial.store._audit import GENESIS_HASH, AuditReport, audit_row_hash, verify_audit_chain
from ssctrial.store._bulk_subjects import SubjectBatchError
from ssctrial.store._engine import DEFAULT_URL, create_store_engine
from ssctrial.store._events import record_adverse_event, record_sample
from ssctrial.store._io import ImportReport, export_tables, import_csv, read_import_file
from ssctrial.store._lock import LOCK_REFUSED_ACTIONS
from ssctrial.store._models import (
    AE_OUTCOMES,
    AE_RELATEDNESS,
    QUERY_STATUSES,
    ROLES,
    SUBJECT_STATUSES,
    AdverseEvent,
    Allocation,
    AppUser,
    AuditHead,
    AuditLog,
    Base,
    DataQuery,
    Observation,
    RandomizationList,
    RandomizationSecret,
    Sample,
    Site,
    Study,
    Subject,
    Visit,
    WebLoginFailure,
    WebSession,
)
from ssctrial.store._observations import (
    ObservationError,
    RecordResult,
    record_observations,
    validate_observations,
)
from ssctrial.store._store import (
    CONCEALED_TABLES,
    HIDDEN_COLUMNS,
    PERMISSIONS,
    Store,
    init_store,
    open_store,
)

__all__ = [
    "SubjectBatchError",
    "AE_OUTCOMES",
    "AE_RELATEDNESS",
    "CONCEALED_TABLES",
    "DEFAULT_URL",
    "GENESIS_HASH",
    "HIDDEN_COLUMNS",
    "LOCK_REFUSED_ACTIONS",
    "QUERY_STATUSES",
    "ImportReport",
    "PERMISSIONS",
    "ROLES",
    "SUBJECT_STATUSES",
    "AdverseEvent",
    "Allocation",
    "AppUser",
    "AuditHead",
    "AuditLog",
    "AuditReport",
    "Base",
    "DataQuery",
    "Observation",
    "ObservationError",
    "RandomizationList",
    "RandomizationSecret",
    "RecordResult",
    "Sample",
    "Site",
    "Store",
    "Study",
    "Subject",
    "Visit",
    "WebLoginFailure",
    "WebSession",
    "audit_row_hash",
    "check_site_access",
    "create_store_engine",
    "export_tables",
    "import_csv",
    "init_store",
    "open_store",
    "read_import_file",
    "record_adverse_event",
    "record_observations",
    "record_sample",
    "validate_observations",
    "verify_audit_chain",
]
