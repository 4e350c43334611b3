"""Shared reference data shipped with ssctrial: GO gene sets and the human gene table.

The files live in ``ssctrial/datasets/data/`` (see its ``README.md`` for sources and licences) and
are read with :mod:`importlib.resources`, so no network access is needed at run time.
"""

from ssctrial.datasets._go_sets import GeneSet, go_provenance, load_go_gene_sets, read_gmt
from ssctrial.datasets._human_genes import load_human_genes

__all__ = ["GeneSet", "go_provenance", "load_go_gene_sets", "load_human_genes", "read_gmt"]
