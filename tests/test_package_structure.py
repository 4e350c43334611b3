"""Package-wide API conventions (STYLE.md §3): checked over every public function."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ssctrial

_MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(ssctrial.__path__, prefix="ssctrial.")
    if not m.name.rsplit(".", 1)[-1].startswith("_")
    # the CLI and web layers are checked by their own tests; Alembic scripts run only under Alembic
    and not any(part in m.name.split(".") for part in ("cli", "web", "migrations"))
)


def _public_functions():
    for name in _MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


FUNCTIONS = dict(_public_functions())


def test_every_subpackage_declares_all():
    for name in _MODULES:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        for attr in module.__all__:
            assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS) or ["<none>"])
def test_at_most_three_positional_and_no_positional_bool(qualname):
    if qualname == "<none>":
        pytest.skip("no public functions yet")
    sig = inspect.signature(FUNCTIONS[qualname])
    positional = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert len(positional) <= 3, f"{qualname} takes {len(positional)} positional parameters"
    for p in positional:
        assert not isinstance(p.default, bool), f"{qualname}: positional boolean {p.name!r}"


def test_public_functions_have_docstrings():
    missing = [q for q, f in FUNCTIONS.items() if not (f.__doc__ or "").strip()]
    assert not missing, f"public functions without a docstring: {missing}"
