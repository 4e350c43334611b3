"""``ssctrial simulate``: simulate a whole trial into a new store, with a progress bar."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ssctrial.exceptions import InputError

logger = logging.getLogger(__name__)

console = Console()

_STAGES = {
    "enrol": "Enrolling and randomising",
    "observations": "Recording observations",
    "adverse_events": "Recording adverse events",
    "rnaseq": "Simulating RNA-seq counts",
    "samples": "Recording samples",
}


def simulate(
    study: Annotated[
        str, typer.Option("--study", help="Study name (basics) or path of a study YAML file.")
    ] = "basics",
    n: Annotated[int, typer.Option("--n", help="Number of randomised patients.")] = 48,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed: same seed and study file, same database.")
    ] = 2021,
    db: Annotated[
        str,
        typer.Option(
            "--db", help="Database URL of a NEW store (sqlite:///basics.db or postgresql+psycopg://...)."
        ),
    ] = "sqlite:///basics.db",
    rnaseq: Annotated[
        bool, typer.Option("--rnaseq/--no-rnaseq", help="Simulate baseline and week-12 blood RNA-seq.")
    ] = True,
    rnaseq_path: Annotated[
        Path | None,
        typer.Option(
            "--rnaseq-path",
            dir_okay=False,
            help="Where to write the .h5ad counts (default: beside a SQLite file).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Simulate a trial calibrated to the study file and write it into a new store.

    Everything goes through the store's validated API: enrolment, concealed randomisation,
    item-level observations, adverse events and (with --rnaseq) blood RNA-seq samples.
    """
    from ssctrial.design import load_study
    from ssctrial.simulate import simulate_trial

    if db.startswith("sqlite:///") and db != "sqlite:///:memory:":
        path = Path(db[len("sqlite:///") :])
        if path.exists():
            msg = f"--db {db}: the file {str(path)!r} already exists; simulate into a new database"
            raise InputError(msg)
    design = load_study(study)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        result = simulate_trial(
            study, n=n, seed=seed, store=db, rnaseq=rnaseq, rnaseq_path=rnaseq_path, progress=progress
        )
    console.print(f"Simulated {design.study_id}: n={n}, seed={seed}", soft_wrap=True)
    table = Table()
    table.add_column("what")
    table.add_column("rows", justify="right")
    for row in result.summary().to_dict("records"):
        table.add_row(str(row["table"]), str(row["rows"]))
    console.print(table)
    console.print(f"Database: {db}", soft_wrap=True)
    if result.counts_path is not None:
        console.print(f"RNA-seq counts: {result.counts_path}", soft_wrap=True)
        console.print(f"Planted truth: {result.truth_path}", soft_wrap=True)
    console.print(f"Done in {result.timings['total']:.1f} s.")
    close = getattr(result.store, "close", None)
    if callable(close):
        close()


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command."""
    app.command("simulate")(simulate)
