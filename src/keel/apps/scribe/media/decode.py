"""Probing and decoding with FFmpeg (PyAV): what a file holds, and its audio as 16 kHz mono PCM.

Synchronous, CPU-bound, for worker processes (or a thread). Decoding is streamed: memory is bounded by
the chunk size, not the file length. PyAV and numpy are imported on first use, not with this module, so
a server that only sniffs uploads never loads them at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    import av

PCM_RATE = 16_000
PCM_SAMPLE_WIDTH = 2
PCM_BYTES_PER_SECOND = PCM_RATE * PCM_SAMPLE_WIDTH
DEFAULT_CHUNK_BYTES = PCM_BYTES_PER_SECOND * 5  # 5 s of audio per yielded chunk

StrPath = str | os.PathLike[str]


class MediaError(Exception):
    """A media file cannot be used. ``str(exc)`` is safe to show to the end user."""


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


def _open(path: StrPath) -> av.container.InputContainer:
    p = Path(path)
    if not p.is_file():
        raise MediaError("The media file is missing.")
    import av

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
    """Inspect a media file. Raises ``MediaError`` if it is unreadable or has no decodable audio.

    The duration is where the audio really ends: every packet is demuxed (not decoded: cheap) to the
    last one, because a header's duration can claim far more than the file holds (an MP3 cut short keeps
    its Xing header's full length, a WAV its data size) and the duration is what quotas count."""
    import av

    container = _open(path)
    try:
        stream = _audio_stream(container)
        ctx = stream.codec_context
        video = container.streams.video[0] if container.streams.video else None
        # Attached pictures (cover art in mp3/m4a) are not real video.
        if video is not None and video.disposition & av.stream.Disposition.attached_pic:
            video = None

        declared: float | None = None
        if container.duration is not None and container.duration > 0:
            declared = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            declared = float(stream.duration * stream.time_base)
        first = None if stream.start_time is None or stream.time_base is None else stream.start_time

        decoded = False  # at least one packet decodes: catches files that only look like media
        last_end: float | None = None
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    end = float((packet.pts - (first or 0) + (packet.duration or 0)) * packet.time_base)
                    last_end = end if last_end is None else max(last_end, end)
                if not decoded and packet.size:
                    try:
                        decoded = bool(packet.decode())
                    except av.error.InvalidDataError:
                        continue
        except av.FFmpegError as exc:
            if not decoded:
                raise MediaError(
                    "The audio in this file could not be decoded. The file may be damaged; "
                    "try exporting it again from the recording app."
                ) from exc
        if not decoded:
            raise MediaError(
                "The audio in this file could not be decoded. The file may be empty, truncated or "
                "damaged; try exporting it again from the recording app."
            )
        duration = last_end if last_end else (declared or 0.0)
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
    import av

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
