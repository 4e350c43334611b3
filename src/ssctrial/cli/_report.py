"""``ssctrial analyze`` (the analysis run on a store) and ``ssctrial demo`` (the whole system)."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

logger = logging.getLogger(__name__)

console = Console()

#: Options of the transcriptome stage in the demo: the paired before/after analysis in each arm
#: (the published comparison), GO over-representation on biological processes and GSEA with 200
#: permutations, so the demo stays quick. ``ssctrial analyze`` runs the whole plan (all treated
#: patients, the nested arm x visit interaction with its LRT, the dose trend, all ontologies).
DEMO_OMICS_OPTIONS: dict[str, Any] = {
    "designs": ("paired",),
    "n_perm": 200,
    "ora_ontologies": ("BP",),
    "gsea_ontologies": ("BP",),
}


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _primary_table(run: Any) -> Table:
    results = run.results
    design = results.design
    labels = {a.code: a.label for a in design.arms}
    primary = results.primary
    table = Table(
        title=f"Primary endpoint: change in {primary.endpoint.label} from baseline to "
        f"{design.visit(primary.visit).label} (ITT)",
        title_justify="left",
    )
    for column in ("Arm", "n", "Mean (SD)", "ANCOVA LS mean (95% CI)", "Difference vs control (95% CI)", "p"):
        table.add_column(column, justify="left" if column == "Arm" else "right")
    d = primary.descriptives.set_index("TRT01P")
    ls = primary.ancova.lsmeans.set_index("TRT01P") if primary.ancova is not None else None
    contrasts = primary.ancova.contrasts.set_index("contrast") if primary.ancova is not None else None
    reference = design.reference_arm
    for arm in [a.code for a in design.arms]:
        if arm not in d.index:
            continue
        row = [labels[arm], str(int(d.loc[arm, "n"])), f"{d.loc[arm, 'mean']:.2f} ({d.loc[arm, 'sd']:.2f})"]
        if ls is not None and arm in ls.index:
            row.append(
                f"{ls.loc[arm, 'estimate']:.2f} ({ls.loc[arm, 'lower']:.2f} to {ls.loc[arm, 'upper']:.2f})"
            )
        else:
            row.append("")
        key = f"{arm} - {reference}"
        if contrasts is not None and key in contrasts.index:
            c = contrasts.loc[key]
            row += [f"{c['estimate']:.2f} ({c['lower']:.2f} to {c['upper']:.2f})", f"{c['p']:.4f}"]
        else:
            row += ["reference" if arm == reference else "", ""]
        table.add_row(*row)
    tests = primary.global_tests
    if tests is not None:
        caption = ", ".join(f"{t.test} p = {t.p:.4f}" for t in tests.itertuples())
        table.caption = f"Global tests across arms: {caption}"
    return table


def _analyze(
    store: Any,
    study: str,
    out: Path,
    *,
    seed: int | None,
    omics_options: dict[str, Any] | None,
    pdf: bool,
    progress: Progress,
) -> Any:
    from ssctrial.report import analyze_store

    stages = ["derive", "primary endpoint", "secondary endpoints", "safety", "transcriptome", "report"]
    task = progress.add_task("Analysing and reporting", total=len(stages))

    def on_stage(stage: str) -> None:
        progress.update(
            task,
            description=f"Analysis: {stage}",
            completed=stages.index(stage) if stage in stages else progress.tasks[task].completed,
        )

    run = analyze_store(store, study, out, seed=seed, omics_options=omics_options, pdf=pdf, progress=on_stage)
    progress.update(task, description="Analysis and report", completed=len(stages))
    return run


def analyze(
    db: Annotated[str, typer.Option("--db", envvar="SSCTRIAL_DB", help="Database URL of the trial store.")],
    study: Annotated[
        str, typer.Option("--study", help="Study name (basics) or path of a study YAML file.")
    ] = "basics",
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Output folder.")] = Path("analysis"),
    omics: Annotated[bool, typer.Option("--omics/--no-omics", help="Run the transcriptome plan.")] = True,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF report.")] = True,
) -> None:
    """Run the study file's analysis plan on a store: ADaM datasets, results, report (HTML, PDF)."""
    from ssctrial.store import open_store

    store = open_store(db)
    try:
        with _progress() as progress:
            if not omics:
                from ssctrial.report import analyze_store

                task = progress.add_task("Analysing and reporting", total=1)
                run = analyze_store(store, study, out, omics=False, pdf=pdf)
                progress.update(task, completed=1)
            else:
                run = _analyze(store, study, out, seed=None, omics_options=None, pdf=pdf, progress=progress)
    finally:
        store.close()
    console.print(_primary_table(run))
    console.print(f"Report: [bold]{run.paths['html']}[/]", soft_wrap=True)


def demo(
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Folder for the demo (created).")
    ] = Path("ssctrial-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 2021,
    n: Annotated[int, typer.Option("--n", help="Number of randomised patients.")] = 48,
    rnaseq: Annotated[bool, typer.Option("--rnaseq/--no-rnaseq", help="Include blood RNA-seq.")] = True,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF report.")] = True,
) -> None:
    """Simulate the BASICS trial into a new SQLite store, analyse it, and write the report.

    Everything happens in OUT: the database ``basics.db`` (and its RNA-seq counts), the ADaM
    datasets, tables, figures and ``report.html``/``report.pdf``. Files of an earlier demo in
    OUT are replaced; the same seed gives the same numbers.
    """
    from ssctrial.design import load_study
    from ssctrial.simulate import simulate_trial
    from ssctrial.store import init_store

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "basics.db"
    for stale in (
        db_path,
        out / "basics.db-wal",
        out / "basics.db-shm",
        out / "basics_rnaseq.h5ad",
        out / "basics_rnaseq_truth.csv",
    ):
        stale.unlink(missing_ok=True)
    report_dir = out / "report"
    if report_dir.exists():
        shutil.rmtree(report_dir)
    design = load_study("basics")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with _progress() as progress:
        sim_task = progress.add_task("Simulating the BASICS trial", total=None)

        def on_sim(stage: str, done: int, total: int) -> None:
            progress.update(sim_task, description=f"Simulating: {stage}", completed=done, total=total)

        store = init_store(f"sqlite:///{db_path}", design, user="demo")
        try:
            simulate_trial(design, n=n, seed=seed, store=store, rnaseq=rnaseq, user="demo", progress=on_sim)
            progress.update(sim_task, description="Simulated the BASICS trial")
            timings["simulate"] = time.perf_counter() - start
            run = _analyze(
                store,
                "basics",
                report_dir,
                seed=seed,
                omics_options=DEMO_OMICS_OPTIONS,
                pdf=pdf,
                progress=progress,
            )
        finally:
            store.close()
    timings.update(run.timings)
    timings["total"] = time.perf_counter() - start
    console.print(_primary_table(run))
    console.print("Stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), style="dim")
    console.print(f"Database: [bold]{db_path}[/]", soft_wrap=True)
    console.print(f"Report:   [bold]{run.paths['html']}[/]", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and ``demo`` to the app."""
    app.command("analyze")(analyze)
    app.command("demo")(demo)
