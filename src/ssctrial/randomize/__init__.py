"""Concealed randomisation: permuted-block lists, minimisation, and their atomic use in the store.

The pure generators (:func:`permuted_block_list`, :class:`Minimisation`, :func:`minimise`) need
no database. See ``docs/randomization.md`` for methods, concealment and concurrency guarantees.
"""

from ssctrial.randomize._allocate import (
    AllocationRecord,
    ReproductionReport,
    assert_allocation_design,
    create_allocation_list,
    randomize_subject,
    reproduce_allocation_list,
)
from ssctrial.randomize._blocks import check_ratio, permuted_block_list
from ssctrial.randomize._bulk_allocate import randomize_subjects
from ssctrial.randomize._minimisation import Minimisation, minimise

__all__ = [
    "AllocationRecord",
    "Minimisation",
    "ReproductionReport",
    "assert_allocation_design",
    "check_ratio",
    "minimise",
    "permuted_block_list",
    "randomize_subject",
    "randomize_subjects",
    "reproduce_allocation_list",
    "create_allocation_list",
]
