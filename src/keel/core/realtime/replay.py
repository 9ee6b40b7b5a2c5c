"""Replay for reconnecting clients: events published with `replay=True` get an id (`<ms>-<seq>`, SSE
`id:`) and are kept for a while per user, so a stream that reconnects with `Last-Event-ID` (browsers send
it by themselves) receives what it missed before the live events. Transient events (deltas, typing,
presence) are published without an id and never replayed.

With Redis the history is a stream per user (`keel:replay:user:<id>`, XADD trimmed to REPLAY_KEEP
entries, expiring REPLAY_SECONDS after the last event), shared by every instance; without Redis a deque
per user in this process. A history that cannot be written (Redis down) costs the event its id, never
its delivery; a circuit breaker keeps publishers from waiting on a dead Redis.
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from keel.core.stores import CircuitBreaker

if TYPE_CHECKING:
    from collections.abc import Iterable

    from redis.asyncio import Redis

REPLAY_KEEP = 500  # events kept per user
REPLAY_SECONDS = 600  # how far back a reconnecting client is caught up
KEY_PREFIX = "keel:replay"
_ID = re.compile(r"^(\d{1,15})-(\d{1,9})$")
log = structlog.get_logger("keel.realtime")

EventId = tuple[int, int]


def parse_id(value: str | None) -> EventId | None:
    """An event id as (ms, seq), or None for anything else (a client's stale or made-up header)."""
    match = _ID.match((value or "").strip())
    return (int(match[1]), int(match[2])) if match else None


def format_id(event_id: EventId) -> str:
    return f"{event_id[0]}-{event_id[1]}"


def history_key(channel: str) -> str:
    """One history per user for `user:<id>` and all its `user:<id>:<topic>` channels (a stream covers
    several of them and a client sends one Last-Event-ID); any other channel has its own."""
    parts = channel.split(":")
    base = ":".join(parts[:2]) if parts[0] == "user" and len(parts) >= 2 else channel
    return f"{KEY_PREFIX}:{base}"


def envelope(channel: str, event_json: bytes, event_id: str | None) -> bytes:
    data: dict[str, Any] = {"channel": channel, "event": msgspec.Raw(event_json)}
    if event_id is not None:
        data["id"] = event_id
    return msgspec.json.encode(data)


def _oldest_wanted() -> int:
    return int(time.time() * 1000) - REPLAY_SECONDS * 1000


class MemoryHistory:
    """In process (no Redis): one instance, so ids only need to grow within it."""

    def __init__(self) -> None:
        self._rows: dict[str, deque[tuple[EventId, str, bytes]]] = {}
        self._last: EventId = (0, 0)

    def _next_id(self) -> EventId:
        ms = int(time.time() * 1000)
        last_ms, last_seq = self._last
        self._last = (last_ms, last_seq + 1) if ms <= last_ms else (ms, 0)
        return self._last

    async def append(self, channel: str, event_json: bytes) -> str | None:
        event_id = self._next_id()
        rows = self._rows.setdefault(history_key(channel), deque(maxlen=REPLAY_KEEP))
        rows.append((event_id, channel, event_json))
        return format_id(event_id)

    async def since(self, channels: Iterable[str], after: EventId) -> list[tuple[EventId, bytes]]:
        wanted = set(channels)
        oldest = _oldest_wanted()
        found: list[tuple[EventId, bytes]] = []
        for key in {history_key(c) for c in wanted}:
            for event_id, channel, event_json in self._rows.get(key, ()):
                if event_id > after and event_id[0] >= oldest and channel in wanted:
                    found.append((event_id, envelope(channel, event_json, format_id(event_id))))
        return sorted(found, key=lambda row: row[0])


class RedisHistory:
    """A Redis stream per user, shared by every instance (ids from Redis: ordered across instances)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._breaker = CircuitBreaker(cooldown=2.0)

    async def append(self, channel: str, event_json: bytes) -> str | None:
        if not self._breaker.closed:
            return None
        key = history_key(channel)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(key, {"c": channel, "e": event_json}, maxlen=REPLAY_KEEP, approximate=True)
                pipe.expire(key, REPLAY_SECONDS)
                entry_id, _ = await pipe.execute()
        except Exception as exc:
            if self._breaker.trip():
                log.warning("realtime_replay_unavailable", error=type(exc).__name__)
            return None
        self._breaker.reset()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def since(self, channels: Iterable[str], after: EventId) -> list[tuple[EventId, bytes]]:
        wanted = set(channels)
        start = max(after, (_oldest_wanted(), 0))
        found: list[tuple[EventId, bytes]] = []
        for key in {history_key(c) for c in wanted}:
            try:
                rows = await self._redis.xrange(key, min=f"({format_id(start)}", max="+", count=REPLAY_KEEP)
            except Exception as exc:  # nothing to catch up with; the live stream still works
                log.warning("realtime_replay_unavailable", error=type(exc).__name__)
                continue
            for raw_id, fields in rows or ():
                event_id = parse_id(_text(raw_id))
                channel, event_json = _text((fields or {}).get(b"c")), (fields or {}).get(b"e")
                if event_id is not None and channel in wanted and isinstance(event_json, bytes):
                    found.append((event_id, envelope(channel, event_json, format_id(event_id))))
        return sorted(found, key=lambda row: row[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def event_id_of(item: bytes) -> EventId | None:
    """The id a published envelope carries, if any."""
    try:
        value = msgspec.json.decode(item).get("id")
    except Exception:
        return None
    return parse_id(value) if isinstance(value, str) else None
