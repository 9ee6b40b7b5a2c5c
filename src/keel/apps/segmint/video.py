"""What an attached file is, from its first bytes (never its name or the type the client sent), and a
video's duration read with FFmpeg (PyAV, as scribe probes its media).

- Images: JPEG, PNG, GIF, WebP.
- Videos: MP4 and QuickTime MOV (an ISO `ftyp` box: the `qt  ` brand is MOV, audio-only brands such as
  M4A are refused) and WebM (an EBML header whose DocType is `webm`; other Matroska files are refused).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SNIFF_BYTES = 64
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


@dataclass(frozen=True)
class Kind:
    mime_type: str

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.mime_type]

    @property
    def is_video(self) -> bool:
        return self.mime_type in VIDEO_TYPES


def sniff_type(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return None
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM is Matroska with the "webm" DocType
        at = head.find(b"\x42\x82", 4)
        return "video/webm" if at > 0 and head[at + 3 : at + 7] == b"webm" else None
    return None


def sniff(head: bytes) -> Kind | None:
    mime = sniff_type(head)
    return Kind(mime) if mime else None


class VideoUnreadable(Exception):
    """The file is not a playable video; `str(exc)` is safe to show."""


def duration(path: str | os.PathLike[str]) -> float:
    """Seconds of video: the end of the last packet of its video track (demuxed, not decoded), or the
    container's declared duration when packets carry no timestamps. Blocking: run it in a thread."""
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoUnreadable("The video could not be read; it may be damaged") from exc
    try:
        tracks = [
            s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not tracks:
            raise VideoUnreadable("The file has no video track")
        track = tracks[0]
        start = track.start_time or 0
        end: float | None = None
        try:
            for packet in container.demux(track):
                if packet.pts is not None and packet.time_base is not None:
                    t = float((packet.pts - start + (packet.duration or 0)) * packet.time_base)
                    end = t if end is None else max(end, t)
        except av.FFmpegError as exc:
            if end is None:
                raise VideoUnreadable("The video could not be read; it may be damaged") from exc
        if end is None and container.duration:
            end = container.duration / av.time_base
        if not end or end <= 0:
            raise VideoUnreadable("The video has no frames")
        return round(end, 3)
    finally:
        container.close()
