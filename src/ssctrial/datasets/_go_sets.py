"""Gene Ontology gene sets shipped with ssctrial (GO release 2022-07-01, human)."""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ssctrial.exceptions import InputError, NotFoundError

__all__ = ["GeneSet", "go_provenance", "load_go_gene_sets", "read_gmt"]

logger = logging.getLogger(__name__)

_ONTOLOGIES = ("BP", "CC", "MF")
_PKG = "ssctrial.datasets"


@dataclass(frozen=True)
class GeneSet:
    """One gene set: an identifier, a human-readable name and its member gene symbols.

    Attributes
    ----------
    id
        Term identifier, e.g. ``"GO:0001819"``.
    name
        Term name, e.g. ``"positive regulation of cytokine production"``.
    genes
        Member gene symbols (a frozenset; order carries no meaning).
    source
        Where the set comes from, e.g. ``"GO:BP 2022-07-01"`` or the path of a user GMT file.
    """

    id: str
    name: str
    genes: frozenset[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.genes)

    def __contains__(self, gene: object) -> bool:
        return gene in self.genes


def _parse_gmt_lines(lines: Any, source: str) -> dict[str, GeneSet]:
    sets: dict[str, GeneSet] = {}
    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            msg = (
                f"GMT line {lineno} of {source!r} has {len(fields)} tab-separated field(s); "
                "expected 'id<TAB>name<TAB>gene<TAB>gene...' (at least one gene)"
            )
            raise InputError(msg)
        set_id = fields[0].strip()
        if set_id in sets:
            msg = f"GMT file {source!r} defines gene set {set_id!r} twice (line {lineno}); ids must be unique"
            raise InputError(msg)
        genes = frozenset(g.strip() for g in fields[2:] if g.strip())
        sets[set_id] = GeneSet(id=set_id, name=fields[1].strip(), genes=genes, source=source)
    return sets


def read_gmt(path: str | Path, *, source: str | None = None) -> dict[str, GeneSet]:
    """Read gene sets from a GMT file (plain or gzipped).

    Parameters
    ----------
    path
        A ``.gmt`` or ``.gmt.gz`` file: one set per line, ``id<TAB>name<TAB>gene<TAB>gene...``.
    source
        Label stored on every set (default: the file name).

    Returns
    -------
    dict of str to GeneSet
        Gene sets keyed by id, in file order.

    Raises
    ------
    InputError
        If a line has fewer than three fields or an id repeats.
    NotFoundError
        If the file does not exist.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"GMT file {str(p)!r} does not exist"
        raise NotFoundError(msg)
    label = source if source is not None else p.name
    opener = gzip.open if p.name.endswith(".gz") else open
    with opener(p, "rt", encoding="utf-8") as fh:
        return _parse_gmt_lines(fh, label)


@cache
def go_provenance() -> dict[str, Any]:
    """Return the provenance record of the shipped GO gene sets.

    Returns
    -------
    dict
        ``go_release`` (e.g. ``"2022-07-01"``), ``go_source``, ``annotation_source``, ``organism``,
        ``built_from``, ``propagation``, ``evidence``, ``set_size_bounds``, ``identifiers``,
        ``counts`` (sets per ontology), ``protein_coding_genes`` and ``licence``.
    """
    text = resources.files(_PKG).joinpath("data", "provenance.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def _load_go(ontology: str) -> dict[str, GeneSet]:
    release = go_provenance()["go_release"]
    fname = f"go_{ontology.lower()}_human.gmt.gz"
    with resources.as_file(resources.files(_PKG).joinpath("data", fname)) as path:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            sets = _parse_gmt_lines(fh, f"GO:{ontology} {release}")
    logger.debug("loaded %d GO %s gene sets (release %s)", len(sets), ontology, release)
    return sets


def load_go_gene_sets(ontology: str = "BP") -> dict[str, GeneSet]:
    """Load the human GO gene sets shipped with ssctrial.

    Parameters
    ----------
    ontology
        ``"BP"`` (biological process), ``"CC"`` (cellular component) or ``"MF"`` (molecular
        function); case-insensitive.

    Returns
    -------
    dict of str to GeneSet
        GO term id -> :class:`GeneSet` (``id``, ``name``, ``genes``, ``source`` such as
        ``"GO:BP 2022-07-01"``). A new dict each call (the sets themselves are immutable and cached).

    Raises
    ------
    InputError
        If ``ontology`` is not one of BP, CC, MF.

    Notes
    -----
    Built from GO release 2022-07-01 (Bioconductor GO.db 3.16.0) and NCBI gene2go annotations
    (org.Hs.eg.db 3.16.0), all evidence codes, propagated up is_a/part_of (true-path rule) as
    clusterProfiler's ``enrichGO``; terms with 5 to 2000 genes. Gene Ontology data: CC BY 4.0 (cite
    the GO Consortium and the release). See :func:`go_provenance`.

    Examples
    --------
    >>> sets = load_go_gene_sets("BP")
    >>> len(sets["GO:0001819"].genes)
    486
    """
    if not isinstance(ontology, str) or ontology.upper() not in _ONTOLOGIES:
        msg = f"ontology={ontology!r} is not a GO ontology; allowed: 'BP', 'CC', 'MF'"
        raise InputError(msg)
    return dict(_load_go(ontology.upper()))
