"""The streams: `GET /api/v1/events` (SSE) and `WS /api/v1/ws`, each of the caller's own channels only.

A stream opens its subscription first, then (given `Last-Event-ID`, or `?last_event_id=`) replays the
events with a later id from the history (replay.py), then forwards live events, skipping any it already
replayed. Every open stream counts in presence and in `keel_realtime_subscribers{transport}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, cast

import msgspec
from litestar import Request, WebSocket, get, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import Subscriber
from litestar.exceptions import WebSocketDisconnect
from litestar.params import HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from keel.core.errors import BadRequest, Forbidden, KeelError, Unauthorized, error_responses
from keel.core.realtime import replay

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.connection import ASGIConnection

_TOPIC = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_TOPICS = 20


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
    database = connection.app.state.get("sa_config")
    if database is not None:
        with contextlib.suppress(Exception):
            await database.release(connection.scope, commit=False)


def _plugin(app: Litestar) -> ChannelsPlugin:
    return app.plugins.get(ChannelsPlugin)


class StreamSubscriber(Subscriber):
    """The subscriber one stream reads (`ChannelsPlugin(subscriber_class=...)`): `next()` waits on the
    subscriber's own queue under a timeout. The plugin's worker puts an event straight into that queue,
    so the event reaches the reading stream in one wake-up; a pump task into a second queue and a getter
    task per event cost two to three more passes of the event loop per delivery, each a wait behind every
    other ready request under load (10-25 ms per event in a burst of 20 chats)."""

    async def next(self, seconds: float) -> bytes | None:
        """The next event; None after `seconds` (a keep-alive is due) or when woken by `wake()`."""
        queue = self._queue
        if not queue.empty():
            return queue.get_nowait()
        try:
            async with asyncio.timeout(seconds):
                return await queue.get()  # (a get cancelled by the timeout leaves the queue as it was)
        except TimeoutError:
            return None

    def wake(self) -> None:
        self.put_nowait(None)


# a client that does not read loses its oldest events (the plugin's "dropleft"), not the server's memory
SUBSCRIBER_BACKLOG = 1000


@contextlib.asynccontextmanager
async def _subscription(app: Litestar, channels: list[str]) -> AsyncIterator[StreamSubscriber]:
    """A subscriber of `channels`, woken when the server starts closing its streams."""
    plugin = _plugin(app)
    subscriber = cast("StreamSubscriber", await plugin.subscribe(channels))  # the plugin's subscriber_class
    readers = _readers(app)
    readers.add(subscriber)
    try:
        yield subscriber
    finally:
        readers.discard(subscriber)
        await plugin.unsubscribe(subscriber)


def _readers(app: Litestar) -> set[StreamSubscriber]:
    readers = app.state.get("realtime_readers")
    if readers is None:
        readers = app.state.realtime_readers = set()
    return readers


def _closing(app: Litestar) -> asyncio.Event:
    """Set when the server starts shutting down: open streams end."""
    event = app.state.get("realtime_closing")
    if event is None:
        event = app.state.realtime_closing = asyncio.Event()
    return event


def close_streams(app: Litestar) -> None:
    """The server is shutting down: every open stream ends now (each reader is woken to see it)."""
    _closing(app).set()
    for subscriber in list(_readers(app)):
        subscriber.wake()


def _close_streams_on_signal(app: Litestar) -> None:
    """Chain a handler in front of the server's SIGTERM/SIGINT handler (uvicorn installs it with
    `signal.signal` before the app starts) that ends the streams first; main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(close_streams, app)
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


class _Kind(msgspec.Struct):
    type: Any = None


class _Head(msgspec.Struct):
    """What an SSE line needs of an envelope: read without building the event's dicts and lists."""

    event: _Kind = msgspec.field(default_factory=_Kind)
    id: Any = None


_head = msgspec.json.Decoder(_Head)


def _sse_message(item: bytes) -> ServerSentEventMessage:
    event_type, event_id = "message", None
    with contextlib.suppress(Exception):
        head = _head.decode(item)
        if isinstance(head.event.type, str) and _TOPIC.match(head.event.type):
            event_type = head.event.type
        if isinstance(head.id, str) and replay.parse_id(head.id) is not None:
            event_id = head.id
    return ServerSentEventMessage(data=item.decode(), event=event_type, id=event_id)


class _Catchup:
    """The replayed part of a stream, and the live events it makes redundant."""

    def __init__(self, after: replay.EventId | None) -> None:
        self.after = after
        self.seen: replay.EventId | None = None

    async def missed(self, app: Litestar, channels: list[str]) -> list[bytes]:
        history = app.state.get("realtime_history")
        if self.after is None or history is None:
            return []
        rows = await history.since(channels, self.after)
        if rows:
            self.seen = rows[-1][0]
        return [item for _, item in rows]

    def redundant(self, item: bytes) -> bool:
        """A live event the replay already delivered (published between subscribing and reading)."""
        if self.seen is None:
            return False
        event_id = replay.event_id_of(item)
        return event_id is not None and event_id <= self.seen


def _presence(app: Litestar, user_id: Any, transport: str) -> contextlib.AbstractAsyncContextManager[None]:
    presence = app.state.get("presence")
    return presence.streaming(app, user_id, transport) if presence is not None else contextlib.nullcontext()


LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        required=False,
        description="The id of the last event received: events published after it are replayed first",
    ),
]


@get(
    "/api/v1/events",
    tags=["realtime"],
    summary="Server-sent events of the caller's channels",
    description="`user:<id>` always, plus `?topics=a,b` for `user:<id>:a`, `user:<id>:b`. "
    "Each event's data is `{channel, event}` (and `id` for events that are replayed); comments keep "
    "the connection alive. A reconnecting client sends `Last-Event-ID` (browsers do) or "
    "`?last_event_id=` and first gets the replayable events it missed (the last few minutes).",
    media_type="text/event-stream",
    security=[{"BearerToken": []}],
    responses=error_responses(Unauthorized, Forbidden),
    # no compression: each event is a small message flushed on its own (nothing for brotli to gain), and
    # the compressor's per-write flush cost every delivery CPU on the way to a first token
    opt={"rate_limit": None, "skip_compression": True},
)
async def events(
    request: Request[Any, Any, Any],
    topics: str | None = None,
    last_event_id: str | None = None,
    last_event_id_header: LastEventId = None,
) -> ServerSentEvent:
    try:
        principal = await authenticate(request)
    finally:
        await _release_db_session(request)
    channels = _channels_for(principal.user_id, topics)
    keepalive = request.app.state.settings.realtime_keepalive
    app = request.app
    catchup = _Catchup(replay.parse_id(last_event_id_header or last_event_id))
    closing = _closing(app)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async with _presence(app, principal.user_id, "sse"), _subscription(app, channels) as subscriber:
            yield ServerSentEventMessage(data=None, comment="connected", retry=3000)
            for missed in await catchup.missed(app, channels):
                yield _sse_message(missed)
            while not closing.is_set():
                item = await subscriber.next(keepalive)
                if closing.is_set():
                    break
                if item is None:
                    yield sse_comment("keep-alive")
                elif not catchup.redundant(item):
                    yield _sse_message(item)
            yield sse_comment("server shutting down")

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@websocket("/api/v1/ws", opt={"rate_limit": None})
async def ws_events(
    socket: WebSocket[Any, Any, Any], topics: str | None = None, last_event_id: str | None = None
) -> None:
    """The caller's channels over a WebSocket (token: bearer header, cookie or `?access_token=`);
    `?last_event_id=` replays what was missed first, as for SSE."""
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
    app = socket.app
    closing = _closing(app)
    catchup = _Catchup(replay.parse_id(last_event_id))
    async with _presence(app, principal.user_id, "websocket"), _subscription(app, channels) as subscriber:

        async def forward() -> None:
            for missed in await catchup.missed(app, channels):
                await socket.send_text(missed.decode())
            while True:
                item = await subscriber.next(3600)
                if item is not None and not catchup.redundant(item):
                    await socket.send_text(item.decode())

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
