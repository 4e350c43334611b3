"""``ssctrial init`` (new store + concealed allocation sequence) and ``ssctrial randomize``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ssctrial.exceptions import InputError, StateError

logger = logging.getLogger(__name__)

console = Console(soft_wrap=True)

_DB_HELP = "Database URL (sqlite:///trial.db or postgresql+psycopg://user:pw@host/db); env SSCTRIAL_DB."
_USER_HELP = "Who does this (stored with every change; roles are checked); env SSCTRIAL_USER."


def _read_seed_file(path: Path) -> int:
    from ssctrial.randomize._rng import check_seed

    try:
        content = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        msg = f"--seed-file {str(path)!r}: cannot be read ({exc.strerror})"
        raise InputError(msg) from None
    if not content.isdigit():
        msg = (
            f"--seed-file {str(path)!r}: must hold one non-negative decimal integer "
            "(e.g. from `python -c 'import secrets; print(secrets.randbits(128))'`)"
        )
        raise InputError(msg)
    return check_seed(content)


def init(
    db: Annotated[str, typer.Option("--db", envvar="SSCTRIAL_DB", help=_DB_HELP)] = "sqlite:///ssctrial.db",
    study: Annotated[
        str, typer.Option("--study", help="Packaged study name (basics) or path of a study YAML file.")
    ] = "basics",
    user: Annotated[
        str, typer.Option("--user", envvar="SSCTRIAL_USER", help="Name of the first user, who becomes admin.")
    ] = "",
    seed_file: Annotated[
        Path | None,
        typer.Option(
            "--seed-file",
            dir_okay=False,
            help="File holding the secret seed (one integer). Default: 128 fresh random bits.",
        ),
    ] = None,
) -> None:
    """Create a trial store for a study and generate its concealed allocation sequence once.

    The seed is stored in the database, readable only by a statistician
    (`ssctrial randomize --reproduce`); nobody who enrols patients can see the sequence.
    """
    from ssctrial.design import load_study
    from ssctrial.randomize import assert_allocation_design, create_allocation_list
    from ssctrial.store import init_store

    if not user.strip():
        msg = "--user: every write must name its user (--user NAME or SSCTRIAL_USER)"
        raise InputError(msg)
    design = load_study(study)
    assert_allocation_design(design)  # refuse before anything is written
    seed = _read_seed_file(seed_file) if seed_file is not None else None
    store = init_store(db, study, user=user)
    try:
        slots = create_allocation_list(store, seed=seed, user=user)
    finally:
        store.close()

    console.print(f"[bold]{design.study_id}[/]: {design.title}")
    arms = Table(title="Arms", title_justify="left")
    for col in ("code", "label", "dose (mg)", "ratio"):
        arms.add_column(col)
    for a in design.arms:
        dose = "" if a.dose_mg is None else f"{a.dose_mg:g}"
        arms.add_row(a.code, a.label, dose, str(a.ratio))
    console.print(arms)
    spec = design.randomization
    factors = ", ".join(f"{f.code} ({'/'.join(f.levels)})" for f in design.stratification_factors) or "none"
    if spec.method == "permuted_blocks":
        sizes = ", ".join(str(b) for b in spec.block_sizes)
        how = f"stratified permuted blocks (sizes {sizes}, varying at random)"
        extent = f"{int(slots['slots'].sum())} slots in {len(slots)} strata"
    else:
        how = f"minimisation (Pocock-Simon, p = {spec.minimisation_p:g})"
        extent = "each allocation drawn at randomisation"
    console.print(f"Randomisation: {how}; strata: {factors}; {extent}.")
    console.print(
        "Visits: "
        + ", ".join(f"{v.code} (day {v.day})" for v in design.visits)
        + f"; {len(design.endpoints)} "
        "endpoints."
    )
    source = "from the seed file" if seed_file is not None else "from 128 fresh random bits"
    console.print(
        f"Allocation sequence generated {source} and concealed; store ready at {_shown(db)}. Admin: {user}."
    )


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - already validated by init_store; fall back to the text
        return url


def randomize(
    subject: Annotated[str | None, typer.Argument(help="Subject to randomise (e.g. BASICS-001).")] = None,
    db: Annotated[str, typer.Option("--db", envvar="SSCTRIAL_DB", help=_DB_HELP)] = "sqlite:///ssctrial.db",
    user: Annotated[str, typer.Option("--user", envvar="SSCTRIAL_USER", help=_USER_HELP)] = "",
    reproduce: Annotated[
        bool,
        typer.Option(
            "--reproduce",
            help="Statistician only: regenerate the whole sequence from the secret seed and check it "
            "equals the stored one.",
        ),
    ] = False,
    show: Annotated[
        int, typer.Option("--show", help="With --reproduce: print the first N rows of the comparison.")
    ] = 0,
) -> None:
    """Randomise a screened subject (prints the arm), or reproduce the sequence for audit."""
    from ssctrial.randomize import randomize_subject, reproduce_allocation_list
    from ssctrial.store import open_store

    if reproduce and subject is not None:
        msg = f"give either a SUBJECT to randomise or --reproduce, not both (got {subject!r} and --reproduce)"
        raise InputError(msg)
    if not reproduce and subject is None:
        msg = "SUBJECT is missing: give the subject to randomise (or --reproduce, statisticians only)"
        raise InputError(msg)
    if show < 0:
        msg = f"--show: {show} is not allowed; give a number of rows of at least 0"
        raise InputError(msg)
    store = open_store(db)
    try:
        if not reproduce:
            record = randomize_subject(store, str(subject), user=user)
            console.print(
                f"[bold]{record.subject_id}[/] randomised to [bold]{record.arm}[/] ({record.arm_label}); "
                f"stratum {record.stratum or '(none)'}; by {record.randomized_by} at "
                f"{record.randomized_at:%Y-%m-%d %H:%M:%S} UTC",
                highlight=False,
            )
            return
        report = reproduce_allocation_list(store, user=user)
    finally:
        store.close()
    if show:
        columns = (
            ["stratum", "position", "block", "block_size", "arm", "used_by_subject_id", "matches"]
            if report.method == "permuted_blocks"
            else ["order", "subject_id", "stratum", "arm", "stored_arm", "matches"]
        )
        console.print(f"Allocation sequence ({report.method}), first {show} rows:", highlight=False)
        console.print(report.data[columns].head(show).to_string(index=False), highlight=False)
    if not report.ok:
        for line in report.problems[:20]:
            console.print(f"  {line}", highlight=False)
        raise StateError(str(report))
    console.print(str(report), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``init`` and ``randomize`` to the ``ssctrial`` app."""
    app.command("init")(init)
    app.command("randomize")(randomize)
