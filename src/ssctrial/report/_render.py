"""Render a :class:`ReportDocument` to self-contained HTML, to PDF, and to loose files."""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ssctrial.report._document import Figure, Paragraph, ReportDocument, Table

__all__ = ["render_html", "render_pdf", "write_report"]

logger = logging.getLogger(__name__)


def _table_html(table: Table) -> Markup:
    from great_tables import GT

    gt = GT(table.data.reset_index(drop=True), id=f"tbl-{table.name}")
    gt = gt.tab_header(title=table.title)
    if table.note:
        gt = gt.tab_source_note(table.note)
    return Markup(gt.as_raw_html())  # noqa: S704 - great-tables escapes cell text itself


def _figure_src(figure: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(figure.png).decode("ascii")


def render_html(document: ReportDocument) -> str:
    """Return the report as one self-contained HTML page (figures embedded, no network needed).

    Every block is escaped except the tables, which great-tables renders (escaping cell text).
    """
    env = Environment(
        loader=PackageLoader("ssctrial.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        is_paragraph=lambda b: isinstance(b, Paragraph),
        is_table=lambda b: isinstance(b, Table),
        is_figure=lambda b: isinstance(b, Figure),
        table_html=_table_html,
        figure_src=_figure_src,
    )
    return env.get_template("report.html.j2").render(doc=document)


def render_pdf(document: ReportDocument, path: str | Path) -> Path:
    """Write the report as a PDF (A4, numbered pages) with reportlab."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm, inch
    from reportlab.platypus import (
        Image,
        KeepTogether,
        PageBreak,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )
    from reportlab.platypus import Paragraph as RLParagraph
    from reportlab.platypus import Table as RLTable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    styles = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontSize=7, leading=8.5)
    head = ParagraphStyle("head", parent=cell, fontName="Helvetica-Bold")
    note = ParagraphStyle("note", parent=styles["BodyText"], fontSize=7, textColor=colors.grey)
    width = A4[0] - 3 * cm

    def esc(text: object) -> str:
        return html.escape(str(text))

    story: list = [RLParagraph(esc(document.title), styles["Title"])]
    facts = [[RLParagraph(esc(k), head), RLParagraph(esc(v), cell)] for k, v in document.header.items()]
    if facts:
        story.append(RLTable(facts, colWidths=[4 * cm, width - 4 * cm], hAlign="LEFT"))
    for section in document.sections:
        story.append(PageBreak())
        story.append(RLParagraph(esc(section.title), styles["Heading1"]))
        for block in section.blocks:
            if isinstance(block, Paragraph):
                story.append(RLParagraph(esc(block.text), styles["BodyText"]))
            elif isinstance(block, Table):
                data = block.data.reset_index(drop=True)
                rows = [[RLParagraph(esc(c), head) for c in data.columns]]
                rows += [
                    [RLParagraph("" if pd.isna(v) else esc(v), cell) for v in record]
                    for record in data.itertuples(index=False, name=None)
                ]
                tbl = RLTable(rows, repeatRows=1, hAlign="LEFT")
                tbl.setStyle(
                    TableStyle(
                        [
                            ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black),
                            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                            ("LINEBELOW", (0, -1), (-1, -1), 0.8, colors.black),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("FONTSIZE", (0, 0), (-1, -1), 7),
                        ]
                    )
                )
                parts = [RLParagraph(esc(block.title), styles["Heading3"]), tbl]
                if block.note:
                    parts.append(RLParagraph(esc(block.note), note))
                story.append(KeepTogether(parts[:2]) if len(rows) < 25 else parts[0])
                story.extend(parts[2:] if len(rows) < 25 else parts[1:])
                story.append(Spacer(1, 6))
            elif isinstance(block, Figure):
                scale = min(1.0, width / (block.width_in * inch), (A4[1] * 0.55) / (block.height_in * inch))
                image = Image(
                    io.BytesIO(block.png),
                    width=block.width_in * inch * scale,
                    height=block.height_in * inch * scale,
                )
                parts = [RLParagraph(esc(block.title), styles["Heading3"]), image]
                if block.caption:
                    parts.append(RLParagraph(esc(block.caption), note))
                story.append(KeepTogether(parts))
                story.append(Spacer(1, 6))

    def _footer(canvas, doc) -> None:  # noqa: ANN001 - reportlab callback signature
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(A4[0] - 1.5 * cm, 1 * cm, f"{document.title} - page {doc.page}")
        canvas.restoreState()

    pdf = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
        title=document.title,
        author="ssctrial",
        invariant=1,
    )
    pdf.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return path


def write_report(document: ReportDocument, out_dir: str | Path, *, pdf: bool = True) -> dict[str, Path]:
    """Write ``report.html`` (and ``report.pdf``), plus every table as CSV and figure as PNG/SVG.

    Returns
    -------
    dict
        ``{"html": path, "pdf": path, "tables": folder, "figures": folder}``.
    """
    out = Path(out_dir)
    tables_dir, figures_dir = out / "tables", out / "figures"
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    for table in document.tables:
        table.data.to_csv(tables_dir / f"{table.name}.csv", index=False)
    for figure in document.figures:
        (figures_dir / f"{figure.name}.png").write_bytes(figure.png)
        (figures_dir / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
    paths = {"tables": tables_dir, "figures": figures_dir}
    html_path = out / "report.html"
    html_path.write_text(render_html(document), encoding="utf-8")
    paths["html"] = html_path
    if pdf:
        paths["pdf"] = render_pdf(document, out / "report.pdf")
    logger.info("report written to %s", out)
    return paths
