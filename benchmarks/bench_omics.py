"""Benchmark of the transcriptome stage at BASICS-demo size, against R DESeq2 on the same data.

Data: 96 samples = 48 patients (16 per arm: CTRL, BARI2, BARI4) x 2 visits (BL, W12), every shipped
human protein-coding gene (20,598), negative-binomial counts with DESeq2's mean-dispersion trend,
subject effects and a planted drug effect (immune GO BP genes plus IL1RL1 down and SYT17 up; full
effect at 4 mg, 45 % at 2 mg, none in control), generated here from a seed.

Python (ssctrial.omics, batched backend): the paired design in each arm and in all treated patients,
the nested design (Wald for every arm's visit effect and both interactions, LRT for arm x visit),
ORA (BP, CC, MF; up/down/all) for every Wald result and GSEA (BP) for the paired and interaction
results. R (when ``Rscript`` with DESeq2 is installed): DESeq() + results() on the same designs.
Prints seconds per step, the ratios, and the agreement of every shared result (Pearson
correlation of log2FC and of -log10 p, Jaccard of the padj < 0.05 sets).

usage: python benchmarks/bench_omics.py [--genes N] [--per-arm N] [--repeats N] [--no-r] [--n-perm N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ssctrial.datasets import load_go_gene_sets, load_human_genes
from ssctrial.omics import (
    compute_gsea,
    create_nested_design,
    create_ora_table,
    create_paired_design,
    fit_deseq,
    resolve_gene_sets,
)

R_SCRIPT = r"""
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
d <- args[1]
counts <- as.matrix(read.csv(file.path(d, "counts.csv"), row.names = 1, check.names = FALSE))
s <- read.csv(file.path(d, "samples.csv"), row.names = 1)
s$arm <- factor(s$arm, levels = c("CTRL", "BARI2", "BARI4"))
s$visit <- factor(s$visit, levels = c("BL", "W12"))
s$subject <- factor(s$subject)
s$subj_n <- factor(s$subj_n)
w <- function(res, name) {
  cols <- c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")
  df <- data.frame(gene = rownames(res), as.data.frame(res)[, cols])
  write.csv(df, file.path(d, paste0("r_", name, ".csv")), row.names = FALSE)
}
tm <- list()
paired <- list(paired_CTRL = "CTRL", paired_BARI2 = "BARI2", paired_BARI4 = "BARI4",
               paired_active = c("BARI2", "BARI4"))
for (nm in names(paired)) {
  keep <- s$arm %in% paired[[nm]]
  sb <- droplevels(s[keep, ])
  tm[[nm]] <- system.time({
    dds <- DESeqDataSetFromMatrix(counts[, keep], sb, ~ subject + visit)
    dds <- DESeq(dds, quiet = TRUE)
    w(results(dds, name = "visit_W12_vs_BL"), nm)
  })[["elapsed"]]
}
tm$nested_wald <- system.time({
  dds <- DESeqDataSetFromMatrix(counts, s, ~ arm + arm:subj_n + arm:visit)
  dds <- DESeq(dds, quiet = TRUE)
  for (a in c("CTRL", "BARI2", "BARI4"))
    w(results(dds, name = paste0("arm", a, ".visitW12")), paste0("visit_", a))
  for (a in c("BARI2", "BARI4"))
    w(results(dds, contrast = list(paste0("arm", a, ".visitW12"), "armCTRL.visitW12")),
      paste0("interaction_", a))
})[["elapsed"]]
tm$nested_lrt <- system.time({
  dds <- DESeq(dds, test = "LRT", reduced = ~ arm + arm:subj_n + visit, quiet = TRUE)
  w(results(dds), "lrt_arm_by_visit")
})[["elapsed"]]
info <- list(DESeq2 = as.character(packageVersion("DESeq2")), R = R.version.string, timing_s = tm)
cat(jsonlite::toJSON(info, auto_unbox = TRUE), "\n")
"""


def simulate(n_per_arm: int, n_genes: int | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    genes = load_human_genes()["symbol"].to_numpy()
    if n_genes is not None and n_genes < genes.size:
        keep = set(rng.choice(genes, size=n_genes, replace=False)) | {"IL1RL1", "SYT17"}
        genes = np.array(sorted(keep))
    G = genes.size
    bp = load_go_gene_sets("BP")
    immune = sorted((bp["GO:0001819"].genes | bp["GO:0002253"].genes | bp["GO:0002757"].genes) & set(genes))
    planted = list(rng.choice(immune, size=min(225, len(immune)), replace=False))
    others = sorted(set(genes) - set(immune) - {"IL1RL1", "SYT17"})
    planted += list(rng.choice(others, size=73, replace=False))
    lfc = pd.Series(0.0, index=genes)
    size = np.clip(rng.normal(0.9, 0.3, len(planted)), 0.3, None)
    lfc[planted] = rng.choice([-1.0, 1.0], size=len(planted)) * size
    lfc["IL1RL1"], lfc["SYT17"] = -1.5, 1.2
    q = np.exp(rng.normal(-11.5, 2.2, G))
    q /= q.sum()
    base = q * 25e6
    for g in ("IL1RL1", "SYT17"):
        base[genes == g] = np.maximum(base[genes == g], 300.0)
    alpha = (0.05 + 1.5 / np.maximum(base, 1e-3)) * np.exp(rng.normal(0, 0.5, G))
    rows = []
    for arm in ("CTRL", "BARI2", "BARI4"):
        for i in range(1, n_per_arm + 1):
            for visit in ("BL", "W12"):
                rows.append({"sample": f"{arm}-{i:02d}-{visit}", "subject": f"{arm}-{i:02d}",
                             "arm": arm, "subj_n": i, "visit": visit})
    s = pd.DataFrame(rows).set_index("sample")
    subj = {k: rng.normal(0, 0.25, G) for k in s["subject"].unique()}
    frac = {"CTRL": 0.0, "BARI2": 0.45, "BARI4": 1.0}
    lib = 25e6 * np.exp(rng.normal(0, 0.25, len(s)))
    mu = np.empty((len(s), G))
    for j, (_, r) in enumerate(s.iterrows()):
        eff = lfc.to_numpy() * frac[r["arm"]] * (r["visit"] == "W12")
        mu[j] = lib[j] / 25e6 * base * np.exp(subj[r["subject"]]) * 2.0**eff
    shape = 1.0 / alpha
    counts = rng.poisson(rng.gamma(shape[None, :], 1.0, size=mu.shape) * mu / shape[None, :])
    return pd.DataFrame(counts.T, index=genes, columns=s.index), s


def run_python(counts: pd.DataFrame, samples: pd.DataFrame, n_perm: int) -> tuple[dict[str, float], dict]:
    t: dict[str, float] = {}
    de: dict[str, pd.DataFrame] = {}
    arms = ["CTRL", "BARI2", "BARI4"]
    t0 = time.perf_counter()
    plan = [("paired_CTRL", ["CTRL"]), ("paired_BARI2", ["BARI2"]), ("paired_BARI4", ["BARI4"]),
            ("paired_active", ["BARI2", "BARI4"])]
    for name, a in plan:
        t1 = time.perf_counter()
        an = create_paired_design(samples, arms=a, baseline="BL", followup="W12", name=name)
        fit = fit_deseq(counts[an.samples.index], an.samples, an.design)
        de[name] = fit.results(an.contrasts[name])
        t[name] = time.perf_counter() - t1
    t["paired_total"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    an = create_nested_design(samples, arms=arms, reference_arm="CTRL", baseline="BL", followup="W12")
    fit = fit_deseq(counts[an.samples.index], an.samples, an.design)
    for label, con in an.contrasts.items():
        de[label] = fit.results(con)
    t["nested_wald"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    reduced, coef = an.lrt["lrt_arm_by_visit"]
    de["lrt_arm_by_visit"] = fit.results(coef, test="lrt", reduced=reduced)
    t["nested_lrt"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    ora = {k: create_ora_table(v) for k, v in de.items() if k != "lrt_arm_by_visit"}
    t["ora"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    sets, release = resolve_gene_sets("BP")
    gsea = {k: compute_gsea(v["stat"].dropna(), sets, n_perm=n_perm, seed=0, release=release)
            for k, v in de.items() if k.startswith(("paired_", "interaction_"))}
    t["gsea"] = time.perf_counter() - t1
    t["total"] = time.perf_counter() - t0
    return t, {"de": de, "ora": ora, "gsea": gsea}


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    b = b.loc[a.index]
    ok = a["pvalue"].notna() & b["pvalue"].notna()
    lp_a = -np.log10(a.loc[ok, "pvalue"].clip(lower=1e-300))
    lp_b = -np.log10(b.loc[ok, "pvalue"].clip(lower=1e-300))
    sa, sb = set(a.index[a["padj"] < 0.05]), set(b.index[b["padj"] < 0.05])
    la, lb = a.loc[ok, "log2FoldChange"], b.loc[ok, "log2FoldChange"]
    rel = (la - lb).abs() / lb.abs()
    return {
        "r_log2FC": float(np.corrcoef(a.loc[ok, "log2FoldChange"], b.loc[ok, "log2FoldChange"])[0, 1]),
        "r_mlog10p": float(np.corrcoef(lp_a, lp_b)[0, 1]),
        "lfc_within5pct": float((rel < 0.05).mean()),
        "n_sig_py": len(sa), "n_sig_r": len(sb),
        "jaccard_padj05": len(sa & sb) / len(sa | sb) if sa | sb else 1.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=None, help="number of genes (default: all 20,598)")
    ap.add_argument("--per-arm", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--n-perm", type=int, default=1000)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()

    counts, samples = simulate(args.per_arm, args.genes, args.seed)
    print(f"data: {samples.shape[0]} samples x {counts.shape[0]} genes (seed {args.seed})", flush=True)
    runs = []
    for i in range(args.repeats):
        t, out = run_python(counts, samples, args.n_perm)
        runs.append(t)
        print(f"python run {i + 1}: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.items()), flush=True)
    med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    target = med["paired_total"] + med["ora"] + med["gsea"]
    print(f"\n== ssctrial.omics (median of {args.repeats} run(s), seconds)")
    for k, v in med.items():
        print(f"  {k:<16} {v:8.1f}")
    print(f"  paired x4 + ORA + GSEA = {target:.1f} s (target < 60 s)")
    print(f"  nested Wald + LRT      = {med['nested_wald'] + med['nested_lrt']:.1f} s")
    de = out["de"]
    bari4 = de["paired_BARI4"]
    for g in ("IL1RL1", "SYT17"):
        r = bari4.loc[g]
        print(f"  {g}: paired BARI4 log2FC {r['log2FoldChange']:+.2f} padj {r['padj']:.2g}")
    top = out["ora"]["interaction_BARI4"]
    top = top[(top["ontology"] == "BP") & (top["direction"] == "all")].head(5)
    print("  top GO BP (ORA, BARI4 - CTRL interaction):",
          "; ".join(f"{r.term} {r['name']} (padj {r.padj:.1g})" for _, r in top.iterrows()))

    rscript = shutil.which("Rscript")
    if args.no_r or rscript is None:
        print("\nR DESeq2: skipped" + ("" if args.no_r else " (Rscript not found)"))
        return
    with tempfile.TemporaryDirectory() as d:
        counts.to_csv(Path(d) / "counts.csv")
        samples.to_csv(Path(d) / "samples.csv")
        (Path(d) / "bench.R").write_text(R_SCRIPT)
        print("\nrunning R DESeq2 on the same data ...", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([rscript, str(Path(d) / "bench.R"), d], capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            sys.exit(1)
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        rt = info["timing_s"]
        print(f"== R {info['R']}, DESeq2 {info['DESeq2']} (wall {wall:.0f} s incl. reading the CSV)")
        r_paired = sum(rt[k] for k in ("paired_CTRL", "paired_BARI2", "paired_BARI4", "paired_active"))
        rows = [(k, rt[k], med[k]) for k in ("paired_CTRL", "paired_BARI2", "paired_BARI4", "paired_active",
                                              "nested_wald", "nested_lrt")]
        rows.append(("paired total", r_paired, med["paired_total"]))
        rows.append(("nested Wald+LRT", rt["nested_wald"] + rt["nested_lrt"],
                     med["nested_wald"] + med["nested_lrt"]))
        print(f"  {'step':<16} {'DESeq2 s':>9} {'ssctrial s':>10} {'ratio':>7}")
        for k, r_s, p_s in rows:
            print(f"  {k:<16} {r_s:9.1f} {p_s:10.1f} {r_s / p_s:7.1f}x")
        print("\n== agreement with DESeq2 (same data)")
        print(f"  {'result':<20} {'r log2FC':>9} {'r -log10p':>10} {'lfc<5%':>7} {'sig py':>7} {'sig R':>6} "
              f"{'Jaccard':>8}")
        for label in de:
            rf = Path(d) / f"r_{label}.csv"
            if not rf.exists():
                continue
            a = agreement(de[label], pd.read_csv(rf, index_col=0))
            print(f"  {label:<20} {a['r_log2FC']:9.4f} {a['r_mlog10p']:10.4f} {a['lfc_within5pct']:7.3f} "
                  f"{a['n_sig_py']:7d} {a['n_sig_r']:6d} {a['jaccard_padj05']:8.3f}")


if __name__ == "__main__":
    main()
