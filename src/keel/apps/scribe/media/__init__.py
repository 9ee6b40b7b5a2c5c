"""Media handling for scribe: sniffing (``sniff``), probing and decoding (``decode``), encoding and
cutting (``encode``).

The canonical internal audio format is 16 kHz, mono, signed 16-bit little-endian PCM (``PCM_RATE`` /
``PCM_BYTES_PER_SECOND``). Importing this package is cheap: PyAV and numpy load on first use.
"""

from keel.apps.scribe.media.decode import (
    DEFAULT_CHUNK_BYTES,
    PCM_BYTES_PER_SECOND,
    PCM_RATE,
    PCM_SAMPLE_WIDTH,
    MediaError,
    MediaInfo,
    StrPath,
    decode_to_pcm16k,
    probe,
    split_at_pauses,
    split_chunks,
)
from keel.apps.scribe.media.encode import cut_to_file, encode_pcm, encode_wav_segment
from keel.apps.scribe.media.sniff import SNIFF_BYTES, SUPPORTED_CONTENT_TYPES, MediaKind, sniff_media_type

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "PCM_BYTES_PER_SECOND",
    "PCM_RATE",
    "PCM_SAMPLE_WIDTH",
    "SNIFF_BYTES",
    "SUPPORTED_CONTENT_TYPES",
    "MediaError",
    "MediaInfo",
    "MediaKind",
    "StrPath",
    "cut_to_file",
    "decode_to_pcm16k",
    "encode_pcm",
    "encode_wav_segment",
    "probe",
    "sniff_media_type",
    "split_at_pauses",
    "split_chunks",
]
