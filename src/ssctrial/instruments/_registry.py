"""The instrument registry: one definition of every instrument's items, scorer and rules.

Data capture, store validation, the simulator, the derivation and the report all read
instruments from here, so an item's allowed values are written down exactly once.

Each instrument module builds an :class:`Instrument` and passes it to :func:`register` at
import time; :func:`get_instrument` and :func:`list_instruments` look them up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from ssctrial.exceptions import InputError, NotFoundError

__all__ = [
    "Instrument",
    "Item",
    "ItemType",
    "get_instrument",
    "list_instruments",
    "register",
]

ItemType = Literal["integer", "number", "categorical", "boolean", "date", "text"]

_ITEM_TYPES: tuple[str, ...] = ("integer", "number", "categorical", "boolean", "date", "text")


@dataclass(frozen=True)
class Item:
    """One item of an instrument as captured on a form or in a file.

    Attributes
    ----------
    code
        Machine name, unique within the instrument (``fingers_right``, ``dressing_1``).
    label
        Human label shown on forms and in error messages.
    type
        One of ``integer``, ``number``, ``categorical``, ``boolean``, ``date``, ``text``.
    allowed
        For ``categorical`` (and optionally ``integer``) items, the allowed values.
    min, max
        Inclusive range for ``integer`` and ``number`` items.
    unit
        Unit of the value (``L``, ``mm``, ``cm``, ``%``), or ``None``.
    required
        Whether the scorer needs the item (``False`` for optional items such as aids).
    description
        Longer help text (grading anchors, how to measure).
    """

    code: str
    label: str
    type: ItemType
    allowed: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    required: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in _ITEM_TYPES:
            msg = f"Item {self.code!r}: type {self.type!r} is not one of {', '.join(_ITEM_TYPES)}"
            raise ValueError(msg)

    def allowed_text(self) -> str:
        """Describe the allowed values in words, for error messages and forms."""
        if self.allowed is not None:
            values = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in self.allowed)
            return f"one of {values}"
        kind = {"integer": "an integer", "number": "a number"}.get(self.type, f"a {self.type}")
        unit = f" {self.unit}" if self.unit else ""
        if self.min is not None and self.max is not None:
            return f"{kind} from {_fmt(self.min)} to {_fmt(self.max)}{unit}"
        if self.min is not None:
            return f"{kind} of at least {_fmt(self.min)}{unit}"
        if self.max is not None:
            return f"{kind} of at most {_fmt(self.max)}{unit}"
        return kind

    def check(self, value: Any, *, instrument: str = "") -> Any:
        """Return ``value`` converted to the item's type, or raise :class:`InputError`.

        ``None`` (and NaN) are returned as ``None``: whether a missing item is acceptable is
        the instrument's missing-item rule, not the item's.
        """
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        converted = _convert(self, value)
        if converted is _INVALID:
            raise InputError(self._message(value, instrument))
        if self.allowed is not None and converted not in self.allowed:
            raise InputError(self._message(value, instrument))
        if self.type in ("integer", "number"):
            if self.min is not None and converted < self.min:
                raise InputError(self._message(value, instrument))
            if self.max is not None and converted > self.max:
                raise InputError(self._message(value, instrument))
        return converted

    def _message(self, value: Any, instrument: str) -> str:
        where = f"{instrument} item {self.code!r}" if instrument else f"item {self.code!r}"
        return f"{where} ({self.label}): value {value!r} is not allowed; expected {self.allowed_text()}"


_INVALID = object()


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _convert(item: Item, value: Any) -> Any:
    """Convert a raw value (possibly a string from a CSV or a form) to the item's type."""
    try:
        if item.type == "integer":
            if isinstance(value, bool):
                return _INVALID
            number = float(value)
            if not number.is_integer():
                return _INVALID
            return int(number)
        if item.type == "number":
            if isinstance(value, bool):
                return _INVALID
            number = float(value)
            return _INVALID if math.isnan(number) or math.isinf(number) else number
        if item.type == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "y", "1.0"):
                return True
            if text in ("0", "false", "no", "n", "0.0"):
                return False
            return _INVALID
        if item.type == "date":
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
            return date.fromisoformat(str(value).strip())
        if item.type == "categorical":
            if item.allowed is not None and value not in item.allowed:
                # a CSV gives "2" for an integer code 2; match by text
                for allowed in item.allowed:
                    if str(allowed) == str(value).strip():
                        return allowed
            return value
        return str(value)
    except (TypeError, ValueError):
        return _INVALID


@dataclass(frozen=True)
class Instrument:
    """An outcome instrument: its items, how it is scored, and where it comes from.

    Attributes
    ----------
    code
        Registry key, upper case (``MRSS``, ``ACR_CRISS``, ``HAQ_DI``, ``EQ5D_5L``, ``GLI``...).
    name
        Full name.
    items
        The captured items, in form order.
    scorer
        The vectorised scoring function: takes a DataFrame with one column per item code
        (plus any options as keyword arguments) and returns a DataFrame of scores.
    outputs
        The score columns the scorer returns, mapped to the ADaM ``PARAMCD`` they feed
        (``{"total": "MRSS"}``), or to ``None`` when not an analysis parameter.
    score_range
        Human description of the score range (``"0-51"``).
    missing_rule
        The instrument's own rule for missing items, in words.
    citation
        The primary publication(s).
    per_visit
        ``True`` when the instrument is captured on its own at a visit; ``False`` for composite
        indices (ACR-CRISS) computed from other instruments' scores.
    options
        Scorer options and their defaults (value set, equation, threshold).
    """

    code: str
    name: str
    items: tuple[Item, ...]
    scorer: Callable[..., Any]
    outputs: Mapping[str, str | None]
    score_range: str
    missing_rule: str
    citation: str
    per_visit: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)

    def item(self, code: str) -> Item:
        """Return the item called ``code``, or raise :class:`NotFoundError` listing the items."""
        for item in self.items:
            if item.code == code:
                return item
        known = ", ".join(i.code for i in self.items)
        msg = f"{self.code} has no item {code!r}; its items are: {known}"
        raise NotFoundError(msg)

    def check_item(self, code: str, value: Any) -> Any:
        """Validate one item value; return it converted to the item's type."""
        return self.item(code).check(value, instrument=self.code)


_REGISTRY: dict[str, Instrument] = {}


def register(instrument: Instrument) -> Instrument:
    """Add ``instrument`` to the registry (replacing any with the same code) and return it."""
    _REGISTRY[instrument.code] = instrument
    return instrument


def get_instrument(code: str) -> Instrument:
    """Return the registered instrument ``code`` (case-insensitive)."""
    key = code.upper().replace("-", "_")
    try:
        return _REGISTRY[key]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        msg = f"unknown instrument {code!r}; registered instruments are: {known}"
        raise NotFoundError(msg) from None


def list_instruments() -> list[Instrument]:
    """Return every registered instrument, sorted by code."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
