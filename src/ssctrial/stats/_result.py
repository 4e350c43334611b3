"""A small result object shared by every analysis: a tidy DataFrame that prints well."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["StatsResult"]


class StatsResult:
    """A tidy result table (one row per estimate) with a title and the method used.

    Parameters
    ----------
    table
        The tidy DataFrame: one row per estimate, with a ``method`` column.
    title
        A one-line description printed above the table.
    notes
        Extra lines (options chosen, handling of missing data) printed below the table.
    extra
        Further named tables (e.g. ``lsmeans``, ``contrasts``) exposed as attributes.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        *,
        title: str,
        notes: list[str] | None = None,
        extra: dict[str, pd.DataFrame] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self._table = table.reset_index(drop=True)
        self.title = title
        self.notes = list(notes or [])
        self._extra = dict(extra or {})
        self.info = dict(info or {})

    def __getattr__(self, name: str) -> pd.DataFrame:
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name].copy()
        msg = f"{type(self).__name__!s} has no attribute {name!r}"
        raise AttributeError(msg)

    @property
    def tables(self) -> list[str]:
        """Names of the further tables available as attributes."""
        return list(self._extra)

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the tidy result table."""
        return self._table.copy()

    def _format_table(self, table: pd.DataFrame) -> str:
        with pd.option_context("display.max_columns", 50, "display.width", 160,
                               "display.float_format", "{:.4g}".format):
            return table.to_string(index=False)

    def __repr__(self) -> str:
        parts = [self.title, "", self._format_table(self._table)]
        for name, table in self._extra.items():
            if table.reset_index(drop=True).equals(self._table):
                continue
            parts += ["", f"{name}:", self._format_table(table)]
        if self.notes:
            parts += [""] + [f"Note: {n}" for n in self.notes]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        html = [f"<p><b>{self.title}</b></p>", self._table.to_html(index=False, float_format="{:.4g}".format)]
        for name, table in self._extra.items():
            if table.reset_index(drop=True).equals(self._table):
                continue
            html += [f"<p>{name}</p>", table.to_html(index=False, float_format="{:.4g}".format)]
        html += [f"<p><i>Note: {n}</i></p>" for n in self.notes]
        return "\n".join(html)
