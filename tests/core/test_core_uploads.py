"""core.uploads: an upload is identified by its first bytes before storage sees it, and keeps a safe name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from keel.core.errors import UnsupportedMediaType
from keel.core.uploads import MAX_FILENAME, SniffedUpload, clean_filename


@dataclass(frozen=True)
class Kind:
    extension: str


def png_only(head: bytes) -> Kind | None:
    return Kind("png") if head.startswith(b"\x89PNG") else None


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_every_byte_passes_through_once_the_head_is_identified() -> None:
    parts = (b"\x89P", b"NG\r\n", b"x" * 10, b"tail")
    sniffed = SniffedUpload(chunks(*parts), png_only, head_bytes=8, refusal="PNG only")
    assert await collect(sniffed.stream()) == b"".join(parts)
    assert sniffed.kind == Kind("png")


async def test_a_file_shorter_than_the_head_is_still_identified() -> None:
    sniffed = SniffedUpload(chunks(b"\x89PNG"), png_only, head_bytes=4096, refusal="PNG only")
    assert await collect(sniffed.stream()) == b"\x89PNG"


async def test_unrecognised_content_is_refused_before_any_byte_is_yielded() -> None:
    seen: list[bytes] = []
    sniffed = SniffedUpload(chunks(b"#!/bin/sh\n", b"rm -rf /\n"), png_only, head_bytes=8, refusal="PNG only")
    with pytest.raises(UnsupportedMediaType, match="PNG only"):
        async for chunk in sniffed.stream():
            seen.append(chunk)
    assert seen == [] and sniffed.kind is None


async def test_an_empty_upload_is_refused() -> None:
    sniffed = SniffedUpload(chunks(), png_only, head_bytes=8, refusal="PNG only")
    with pytest.raises(UnsupportedMediaType):
        await collect(sniffed.stream())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../evil/clip.png", "clip.png"),
        ("C:\\Users\\ada\\photo.txt", "photo.png"),  # the content's extension, not the client's
        ("bike photo.png", "bike photo.png"),
        ('a<b>c:"d|e?f*.png', "abcdef.png"),
        ("tab\there\x00.png", "tabhere.png"),
        ("invoice", "invoice.png"),
        (".bashrc", "upload.png"),
        ("", "upload.png"),
        (None, "upload.png"),
        ("../", "upload.png"),
    ],
)
def test_clean_filename(given: str | None, expected: str) -> None:
    assert clean_filename(given, "png") == expected


def test_clean_filename_caps_the_length_and_keeps_the_extension() -> None:
    name = clean_filename("x" * 500 + ".wav", "wav", fallback="attachment")
    assert len(name) == MAX_FILENAME and name.endswith("x.wav")
    assert clean_filename("???", "pdf", fallback="attachment") == "attachment.pdf"
