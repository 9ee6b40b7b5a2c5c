"""Realtime: per-user channels over SSE (`GET /api/v1/events`) and WebSocket (`WS /api/v1/ws`).

Litestar's channels plugin carries the events: in process by default, Redis pub/sub when REDIS_URL is
set, so an event published by any server process (or a job worker with its own app) reaches a client
connected to any other. Channels are `user:<user_id>` and sub-channels `user:<user_id>:<topic>`; a
client only ever subscribes to its own (asking for someone else's: 403, or WebSocket close 4403).

    await publish(app, f"user:{user_id}:transcripts", {"type": "progress", "id": "...", "percent": 40})

Clients receive `{"channel": ..., "event": {...}}` (SSE: `event:` is the event's `type`, default `message`).

Replay: `publish(..., replay=True)` gives the event an id (SSE `id:`) and keeps it a few minutes in a
per-user history (Redis stream, or in process); a stream that reconnects with `Last-Event-ID` gets what
it missed first (replay.py). Presence: a user with an open stream on any instance is online (presence.py;
`app.state.presence.online(ids)`, listeners in `app.state.presence_listeners`). Open streams are counted
in `keel_realtime_subscribers{transport="sse"|"websocket"}`.

Graceful shutdown: the first SIGTERM/SIGINT (chained in front of the server's own handler) ends every open
SSE stream and closes every WebSocket (1001 "going away") at once, so the server's drain is not held open
by streams until SHUTDOWN_TIMEOUT; clients reconnect to another instance (SSE `retry: 3000`).

Redis outages: the pub/sub backend (`ResilientRedisPubSub`) reconnects with a short backoff (0.1 s doubling
to 1 s) and re-subscribes every channel a client still listens on, so open streams resume within about a
second of Redis coming back. Events published while Redis is down are dropped with a warning (the data
they announce is in the database; clients re-read on reconnect); `keel_degraded{component="realtime"}`
is 1 and `/ready` reports `realtime: degraded: …` until the subscription is live again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from litestar.channels import ChannelsPlugin

from keel.core.components import AppBuilder
from keel.core.realtime.backend import (
    COMPONENT,
    RECONNECT_MAX,
    RECONNECT_MIN,
    REDIS_KEY_PREFIX,
    ResilientRedisPubSub,
    make_backend,
)
from keel.core.realtime.presence import AWAY, ONLINE, PRESENCE_TTL, Presence
from keel.core.realtime.replay import MemoryHistory, RedisHistory, envelope
from keel.core.realtime.streams import (
    MAX_TOPICS,
    SUBSCRIBER_BACKLOG,
    StreamSubscriber,
    _channels_for,
    _close_streams_on_signal,
    _closing,
    _plugin,
    authenticate,
    close_streams,
    events,
    sse_comment,
    user_channel,
    ws_events,
)
from keel.core.stores import Degraded, mark_degraded, mark_recovered

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar import Litestar

    from keel.settings import Settings

__all__ = [
    "AWAY",
    "COMPONENT",
    "MAX_TOPICS",
    "ONLINE",
    "PRESENCE_TTL",
    "RECONNECT_MAX",
    "RECONNECT_MIN",
    "REDIS_KEY_PREFIX",
    "Presence",
    "ResilientRedisPubSub",
    "_channels_for",
    "authenticate",
    "encode_event",
    "events",
    "install",
    "make_backend",
    "notify",
    "publish",
    "publish_many",
    "sse_comment",
    "user_channel",
    "ws_events",
]
log = structlog.get_logger("keel.realtime")


def encode_event(channel: str, event: dict[str, Any], event_id: str | None = None) -> bytes:
    if event_id is None:
        return msgspec.json.encode({"channel": channel, "event": event})
    return msgspec.json.encode({"channel": channel, "id": event_id, "event": event})


async def publish(app: Litestar, channel: str, event: dict[str, Any], *, replay: bool = False) -> None:
    """Publish `event` (msgspec-encodable dict) to `channel`, delivered to every subscribed client of
    every instance sharing the backend. `replay=True`: the event gets an id and a stream that reconnects
    with an earlier `Last-Event-ID` receives it (what a client must not miss: a stored message); leave
    it off for transient events (progress, deltas, typing)."""
    await publish_many(app, (channel,), event, replay=replay)


async def publish_many(
    app: Litestar, channels: Iterable[str], event: dict[str, Any], *, replay: bool = False
) -> None:
    """`publish` to each of `channels` (a chat's participants): the event is encoded once, each channel
    only wraps it in its envelope."""
    event_json = msgspec.json.encode(event)
    history = app.state.get("realtime_history") if replay else None
    plugin = _plugin(app)
    for channel in channels:
        event_id = None if history is None else await history.append(channel, event_json)
        await plugin.wait_published(envelope(channel, event_json, event_id), [channel])


_process_app: Litestar | None = None  # the app serving in this process, if any (set at start-up)
_direct: dict[tuple[str, int], Any] = {}  # Redis clients for processes without an app, per loop


async def notify(
    channel: str, event: dict[str, Any], *, settings: Settings | None = None, replay: bool = False
) -> None:
    """Publish from anywhere, job tasks included: through this process's app when it serves one, else
    straight to Redis pub/sub (a `keel worker`, whose events are not replayed). Without either nobody
    can be listening: dropped."""
    if _process_app is not None:
        await publish(_process_app, channel, event, replay=replay)
        return
    if settings is None:
        from keel.settings import get_settings

        settings = get_settings()
    if not settings.redis_url:
        return
    key = (settings.redis_url, id(asyncio.get_running_loop()))
    if key not in _direct:
        from redis.asyncio import Redis

        _direct[key] = Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
    # the pub/sub backend publishes each channel's data under the channel's own name
    try:
        await _direct[key].publish(channel, encode_event(channel, event))
    except Exception as exc:  # a live notification is not worth failing (and re-running) the job for
        mark_degraded(COMPONENT, exc)
        log.warning("realtime_event_dropped", channel=channel, error=type(exc).__name__)
    else:
        mark_recovered(COMPONENT)


def install(builder: AppBuilder) -> None:
    backend, redis = make_backend(builder.settings)
    plugin = ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        create_ws_route_handlers=False,
        subscriber_class=StreamSubscriber,
        subscriber_max_backlog=SUBSCRIBER_BACKLOG,
        subscriber_backlog_strategy="dropleft",
    )
    builder.plugins.append(plugin)
    builder.route_handlers += [events, ws_events]
    builder.tags.append({"name": "realtime", "description": "Live events for the signed-in user"})

    def register(app: Litestar) -> None:
        global _process_app
        _process_app = app
        _closing(app).clear()
        _close_streams_on_signal(app)

    def unregister(app: Litestar) -> None:
        close_streams(app)
        global _process_app
        if _process_app is app:
            _process_app = None

    builder.state["realtime_history"] = MemoryHistory() if redis is None else None  # Redis: at start-up
    builder.state["presence_listeners"] = builder.state.get("presence_listeners", [])

    async def start_stores(app: Litestar) -> None:
        shared = app.state.stores.redis  # the stores' client: socket timeouts, one pool per process
        if shared is not None:
            app.state.realtime_history = RedisHistory(shared)
        app.state.presence = Presence(shared)

    async def settle_presence(app: Litestar) -> None:
        presence = app.state.get("presence")
        if presence is not None:
            await presence.settle()

    builder.on_startup.append(start_stores)
    builder.on_startup.append(register)
    builder.on_shutdown.append(settle_presence)
    builder.on_shutdown.append(unregister)
    if redis is not None:

        @contextlib.asynccontextmanager
        async def redis_client(_: Litestar) -> AsyncIterator[None]:
            # registered before the plugin's own lifespan, so it closes after the plugin has unsubscribed
            try:
                yield
            finally:
                await redis.aclose()

        async def check_channels(app: Litestar) -> None:
            plugin = _plugin(app)
            task = plugin._sub_task
            if task is not None and task.done():
                raise RuntimeError("the pub/sub subscriber task stopped")
            if not backend.connected and backend._wanted:
                raise Degraded(f"pub/sub disconnected, reconnecting ({backend.last_error})")
            try:
                await redis.ping()
            except Exception as exc:
                raise Degraded(f"Redis unreachable ({type(exc).__name__}); events are dropped") from exc

        builder.lifespan.append(redis_client)
        builder.readiness_checks["realtime"] = check_channels
