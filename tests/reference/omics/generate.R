# Regenerate the DESeq2 reference results from paired_counts.csv.gz / paired_samples.csv.
# Run from this folder: Rscript generate.R OUTDIR   (R 4.2.2, DESeq2 1.38.3 from Debian r-bioc-deseq2)
# The committed *.csv.gz were produced by the project's shared reference generator with the same
# calls; this script re-derives them so the provenance can be checked (see README.md).
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "."
counts <- as.matrix(read.csv(gzfile("paired_counts.csv.gz"), row.names = 1, check.names = FALSE))
s <- read.csv("paired_samples.csv", row.names = 1)
s$arm <- factor(s$arm, levels = c("CTRL", "BARI2", "BARI4"))
s$visit <- factor(s$visit, levels = c("W0", "W12"))
s$subj_n <- factor(s$subj_n)
s$subject <- factor(s$subject)
w <- function(res, name) {
  df <- data.frame(gene = rownames(res), as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")])
  write.csv(df, gzfile(file.path(out, name)), row.names = FALSE)
}
b4 <- s$arm == "BARI4"
sb <- droplevels(s[b4, ])
t <- system.time({
  dds <- DESeqDataSetFromMatrix(counts[, b4], sb, ~ subject + visit)
  dds <- DESeq(dds, quiet = TRUE)
  w(results(dds, name = "visit_W12_vs_W0"), "paired_deseq2_paired_bari4.csv.gz")
})[["elapsed"]]
t2 <- system.time({
  dds <- DESeqDataSetFromMatrix(counts, s, ~ arm + arm:subj_n + arm:visit)
  dds <- DESeq(dds, quiet = TRUE)
  w(results(dds, name = "armBARI4.visitW12"), "paired_deseq2_nested_bari4_visit.csv.gz")
  w(results(dds, name = "armCTRL.visitW12"), "paired_deseq2_nested_ctrl_visit.csv.gz")
  w(results(dds, contrast = list("armBARI4.visitW12", "armCTRL.visitW12")),
    "paired_deseq2_nested_bari4_vs_ctrl_interaction.csv.gz")
})[["elapsed"]]
t3 <- system.time({
  dds <- DESeqDataSetFromMatrix(counts, s, ~ arm + arm:subj_n + arm:visit)
  dds <- DESeq(dds, test = "LRT", reduced = ~ arm + arm:subj_n + visit, quiet = TRUE)
  w(results(dds), "paired_deseq2_lrt_arm_by_visit.csv.gz")
})[["elapsed"]]
cat(jsonlite::toJSON(list(DESeq2 = as.character(packageVersion("DESeq2")), R = R.version.string,
  resultsNames_nested = resultsNames(dds), timing_s = list(paired_bari4 = t, nested_wald = t2, lrt = t3)),
  auto_unbox = TRUE, pretty = TRUE), "\n")
