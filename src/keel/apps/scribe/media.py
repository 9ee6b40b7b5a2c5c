"""Media handling for scribe: sniffing, probing, decoding and cutting audio.

Everything here is synchronous, CPU-bound and meant to run in worker processes.
Decoding is streamed: memory use is bounded by the chunk size, not the file length.

Canonical internal audio format is 16 kHz, mono, signed 16-bit little-endian PCM
(``PCM_RATE`` / ``PCM_BYTES_PER_SECOND``).
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import msgspec

__all__ = [
    "PCM_BYTES_PER_SECOND",
    "PCM_RATE",
    "SUPPORTED_CONTENT_TYPES",
    "MediaError",
    "MediaInfo",
    "MediaKind",
    "cut_to_file",
    "decode_to_pcm16k",
    "encode_pcm",
    "encode_wav_segment",
    "probe",
    "sniff_media_type",
    "split_chunks",
]

PCM_RATE = 16_000
PCM_SAMPLE_WIDTH = 2
PCM_BYTES_PER_SECOND = PCM_RATE * PCM_SAMPLE_WIDTH
DEFAULT_CHUNK_BYTES = PCM_BYTES_PER_SECOND * 5  # 5 s of audio per yielded chunk

# How many bytes a caller should read from the start of an upload for sniff_media_type.
SNIFF_BYTES = 4096

StrPath = str | os.PathLike[str]


class MediaError(Exception):
    """A media file cannot be used. ``str(exc)`` is safe to show to the end user."""


class MediaKind(msgspec.Struct, frozen=True):
    """Result of content sniffing."""

    content_type: str
    extension: str  # without dot
    is_video: bool


class MediaInfo(msgspec.Struct, frozen=True):
    """Result of probing a media file with FFmpeg (PyAV)."""

    duration: float  # seconds
    container: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "wav"
    audio_codec: str
    sample_rate: int
    channels: int
    has_video: bool
    video_codec: str | None = None
    bit_rate: int | None = None


_K_WAV = MediaKind("audio/wav", "wav", False)
_K_MP3 = MediaKind("audio/mpeg", "mp3", False)
_K_FLAC = MediaKind("audio/flac", "flac", False)
_K_OGG = MediaKind("audio/ogg", "ogg", False)
_K_OGV = MediaKind("video/ogg", "ogv", True)
_K_M4A = MediaKind("audio/mp4", "m4a", False)
_K_MP4 = MediaKind("video/mp4", "mp4", True)
_K_MOV = MediaKind("video/quicktime", "mov", True)
_K_WEBM = MediaKind("video/webm", "webm", True)
_K_MKV = MediaKind("video/x-matroska", "mkv", True)
_K_AAC = MediaKind("audio/aac", "aac", False)

SUPPORTED_CONTENT_TYPES: frozenset[str] = frozenset(
    k.content_type
    for k in (_K_WAV, _K_MP3, _K_FLAC, _K_OGG, _K_OGV, _K_M4A, _K_MP4, _K_MOV, _K_WEBM, _K_MKV, _K_AAC)
)

_AUDIO_FTYP_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QT_BRANDS = {b"qt  "}


# --------------------------------------------------------------------------- sniffing


def _is_mpeg_audio_header(h: bytes) -> bool:
    """MPEG-1/2/2.5 layer I/II/III frame header (not ADTS)."""
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return False
    version = (h[1] >> 3) & 0x3
    layer = (h[1] >> 1) & 0x3
    bitrate_idx = (h[2] >> 4) & 0xF
    rate_idx = (h[2] >> 2) & 0x3
    return version != 0b01 and layer != 0b00 and bitrate_idx not in (0x0, 0xF) and rate_idx != 0x3


def _is_adts_header(h: bytes) -> bool:
    if len(h) < 7 or h[0] != 0xFF or (h[1] & 0xF6) != 0xF0:
        return False
    rate_idx = (h[2] >> 2) & 0xF
    frame_len = ((h[3] & 0x03) << 11) | (h[4] << 3) | (h[5] >> 5)
    return rate_idx <= 12 and frame_len >= 7


def _sniff_ftyp(head: bytes) -> MediaKind | None:
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    end = min(len(head), box_size) if box_size >= 16 else min(len(head), 64)
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _QT_BRANDS:
        return _K_MOV
    if major in _AUDIO_FTYP_BRANDS:
        return _K_M4A
    if not major.strip(b"\x00 ").isascii() or not major.strip(b"\x00 "):
        return None
    if major.startswith(b"3g") or major in {b"M4V ", b"M4VH", b"M4VP"}:
        return _K_MP4
    if compatible & _QT_BRANDS and not compatible - _QT_BRANDS - {b"\x00\x00\x00\x00"}:
        return _K_MOV
    # Generic ISO brands (isom, iso2, mp41, mp42, avc1, dash, ...): may or may not carry
    # video; without parsing the (often trailing) moov box we report video/mp4 and let
    # probe() decide.
    return _K_MP4


def _sniff_ebml(head: bytes) -> MediaKind | None:
    idx = head.find(b"\x42\x82", 4, 128)  # DocType element
    if idx < 0:
        return _K_MKV
    size_byte = head[idx + 2] if idx + 2 < len(head) else 0
    if size_byte & 0x80:  # 1-byte vint (the common case)
        n = size_byte & 0x7F
        doctype = head[idx + 3 : idx + 3 + n]
    else:
        doctype = head[idx + 3 : idx + 3 + 16]
    if doctype.startswith(b"webm"):
        return _K_WEBM
    return _K_MKV


def _sniff_ogg(head: bytes) -> MediaKind | None:
    # The first page carries the codec identification header at offset 28 (single segment).
    ident = head[28:40]
    if ident.startswith(b"\x80theora"):
        return _K_OGV
    if ident.startswith((b"OpusHead", b"\x01vorbis", b"\x7fFLAC", b"Speex   ")) or b"OpusHead" in head[:128]:
        return _K_OGG
    return _K_OGG


def sniff_media_type(head: bytes) -> MediaKind | None:
    """Detect a supported audio/video container from its first bytes (see ``SNIFF_BYTES``).

    The file name and client-declared content type are deliberately ignored. Returns
    ``None`` for anything that is not a supported media container (text, PDF, ZIP,
    images, executables, ...).
    """
    if len(head) < 4:
        return None
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return _K_WAV
    if head[:4] == b"fLaC":
        return _K_FLAC
    if head[:4] == b"OggS":
        return _sniff_ogg(head)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _sniff_ebml(head)
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    legacy_qt_atoms = (b"moov", b"mdat", b"wide", b"free")
    if len(head) >= 12 and head[4:8] in legacy_qt_atoms and head[:4] != b"\x00\x00\x00\x00":
        return _K_MOV  # legacy QuickTime without ftyp
    if head[:3] == b"ID3" and len(head) >= 10:
        size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        end = 10 + size + (10 if head[5] & 0x10 else 0)
        rest = head[end : end + 16]
        if rest.startswith(b"fLaC"):
            return _K_FLAC
        if _is_adts_header(rest):
            return _K_AAC
        return _K_MP3
    if _is_adts_header(head):
        return _K_AAC
    if _is_mpeg_audio_header(head):
        return _K_MP3
    return None


# --------------------------------------------------------------------------- probing


def _open(path: StrPath) -> av.container.InputContainer:
    p = Path(path)
    if not p.is_file():
        raise MediaError("The media file is missing.")
    try:
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise MediaError(
            "This file could not be read as audio or video. It may be damaged or in an "
            "unsupported format; try converting it to MP3, M4A or WAV and upload it again."
        ) from exc


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise MediaError(
            "This file contains no audio track, so there is nothing to transcribe. "
            "Check that the recording has sound and upload it again."
        )
    return container.streams.audio[0]


def probe(path: StrPath) -> MediaInfo:
    """Inspect a media file. Raises ``MediaError`` if it is unreadable or has no decodable audio."""
    container = _open(path)
    try:
        stream = _audio_stream(container)
        ctx = stream.codec_context
        video = container.streams.video[0] if container.streams.video else None
        # Attached pictures (cover art in mp3/m4a) are not real video.
        if video is not None and video.disposition & av.stream.Disposition.attached_pic:
            video = None

        duration: float | None = None
        if container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)

        # Make sure the audio actually decodes (catches truncated/corrupt files early).
        decoded = False
        last_end = 0.0
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    last_end = max(last_end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if not decoded and packet.size:
                    try:
                        decoded = bool(packet.decode())
                    except av.error.InvalidDataError:
                        continue
                if decoded and duration is not None:
                    break
        except av.FFmpegError as exc:
            if not decoded:
                raise MediaError(
                    "The audio in this file could not be decoded. The file may be damaged; "
                    "try exporting it again from the recording app."
                ) from exc
        if not decoded:
            raise MediaError(
                "The audio in this file could not be decoded. The file may be empty or "
                "damaged; try exporting it again from the recording app."
            )
        if duration is None:
            duration = last_end
        return MediaInfo(
            duration=round(max(duration, 0.0), 3),
            container=container.format.name,
            audio_codec=ctx.name,
            sample_rate=int(ctx.sample_rate or 0),
            channels=int(ctx.channels or 0),
            has_video=video is not None,
            video_codec=video.codec_context.name if video is not None else None,
            bit_rate=container.bit_rate or None,
        )
    finally:
        container.close()


# --------------------------------------------------------------------------- decoding


def decode_to_pcm16k(
    path: StrPath,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[bytes]:
    """Stream the first audio track as 16 kHz mono s16le PCM.

    Yields chunks of exactly ``chunk_bytes`` (rounded down to whole samples), except the
    last which may be shorter. ``start``/``end`` (seconds) select a time range; the start
    is located by seeking, so it is cheap even far into long files.
    """
    chunk_bytes = max(PCM_SAMPLE_WIDTH, chunk_bytes - chunk_bytes % PCM_SAMPLE_WIDTH)
    container = _open(path)
    try:
        stream = _audio_stream(container)
        stream.thread_type = "AUTO"
        # Timestamps are relative to the stream start (e.g. MP3 encoder delay makes the
        # first packet start at ~0.05 s); the PCM stream we emit always starts at 0.
        base = 0.0
        if stream.start_time is not None and stream.time_base is not None:
            base = float(stream.start_time * stream.time_base)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=PCM_RATE)

        sought = False
        if start > 0:
            try:
                container.seek(int((start + base) * av.time_base), backward=True, any_frame=False)
                sought = True
            except av.FFmpegError:
                sought = False

        skip_bytes: int | None = None if sought else round(start * PCM_RATE) * PCM_SAMPLE_WIDTH
        limit: int | None = None
        if end is not None:
            limit = max(0, round((end - start) * PCM_RATE)) * PCM_SAMPLE_WIDTH
        emitted = 0
        buf = bytearray()

        def frames() -> Iterator[av.AudioFrame | None]:
            try:
                for packet in container.demux(stream):
                    try:
                        yield from packet.decode()
                    except av.error.InvalidDataError:
                        continue  # skip a corrupt packet, keep going
            except av.FFmpegError as exc:
                raise MediaError("Decoding stopped because the file is damaged part-way through.") from exc
            yield None  # flush marker

        for frame in frames():
            if skip_bytes is None and frame is not None:
                # First frame after seeking: work out how much to drop to reach `start`.
                t = frame.time - base if frame.time is not None else start
                skip_bytes = max(0, round((start - t) * PCM_RATE)) * PCM_SAMPLE_WIDTH
            for out in resampler.resample(frame):
                data = out.to_ndarray().tobytes()
                if skip_bytes:
                    drop = min(skip_bytes, len(data))
                    data = data[drop:]
                    skip_bytes -= drop
                if not data:
                    continue
                if limit is not None and emitted + len(buf) + len(data) >= limit:
                    buf += data[: limit - emitted - len(buf)]
                    while len(buf) >= chunk_bytes:
                        yield bytes(buf[:chunk_bytes])
                        del buf[:chunk_bytes]
                        emitted += chunk_bytes
                    if buf:
                        yield bytes(buf)
                    return
                buf += data
                while len(buf) >= chunk_bytes:
                    yield bytes(buf[:chunk_bytes])
                    del buf[:chunk_bytes]
                    emitted += chunk_bytes
        if buf:
            yield bytes(buf)
    finally:
        container.close()


def split_chunks(
    path: StrPath,
    chunk_seconds: float,
    overlap: float = 0.0,
) -> Iterator[tuple[float, bytes]]:
    """Yield ``(start_offset_seconds, pcm_bytes)`` windows of at most ``chunk_seconds``.

    Consecutive windows overlap by ``overlap`` seconds. Memory use is one window.
    """
    if chunk_seconds <= 0:
        raise ValueError("chunk_seconds must be positive")
    if not 0 <= overlap < chunk_seconds:
        raise ValueError("overlap must be >= 0 and smaller than chunk_seconds")
    win = int(chunk_seconds * PCM_RATE) * PCM_SAMPLE_WIDTH
    step = win - int(overlap * PCM_RATE) * PCM_SAMPLE_WIDTH
    buf = bytearray()
    offset_bytes = 0  # absolute position of buf[0]
    pending = False  # buf holds data not yet covered by a yielded window
    for chunk in decode_to_pcm16k(path, chunk_bytes=min(win, DEFAULT_CHUNK_BYTES)):
        buf += chunk
        pending = True
        while len(buf) >= win:
            yield offset_bytes / PCM_BYTES_PER_SECOND, bytes(buf[:win])
            del buf[:step]
            offset_bytes += step
            pending = len(buf) > win - step
    if buf and pending:
        yield offset_bytes / PCM_BYTES_PER_SECOND, bytes(buf)


def _quietest_cut(window: bytes | bytearray, search_bytes: int) -> int:
    """Byte offset in the last `search_bytes` of `window` where a 30 ms frame has the least energy."""
    import numpy as np

    frame = int(0.03 * PCM_RATE)  # samples
    samples = np.frombuffer(bytes(window[-search_bytes:]), dtype="<i2").astype(np.float32)
    count = len(samples) // frame
    if count < 2:
        return len(window)
    energy = (samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    best = int(energy.argmin())
    return len(window) - search_bytes + (best * frame + frame // 2) * PCM_SAMPLE_WIDTH


def split_at_pauses(
    path: StrPath, window_seconds: float, search_seconds: float = 8.0
) -> Iterator[tuple[float, bytes]]:
    """Yield ``(start_offset_seconds, pcm_bytes)`` windows of at most ``window_seconds`` that end in the
    quietest 30 ms of their last ``search_seconds``: consecutive windows meet in a pause, not mid-word, so
    nothing is cut or heard twice. Memory use is one window, whatever the file's length."""
    if window_seconds <= search_seconds:
        raise ValueError("window_seconds must be longer than search_seconds")
    win = int(window_seconds * PCM_RATE) * PCM_SAMPLE_WIDTH
    search = int(search_seconds * PCM_RATE) * PCM_SAMPLE_WIDTH
    buf = bytearray()
    offset_bytes = 0
    for chunk in decode_to_pcm16k(path, chunk_bytes=min(win, DEFAULT_CHUNK_BYTES)):
        buf += chunk
        while len(buf) >= win:
            cut = _quietest_cut(buf[:win], search)
            yield offset_bytes / PCM_BYTES_PER_SECOND, bytes(buf[:cut])
            del buf[:cut]
            offset_bytes += cut
    if buf:
        yield offset_bytes / PCM_BYTES_PER_SECOND, bytes(buf)


# --------------------------------------------------------------------------- encoding


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
