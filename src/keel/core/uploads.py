"""Uploads every app stores the same way: what a file is comes from its first bytes, never from the
name or type the client sent, and the name kept for it is safe to show and to download under.

    sniffed = SniffedUpload(chunks, media.sniff, head_bytes=media.SNIFF_BYTES, refusal="Send a PNG or PDF")
    stored = await storage.put_stream(key, sniffed.stream(), None, max_size=limit)  # 415 before any byte
    name = clean_filename(filename, sniffed.kind.extension, fallback="attachment")
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Generic, Protocol, TypeVar

from keel.core.errors import UnsupportedMediaType

MAX_FILENAME = 200  # characters; the columns hold 255
_FORBIDDEN = frozenset('<>:"|?*')  # what Windows refuses in a name; / and \ are separators


class HasExtension(Protocol):
    @property
    def extension(self) -> str: ...


K = TypeVar("K", bound=HasExtension)


class SniffedUpload(Generic[K]):
    """Wraps upload chunks: holds back the first `head_bytes`, identifies them with `identify` (a 415
    with `refusal` when it answers None, before anything reaches storage), then passes every byte
    through unchanged. Nothing beyond `head_bytes` is buffered."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        identify: Callable[[bytes], K | None],
        *,
        head_bytes: int,
        refusal: str,
    ) -> None:
        self._chunks = chunks
        self._identify = identify
        self._head_bytes = head_bytes
        self._refusal = refusal
        self.kind: K | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        head = bytearray()
        iterator = self._chunks.__aiter__()
        async for chunk in iterator:
            head += chunk
            if len(head) >= self._head_bytes:
                break
        self.kind = self._identify(bytes(head[: self._head_bytes]))
        if self.kind is None:
            raise UnsupportedMediaType(self._refusal)
        if head:
            yield bytes(head)
        async for chunk in iterator:
            yield chunk


def clean_filename(name: str | None, extension: str, *, fallback: str = "upload") -> str:
    """The client's file name made safe: no directories, no control or Windows-forbidden characters,
    at most MAX_FILENAME characters, and the extension of what the content really is (a `.txt` that is
    a PNG is kept as `.png`); `fallback` is the stem when nothing usable is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in _FORBIDDEN).strip()
    stem = (base.rsplit(".", 1)[0] if "." in base else base).strip()
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_FILENAME - len(suffix)].rstrip() or fallback
    return f"{stem}{suffix}"


__all__ = ["MAX_FILENAME", "SniffedUpload", "clean_filename"]
