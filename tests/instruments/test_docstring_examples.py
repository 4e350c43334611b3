"""Run the Examples sections of the clinical scorers' docstrings (numpydoc examples must hold)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["_mrss", "_haq", "_globals", "_joints", "_ulcers", "_eustar", "_criss", "_rcriss", "_validate"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"ssctrial.instruments.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name in ("_mrss", "_criss"):
        assert result.attempted > 0  # these modules carry examples; make sure they ran
