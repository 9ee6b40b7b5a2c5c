"""Document exports: docx (python-docx) and pdf (fpdf2, with DejaVu Sans when one is installed)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from keel.apps.scribe.exports.base import (
    ExportOptions,
    RenderedExport,
    Transcript,
    _clean,
    _meta_line,
    _paragraphs,
    _prefix,
    _safe_filename_title,
    _short_time,
    summary_heading,
)


def render_docx(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    import docx
    from docx.shared import Pt, RGBColor

    opts = opts or ExportOptions()
    document = docx.Document()
    title = _safe_filename_title(t)
    document.core_properties.title = title
    document.add_heading(title, level=1)
    meta = _meta_line(t)
    if meta:
        p = document.add_paragraph()
        run = p.add_run(meta)
        run.italic = True
        run.font.size = Pt(9)
    if t.summary:
        document.add_heading(summary_heading(t), level=2)
        for part in t.summary.split("\n\n"):
            document.add_paragraph(_clean(part))
        document.add_heading("Transcript", level=2)
    for start, speaker, text in _paragraphs(t, opts):
        p = document.add_paragraph()
        if opts.include_timestamps:
            ts = p.add_run(f"[{_short_time(start)}] ")
            ts.font.color.rgb = RGBColor(0x70, 0x70, 0x70)
            ts.font.size = Pt(9)
        if speaker:
            p.add_run(f"{_clean(speaker)}: ").bold = True
        p.add_run(text)
    out = io.BytesIO()
    document.save(out)
    return RenderedExport(
        out.getvalue(),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    )


_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


def _find_unicode_font() -> Path | None:
    """DejaVu Sans from the system or matplotlib's bundled copy (no import of matplotlib)."""
    candidates = [Path(p) for p in _FONT_CANDIDATES]
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates.insert(0, Path(loc) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    for c in candidates:
        if c.is_file():
            return c
    return None


def render_pdf(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    from fpdf import FPDF

    opts = opts or ExportOptions()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(18, 18, 18)
    title = _safe_filename_title(t)
    pdf.set_title(title)
    pdf.set_creator("Keel TurboScribe Pro")

    font_path = _find_unicode_font()
    if font_path is not None:
        pdf.add_font("Body", "", str(font_path))
        bold_path = font_path.with_name("DejaVuSans-Bold.ttf")
        pdf.add_font("Body", "B", str(bold_path if bold_path.is_file() else font_path))
        family = "Body"
        cmap = set(pdf.fonts["body"].cmap) if hasattr(pdf.fonts.get("body"), "cmap") else None

        def safe(text: str) -> str:
            if cmap is None:
                return text
            return "".join(ch if ord(ch) in cmap or ch in "\n " else "?" for ch in text)
    else:
        family = "Helvetica"

        def safe(text: str) -> str:
            replacements = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                            "\u2014": "-", "\u2026": "...", "\u00b7": "-"}  # fmt: skip
            text = "".join(replacements.get(ch, ch) for ch in text)
            return text.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(width, 8, safe(title), new_x="LMARGIN", new_y="NEXT")
    meta = _meta_line(t)
    if meta:
        pdf.set_font(family, "", 9)
        pdf.set_text_color(110, 110, 110)
        pdf.multi_cell(width, 5, safe(meta), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    if t.summary:
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(width, 6, safe(summary_heading(t)), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 11)
        for part in t.summary.split("\n\n"):
            pdf.multi_cell(width, 6, safe(_clean(part)), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(width, 6, "Transcript", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    for start, speaker, text in _paragraphs(t, opts):
        head = _prefix(start, speaker, opts)
        if head:
            pdf.set_font(family, "B", 10)
            pdf.multi_cell(width, 5, safe(head), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 11)
        pdf.multi_cell(width, 6, safe(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return RenderedExport(bytes(pdf.output()), "application/pdf", "pdf")
