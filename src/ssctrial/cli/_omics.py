"""``ssctrial omics``: run a study's transcriptome plan (QC, DE designs, GO enrichment, figures)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ssctrial.exceptions import InputError

logger = logging.getLogger(__name__)

console = Console(stderr=True)


def _load_inputs(db: str | None, counts: Path | None, study: str | None) -> tuple[Any, Any, Any]:
    from ssctrial.design import load_study
    from ssctrial.omics import load_store_counts, read_counts

    design = load_study(study) if study else None
    if counts is not None:
        adata = read_counts(str(counts))
        return adata, adata.obs.copy(), design
    if db is None:
        msg = "give --db URL (samples from the store's sample table) or --counts FILE.h5ad"
        raise InputError(msg)
    from ssctrial.store import open_store

    store = open_store(db)
    try:
        adata, samples = load_store_counts(store)
        if design is None:
            design = store.design
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    return adata, samples, design


def omics(
    out: Annotated[Path, typer.Option("--out", help="Output folder for tables, figures and summary.json.")],
    db: Annotated[str | None, typer.Option("--db", help="Database URL of the trial store.")] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name or YAML path (default: the store's study).")
    ] = None,
    counts: Annotated[
        Path | None,
        typer.Option("--counts", exists=True, dir_okay=False,
                     help="An .h5ad counts file (samples x genes; obs: subject, visit, arm), not --db."),
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="Baseline visit (default: the study's).")] = None,
    followup: Annotated[
        str | None, typer.Option(help="Follow-up visit (default: the primary endpoint's visit).")
    ] = None,
    gmt: Annotated[
        Path | None,
        typer.Option("--gmt", exists=True, dir_okay=False, help="Own gene sets (GMT) instead of GO."),
    ] = None,
    n_perm: Annotated[int, typer.Option("--n-perm", help="GSEA permutations.")] = 1000,
    seed: Annotated[int, typer.Option(help="GSEA seed.")] = 0,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures.")] = True,
    backend: Annotated[str, typer.Option(help="DESeq2 backend: batched or pydeseq2.")] = "batched",
) -> None:
    """Run the transcriptome stage: QC, paired/nested/dose DESeq2 designs, LRT, GO ORA and GSEA."""
    from ssctrial.omics import run_transcriptome

    adata, samples, design = _load_inputs(db, counts, study)
    with console.status("transcriptome analysis ...") as status:
        res = run_transcriptome(
            adata, samples, design, baseline=baseline, followup=followup,
            gene_sets=str(gmt) if gmt is not None else None, n_perm=n_perm, seed=seed, out_dir=out,
            figures=figures, backend=backend, progress=lambda m: status.update(m),
        )
    summary = res.summary()
    typer.echo(f"GO release: {res.go_release}; {res.filter_rule}")
    typer.echo(summary.to_string(index=False))
    typer.echo(f"wrote {len(res.files)} files to {out} in {res.timings.get('total', 0):.1f} s")


def register(app: typer.Typer) -> None:
    """Add the ``omics`` command to the ``ssctrial`` app."""
    app.command("omics")(omics)
