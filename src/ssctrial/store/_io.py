"""Import (long CSV and wide REDCap-style CSV) and export (CSV, Parquet) of the store."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.store._observations import ObservationError, Progress, RecordResult, _empty_errors, record_many

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["ImportReport", "export_tables", "import_csv", "read_import_file"]

logger = logging.getLogger(__name__)

_LONG = ("subject", "visit", "instrument", "item", "value")
_SUBJECT_ALIASES = ("subject", "record_id", "subject_id", "usubjid")
_VISIT_ALIASES = ("visit", "redcap_event_name", "visit_code")
_WIDE_META = ("visit_date", "reason", "redcap_repeat_instrument", "redcap_repeat_instance")


@dataclass
class ImportReport:
    """The outcome of :func:`import_csv`.

    Attributes
    ----------
    path
        The imported file.
    format
        ``long`` or ``redcap``.
    n_rows
        Data rows in the file.
    n_observations
        Observations those rows hold (one per row in long format, one per filled cell in wide).
    n_imported, n_updated, n_unchanged
        Observations inserted, corrected (with a reason) and identical to what was stored.
    n_rejected_rows
        File rows not imported (only with ``rejects=``; otherwise a bad row refuses the file).
    errors
        One row per problem: ``row`` (line number in the file, header = line 1), ``subject``,
        ``visit``, ``instrument``, ``item``, ``value``, ``error``.
    rejects_path
        Where the rejected rows were written, if anywhere.
    """

    path: Path
    format: str
    n_rows: int = 0
    n_observations: int = 0
    n_imported: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    n_rejected_rows: int = 0
    errors: pd.DataFrame = field(default_factory=_empty_errors)
    rejects_path: Path | None = None

    def __str__(self) -> str:
        text = (
            f"{self.path.name} ({self.format}): {self.n_rows} rows, {self.n_observations} observations; "
            f"{self.n_imported} new, {self.n_updated} corrected, {self.n_unchanged} unchanged"
        )
        if self.n_rejected_rows:
            text += f"; {self.n_rejected_rows} rows rejected -> {self.rejects_path}"
        return text


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Read every cell as text; return the frame (with a ``__line`` column) and malformed lines."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
        df.insert(0, "__line", np.arange(2, len(df) + 2))
        return df, []
    except pd.errors.EmptyDataError:
        msg = f"{path.name}: the file is empty; expected a header line and data rows"
        raise InputError(msg) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        logger.info("%s: %s; scanning line by line", path, exc)
    bad: list[tuple[int, str]] = []
    good: list[list[str]] = []
    lines: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8", errors="strict") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            for fields in reader:
                line = reader.line_num
                if len(fields) != len(header):
                    bad.append((line, f"line has {len(fields)} fields; the header has {len(header)}"))
                    continue
                good.append(fields)
                lines.append(line)
    except UnicodeDecodeError as exc:
        msg = f"{path.name}: not UTF-8 text ({exc}); save the file as UTF-8 CSV"
        raise InputError(msg) from None
    df = pd.DataFrame(good, columns=[h.strip() for h in header]).replace({"": np.nan})
    df.insert(0, "__line", np.asarray(lines, dtype=int))
    return df, bad


def _find(columns: list[str], aliases: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for a in aliases:
        if a in lowered:
            return lowered[a]
    return None


def _instrument_prefixes() -> list[tuple[str, str]]:
    import importlib

    registry = importlib.import_module("ssctrial.instruments")
    pairs = [(i.code.lower() + "_", i.code) for i in registry.list_instruments()]
    return sorted(pairs, key=lambda p: -len(p[0]))


def read_import_file(
    path: str | Path, *, format: Literal["auto", "long", "redcap"] = "auto"
) -> tuple[pd.DataFrame, str, int, pd.DataFrame]:
    """Read a long or wide (REDCap-style) CSV into long observations.

    Returns
    -------
    tuple
        ``(observations, format, n_rows, errors)``: long observations with a ``row`` column
        holding the file line, the detected format, the number of data rows, and the problems
        found while reading (malformed lines, unknown columns), in the error-report layout.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"import file {str(path)!r} does not exist"
        raise InputError(msg)
    if format not in ("auto", "long", "redcap"):
        msg = f"format {format!r} is not allowed; expected auto, long or redcap"
        raise InputError(msg)
    df, bad_lines = _read_csv(path)
    df.columns = [str(c).strip() for c in df.columns]
    n_rows = len(df) + len(bad_lines)
    columns = [c for c in df.columns if c != "__line"]
    lowered = [c.lower() for c in columns]
    detected = format
    if format == "auto":
        detected = "long" if any(c in lowered for c in ("instrument", "item")) else "redcap"
    problems = [
        {
            "row": line,
            "subject": None,
            "visit": None,
            "instrument": None,
            "item": None,
            "value": None,
            "error": e,
        }
        for line, e in bad_lines
    ]
    if detected == "long":
        missing = [c for c in _LONG if c not in lowered]
        if missing:
            msg = (
                f"{path.name}: long format needs columns {', '.join(_LONG)} "
                f"(optional unit, reason, visit_date); missing: {', '.join(missing)}"
            )
            raise InputError(msg)
        df = df.rename(columns={c: c.lower() for c in columns})
        known = set(_LONG) | {"unit", "reason", "visit_date", "__line"}
        extra = [c for c in df.columns if c not in known]
        if extra:
            allowed = ", ".join(sorted(known - {"__line"}))
            msg = f"{path.name}: unknown column(s) {', '.join(extra)}; allowed: {allowed}"
            raise InputError(msg)
        out = df.rename(columns={"__line": "row"})
    else:
        subj_col = _find(columns, _SUBJECT_ALIASES)
        visit_col = _find(columns, _VISIT_ALIASES)
        if subj_col is None or visit_col is None:
            msg = (
                f"{path.name}: not a long-format file (subject, visit, instrument, item, value) and not "
                f"a wide REDCap-style file: it needs a subject column ({' or '.join(_SUBJECT_ALIASES)}) "
                f"and a visit column ({' or '.join(_VISIT_ALIASES)})"
            )
            raise InputError(msg)
        meta = {subj_col, visit_col, "__line"} | {c for c in columns if c.lower() in _WIDE_META}
        prefixes = _instrument_prefixes()
        mapping: dict[str, tuple[str, str]] = {}
        unknown = []
        for col in columns:
            if col in meta:
                continue
            low = col.lower()
            for prefix, code in prefixes:
                if low.startswith(prefix) and len(low) > len(prefix):
                    mapping[col] = (code, col[len(prefix) :])
                    break
            else:
                unknown.append(col)
        if unknown:
            known_codes = ", ".join(p.rstrip("_") for p, _ in sorted(prefixes))
            msg = (
                f"{path.name}: column(s) {', '.join(unknown)} are not <instrument>_<item> of a registered "
                f"instrument ({known_codes}); e.g. mrss_face"
            )
            raise InputError(msg)
        id_vars = ["__line", subj_col, visit_col] + [
            c for c in columns if c.lower() in ("visit_date", "reason")
        ]
        long = df.melt(id_vars=id_vars, value_vars=list(mapping), var_name="__col", value_name="value")
        long = long.loc[long["value"].notna()]
        codes = long["__col"].map(lambda c: mapping[c][0])
        items = long["__col"].map(lambda c: mapping[c][1])
        out = pd.DataFrame(
            {
                "row": long["__line"].to_numpy(),
                "subject": long[subj_col].to_numpy(),
                "visit": long[visit_col].to_numpy(),
                "instrument": codes.to_numpy(),
                "item": items.to_numpy(),
                "value": long["value"].to_numpy(),
            }
        )
        for c in columns:
            if c.lower() in ("visit_date", "reason"):
                out[c.lower()] = long[c].to_numpy()
        out = out.sort_values("row", kind="stable").reset_index(drop=True)
    errors = pd.DataFrame(problems) if problems else _empty_errors()
    return out.reset_index(drop=True), str(detected), n_rows, errors


def import_csv(
    store: Store,
    path: str | Path,
    *,
    user: str,
    format: Literal["auto", "long", "redcap"] = "auto",
    rejects: str | Path | None = None,
    reason: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a long-format or wide REDCap-style CSV of observations, whole or not at all.

    Parameters
    ----------
    store
        The open store.
    path
        The CSV file. Long format: columns ``subject, visit, instrument, item, value`` (optional
        ``unit``, ``reason``, ``visit_date``). Wide REDCap-style: one row per subject-visit,
        columns ``subject`` (or ``record_id``), ``visit`` (or ``redcap_event_name``), optional
        ``visit_date`` and ``reason``, and one column per item named ``<instrument>_<item>``
        (``mrss_face``, ``haq_di_eating_1``); empty cells are not recorded.
    user
        Who imports (investigator or admin).
    format
        ``auto`` (detect), ``long`` or ``redcap``.
    rejects
        If given, rows with any problem are written there (with an ``error`` column) and the
        rest is imported; otherwise one bad row refuses the whole file.
    reason
        Reason for corrections of values already stored (or a ``reason`` column).
    progress
        Optional callback ``progress(stage, done, total)``.

    Returns
    -------
    ImportReport
        Counts and the row-by-row error report.

    Raises
    ------
    ObservationError
        Without ``rejects``: some row is invalid; nothing was imported. ``errors`` holds the
        row-by-row report (line numbers of the file).
    """
    path = Path(path)
    data, detected, n_rows, read_errors = read_import_file(path, format=format)
    report = ImportReport(path=path, format=detected, n_rows=n_rows, n_observations=len(data))
    if rejects is None:
        if len(read_errors):
            from ssctrial.store._observations import describe_errors

            raise ObservationError(describe_errors(read_errors, n_rows=n_rows), read_errors)
        result = record_many(store, data, user=user, reason=reason, progress=progress, drop_invalid=False)[0]
        _fill(report, result)
        return report
    result, errors = record_many(store, data, user=user, reason=reason, progress=progress, drop_invalid=True)
    errors = pd.concat([read_errors, errors], ignore_index=True) if len(read_errors) else errors
    _fill(report, result)
    report.errors = errors
    report.n_rejected_rows = int(errors["row"].nunique()) if len(errors) else 0
    rejects_path = Path(rejects)
    _write_rejects(path, rejects_path, errors)
    report.rejects_path = rejects_path
    return report


def _fill(report: ImportReport, result: RecordResult) -> None:
    report.n_imported = result.n_inserted
    report.n_updated = result.n_updated
    report.n_unchanged = result.n_unchanged


def _write_rejects(source: Path, target: Path, errors: pd.DataFrame) -> None:
    """Write the rejected lines of ``source`` (verbatim cells) plus an ``error`` column."""
    bad = errors.groupby("row")["error"].apply(lambda e: " | ".join(dict.fromkeys(map(str, e)))).to_dict()
    with (
        source.open(newline="", encoding="utf-8", errors="replace") as fh,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.reader(fh)
        writer = csv.writer(out)
        header = next(reader)
        writer.writerow(["line", *header, "error"])
        for fields in reader:
            line = reader.line_num
            if line in bad:
                writer.writerow([line, *fields, bad[line]])


def export_tables(
    store: Store,
    directory: str | Path,
    *,
    user: str,
    format: Literal["csv", "parquet"] = "csv",
    tables: list[str] | None = None,
) -> list[Path]:
    """Export tables to ``<directory>/<table>.csv`` or ``.parquet``.

    Parameters
    ----------
    store
        The open store.
    directory
        Output folder (created if needed).
    user
        Who exports. The concealed tables (``randomization_list``, ``randomization_secret``) are
        exported only for a statistician (the export is audited); other users get the rest.
    format
        ``csv`` or ``parquet``.
    tables
        Tables to export (default: all).

    Returns
    -------
    list of Path
        The files written.
    """
    from ssctrial.exceptions import PermissionDeniedError
    from ssctrial.store._store import CONCEALED_TABLES

    if format not in ("csv", "parquet"):
        msg = f"format {format!r} is not allowed; expected csv or parquet"
        raise InputError(msg)
    names = store.table_names()
    wanted = list(tables) if tables else names
    unknown = [t for t in wanted if t not in names]
    if unknown:
        msg = f"unknown table(s) {', '.join(unknown)}; tables are: {', '.join(names)}"
        raise InputError(msg)
    with store.session() as s:
        from ssctrial.store._models import AppUser

        row = s.get(AppUser, user)
        if row is None or not row.active:
            msg = f"unknown or inactive user {user!r}; every export names a registered user"
            raise PermissionDeniedError(msg)
        may_see_concealed = row.role == "statistician"
        concealed = [t for t in wanted if t in CONCEALED_TABLES]
        if concealed and may_see_concealed:
            store.audit(
                s,
                user=user,
                action="export",
                table="randomization_list",
                record=",".join(concealed),
                reason="export of concealed tables",
            )
    if concealed and not may_see_concealed:
        if tables:
            msg = f"tables {', '.join(concealed)} are concealed; only a statistician may export them"
            raise PermissionDeniedError(msg)
        wanted = [t for t in wanted if t not in CONCEALED_TABLES]
        logger.info("skipped concealed tables %s for %s", concealed, user)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in wanted:
        frame = store._read_table(name)
        target = out_dir / f"{name}.{format}"
        if format == "csv":
            frame.to_csv(target, index=False)
        else:
            _to_parquet(frame, target)
        written.append(target)
    return written


def _to_parquet(frame: pd.DataFrame, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, target)
