"""Realtime: per-user channels over SSE (`GET /api/v1/events`) and WebSocket (`WS /api/v1/ws`).

Litestar's channels plugin carries the events: in process by default, Redis pub/sub when REDIS_URL is
set, so an event published by any server process (or a job worker with its own app) reaches a client
connected to any other. Channels are `user:<user_id>` and sub-channels `user:<user_id>:<topic>`; a
client only ever subscribes to its own (asking for someone else's: 403, or WebSocket close 4403).

    await publish(app, f"user:{user_id}:transcripts", {"type": "progress", "id": "...", "percent": 40})

Clients receive `{"channel": ..., "event": {...}}` (SSE: `event:` is the event's `type`, default `message`).

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
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from litestar import Request, WebSocket, get, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEvent, ServerSentEventMessage

from keel.core.components import AppBuilder
from keel.core.errors import BadRequest, Forbidden, KeelError, Unauthorized, error_responses
from keel.core.stores import Degraded, mark_degraded, mark_recovered

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterable

    from litestar import Litestar
    from litestar.connection import ASGIConnection
    from redis.asyncio.client import PubSub

    from keel.settings import Settings

_TOPIC = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_TOPICS = 20
REDIS_KEY_PREFIX = "keel:channels"
COMPONENT = "realtime"
RECONNECT_MIN, RECONNECT_MAX = 0.1, 1.0  # seconds between pub/sub reconnection attempts
log = structlog.get_logger("keel.realtime")


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
    try:
        await _direct[key].publish(channel, encode_event(channel, event))
    except Exception as exc:  # a live notification is not worth failing (and re-running) the job for
        mark_degraded(COMPONENT, exc)
        log.warning("realtime_event_dropped", channel=channel, error=type(exc).__name__)
    else:
        mark_recovered(COMPONENT)


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


def _closing(app: Litestar) -> asyncio.Event:
    """Set when the server starts shutting down: open streams end."""
    event = app.state.get("realtime_closing")
    if event is None:
        event = app.state.realtime_closing = asyncio.Event()
    return event


async def _next_or_closing(
    queue: asyncio.Queue[bytes], closing: asyncio.Event, keepalive: float
) -> bytes | None:
    """The next event, or None after `keepalive` seconds (a keep-alive is due) or once closing is set."""
    getter = asyncio.ensure_future(queue.get())
    waiter = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait((getter, waiter), timeout=keepalive, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        if closing.is_set():
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(getter.result())  # not lost for a caller that keeps reading
            return None
        return getter.result()
    return None


def _close_streams_on_signal(app: Litestar) -> None:
    """Chain a handler in front of the server's SIGTERM/SIGINT handler (uvicorn installs it with
    `signal.signal` before the app starts) that ends the streams first; main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    closing = _closing(app)
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(closing.set)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:  # nobody else listens: behave as if we were not here
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        signal.signal(sig, handler)


def sse_comment(text: str) -> ServerSentEventMessage:
    """An SSE comment line (`: text`), such as a keep-alive: clients dispatch no event for it. (Litestar's
    `ServerSentEventMessage(comment=...)` alone also writes an empty `data:` line, which browsers deliver
    as an empty `message` event.)"""
    return ServerSentEventMessage(data=None, comment=text)


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

    closing = _closing(app)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async with _subscription(app, channels) as queue:
            yield ServerSentEventMessage(data=None, comment="connected", retry=3000)
            while not closing.is_set():
                item = await _next_or_closing(queue, closing, keepalive)
                if closing.is_set():
                    break
                if item is None:
                    yield sse_comment("keep-alive")
                    continue
                yield _sse_message(item)
            yield sse_comment("server shutting down")

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
    closing = _closing(socket.app)
    async with _subscription(socket.app, channels) as queue:

        async def forward() -> None:
            while True:
                await socket.send_text((await queue.get()).decode())

        async def receive() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    await socket.receive_data(mode="text")  # clients may ping; a disconnect ends the loop

        tasks = [
            asyncio.create_task(forward()),
            asyncio.create_task(receive()),
            asyncio.create_task(closing.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if closing.is_set():
                with contextlib.suppress(Exception):
                    await socket.close(code=1001, reason="server shutting down")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task


class ResilientRedisPubSub(RedisChannelsPubSubBackend):
    """Litestar's Redis pub/sub backend, but a lost connection is re-established (with backoff) and every
    wanted channel re-subscribed, instead of ending the plugin's subscriber task for good; publishing while
    Redis is down drops the event with a warning instead of raising into the request (or killing the
    plugin's publisher task)."""

    def __init__(self, *, redis: Any, key_prefix: str) -> None:
        super().__init__(redis=redis, key_prefix=key_prefix)
        self._wanted: set[str] = set()
        self._pubsub: PubSub | None = None
        self._wake: asyncio.Event | None = None  # created lazily, inside the running loop
        self.connected = False  # the pub/sub connection is live (or nothing needs one yet)
        self.last_error: str | None = None

    @property
    def _wanted_event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    async def subscribe(self, channels: Iterable[str]) -> None:
        channels = list(channels)
        self._wanted.update(channels)
        self._wanted_event.set()
        if self._pubsub is not None and self.connected:
            try:
                await self._pubsub.subscribe(*channels)
            except Exception as exc:  # the stream loop reconnects and subscribes every wanted channel
                self._failed(exc)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        channels = list(channels)
        self._wanted.difference_update(channels)
        if self._pubsub is not None and self.connected:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(*channels)

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        keys = sorted(set(channels))
        try:
            await self._publish_script(keys=keys, args=[data])
        except Exception as exc:
            mark_degraded(COMPONENT, exc)
            log.warning("realtime_event_dropped", channels=keys[:5], error=type(exc).__name__)
        else:
            if self.connected or not self._wanted:  # else the subscription still has to come back
                mark_recovered(COMPONENT)

    def _failed(self, exc: BaseException) -> None:
        self.connected = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:160]
        mark_degraded(COMPONENT, exc)

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _connect(self) -> PubSub:
        if self._pubsub is None:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(*self._wanted)
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            self._pubsub = pubsub
            if not self.connected:
                self.connected = True
                self.last_error = None
                mark_recovered(COMPONENT)
        return self._pubsub

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        delay = RECONNECT_MIN
        while True:
            if not self._wanted:
                self._wanted_event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted_event.wait(), 1.0)
                continue
            try:
                pubsub = await self._connect()
                missing = {c.encode() for c in self._wanted} - set(pubsub.channels)
                if missing:  # wanted while the connection was being replaced
                    await pubsub.subscribe(*missing)
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
                await self._drop()
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX, delay * 2)
                continue
            delay = RECONNECT_MIN
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel in self._wanted:
                yield channel, message["data"]

    async def on_shutdown(self) -> None:
        await self._drop()


def make_backend(settings: Settings) -> tuple[Any, Any]:
    """(backend, redis client to close) — Redis pub/sub when REDIS_URL is set, else in process."""
    if settings.redis_url:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # its own client: a pub/sub connection blocks on reads, so no socket timeout here; one immediate retry
        # inside redis-py (its default backoff would stall the stream loop for seconds); `stream_events`
        # retries with its own backoff.
        # The health check pings an idle connection, so a silently dead one is noticed within seconds.
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=2.0,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 0),
        )
        return ResilientRedisPubSub(redis=redis, key_prefix=REDIS_KEY_PREFIX), redis
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
        _closing(app).clear()
        _close_streams_on_signal(app)

    def unregister(app: Litestar) -> None:
        _closing(app).set()
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
