"""Media sniffing, probing, streamed decoding and cutting on real espeak-ng speech."""

from __future__ import annotations

import io
import wave
import zipfile
from pathlib import Path

import pytest

from keel.apps.scribe import media
from keel.apps.scribe.media import MediaError, sniff_media_type

EXPECTED = {
    "wav": ("audio/wav", "wav"),
    "mp3": ("audio/mpeg", "mp3"),
    "ogg": ("audio/ogg", "ogg"),
    "flac": ("audio/flac", "flac"),
    "m4a": ("audio/mp4", "m4a"),
    "webm": ("video/webm", "webm"),
    "aac": ("audio/aac", "aac"),
    "mp4": ("video/mp4", "mp4"),
    "mkv": ("video/x-matroska", "mkv"),
    "mov": ("video/quicktime", "mov"),
}


def _head(p: Path) -> bytes:
    with p.open("rb") as f:
        return f.read(media.SNIFF_BYTES)


@pytest.mark.parametrize("ext", sorted(EXPECTED))
def test_sniff_real_files(speech_dir: Path, ext: str) -> None:
    kind = sniff_media_type(_head(speech_dir / f"speech.{ext}"))
    assert kind is not None
    assert (kind.content_type, kind.extension) == EXPECTED[ext]
    assert kind.content_type in media.SUPPORTED_CONTENT_TYPES


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world, this is plain text\n",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"GIF89a\x01\x00\x01\x00",
        b"MZ\x90\x00\x03\x00\x00\x00",
        b"\x7fELF\x02\x01\x01\x00",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"<html><body>hi</body></html>",
        b'\xef\xbb\xbf{"a": 1}',
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
    ],
)
def test_sniff_rejects_non_media(head: bytes) -> None:
    assert sniff_media_type(head) is None


def test_sniff_rejects_zip() -> None:
    assert sniff_media_type(_zip_bytes()[:4096]) is None


def test_sniff_ignores_file_name(speech_dir: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "notes.txt"
    disguised.write_bytes((speech_dir / "speech.flac").read_bytes())
    kind = sniff_media_type(_head(disguised))
    assert kind is not None and kind.content_type == "audio/flac"


@pytest.mark.parametrize("ext", sorted(EXPECTED))
def test_probe(speech_dir: Path, ext: str) -> None:
    info = media.probe(speech_dir / f"speech.{ext}")
    assert 3.0 < info.duration < 9.0
    assert info.sample_rate > 0 and info.channels == 1
    assert info.audio_codec
    assert info.has_video is (ext in {"mp4", "mkv", "mov"})
    if info.has_video:
        assert info.video_codec == "h264"


def test_probe_rejects_garbage(tmp_path: Path) -> None:
    p = tmp_path / "x.mp3"
    p.write_bytes(b"this is not audio at all " * 100)
    with pytest.raises(MediaError) as exc:
        media.probe(p)
    assert "could not be read" in str(exc.value)


def test_probe_rejects_truncated(speech_dir: Path, tmp_path: Path) -> None:
    p = tmp_path / "cut.m4a"
    p.write_bytes((speech_dir / "speech.m4a").read_bytes()[:200])
    with pytest.raises(MediaError):
        media.probe(p)


def test_probe_rejects_video_without_audio(tmp_path: Path) -> None:
    import subprocess

    p = tmp_path / "silent.mp4"
    subprocess.run(  # noqa: S603
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=5", "-t", "1",  # noqa: S607
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(p)],
        check=True,
    )  # fmt: skip
    with pytest.raises(MediaError) as exc:
        media.probe(p)
    assert "no audio" in str(exc.value)


def test_probe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        media.probe(tmp_path / "nope.wav")


@pytest.mark.parametrize("ext", ["wav", "mp3", "ogg", "mp4"])
def test_decode_to_pcm16k_bounded_chunks(speech_dir: Path, ext: str) -> None:
    chunk = 8000
    chunks = list(media.decode_to_pcm16k(speech_dir / f"speech.{ext}", chunk_bytes=chunk))
    assert all(len(c) == chunk for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk
    seconds = sum(len(c) for c in chunks) / media.PCM_BYTES_PER_SECOND
    assert 3.0 < seconds < 6.0


def test_decode_range_matches_full_decode(speech_dir: Path) -> None:
    import numpy as np

    path = speech_dir / "speech.mp3"
    full = np.frombuffer(b"".join(media.decode_to_pcm16k(path)), "<i2")
    part = np.frombuffer(b"".join(media.decode_to_pcm16k(path, start=1.0, end=2.5)), "<i2")
    assert len(part) == int(1.5 * media.PCM_RATE)
    ref = full[media.PCM_RATE : media.PCM_RATE + len(part)].astype(float)
    assert np.corrcoef(ref, part.astype(float))[0, 1] > 0.95


def test_split_chunks_windows_and_overlap(speech_dir: Path) -> None:
    windows = list(media.split_chunks(speech_dir / "speech.wav", 1.0, overlap=0.25))
    offsets = [o for o, _ in windows]
    assert offsets[:3] == [0.0, 0.75, 1.5]
    assert all(len(pcm) == media.PCM_BYTES_PER_SECOND for _, pcm in windows[:-1])
    total = offsets[-1] + len(windows[-1][1]) / media.PCM_BYTES_PER_SECOND
    assert abs(total - len(b"".join(media.decode_to_pcm16k(speech_dir / "speech.wav"))) / 32000) < 0.01
    with pytest.raises(ValueError):
        list(media.split_chunks(speech_dir / "speech.wav", 1.0, overlap=1.0))


def test_encode_wav_segment() -> None:
    data = media.encode_wav_segment(b"\x00\x01" * 16000)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, 16000)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_cut_to_file(speech_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = media.cut_to_file(speech_dir / "speech.m4a", 0.5, 2.0, tmp_path / f"cut.{fmt}", fmt)
    info = media.probe(out)
    assert abs(info.duration - 1.5) < 0.1
    assert info.channels == 1
    kind = sniff_media_type(_head(out))
    assert kind is not None and kind.extension == fmt


def test_encode_pcm_flac_in_memory() -> None:
    data = media.encode_pcm(b"\x00\x00" * 16000, "flac")
    assert data[:4] == b"fLaC"


@pytest.fixture(scope="module")
def long_mp3(long_speech: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 40 s of speech as a CBR MP3 with LAME's Xing/Info header (which states the full length)."""
    import subprocess

    out = tmp_path_factory.mktemp("mp3") / "long.mp3"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(long_speech),
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out


@pytest.mark.parametrize("kept", [2048, 0.5])
def test_a_truncated_mp3_counts_only_the_audio_it_holds(long_mp3: Path, tmp_path: Path, kept: float) -> None:
    full = media.probe(long_mp3).duration
    data = long_mp3.read_bytes()
    cut = tmp_path / "cut.mp3"
    size = int(kept) if kept > 1 else int(len(data) * kept)
    cut.write_bytes(data[:size])
    try:
        duration = media.probe(cut).duration
    except MediaError as exc:  # too little left to decode is refused outright: also never counted
        assert "truncated" in str(exc)
        return
    # 64 kbit/s: the bytes kept hold size * 8 / 64000 seconds, not the header's full length
    assert duration < full * 0.6
    assert abs(duration - size * 8 / 64_000) < 0.5


def test_a_truncated_wav_counts_only_the_audio_it_holds(long_speech: Path, tmp_path: Path) -> None:
    data = long_speech.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 4])  # the header still announces the whole data chunk
    full, short = media.probe(long_speech).duration, media.probe(cut).duration
    assert abs(short - full / 4) < 0.2


def test_importing_media_loads_neither_pyav_nor_numpy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, keel.apps.scribe.media, keel.apps.scribe.engines\n"
        "print(sorted(m for m in ('av', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)  # noqa: S603
    assert out.stdout.strip() == "[]"
