"""What every export format shares: the transcript to render, the options, the result, and the helpers
that turn segments into subtitle cues or paragraphs."""

from __future__ import annotations

import re
import textwrap
from typing import NamedTuple

import msgspec

from keel.apps.scribe.engines import Segment, TranscriptResult, Word


class Transcript(msgspec.Struct):
    title: str
    segments: list[Segment]
    language: str | None = None
    duration: float | None = None
    speakers: dict[str, str] = msgspec.field(default_factory=dict)
    summary: str | None = None  # shown before the transcript in txt, docx, pdf and json
    summary_engine: str | None = None  # "extractive" or the model that wrote it
    translated_from: str | None = None  # set when the segment texts are a translation (of this language)

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


def summary_heading(t: Transcript) -> str:
    return f"Summary ({t.summary_engine})" if t.summary_engine else "Summary"


def _meta_line(t: Transcript) -> str:
    parts = []
    if t.language:
        parts.append(f"Language: {t.language}")
    if t.translated_from:
        parts.append(f"translated from {t.translated_from}")
    if t.duration:
        parts.append(f"Duration: {_short_time(t.duration)}")
    return " · ".join(parts)
