"""ssctrial: run and analyse randomised clinical trials in systemic sclerosis, end to end.

The package is split by stage of the data flow (see ``docs/architecture.md``):
``design`` → ``instruments`` → ``store``, ``randomize`` → ``simulate`` → ``derive`` →
``stats``, ``omics`` → ``report``, ``power`` → ``cli``, ``web``.
A stage imports only from the stages before it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ssctrial")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
