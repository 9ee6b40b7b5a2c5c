"""Text exports: txt, srt, vtt, json, csv."""

from __future__ import annotations

import csv
import io

import msgspec

from keel.apps.scribe.exports.base import (
    ExportOptions,
    RenderedExport,
    Transcript,
    _clean,
    _cues,
    _paragraphs,
    _prefix,
    format_timestamp,
    summary_heading,
)


def render_txt(t: Transcript, opts: ExportOptions | None = None) -> RenderedExport:
    opts = opts or ExportOptions()
    lines = []
    for start, speaker, text in _paragraphs(t, opts):
        prefix = _prefix(start, speaker, opts)
        lines.append(f"{prefix} {text}" if prefix else text)
    sep = "\n" if opts.include_timestamps else "\n\n"
    body = sep.join(lines) + "\n"
    if t.summary:
        body = f"{summary_heading(t)}\n\n{t.summary.strip()}\n\nTranscript\n\n{body}"
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
        "summary": {"text": t.summary, "engine": t.summary_engine} if t.summary else None,
        "translated_from": t.translated_from,
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
