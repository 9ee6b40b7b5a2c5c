"""Content sniffing: which supported audio/video container an upload is, from its first bytes alone.

Pure Python (no FFmpeg): the upload path sniffs while streaming, before anything is decoded.
"""

from __future__ import annotations

import msgspec

# How many bytes a caller should read from the start of an upload for sniff_media_type.
SNIFF_BYTES = 4096


class MediaKind(msgspec.Struct, frozen=True):
    """Result of content sniffing."""

    content_type: str
    extension: str  # without dot
    is_video: bool


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
