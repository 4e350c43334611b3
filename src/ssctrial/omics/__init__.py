"""Blood transcriptome analysis: trial-aware DESeq2 designs, QC, GO enrichment and figures.

The fixed low-level entry point is :func:`deseq`; :func:`fit_deseq` fits once for several results;
:func:`run_transcriptome` runs a study's whole transcriptome plan.
"""

from ssctrial.omics._de_designs import (
    DEAnalysis,
    create_dose_design,
    create_nested_design,
    create_paired_design,
)
from ssctrial.omics._de_plots import (
    plot_go_dots,
    plot_heatmap,
    plot_ma,
    plot_paired_genes,
    plot_pca,
    plot_volcano,
)
from ssctrial.omics._deseq import DESeqFit, create_model_matrix, deseq, fit_deseq
from ssctrial.omics._enrich import compute_ora, create_ora_table, filter_redundant_terms, resolve_gene_sets
from ssctrial.omics._gsea import compute_enrichment_score, compute_gsea
from ssctrial.omics._input import assert_counts, assert_omics_samples, coerce_counts, read_counts
from ssctrial.omics._nbglm import BatchedInference, fit_nb_glm, nb_loglik
from ssctrial.omics._rnaseq_qc import compute_vst, create_qc_table, filter_low_counts
from ssctrial.omics._transcriptome import TranscriptomeResult, load_store_counts, run_transcriptome

__all__ = [
    "BatchedInference",
    "DEAnalysis",
    "DESeqFit",
    "TranscriptomeResult",
    "assert_counts",
    "assert_omics_samples",
    "coerce_counts",
    "compute_enrichment_score",
    "compute_gsea",
    "compute_ora",
    "compute_vst",
    "create_dose_design",
    "create_model_matrix",
    "create_nested_design",
    "create_ora_table",
    "create_paired_design",
    "create_qc_table",
    "deseq",
    "filter_low_counts",
    "filter_redundant_terms",
    "fit_deseq",
    "fit_nb_glm",
    "load_store_counts",
    "nb_loglik",
    "plot_go_dots",
    "plot_heatmap",
    "plot_ma",
    "plot_paired_genes",
    "plot_pca",
    "plot_volcano",
    "read_counts",
    "resolve_gene_sets",
    "run_transcriptome",
]
