"""Encoding 16 kHz mono PCM into files (WAV, FLAC, MP3, Opus, M4A) and cutting time ranges out."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

from keel.apps.scribe.media.decode import PCM_RATE, PCM_SAMPLE_WIDTH, StrPath, decode_to_pcm16k


def encode_wav_segment(pcm: bytes, sample_rate: int = PCM_RATE, channels: int = 1) -> bytes:
    """Wrap s16le PCM in a WAV container."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(PCM_SAMPLE_WIDTH)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return out.getvalue()


# fmt -> (container format, codec, sample format)
_ENCODERS: dict[str, tuple[str, str, str]] = {
    "flac": ("flac", "flac", "s16"),
    "mp3": ("mp3", "libmp3lame", "s16p"),
    "ogg": ("ogg", "libopus", "s16"),
    "opus": ("ogg", "libopus", "s16"),
    "m4a": ("ipod", "aac", "fltp"),
}


def _encode_pcm_chunks(chunks: Iterator[bytes], fmt: str, target: io.IOBase | str) -> None:
    import av
    import numpy as np

    container_fmt, codec, sample_fmt = _ENCODERS[fmt]
    out = av.open(target, mode="w", format=container_fmt)
    try:
        rate = 48_000 if codec == "libopus" else PCM_RATE
        stream = out.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate)
        pts = 0
        for chunk in chunks:
            if not chunk:
                continue
            samples = np.frombuffer(chunk, dtype="<i2").reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = PCM_RATE
            frame.pts = pts
            pts += samples.shape[1]
            for rf in resampler.resample(frame):
                out.mux(stream.encode(rf))
        for rf in resampler.resample(None):
            out.mux(stream.encode(rf))
        out.mux(stream.encode(None))
    finally:
        out.close()


def encode_pcm(pcm: bytes, fmt: str = "wav") -> bytes:
    """Encode 16 kHz mono s16le PCM into ``fmt`` (wav, flac, mp3, ogg/opus, m4a) in memory."""
    if fmt == "wav":
        return encode_wav_segment(pcm)
    if fmt not in _ENCODERS:
        raise ValueError(f"unsupported output format: {fmt}")
    out = io.BytesIO()
    _encode_pcm_chunks(iter([pcm]), fmt, out)
    return out.getvalue()


def cut_to_file(
    path: StrPath,
    start: float,
    end: float | None,
    out_path: StrPath,
    fmt: str = "wav",
) -> Path:
    """Write ``[start, end)`` of the audio track to ``out_path`` as 16 kHz mono ``fmt``.

    Streams (constant memory). ``end=None`` means until the end of the file.
    """
    out = Path(out_path)
    chunks = decode_to_pcm16k(path, start=start, end=end)
    if fmt == "wav":
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(PCM_SAMPLE_WIDTH)
            w.setframerate(PCM_RATE)
            for chunk in chunks:
                w.writeframes(chunk)
        return out
    if fmt not in _ENCODERS:
        raise ValueError(f"unsupported output format: {fmt}")
    _encode_pcm_chunks(chunks, fmt, str(out))
    return out
