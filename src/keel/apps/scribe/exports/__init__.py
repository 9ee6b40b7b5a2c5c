"""Render transcripts to downloadable formats: txt, srt, vtt, json, csv, docx, pdf.

Every renderer returns a :class:`RenderedExport` ``(data, content_type, extension)``.
Speaker ids on segments are resolved through ``Transcript.speakers`` (id -> display
name), so renaming a speaker once carries into every format. A stored summary comes first in txt, docx,
pdf and json; a translation replaces the segment texts (timings kept) in every format.

One module per kind (`base`, `text`, `documents`); this package re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable

from keel.apps.scribe.exports.base import ExportOptions, RenderedExport, Transcript, format_timestamp
from keel.apps.scribe.exports.documents import render_docx, render_pdf
from keel.apps.scribe.exports.text import render_csv, render_json, render_srt, render_txt, render_vtt

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_MEDIA_TYPES",
    "ExportOptions",
    "RenderedExport",
    "Transcript",
    "format_timestamp",
    "render",
    "render_csv",
    "render_docx",
    "render_json",
    "render_pdf",
    "render_srt",
    "render_txt",
    "render_vtt",
]

_RENDERERS: dict[str, Callable[[Transcript, ExportOptions | None], RenderedExport]] = {
    "txt": render_txt,
    "srt": render_srt,
    "vtt": render_vtt,
    "json": render_json,
    "csv": render_csv,
    "docx": render_docx,
    "pdf": render_pdf,
}
EXPORT_FORMATS: tuple[str, ...] = tuple(_RENDERERS)
# what the download route documents (each renderer's content type, charset aside); the binary documents
# first, so a client generated from the schema reads every download as bytes
EXPORT_MEDIA_TYPES: tuple[str, ...] = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/plain",
    "application/x-subrip",
    "text/vtt",
    "application/json",
    "text/csv",
)


def render(t: Transcript, fmt: str, opts: ExportOptions | None = None) -> RenderedExport:
    """Render ``t`` as ``fmt`` (one of ``EXPORT_FORMATS``); raises ``ValueError`` otherwise."""
    try:
        renderer = _RENDERERS[fmt.lower()]
    except KeyError:
        raise ValueError(
            f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        ) from None
    return renderer(t, opts)
