"""Concealed randomisation: permuted-block lists, minimisation, and their atomic use in the store.

The pure generators (:func:`permuted_block_list`, :class:`Minimisation`, :func:`minimise`) need
no database. See ``docs/randomization.md`` for methods, concealment and concurrency guarantees.
"""

from ssctrial.randomize._blocks import check_ratio, permuted_block_list
from ssctrial.randomize._minimisation import Minimisation, minimise

__all__ = [
    "Minimisation",
    "check_ratio",
    "minimise",
    "permuted_block_list",
]
