"""What a chat attachment really is, from its first bytes (the client's file name and type are ignored).

Accepted: images (JPEG, PNG, GIF, WebP), audio (MP3, WAV, Ogg, FLAC, M4A), video (MP4, QuickTime, WebM)
and PDF documents. Anything else is refused with 415 before it is stored.
"""

from __future__ import annotations

import msgspec

SNIFF_BYTES = 64
ACCEPTED = "JPEG, PNG, GIF, WebP images; MP3, WAV, Ogg, FLAC, M4A audio; MP4, MOV, WebM video; PDF"


class Kind(msgspec.Struct, frozen=True):
    content_type: str
    extension: str


JPEG, PNG, GIF, WEBP = (
    Kind("image/jpeg", "jpg"),
    Kind("image/png", "png"),
    Kind("image/gif", "gif"),
    Kind("image/webp", "webp"),
)
PDF = Kind("application/pdf", "pdf")
MP3, WAV, OGG, FLAC, M4A = (
    Kind("audio/mpeg", "mp3"),
    Kind("audio/wav", "wav"),
    Kind("audio/ogg", "ogg"),
    Kind("audio/flac", "flac"),
    Kind("audio/mp4", "m4a"),
)
MP4, MOV, WEBM = Kind("video/mp4", "mp4"), Kind("video/quicktime", "mov"), Kind("video/webm", "webm")


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio frame header (11 sync bits, a valid version, layer, bitrate and sample rate)."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
    bitrate, rate = (head[2] >> 4) & 0xF, (head[2] >> 2) & 0x3
    return version != 0b01 and layer != 0 and bitrate not in (0, 0xF) and rate != 0x3


def sniff(head: bytes) -> Kind | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return MP3
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:SNIFF_BYTES]:
        return WEBM
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return M4A
        if brand == b"qt  ":
            return MOV
        if brand.strip(b" ").isalnum():
            return MP4
    return None
