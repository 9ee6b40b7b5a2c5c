"""Realtime: per-user channels over SSE (`GET /api/v1/events`) and WebSocket (`WS /api/v1/ws`).

Litestar's channels plugin carries the events: in process by default, Redis pub/sub when REDIS_URL is
set, so an event published by any server process (or a job worker with its own app) reaches a client
connected to any other. Channels are `user:<user_id>` and sub-channels `user:<user_id>:<topic>`; a
client only ever subscribes to its own (asking for someone else's: 403, or WebSocket close 4403).

    await publish(app, f"user:{user_id}:transcripts", {"type": "progress", "id": "...", "percent": 40})

Clients receive `{"channel": ..., "event": {...}}` (SSE: `event:` is the event's `type`, default `message`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, WebSocket, get, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEvent, ServerSentEventMessage

from keel.core.components import AppBuilder
from keel.core.errors import BadRequest, Forbidden, KeelError, Unauthorized, error_responses

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.connection import ASGIConnection

    from keel.settings import Settings

_TOPIC = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_TOPICS = 20
REDIS_KEY_PREFIX = "keel:channels"


def user_channel(user_id: Any, topic: str | None = None) -> str:
    return f"user:{user_id}" if topic is None else f"user:{user_id}:{topic}"


def _channels_for(user_id: Any, topics: str | None) -> list[str]:
    """`?topics=a,b` (bare topics, or full channel names of the caller) → the caller's channels."""
    own = user_channel(user_id)
    channels = [own]
    for raw in (t.strip() for t in (topics or "").split(",")):
        if not raw:
            continue
        if raw.startswith("user:"):
            parts = raw.split(":")
            if len(parts) not in (2, 3) or parts[1] != str(user_id):
                raise Forbidden("You can only subscribe to your own channels")
            if len(parts) == 3 and not _TOPIC.match(parts[2]):
                raise BadRequest("Invalid topic", details={"topics": raw})
            channel = raw
        elif _TOPIC.match(raw):
            channel = user_channel(user_id, raw)
        else:
            raise BadRequest("Invalid topic", details={"topics": raw})
        if channel not in channels:
            channels.append(channel)
    if len(channels) > MAX_TOPICS + 1:
        raise BadRequest(f"At most {MAX_TOPICS} topics")
    return channels


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    """The caller's principal, from the authenticator the identity component installs as
    `app.state.authenticate_connection` (an app or a test may install another). Without one nobody can
    be authenticated: 401."""
    authenticator = connection.app.state.get("authenticate_connection")
    if authenticator is None:
        raise Unauthorized("No authenticator is installed")
    return await authenticator(connection)


async def _release_db_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Authentication may open a request-scoped DB session; a long-lived stream must not keep its
    transaction (and its locks) open, and WebSockets get no before-send handler to close it."""
    from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state

    config = connection.app.state.get("sa_config")
    key = getattr(config, "session_scope_key", None)
    session = get_aa_scope_state(connection.scope, key) if key else None
    if key and session is not None:
        with contextlib.suppress(Exception):
            await session.rollback()
        await session.close()
        delete_aa_scope_state(connection.scope, key)


def _plugin(app: Litestar) -> ChannelsPlugin:
    return app.plugins.get(ChannelsPlugin)


def encode_event(channel: str, event: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"channel": channel, "event": event})


async def publish(app: Litestar, channel: str, event: dict[str, Any]) -> None:
    """Publish `event` (msgspec-encodable dict) to `channel`, delivered to every subscribed client of
    every instance sharing the backend."""
    await _plugin(app).wait_published(encode_event(channel, event), [channel])


_process_app: Litestar | None = None  # the app serving in this process, if any (set at start-up)
_direct: dict[tuple[str, int], Any] = {}  # Redis clients for processes without an app, per loop


async def notify(channel: str, event: dict[str, Any], *, settings: Settings | None = None) -> None:
    """Publish from anywhere, job tasks included: through this process's app when it serves one, else
    straight to Redis pub/sub (a `keel worker`). Without either nobody can be listening: dropped."""
    if _process_app is not None:
        await publish(_process_app, channel, event)
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
    await _direct[key].publish(channel, encode_event(channel, event))


@contextlib.asynccontextmanager
async def _subscription(app: Litestar, channels: list[str]) -> AsyncIterator[asyncio.Queue[bytes]]:
    """Events of `channels` pumped into a queue (so readers can wait with a timeout)."""
    plugin = _plugin(app)
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
    subscriber = await plugin.subscribe(channels)

    async def pump() -> None:
        async for item in subscriber.iter_events():
            if queue.full():  # a client that does not read loses the oldest events, not the server's memory
                queue.get_nowait()
            queue.put_nowait(item)

    task = asyncio.create_task(pump())
    try:
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await plugin.unsubscribe(subscriber)


def _sse_message(item: bytes) -> ServerSentEventMessage:
    event_type = "message"
    with contextlib.suppress(Exception):
        value = msgspec.json.decode(item).get("event", {}).get("type")
        if isinstance(value, str) and _TOPIC.match(value):
            event_type = value
    return ServerSentEventMessage(data=item.decode(), event=event_type)


@get(
    "/api/v1/events",
    tags=["realtime"],
    summary="Server-sent events of the caller's channels",
    description="`user:<id>` always, plus `?topics=a,b` for `user:<id>:a`, `user:<id>:b`. "
    "Each event's data is `{channel, event}`; comments keep the connection alive.",
    media_type="text/event-stream",
    security=[{"BearerToken": []}],
    responses=error_responses(Unauthorized, Forbidden),
    opt={"rate_limit": None},
)
async def events(request: Request[Any, Any, Any], topics: str | None = None) -> ServerSentEvent:
    try:
        principal = await authenticate(request)
    finally:
        await _release_db_session(request)
    channels = _channels_for(principal.user_id, topics)
    keepalive = request.app.state.settings.realtime_keepalive
    app = request.app

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async with _subscription(app, channels) as queue:
            yield ServerSentEventMessage(data=None, comment="connected", retry=3000)
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), keepalive)
                except TimeoutError:
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                yield _sse_message(item)

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@websocket("/api/v1/ws", opt={"rate_limit": None})
async def ws_events(socket: WebSocket[Any, Any, Any], topics: str | None = None) -> None:
    """The caller's channels over a WebSocket (token: bearer header, cookie or `?access_token=`)."""
    await socket.accept()
    try:
        try:
            principal = await authenticate(socket)
        finally:
            await _release_db_session(socket)
        channels = _channels_for(principal.user_id, topics)
    except Unauthorized:
        await socket.close(code=4401, reason="unauthorized")
        return
    except Forbidden:
        await socket.close(code=4403, reason="forbidden")
        return
    except KeelError as exc:
        await socket.close(code=4400, reason=exc.message[:120])
        return
    async with _subscription(socket.app, channels) as queue:

        async def forward() -> None:
            while True:
                await socket.send_text((await queue.get()).decode())

        sender = asyncio.create_task(forward())
        try:
            while True:
                await socket.receive_data(mode="text")  # clients may ping; a disconnect ends the loop
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender


def make_backend(settings: Settings) -> tuple[Any, Any]:
    """(backend, redis client to close) — Redis pub/sub when REDIS_URL is set, else in process."""
    if settings.redis_url:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        # its own client: a pub/sub connection blocks on reads, so no socket timeout here
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, health_check_interval=30)
        return RedisChannelsPubSubBackend(redis=redis, key_prefix=REDIS_KEY_PREFIX), redis
    return MemoryChannelsBackend(), None


def install(builder: AppBuilder) -> None:
    backend, redis = make_backend(builder.settings)
    plugin = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True, create_ws_route_handlers=False)
    builder.plugins.append(plugin)
    builder.route_handlers += [events, ws_events]
    builder.tags.append({"name": "realtime", "description": "Live events for the signed-in user"})

    def register(app: Litestar) -> None:
        global _process_app
        _process_app = app

    def unregister(app: Litestar) -> None:
        global _process_app
        if _process_app is app:
            _process_app = None

    builder.on_startup.append(register)
    builder.on_shutdown.append(unregister)
    if redis is not None:

        @contextlib.asynccontextmanager
        async def redis_client(_: Litestar) -> AsyncIterator[None]:
            # registered before the plugin's own lifespan, so it closes after the plugin has unsubscribed
            try:
                yield
            finally:
                await redis.aclose()

        async def check_channels(_: Litestar) -> None:
            await redis.ping()

        builder.lifespan.append(redis_client)
        builder.readiness_checks["realtime"] = check_channels
