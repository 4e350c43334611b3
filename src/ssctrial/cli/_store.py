"""Data capture commands: enroll, record, ae, import, export, audit verify, status, users, lock, unlock.

Every write names its user (``--user`` or ``SSCTRIAL_USER``); the store checks the user's role.
The database is ``--db`` (``SSCTRIAL_DB``, default ``sqlite:///ssctrial.db``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from ssctrial.exceptions import InputError, StateError

logger = logging.getLogger(__name__)

console = Console(soft_wrap=True)

_DEFAULT_DB = "sqlite:///ssctrial.db"
_DB_HELP = "Database URL (sqlite:///trial.db or postgresql+psycopg://user:pw@host/db); env SSCTRIAL_DB."
_USER_HELP = "Who does this (stored with every change; roles are checked); env SSCTRIAL_USER."

DbOption = Annotated[str, typer.Option("--db", envvar="SSCTRIAL_DB", help=_DB_HELP)]
UserOption = Annotated[str, typer.Option("--user", envvar="SSCTRIAL_USER", help=_USER_HELP)]


def _need_user(user: str) -> str:
    if not user or not user.strip():
        msg = "--user: every write must name its user (--user NAME or SSCTRIAL_USER)"
        raise InputError(msg)
    return user.strip()


def _one_line(exc: Exception, *, limit: int = 3) -> str:
    """Squash a multi-line validation message into one line (first ``limit`` problems)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(exc).__name__
    head, rest = lines[0].rstrip(":"), lines[1:]
    more = f"; ... {len(rest) - limit} more" if len(rest) > limit else ""
    return f"{head}: " + "; ".join(rest[:limit]) + more


def _parse_pairs(pairs: list[str], *, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            msg = f"{option} {pair!r}: expected NAME=VALUE (e.g. {option} face=2)"
            raise InputError(msg)
        key, value = pair.split("=", 1)
        key = key.strip()
        if not key:
            msg = f"{option} {pair!r}: the name before '=' is empty"
            raise InputError(msg)
        if key in out:
            msg = f"{option}: {key!r} is given twice"
            raise InputError(msg)
        out[key] = value.strip()
    return out


# ---------------------------------------------------------------------------------------------- enroll
def enroll(
    subject: Annotated[str, typer.Argument(help="Subject identifier (e.g. BASICS-001).")],
    consent_date: Annotated[
        str, typer.Option("--consent-date", help="Date of informed consent, YYYY-MM-DD.")
    ],
    sex: Annotated[str, typer.Option("--sex", help="F or M.")],
    stratum: Annotated[
        list[str] | None,
        typer.Option("--stratum", help="Stratification factor level, FACTOR=LEVEL (repeat for each factor)."),
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="Site code (default: the study's only site).")
    ] = None,
    birth_date: Annotated[str | None, typer.Option("--birth-date", help="YYYY-MM-DD.")] = None,
    height_cm: Annotated[float | None, typer.Option("--height-cm", help="Height in cm.")] = None,
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Enrol (screen) a subject with consent date, sex and stratification factors."""
    from ssctrial.store import open_store

    user = _need_user(user)
    strata = _parse_pairs(stratum or [], option="--stratum")
    store = open_store(db)
    try:
        values = store.enroll_subject(
            subject,
            user=user,
            consent_date=consent_date,
            sex=sex,
            strata=strata,
            site=site,
            birth_date=birth_date,
            height_cm=height_cm,
        )
    finally:
        store.close()
    console.print(
        f"[bold]{subject}[/] enrolled (screened); stratum {values['stratum'] or '(none)'}; by {user}",
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------- record
def record(
    subject: Annotated[str, typer.Argument(help="Subject identifier.")],
    visit: Annotated[str, typer.Argument(help="Visit code (SCR, BL, W4, ...).")],
    instrument: Annotated[
        str, typer.Option("--instrument", "-i", help="Instrument code (MRSS, HAQ_DI, PFT...).")
    ],
    item: Annotated[
        list[str], typer.Option("--item", help="ITEM=VALUE, repeat for each item (e.g. --item face=2).")
    ],
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit of the values (must match the items').")
    ] = None,
    visit_date: Annotated[
        str | None, typer.Option("--visit-date", help="Date of the visit, YYYY-MM-DD.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Reason, required to correct stored values.")
    ] = None,
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Record item values of one instrument at one visit (validated; all or nothing)."""
    from ssctrial.store import ObservationError, open_store

    user = _need_user(user)
    values = _parse_pairs(item, option="--item")
    data = pd.DataFrame(
        {
            "subject": subject,
            "visit": visit,
            "instrument": instrument,
            "item": list(values),
            "value": [v if v != "" else None for v in values.values()],
        }
    )
    if unit is not None:
        data["unit"] = unit
    if visit_date is not None:
        data["visit_date"] = visit_date
    store = open_store(db)
    try:
        result = store.record_observations(data, user=user, reason=reason)
    except ObservationError as exc:
        raise InputError(_one_line(exc)) from None
    finally:
        store.close()
    console.print(
        f"{subject} {visit} {instrument.upper()}: {result.n_inserted} new, {result.n_updated} corrected, "
        f"{result.n_unchanged} unchanged; by {user}",
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------- ae
def ae(
    subject: Annotated[str, typer.Argument(help="Subject identifier.")],
    term: Annotated[str, typer.Option("--term", help="Reported term (e.g. 'Herpes zoster').")],
    body_system: Annotated[str, typer.Option("--body-system", help="System organ class.")],
    start: Annotated[str, typer.Option("--start", help="Onset date, YYYY-MM-DD.")],
    grade: Annotated[int, typer.Option("--grade", help="CTCAE grade 1-5.")],
    relatedness: Annotated[
        str, typer.Option("--relatedness", help="not_related, unlikely, possible, probable or definite.")
    ],
    serious: Annotated[bool, typer.Option("--serious/--not-serious", help="Serious adverse event?")] = False,
    outcome: Annotated[
        str, typer.Option("--outcome", help="recovered, recovering, not_recovered, ...")
    ] = "unknown",
    stop: Annotated[str | None, typer.Option("--stop", help="Resolution date, YYYY-MM-DD.")] = None,
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Record an adverse event."""
    from ssctrial.store import open_store

    user = _need_user(user)
    store = open_store(db)
    try:
        ae_id = store.record_adverse_event(
            subject,
            user=user,
            term=term,
            body_system=body_system,
            start_date=start,
            stop_date=stop,
            grade=grade,
            serious=serious,
            relatedness=relatedness,
            outcome=outcome,
        )
    finally:
        store.close()
    console.print(f"adverse event {ae_id} recorded for {subject} (grade {grade}); by {user}", highlight=False)


# ---------------------------------------------------------------------------------------------- import
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV file: long (subject,visit,instrument,item,value) or wide.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, long or redcap.")] = "auto",
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Write bad rows here and import the rest (else all or none)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Where to write the row-by-row error report (CSV).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Reason for corrections of stored values.")
    ] = None,
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Import observations from a CSV file, whole or not at all (or with --rejects)."""
    from rich.progress import Progress

    from ssctrial.store import ObservationError, import_csv, open_store

    user = _need_user(user)
    store = open_store(db)
    report_path = report or file.with_name(file.name + ".errors.csv")
    try:
        err = Console(stderr=True)
        with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task(f"importing {file.name}", total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total or None, description=f"{stage} {file.name}")

            result = import_csv(
                store,
                file,
                user=user,
                format=fmt,
                rejects=rejects,
                reason=reason,  # type: ignore[arg-type]
                progress=progress,
            )
    except ObservationError as exc:
        exc.errors.to_csv(report_path, index=False)
        msg = f"{_one_line(exc, limit=1)}; full report: {report_path}"
        raise InputError(msg) from None
    finally:
        store.close()
    if len(result.errors):
        result.errors.to_csv(report_path, index=False)
    console.print(str(result), highlight=False)


# ---------------------------------------------------------------------------------------------- export
def export(
    directory: Annotated[Path, typer.Argument(help="Output folder.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Table to export (repeat; default all).")
    ] = None,
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Export tables to CSV or Parquet (concealed randomisation tables: statisticians only)."""
    from ssctrial.store import export_tables, open_store

    user = _need_user(user)
    store = open_store(db)
    try:
        files = export_tables(store, directory, user=user, format=fmt, tables=table)  # type: ignore[arg-type]
    finally:
        store.close()
    console.print(
        f"exported {len(files)} tables to {directory}: {', '.join(f.name for f in files)}", highlight=False
    )


# ---------------------------------------------------------------------------------------------- audit
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(db: DbOption = _DEFAULT_DB) -> None:
    """Recompute the audit chain; exit 1 if any row was edited, deleted or inserted behind its back."""
    from ssctrial.store import open_store, verify_audit_chain

    store = open_store(db)
    try:
        report = verify_audit_chain(store)
    finally:
        store.close()
    if not report.ok:
        raise StateError(str(report))
    console.print(str(report), highlight=False)


# ---------------------------------------------------------------------------------------------- users
users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)


def _read_password(name: str) -> str:
    """Return the password from ``SSCTRIAL_PASSWORD`` (scripts, tests) or a hidden prompt, asked twice."""
    import os

    from_env = os.environ.get("SSCTRIAL_PASSWORD")
    if from_env is not None:
        return from_env
    return str(typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True))


def _store_creator(store: Any) -> str:
    from sqlalchemy import select

    from ssctrial.store import Study

    with store.reader.connect() as conn:
        return str(conn.execute(select(Study.created_by)).scalar() or "")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="New user's name.")],
    role: Annotated[str, typer.Option("--role", help="admin, investigator, monitor or statistician.")],
    site: Annotated[
        str | None, typer.Option("--site", help="Restrict the user to this site (default: all sites).")
    ] = None,
    password: Annotated[
        bool,
        typer.Option(
            "--password/--no-password",
            help="Set a password for the web interface (prompted twice, hidden; or env SSCTRIAL_PASSWORD).",
        ),
    ] = False,
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Add a user with a role (admins only).

    The first web admin: while no account has a password, ``--role admin --password`` needs no
    ``--user`` (the store's creator, from ``ssctrial init``, is recorded as the one who added it).
    """
    from ssctrial.store import open_store

    store = open_store(db)
    try:
        if not user and role == "admin" and password and not bool(store.users()["has_password"].any()):
            user = _store_creator(store)
        user = _need_user(user)
        secret = _read_password(name) if password else None
        store.add_user(name, role, user=user, site=site, password=secret)
    finally:
        store.close()
    where = f" at site {site}" if site else ""
    with_pw = " with a password" if password else ""
    console.print(f"user {name} added with role {role}{where}{with_pw}; by {user}", highlight=False)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="Whose password (an existing user).")],
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Set a user's password (an admin, or the user themself; default --user: NAME)."""
    from ssctrial.store import open_store

    user = user.strip() if user and user.strip() else name
    secret = _read_password(name)
    store = open_store(db)
    try:
        store.set_password(name, secret, user=user)
    finally:
        store.close()
    console.print(f"password of {name} changed; by {user}", highlight=False)


@users_app.command("list")
def users_list(db: DbOption = _DEFAULT_DB) -> None:
    """List users, roles, sites and whether each has a password."""
    from ssctrial.store import open_store

    store = open_store(db)
    try:
        users = store.users()
    finally:
        store.close()
    table = Table(title="Users", title_justify="left")
    for col in ("name", "role", "site", "password", "active", "created by"):
        table.add_column(col)
    for r in users.itertuples(index=False):
        table.add_row(
            r.name,
            r.role,
            r.site_code or "all",
            "set" if r.has_password else "none",
            "yes" if r.active else "no",
            r.created_by,
        )
    console.print(table)


# ---------------------------------------------------------------------------------------------- lock
def _set_lock(db: str, user: str, reason: str, *, locked: bool) -> None:
    from ssctrial.store import open_store

    user = _need_user(user)
    store = open_store(db)
    try:
        (store.lock if locked else store.unlock)(user=user, reason=reason)
        state = store.lock_state()
    finally:
        store.close()
    if locked:
        message = f"database locked at {state['locked_at']:%Y-%m-%dT%H:%M:%SZ} by {user}: {state['reason']}"
    else:
        message = f"database unlocked by {user}: {reason.strip()}"
    console.print(message, highlight=False)


def lock(
    reason: Annotated[str, typer.Option("--reason", help="Why the data are locked (audited).")],
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Lock the database (statistician): no data change until an audited unlock."""
    _set_lock(db, user, reason, locked=True)


def unlock(
    reason: Annotated[str, typer.Option("--reason", help="Why the data are unlocked (audited).")],
    db: DbOption = _DEFAULT_DB,
    user: UserOption = "",
) -> None:
    """Unlock the database (statistician; the reason is audited)."""
    _set_lock(db, user, reason, locked=False)


# ---------------------------------------------------------------------------------------------- status
def status(db: DbOption = _DEFAULT_DB) -> None:
    """Summarise enrolment by arm, stratum and visit."""
    from ssctrial.store import open_store

    store = open_store(db)
    try:
        summary = _status_frames(store)
    finally:
        store.close()
    design_title, subjects, visits, arms = summary
    console.print(f"[bold]{design_title}[/]", highlight=False)
    columns = [*arms, "not randomised", "total"]

    by_status = Table(title="Subjects by status and arm", title_justify="left")
    by_status.add_column("status")
    for c in columns:
        by_status.add_column(c, justify="right")
    for st, grp in subjects.groupby("status", sort=False):
        counts = grp["arm"].value_counts()
        by_status.add_row(st, *[str(int(counts.get(c, 0))) for c in columns[:-1]], str(len(grp)))
    counts = subjects["arm"].value_counts()
    by_status.add_row("[bold]all[/]", *[str(int(counts.get(c, 0))) for c in columns[:-1]], str(len(subjects)))
    console.print(by_status)

    by_stratum = Table(title="Subjects by stratum and arm", title_justify="left")
    by_stratum.add_column("stratum", overflow="fold")
    for c in columns:
        by_stratum.add_column(c, justify="right")
    for key, grp in subjects.groupby("stratum", sort=True):
        counts = grp["arm"].value_counts()
        by_stratum.add_row(
            key or "(none)", *[str(int(counts.get(c, 0))) for c in columns[:-1]], str(len(grp))
        )
    console.print(by_stratum)

    by_visit = Table(title="Visits with data, by arm", title_justify="left")
    by_visit.add_column("visit")
    for c in columns:
        by_visit.add_column(c, justify="right")
    for code, label in visits[0]:
        grp = visits[1].loc[visits[1]["visit_code"] == code]
        counts = grp["arm"].value_counts()
        by_visit.add_row(
            f"{code} ({label})", *[str(int(counts.get(c, 0))) for c in columns[:-1]], str(len(grp))
        )
    console.print(by_visit)


def _status_frames(store) -> tuple:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ssctrial.store import Allocation, Subject, Visit

    with store.reader.connect() as conn:
        subj = pd.DataFrame(
            conn.execute(
                select(Subject.subject_id, Subject.status, Subject.stratum, Allocation.arm).outerjoin(
                    Allocation, Allocation.subject_id == Subject.subject_id
                )
            ).all(),
            columns=["subject_id", "status", "stratum", "arm"],
        )
        vis = pd.DataFrame(
            conn.execute(
                select(Visit.subject_id, Visit.visit_code, Allocation.arm).outerjoin(
                    Allocation, Allocation.subject_id == Visit.subject_id
                )
            ).all(),
            columns=["subject_id", "visit_code", "arm"],
        )
    subj["arm"] = subj["arm"].fillna("not randomised")
    vis["arm"] = vis["arm"].fillna("not randomised")
    design = store.design
    order = {
        s: i for i, s in enumerate(("screened", "randomised", "completed", "withdrawn", "screen_failed"))
    }
    subj = subj.sort_values("status", key=lambda s: s.map(order), kind="stable")
    visits = ([(v.code, v.label) for v in design.visits], vis)
    return f"{design.study_id}: {design.title}", subj, visits, design.arm_codes


def register(app: typer.Typer) -> None:
    """Add the data capture commands to the ``ssctrial`` app."""
    app.command("enroll")(enroll)
    app.command("record")(record)
    app.command("ae")(ae)
    app.command("import")(import_)
    app.command("export")(export)
    app.command("status")(status)
    app.command("lock")(lock)
    app.command("unlock")(unlock)
    app.add_typer(audit_app, name="audit")
    app.add_typer(users_app, name="users")
