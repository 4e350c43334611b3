"""Exceptions and warnings raised by ssctrial.

Every error a user can cause is an :class:`SsctrialError`. Errors about bad input are
:class:`InputError`, which is also a :class:`ValueError` so that generic callers can catch it
as such. The CLI turns any :class:`SsctrialError` into a one-line message without a traceback
(``--debug`` shows it).
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "InputError",
    "NotFoundError",
    "PermissionDeniedError",
    "SsctrialError",
    "StateError",
    "StatisticalWarning",
]


class SsctrialError(Exception):
    """Base class of every error ssctrial raises on purpose."""


class InputError(SsctrialError, ValueError):
    """Input that breaks a documented rule: the message names the field, value and what is allowed."""


class NotFoundError(SsctrialError, LookupError):
    """A named thing (subject, visit, instrument, value set, ...) does not exist."""


class StateError(SsctrialError):
    """An operation not allowed in the current state (randomising twice, editing after lock)."""


class PermissionDeniedError(SsctrialError, PermissionError):
    """The user's role does not allow the operation."""


class ConvergenceWarning(UserWarning):
    """An iterative fit did not converge to the requested tolerance."""


class StatisticalWarning(UserWarning):
    """A result is valid but should be read with care (sparse cells, ties, boundary estimates, ...)."""
