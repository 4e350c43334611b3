"""``ssctrial power``: Monte Carlo power and sample size, with a progress bar."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ssctrial.exceptions import InputError

logger = logging.getLogger(__name__)

console = Console()


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        msg = f"--{name}: cannot read {text!r}; give a number or a comma-separated list (e.g. -5.3,-4)"
        raise InputError(msg) from None


def power(
    study: Annotated[str, typer.Option("--study", help="Study name (basics) or study YAML path.")] = "basics",
    n: Annotated[
        str, typer.Option("--n", help="Patients per arm: start:stop:step (stop included), a list or one.")
    ] = "16:120:8",
    effect: Annotated[
        str | None,
        typer.Option(
            "--effect", help="Active minus control at the primary visit (list allowed); default: study's."
        ),
    ] = None,
    relative: Annotated[
        bool, typer.Option("--relative", help="--effect multiplies the study file's own difference.")
    ] = False,
    dropout: Annotated[str, typer.Option("--dropout", help="Dropout probability (list allowed).")] = "0",
    dropout_pattern: Annotated[
        str, typer.Option("--dropout-pattern", help="uniform, early, late or mar.")
    ] = "uniform",
    method: Annotated[
        str, typer.Option("--method", help="ancova, mmrm, ttest, wilcoxon or kruskal (list allowed).")
    ] = "ancova",
    arms: Annotated[
        str | None, typer.Option("--arms", help="Arms kept, comma-separated (default: all; control kept).")
    ] = None,
    multiplicity: Annotated[
        str, typer.Option("--multiplicity", help="none, bonferroni, holm, hochberg or dunnett.")
    ] = "holm",
    alpha: Annotated[float, typer.Option("--alpha", help="Two-sided level.")] = 0.05,
    distribution: Annotated[str, typer.Option("--distribution", help="basics or normal.")] = "basics",
    sims: Annotated[int, typer.Option("--sims", help="Simulated trials per scenario.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Master seed.")] = 20250517,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Trials per task.")] = 500,
    target: Annotated[float, typer.Option("--target", help="Target power for the sample size.")] = 0.8,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786).")
    ] = None,
    local_cluster: Annotated[
        int | None, typer.Option("--local-cluster", help="Start a Dask LocalCluster with N workers.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("power"),
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Simulate and analyse many trials per scenario: power, type I error, bias, coverage, sample size.

    Writes power.csv (one row per scenario and contrast), sample_size.csv, power_curve.png and
    run.json (the options and timings) into --out.
    """
    from ssctrial.power import create_scenario_grid, find_sample_size, plot_power_curve, run_power
    from ssctrial.power._scenario import parse_range

    ns = parse_range(n, name="--n")
    effects: list[float | None] = [None] if effect is None else list(_floats(effect, "effect"))
    grid = create_scenario_grid(
        study,
        n=ns,
        effect=effects,
        dropout=_floats(dropout, "dropout"),
        method=[m.strip() for m in method.split(",")],
        effect_scale="relative" if relative else "absolute",
        dropout_pattern=dropout_pattern,
        arms=None if arms is None else tuple(a.strip() for a in arms.split(",")),
        multiplicity=multiplicity,
        alpha=alpha,
        distribution=distribution,
    )
    out.mkdir(parents=True, exist_ok=True)
    opts: dict[str, Any] = {"sims": sims, "seed": seed, "chunk_size": chunk_size, "scheduler": scheduler}
    opts["local_cluster"] = local_cluster
    if quiet:
        result = run_power(grid, **opts)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            t_s = bar.add_task("Scenarios", total=len(grid))
            t_t = bar.add_task("Trials", total=None)

            def _progress(p) -> None:  # noqa: ANN001 - PowerProgress
                bar.update(t_s, completed=p.scenarios_done)
                bar.update(t_t, completed=p.trials_done, total=p.trials_total)

            result = run_power(grid, progress=_progress, **opts)
    table = result.table
    table.to_csv(out / "power.csv", index=False)
    sizes = find_sample_size(table, target=target)
    sizes.to_csv(out / "sample_size.csv", index=False)
    fig = plot_power_curve(table, out / "power_curve.png", target=target)
    import matplotlib.pyplot as plt

    plt.close(fig)
    run = {
        "study": study,
        "scenarios": [s.model_dump() for s in grid],
        **opts,
        "target": target,
        "timings": result.timings,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    show = Table(title=f"Power ({sims} trials per scenario)")
    for col in ("method", "n", "contrast", "effect", "dropout", "power", "power_se", "type1_error"):
        show.add_column(col, justify="right")
    for r in table.to_dict("records"):
        show.add_row(
            str(r["method"]), str(r["n"]), str(r["contrast"]), f"{r['effect']:.3g}", f"{r['dropout']:g}",
            f"{r['power']:.3f}", f"{r['power_se']:.3f}", f"{r['type1_error']:.3f}",
        )  # fmt: skip
    console.print(show)
    for r in sizes.to_dict("records"):
        if np.isnan(float(r["n_grid"])):
            console.print(f"{r['method']}: power {target:.0%} not reached by n = {max(ns)} per arm")
        else:
            console.print(
                f"{r['method']}, effect {r['effect']:.3g}, dropout {r['dropout']:g}: n = {int(r['n_grid'])} "
                f"per arm reaches power {r['power_at_n']:.3f} (interpolated {r['n_interpolated']:.1f}; "
                f"95% MC range {r['n_low']:.1f} to {r['n_high']:.1f})"
            )
    console.print(f"Wrote {out}/power.csv, sample_size.csv, power_curve.png, run.json")


def register(app: typer.Typer) -> None:
    """Add the ``power`` command."""
    app.command("power")(power)
