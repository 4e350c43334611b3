"""The human protein-coding gene table shipped with ssctrial."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

__all__ = ["load_human_genes"]


@cache
def _read_genes() -> pd.DataFrame:
    with resources.as_file(
        resources.files("ssctrial.datasets").joinpath("data", "human_protein_coding.tsv.gz")
    ) as path:
        df = pd.read_csv(path, sep="\t", compression="gzip", dtype={"entrez_id": "int64", "symbol": str,
                                                                    "name": str}, keep_default_na=False)
    return df


def load_human_genes() -> pd.DataFrame:
    """Load the 20,598 human protein-coding genes (NCBI Gene, annotation release of 2022-09-12).

    Returns
    -------
    pandas.DataFrame
        One row per gene, sorted by symbol, with columns

        - ``entrez_id``: NCBI Gene id (int);
        - ``symbol``: HGNC gene symbol (unique);
        - ``name``: full gene name.

        A fresh copy each call.

    Notes
    -----
    From Bioconductor org.Hs.eg.db 3.16.0 (genes of type "protein-coding"), the same annotation
    release as the GO gene sets of :func:`load_go_gene_sets`. NCBI Gene data are public domain.

    Examples
    --------
    >>> genes = load_human_genes()
    >>> "IL1RL1" in set(genes["symbol"])
    True
    """
    return _read_genes().copy()
