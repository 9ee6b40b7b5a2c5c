"""Render transcripts to downloadable formats: txt, srt, vtt, json, csv, docx, pdf.

Every renderer returns a :class:`RenderedExport` ``(data, content_type, extension)``.
Speaker ids on segments are resolved through ``Transcript.speakers`` (id -> display
name), so renaming a speaker once carries into every format.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec

from keel.apps.scribe.engines import Segment, TranscriptResult, Word

__all__ = [
    "EXPORT_FORMATS",
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


class Transcript(msgspec.Struct):
    title: str
    segments: list[Segment]
    language: str | None = None
    duration: float | None = None
    speakers: dict[str, str] = msgspec.field(default_factory=dict)

    @classmethod
    def from_result(
        cls, result: TranscriptResult, title: str, speakers: dict[str, str] | None = None
    ) -> Transcript:
        return cls(
            title=title,
            segments=list(result.segments),
            language=result.language,
            duration=result.duration,
            speakers=dict(speakers or {}),
        )

    def speaker_name(self, speaker: str | None) -> str | None:
        if not speaker:
            return None
        return self.speakers.get(speaker) or speaker


class ExportOptions(msgspec.Struct, frozen=True):
    include_timestamps: bool = True
    include_speakers: bool = True
    max_line_chars: int = 42  # subtitles
    max_lines_per_cue: int = 2  # subtitles


class RenderedExport(NamedTuple):
    data: bytes
    # text/* types carry no charset: Litestar's Response appends `; charset=utf-8` to them itself
    content_type: str
    extension: str


# --------------------------------------------------------------------------- helpers

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    """Remove characters that are invalid in XML/subtitles; normalise whitespace."""
    return re.sub(r"[ \t\r\n]+", " ", _CONTROL_CHARS.sub("", text or "")).strip()


def format_timestamp(seconds: float, sep: str = ".", always_hours: bool = True) -> str:
    """``HH:MM:SS<sep>mmm`` (``sep`` is ``,`` for SRT, ``.`` for VTT)."""
    ms_total = max(0, round((seconds or 0.0) * 1000))
    h, rem = divmod(ms_total, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    if not always_hours and h == 0:
        return f"{m:02d}:{s:02d}{sep}{ms:03d}"
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _short_time(seconds: float) -> str:
    total = max(0, int(seconds or 0))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


class _Cue(NamedTuple):
    start: float
    end: float
    lines: list[str]
    speaker: str | None


def _split_text_by_time(
    text: str, start: float, end: float, words: list[Word], max_chars: int, max_lines: int
) -> list[tuple[float, float, list[str]]]:
    """Split a segment into subtitle cues of at most ``max_lines`` lines of ``max_chars``."""
    lines = textwrap.wrap(text, width=max_chars, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) <= max_lines:
        return [(start, end, lines)]
    groups = [lines[i : i + max_lines] for i in range(0, len(lines), max_lines)]
    total_chars = sum(len(" ".join(g)) for g in groups) or 1
    cues: list[tuple[float, float, list[str]]] = []
    timed = [w for w in words if w.word.strip()]
    word_idx = 0
    cursor = start
    for gi, group in enumerate(groups):
        n_words = len(" ".join(group).split())
        if gi == len(groups) - 1:
            g_end = end
        elif timed and word_idx + n_words <= len(timed):
            g_end = timed[word_idx + n_words - 1].end
        else:
            g_end = cursor + (end - start) * len(" ".join(group)) / total_chars
        g_end = min(max(g_end, cursor), end)
        cues.append((cursor, g_end, group))
        word_idx += n_words
        cursor = g_end
    return cues


def _cues(t: Transcript, opts: ExportOptions) -> list[_Cue]:
    out: list[_Cue] = []
    for seg in t.segments:
        text = _clean(seg.text)
        if not text:
            continue
        speaker = t.speaker_name(seg.speaker) if opts.include_speakers else None
        end = seg.end if seg.end > seg.start else seg.start + 1.0
        for start, cend, lines in _split_text_by_time(
            text, seg.start, end, seg.words, opts.max_line_chars, opts.max_lines_per_cue
        ):
            out.append(_Cue(start, max(cend, start + 0.001), lines, speaker))
    return out


def _paragraphs(t: Transcript, opts: ExportOptions) -> list[tuple[float, str | None, str]]:
    """(start, speaker name, text) blocks. Without timestamps consecutive segments of the
    same speaker are merged into one paragraph."""
    paras: list[tuple[float, str | None, str]] = []
    for seg in t.segments:
        text = _clean(seg.text)
        if not text:
            continue
        speaker = t.speaker_name(seg.speaker) if opts.include_speakers else None
        if not opts.include_timestamps and paras and paras[-1][1] == speaker and speaker is not None:
            start, spk, prev = paras[-1]
            paras[-1] = (start, spk, f"{prev} {text}")
        else:
            paras.append((seg.start, speaker, text))
    return paras


def _prefix(start: float, speaker: str | None, opts: ExportOptions) -> str:
    parts = []
    if opts.include_timestamps:
        parts.append(f"[{_short_time(start)}]")
    if speaker:
        parts.append(f"{speaker}:")
    return " ".join(parts)


def _safe_filename_title(t: Transcript) -> str:
    return _clean(t.title) or "Transcript"


# --------------------------------------------------------------------------- text formats


def render_txt(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    opts = opts or ExportOptions()
    lines = []
    for start, speaker, text in _paragraphs(t, opts):
        prefix = _prefix(start, speaker, opts)
        lines.append(f"{prefix} {text}" if prefix else text)
    sep = "\n" if opts.include_timestamps else "\n\n"
    body = sep.join(lines) + "\n"
    return RenderedExport(body.encode("utf-8"), "text/plain", "txt")


def render_srt(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    opts = opts or ExportOptions()
    blocks = []
    for i, cue in enumerate(_cues(t, opts), start=1):
        lines = list(cue.lines)
        if cue.speaker:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        blocks.append(
            f"{i}\n{format_timestamp(cue.start, ',')} --> {format_timestamp(cue.end, ',')}\n"
            + "\n".join(lines)
        )
    body = "\n\n".join(blocks) + "\n" if blocks else ""
    return RenderedExport(body.encode("utf-8"), "application/x-subrip; charset=utf-8", "srt")


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    opts = opts or ExportOptions()
    title = _clean(t.title).replace("-->", "->")
    out = [f"WEBVTT - {title}" if title else "WEBVTT", ""]
    for cue in _cues(t, opts):
        out.append(f"{format_timestamp(cue.start, '.')} --> {format_timestamp(cue.end, '.')}")
        lines = [_vtt_escape(line) for line in cue.lines]
        if cue.speaker:
            voice = _vtt_escape(cue.speaker).replace(">", "")
            lines[0] = f"<v {voice}>{lines[0]}"
            lines[-1] = f"{lines[-1]}</v>"
        out.extend(lines)
        out.append("")
    return RenderedExport("\n".join(out).encode("utf-8"), "text/vtt", "vtt")


def render_json(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    doc = {
        "title": t.title,
        "language": t.language,
        "duration": t.duration,
        "speakers": t.speakers,
        "text": " ".join(_clean(s.text) for s in t.segments if _clean(s.text)),
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                "speaker": s.speaker,
                "speaker_name": t.speaker_name(s.speaker),
                "text": s.text,
                "confidence": s.confidence,
                "words": [
                    {"start": w.start, "end": w.end, "word": w.word, "probability": w.probability}
                    for w in s.words
                ],
            }
            for s in t.segments
        ],
    }
    return RenderedExport(msgspec.json.format(msgspec.json.encode(doc), indent=2), "application/json", "json")


def _csv_cell(value: str) -> str:
    # Neutralise spreadsheet formula injection (OWASP): prefix risky leading characters.
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def render_csv(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    opts = opts or ExportOptions()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    header = ["start", "end", "start_seconds", "end_seconds"] if opts.include_timestamps else []
    header += ["speaker"] if opts.include_speakers else []
    writer.writerow([*header, "text"])
    for s in t.segments:
        text = _clean(s.text)
        if not text:
            continue
        row: list[str] = []
        if opts.include_timestamps:
            row += [
                format_timestamp(s.start, "."),
                format_timestamp(s.end, "."),
                f"{s.start:.3f}",
                f"{s.end:.3f}",
            ]
        if opts.include_speakers:
            row.append(_csv_cell(t.speaker_name(s.speaker) or ""))
        row.append(_csv_cell(text))
        writer.writerow(row)
    # UTF-8 with BOM so Excel detects the encoding.
    return RenderedExport(buf.getvalue().encode("utf-8-sig"), "text/csv", "csv")


# --------------------------------------------------------------------------- documents


def _meta_line(t: Transcript) -> str:
    parts = []
    if t.language:
        parts.append(f"Language: {t.language}")
    if t.duration:
        parts.append(f"Duration: {_short_time(t.duration)}")
    return " · ".join(parts)


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
    for start, speaker, text in _paragraphs(t, opts):
        head = _prefix(start, speaker, opts)
        if head:
            pdf.set_font(family, "B", 10)
            pdf.multi_cell(width, 5, safe(head), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 11)
        pdf.multi_cell(width, 6, safe(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return RenderedExport(bytes(pdf.output()), "application/pdf", "pdf")


# --------------------------------------------------------------------------- dispatch

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


def render(t: Transcript, fmt: str, opts: ExportOptions | None = None) -> RenderedExport:
    """Render ``t`` as ``fmt`` (one of ``EXPORT_FORMATS``); raises ``ValueError`` otherwise."""
    try:
        renderer = _RENDERERS[fmt.lower()]
    except KeyError:
        raise ValueError(
            f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        ) from None
    return renderer(t, opts)
