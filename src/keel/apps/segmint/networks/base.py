"""What every network adapter shares: the failure a network answered (status, its error code and message,
whether a retry may pass and when), what a publication produced, and the account an adapter posts as."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

USER_AGENT = "keel-segmint/1"


class PublishFailed(Exception):
    """A target refused or could not be reached. `status`/`code` are what the network answered (None when
    it never answered), `transient` whether a later attempt may pass, `retry_after` seconds it asked for."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        parts: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.parts = parts or []  # thread parts already posted before the failure (resumed next run)


@dataclass(frozen=True)
class Published:
    """The first post's id/url (the thread's head) and every part as the network answered it."""

    external_id: str
    external_url: str | None
    status: int | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Attachment:
    """An image or video to upload with a post (the first post of a thread carries them). Its bytes stay
    in a file (the stored object on local disk, a streamed copy of an S3 one) and are read a part at a
    time, so publishing a 512 MB video holds one upload part in memory, not the video."""

    path: Path
    size: int
    mime_type: str
    alt_text: str = ""
    duration: float | None = None  # seconds, for a video

    def part(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop): one part of a chunked upload."""
        with self.path.open("rb") as fh:
            fh.seek(start)
            return fh.read(max(0, stop - start))

    def whole(self) -> bytes:
        """Every byte: for an image (8 MB at most) sent as one field."""
        return self.part(0, self.size)

    async def stream(self, chunk: int = 1 << 16) -> AsyncIterator[bytes]:
        """The bytes in chunks: a request body sent with its Content-Length, never held whole."""
        with self.path.open("rb") as fh:
            while block := fh.read(chunk):
                yield block

    @property
    def is_video(self) -> bool:
        return self.mime_type.startswith("video/")


@dataclass
class Account:
    """Who an adapter posts as: the network's base URL (API or instance), the decrypted token set and its
    expiry. `tokens` changes when a refresh happens; the caller stores it again (encrypted)."""

    network: str
    base_url: str
    tokens: dict[str, Any]
    expires_at: datetime | None = None
    account_id: str | None = None
    account_name: str | None = None
    changed: bool = False

    def expires_within(self, seconds: float) -> bool:
        return self.expires_at is not None and self.expires_at.timestamp() - time.time() < seconds


async def until_processed(
    network: str, what: str, check: Callable[[int], Awaitable[float | None]], *, checks: int
) -> None:
    """Networks process uploaded media (videos above all) before a post may use them. `check(n)` (n = 0,
    1, ...) looks once and answers None when the media is ready, else the seconds to wait before the next
    look; it raises PublishFailed when the network says processing failed. Still processing after
    `checks` looks is a transient failure: the delivery job tries again later."""
    for n in range(checks):
        wait = await check(n)
        if wait is None:
            return
        await asyncio.sleep(wait)
    raise PublishFailed(f"{network} is still processing the {what}", transient=True)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the network asked us to wait: Retry-After (seconds or an HTTP date), else the rate-limit
    reset headers X (x-rate-limit-reset) and Bluesky (ratelimit-reset) send as epoch seconds."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return max(0.0, when.timestamp() - time.time())
    for name in ("x-rate-limit-reset", "ratelimit-reset"):
        reset = response.headers.get(name)
        if reset and reset.isdigit():
            return max(0.0, int(reset) - time.time())
    return None


def body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def failure(response: httpx.Response, network: str, code: str | None, message: str | None) -> PublishFailed:
    """A refusal as the network stated it: its status, error code and message, kept verbatim."""
    status = response.status_code
    transient = status in (408, 425, 429) or status >= 500
    said = message or response.text[:200] or response.reason_phrase
    if status in (401, 403) and code is None:
        text = f"{network} refused the credential ({status}): {said}; connect the account again"
    elif status == 429:
        wait = retry_after(response)
        text = (
            f"{network} rate-limited the request (429){f', retry after {wait:.0f} s' if wait else ''}: {said}"
        )
    else:
        text = f"{network} answered {status}{f' {code}' if code else ''}: {said}"
    return PublishFailed(
        text[:1000], transient=transient, status=status, code=code, retry_after=retry_after(response)
    )


def unreachable(network: str, exc: httpx.HTTPError) -> PublishFailed:
    if isinstance(exc, httpx.TimeoutException):
        return PublishFailed(f"{network} timed out ({type(exc).__name__})", transient=True)
    return PublishFailed(f"{network} could not be reached ({type(exc).__name__})", transient=True)


async def call(
    client: httpx.AsyncClient,
    network: str,
    refused: Callable[[httpx.Response], PublishFailed],
    method: str,
    url: str,
    **kw: Any,
) -> httpx.Response:
    """One request to a network: no answer is a transient failure, an answer other than 2xx is the
    network's own error (`refused` reads its code and message in that network's shape)."""
    try:
        response = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise unreachable(network, exc) from exc
    if not response.is_success:
        raise refused(response)
    return response


def expiry(expires_in: Any) -> datetime | None:
    try:
        seconds = int(expires_in)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(time.time() + seconds, UTC)


def clip(value: Any, size: int = 500) -> str | None:
    return str(value)[:size] if value else None


class Progress(list[dict[str, Any]]):
    """The parts of a thread already posted. With `record` (the delivery run sets it), each part the
    network accepted is made durable before the next one is posted: a worker that dies mid-thread is
    resumed after the last recorded part instead of posting the first ones again."""

    def __init__(
        self,
        parts: Iterable[dict[str, Any]] = (),
        record: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(parts)
        self.record = record


async def post_thread(
    parts: list[str],
    done: list[dict[str, Any]],
    post_one: Any,
) -> Published:
    """Post `parts` as a reply chain, skipping those already in `done` (a retry resumes where the last
    run stopped, replying to the last part posted). `post_one(text, index, posted)` posts one part and
    returns what the network answered; a failure carries the parts posted so far."""
    posted = list(done)
    record = done.record if isinstance(done, Progress) else None
    for index in range(len(posted), len(parts)):
        try:
            posted.append(await post_one(parts[index], index, posted))
        except PublishFailed as exc:
            exc.parts = posted
            raise
        if record is not None:
            await record(list(posted))
    head = posted[0]
    return Published(str(head["id"])[:200], clip(head.get("url")), posted[-1].get("status"), posted)
