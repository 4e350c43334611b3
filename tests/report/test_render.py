"""The report renderers: HTML self-contained and escaped, PDF pages as expected, loose files."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pypdf
import pytest

from ssctrial.report import Figure, ReportDocument, Table, render_html, write_report


@pytest.fixture
def document() -> ReportDocument:
    doc = ReportDocument("BASICS trial report", header={"Study": "BASICS", "Seed": 2021})
    primary = doc.section("Primary endpoint")
    primary.text("Change in mRSS from baseline to week 12 <script>alert(1)</script>.")
    primary.add(
        Table(
            "primary",
            "mRSS change at week 12",
            pd.DataFrame({"Arm": ["BARI4", "CTRL"], "Mean": ["-8.93", "-3.61"]}),
            note="ANCOVA adjusted for baseline",
        )
    )
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 4, 8, 12], [0, -3, -6, -9])
    primary.add(Figure.from_matplotlib("trajectory", "Mean mRSS over time", fig, caption="mean and SE"))
    safety = doc.section("Safety")
    safety.add(Table("ae", "Adverse events", pd.DataFrame({"Term": ["Herpes zoster"], "n": ["2"]})))
    return doc


def test_html_is_self_contained_with_every_section(document):
    page = render_html(document)
    for section in document.sections:
        assert f'id="{section.id}"' in page
        assert f">{section.title}<" in page
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == len(document.figures) == 1
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "<link" not in page


def test_html_escapes_text(document):
    page = render_html(document)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_numbers_in_tables_reach_html_pdf_and_csv(document, tmp_path):
    paths = write_report(document, tmp_path)
    page = paths["html"].read_text()
    reader = pypdf.PdfReader(paths["pdf"])
    text = "\n".join(p.extract_text() for p in reader.pages)
    for value in ["-8.93", "-3.61", "Herpes zoster"]:
        assert value in page
        assert value in text
    csv = pd.read_csv(paths["tables"] / "primary.csv", dtype=str)
    pd.testing.assert_frame_equal(csv, document.tables[0].data)
    assert (paths["figures"] / "trajectory.png").read_bytes() == document.figures[0].png
    assert (paths["figures"] / "trajectory.svg").read_text().startswith("<?xml")


def test_pdf_has_title_page_plus_one_page_per_section(document, tmp_path):
    paths = write_report(document, tmp_path)
    reader = pypdf.PdfReader(paths["pdf"])
    # a title page, then every section starts on a new page; these sections fit on one page each
    assert len(reader.pages) == 1 + len(document.sections)
    assert "Primary endpoint" in reader.pages[1].extract_text()
    assert "Safety" in reader.pages[2].extract_text()
    assert reader.metadata.title == "BASICS trial report"
