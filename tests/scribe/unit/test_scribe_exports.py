"""Transcript exports: every format parses with a real reader and carries renamed speakers."""

from __future__ import annotations

import csv
import io
import json
import re

import pysrt
import pytest
import webvtt

from keel.apps.scribe.engines import Segment, TranscriptResult, Word
from keel.apps.scribe.exports import (
    EXPORT_FORMATS,
    EXPORT_MEDIA_TYPES,
    ExportOptions,
    Transcript,
    format_timestamp,
    render,
)

LONG = (
    "Hello world this is a test of the transcription service and it keeps going "
    "for quite a while so that the subtitle must be split into several cues"
)


def _transcript() -> Transcript:
    words = [Word(1.0 + i * 0.3, 1.25 + i * 0.3, w, 0.9) for i, w in enumerate(LONG.split())]
    return Transcript(
        title="Weekly sync",
        language="en",
        duration=3725.5,
        segments=[
            Segment(1.0, 1.0 + 0.3 * len(words), LONG, speaker="S1", words=words),
            Segment(62.345, 65.0, "Second speaker says =1+1 & <ok>", speaker="S2"),
            Segment(3723.0, 3725.0, "Late remark without speaker."),
        ],
        speakers={"S1": "Alice Renamed", "S2": "Bob"},
    )


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text)


def _docx_text(data: bytes) -> str:
    import docx

    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


def test_format_timestamp() -> None:
    assert format_timestamp(62.345, ",") == "00:01:02,345"
    assert format_timestamp(62.345, ".") == "00:01:02.345"
    assert format_timestamp(3725.9999, ",") == "01:02:06,000"
    assert format_timestamp(-1) == "00:00:00.000"


def test_srt_parses_and_wraps() -> None:
    data, ctype, ext = render(_transcript(), "srt")
    assert (ctype.split(";")[0], ext) == ("application/x-subrip", "srt")
    subs = pysrt.from_string(data.decode("utf-8"))
    assert len(subs) >= 4  # long segment split into several cues
    assert str(subs[0].start) == "00:00:01,000"
    assert any(str(s.start) == "00:01:02,345" for s in subs)
    for s in subs:
        assert s.start <= s.end
        lines = s.text.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= 42 + len("Alice Renamed: ") for line in lines)
    starts = [s.start.ordinal for s in subs]
    assert starts == sorted(starts)
    assert subs[0].text.startswith("Alice Renamed: Hello world")
    assert "Bob: Second speaker" in data.decode()


def test_vtt_parses_with_voice_tags() -> None:
    data, ctype, ext = render(_transcript(), "vtt")
    assert ctype.startswith("text/vtt") and ext == "vtt"
    captions = webvtt.from_buffer(io.StringIO(data.decode("utf-8"))).captions
    assert captions[0].start == "00:00:01.000"
    assert any(c.start == "00:01:02.345" for c in captions)
    assert "<v Alice Renamed>" in captions[0].raw_text
    assert "Hello world" in captions[0].text
    assert "&lt;ok&gt;" in data.decode()


def test_txt_options() -> None:
    t = _transcript()
    full = render(t, "txt").data.decode()
    assert "[00:00:01] Alice Renamed: Hello world" in full
    assert "[01:02:03] Late remark" in full
    plain = render(t, "txt", ExportOptions(include_timestamps=False, include_speakers=False)).data.decode()
    assert "[" not in plain and "Alice" not in plain and "Hello world" in plain


def test_json_and_csv() -> None:
    t = _transcript()
    doc = json.loads(render(t, "json").data)
    assert doc["segments"][0]["speaker"] == "S1" and doc["segments"][0]["speaker_name"] == "Alice Renamed"
    assert doc["segments"][0]["words"][0] == {"start": 1.0, "end": 1.25, "word": "Hello", "probability": 0.9}
    data, ctype, ext = render(t, "csv")
    assert ctype.startswith("text/csv") and ext == "csv"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["speaker"] == "Alice Renamed" and rows[0]["start"] == "00:00:01.000"
    assert rows[1]["text"].startswith("Second speaker")
    formula = Transcript("f", [Segment(0, 1, "=HYPERLINK(1)", speaker="S1")], speakers={"S1": "+bad"})
    row = next(csv.DictReader(io.StringIO(render(formula, "csv").data.decode("utf-8-sig"))))
    assert row["text"].startswith("'=") and row["speaker"] == "'+bad"


def test_docx_contains_text() -> None:
    data, ctype, ext = render(_transcript(), "docx")
    assert ext == "docx" and "wordprocessingml" in ctype
    text = _docx_text(data)
    assert "Weekly sync" in text and "Hello world this is a test" in text and "Alice Renamed" in text


def test_pdf_contains_text() -> None:
    data, ctype, ext = render(_transcript(), "pdf")
    assert (ctype, ext) == ("application/pdf", "pdf")
    text = _pdf_text(data)
    assert "Weekly sync" in text and "Hello world this is a test" in text and "Alice Renamed" in text


def test_pdf_and_docx_survive_non_latin_and_control_chars() -> None:
    t = Transcript(
        "Интервью 日本 \x00",
        [Segment(0, 1, "Привет мир — 日本語のテキスト \x07 emoji 🎉", speaker="S1")],
        speakers={"S1": "Zoë"},
    )
    pdf = _pdf_text(render(t, "pdf").data)
    assert "Привет" in pdf or "?" in pdf
    assert "Zoë" in pdf
    assert "Привет мир" in _docx_text(render(t, "docx").data)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_renamed_speaker_in_every_format(fmt: str) -> None:
    t = _transcript()
    t.speakers["S2"] = "Dr. Renamed Speaker"
    data, _, ext = render(t, fmt)
    assert ext == fmt
    if fmt == "pdf":
        text = _pdf_text(data)
    elif fmt == "docx":
        text = _docx_text(data)
    else:
        text = data.decode("utf-8-sig")
    assert "Dr. Renamed Speaker" in text


def test_from_result_and_unknown_format() -> None:
    result = TranscriptResult("en", 2.0, [Segment(0.0, 1.0, "hi", speaker="S1")], "hi", engine="x")
    t = Transcript.from_result(result, "Call", {"S1": "Ann"})
    assert "Ann: hi" in render(t, "txt").data.decode()
    with pytest.raises(ValueError):
        render(t, "exe")


def test_empty_transcript_renders() -> None:
    t = Transcript("Empty", [])
    for fmt in EXPORT_FORMATS:
        data, _, _ = render(t, fmt)
        assert isinstance(data, bytes)
    assert pysrt.from_string(render(t, "srt").data.decode()) == []


def test_every_format_answers_a_media_type_the_download_route_documents() -> None:
    """The export route's OpenAPI response lists `EXPORT_MEDIA_TYPES`: each renderer answers one of them."""
    answered = {render(_transcript(), fmt).content_type.split(";")[0] for fmt in EXPORT_FORMATS}
    assert answered == set(EXPORT_MEDIA_TYPES)
