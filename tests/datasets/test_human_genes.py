"""Tests of the shipped human protein-coding gene table (counts from data/provenance.json)."""

from __future__ import annotations

from ssctrial.datasets import go_provenance, load_human_genes


def test_gene_table_shape_and_columns():
    genes = load_human_genes()
    assert list(genes.columns) == ["entrez_id", "symbol", "name"]
    assert len(genes) == 20598 == go_provenance()["protein_coding_genes"]
    assert genes["symbol"].is_unique
    assert genes["entrez_id"].is_unique
    assert genes["entrez_id"].dtype == "int64"


def test_known_genes_present():
    genes = load_human_genes().set_index("symbol")
    # NCBI Gene ids: IL1RL1 = 9173, SYT17 = 51760, A1BG = 1.
    assert genes.loc["IL1RL1", "entrez_id"] == 9173
    assert genes.loc["SYT17", "entrez_id"] == 51760
    assert genes.loc["A1BG", "entrez_id"] == 1


def test_copy_is_returned():
    a = load_human_genes()
    a.drop(index=a.index, inplace=True)
    assert len(load_human_genes()) == 20598
