"""Tests of the shipped GO gene sets (reference counts: org.Hs.egGO2ALLEGS in R, see data/README.md)."""

from __future__ import annotations

import gzip

import pytest

from ssctrial.datasets import GeneSet, go_provenance, load_go_gene_sets, load_human_genes, read_gmt
from ssctrial.exceptions import InputError, NotFoundError


def test_provenance_stamps_release_and_licence():
    prov = go_provenance()
    assert prov["go_release"] == "2022-07-01"
    assert "CC BY 4.0" in prov["licence"]
    assert prov["set_size_bounds"] == [5, 2000]


@pytest.mark.parametrize(("ontology", "n_sets"), [("BP", 9373), ("MF", 1963), ("CC", 1195), ("bp", 9373)])
def test_number_of_sets_matches_provenance(ontology, n_sets):
    sets = load_go_gene_sets(ontology)
    assert len(sets) == n_sets
    assert n_sets == go_provenance()["counts"][ontology.upper()]["sets_kept"]
    sizes = [len(s) for s in sets.values()]
    assert min(sizes) >= 5
    assert max(sizes) <= 2000


@pytest.mark.parametrize(
    ("term", "n_genes"),
    # Counts from R: length(org.Hs.egGO2ALLEGS[[term]]) as unique symbols (GO.db/org.Hs.eg.db 3.16.0).
    [("GO:0006955", 1955), ("GO:0001819", 486), ("GO:0002253", 397), ("GO:0002218", 64)],
)
def test_gene_counts_per_term_equal_r(term, n_genes):
    s = load_go_gene_sets("BP")[term]
    assert isinstance(s, GeneSet)
    assert len(s.genes) == n_genes
    assert s.source == "GO:BP 2022-07-01"


def test_term_names_and_membership():
    bp = load_go_gene_sets("BP")
    assert bp["GO:0006955"].name == "immune response"
    assert "IL1RL1" in bp["GO:0006955"]  # __contains__ on the set
    assert "NOT_A_GENE" not in bp["GO:0006955"]
    assert bp["GO:0000002"].name == "mitochondrial genome maintenance"
    assert "POLG" in bp["GO:0000002"].genes


def test_returns_a_new_dict_each_call():
    a = load_go_gene_sets("CC")
    a.clear()
    assert len(load_go_gene_sets("CC")) == 1195


def test_gene_sets_use_known_symbols():
    symbols = set(load_human_genes()["symbol"])
    bp = load_go_gene_sets("BP")
    genes = set().union(*(s.genes for s in bp.values()))
    # Most annotated genes are protein-coding; ncRNA genes are annotated too, so not all.
    assert len(genes & symbols) / len(genes) > 0.9


@pytest.mark.parametrize("bad", ["XX", "", "biological process", 3])
def test_bad_ontology_is_rejected(bad):
    with pytest.raises(InputError, match=r"ontology=.* allowed: 'BP', 'CC', 'MF'"):
        load_go_gene_sets(bad)


def test_read_user_gmt(tmp_path):
    p = tmp_path / "mine.gmt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("SET1\tfirst set\tA\tB\tC\nSET2\tsecond\tB\tD\n")
    sets = read_gmt(p)
    assert sets["SET1"].genes == frozenset({"A", "B", "C"})
    assert sets["SET2"].name == "second"
    assert sets["SET2"].source == "mine.gmt.gz"
    plain = tmp_path / "plain.gmt"
    plain.write_text("S\tn\tX\n")
    assert read_gmt(plain, source="custom")["S"].source == "custom"


def test_read_gmt_errors(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_gmt(tmp_path / "nope.gmt")
    bad = tmp_path / "bad.gmt"
    bad.write_text("S\tonly name\n")
    with pytest.raises(InputError, match="line 1 .* expected 'id<TAB>name<TAB>gene"):
        read_gmt(bad)
    dup = tmp_path / "dup.gmt"
    dup.write_text("S\ta\tX\nS\tb\tY\n")
    with pytest.raises(InputError, match="defines gene set 'S' twice"):
        read_gmt(dup)
