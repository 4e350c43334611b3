"""Blood transcriptome analysis: trial-aware DESeq2 designs, QC, GO enrichment and figures.

The fixed low-level entry point is :func:`deseq`; :func:`fit_deseq` fits once for several results.
"""

from ssctrial.omics._deseq import DESeqFit, create_model_matrix, deseq, fit_deseq
from ssctrial.omics._enrich import compute_ora, create_ora_table, resolve_gene_sets
from ssctrial.omics._gsea import compute_enrichment_score, compute_gsea
from ssctrial.omics._input import assert_counts, assert_omics_samples, coerce_counts, read_counts
from ssctrial.omics._nbglm import BatchedInference, fit_nb_glm, nb_loglik

__all__ = [
    "BatchedInference",
    "DESeqFit",
    "assert_counts",
    "assert_omics_samples",
    "coerce_counts",
    "compute_enrichment_score",
    "compute_gsea",
    "compute_ora",
    "create_model_matrix",
    "create_ora_table",
    "deseq",
    "fit_deseq",
    "fit_nb_glm",
    "nb_loglik",
    "read_counts",
    "resolve_gene_sets",
]
