"""A small document model for the trial report: sections made of paragraphs, tables and figures.

The same :class:`ReportDocument` is rendered to a self-contained HTML file, to a PDF, and to
loose CSV/PNG/SVG files (``write_report``), so the three never disagree.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

__all__ = ["Figure", "Paragraph", "ReportDocument", "Section", "Table"]

_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "item"


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text (no markup; rendered escaped)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table: a DataFrame shown as is (format numbers before), with a title and a note.

    ``name`` is the file stem of its CSV in the output folder.
    """

    name: str
    title: str
    data: pd.DataFrame
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _slug(self.name))


@dataclass(frozen=True)
class Figure:
    """A figure rendered once to PNG (embedded in HTML and PDF) and SVG (written beside them)."""

    name: str
    title: str
    png: bytes
    svg: str
    width_in: float
    height_in: float
    caption: str = ""

    @classmethod
    def from_matplotlib(
        cls, name: str, title: str, figure: MplFigure, *, caption: str = "", dpi: int = 120
    ) -> Figure:
        """Render a matplotlib figure (and close it) into a :class:`Figure`."""
        import matplotlib.pyplot as plt

        # Figures are laid out by their makers (tight_layout / fixed axes), so no "tight" bounding
        # box here: that would draw every figure twice more.
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        svg = io.StringIO()
        figure.savefig(svg, format="svg", metadata={"Date": None})
        width, height = figure.get_size_inches()
        plt.close(figure)
        return cls(
            name=_slug(name),
            title=title,
            png=png.getvalue(),
            svg=svg.getvalue(),
            width_in=float(width),
            height_in=float(height),
            caption=caption,
        )


Block = Paragraph | Table | Figure


@dataclass
class Section:
    """A titled section of the report: an ordered list of blocks."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or _slug(self.title)

    def add(self, block: Block) -> Section:
        """Append a block and return the section (for chaining)."""
        self.blocks.append(block)
        return self

    def text(self, text: str) -> Section:
        """Append a paragraph."""
        return self.add(Paragraph(text))


@dataclass
class ReportDocument:
    """The whole report: a title, header facts (study, hashes, seed, versions) and sections."""

    title: str
    header: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        """Create, append and return a new section."""
        new = Section(title)
        self.sections.append(new)
        return new

    @property
    def tables(self) -> list[Table]:
        """Every table, in document order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    @property
    def figures(self) -> list[Figure]:
        """Every figure, in document order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]
