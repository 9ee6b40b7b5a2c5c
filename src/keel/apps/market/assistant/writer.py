"""The assistant's answers are written by one writer per process, after their first tokens.

A turn publishes its first token (a `message.delta`) before anything is written, then hands its messages
to the writer and waits for them to be stored. The writer holds back while other turns have not sent
their first token yet (at most MAX_WAIT), then writes everything that queued meanwhile, for any number of
chats, in one transaction: a fixed number of statements (`services.messages.insert_batch`) and one commit;
then it publishes each message's `message.created` once, to that chat's participants. So twenty customers
writing at once get their first tokens before any of the answers is written, and the answers cost one
commit instead of twenty.

A batch that fails (a chat deleted meanwhile, a lost connection) is written again chat by chat, so one
bad chat costs only its own answer; that failure reaches the waiting turn (logged, never a 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.apps.market.models import Message
    from keel.apps.market.schemas import MessageRead
    from keel.apps.market.services.assistant import Reply

log = structlog.get_logger("keel.market.assistant")
MAX_WAIT = 0.05  # seconds the writer holds back for first tokens still on their way
MAX_BATCH = 200  # turns per transaction
STALE = 2.0  # seconds after which an expected first token is no longer waited for


@dataclass
class _Job:
    chat_id: uuid.UUID
    recipients: list[uuid.UUID]
    engine: str
    replies: list[Reply]
    done: asyncio.Future[list[MessageRead]]
    rows: list[Message] = field(default_factory=list)


class ReplyWriter:
    def __init__(self, app: Litestar) -> None:
        self.app = app
        self.queue: list[_Job] = []
        self.task: asyncio.Task[None] | None = None
        # customers' messages whose first token is still to come: key -> since (a key whose request
        # failed before its turn ran is forgotten after STALE seconds)
        self.coming: dict[object, float] = {}
        self.all_sent = asyncio.Event()
        self.all_sent.set()

    def expect(self) -> object:
        """A customer's message is on its way (its send has started): the writer waits for its token."""
        key = object()
        self.coming[key] = time.monotonic()
        self.all_sent.clear()
        return key

    def arrived(self, key: object) -> None:
        """Its first token is out, or there will be none."""
        self.coming.pop(key, None)
        if not self.coming:
            self.all_sent.set()

    def _forget_stale(self) -> None:
        limit = time.monotonic() - STALE
        for key in [k for k, since in self.coming.items() if since < limit]:
            self.arrived(key)

    @contextlib.contextmanager
    def turn(self, key: object | None = None) -> Any:
        """Around a turn until its first token is out (or it turned out to have none): calling the
        yielded function, or leaving the block, marks it arrived."""
        key = key if key is not None else self.expect()
        try:
            yield lambda: self.arrived(key)
        finally:
            self.arrived(key)

    async def write(
        self, chat_id: uuid.UUID, recipients: list[uuid.UUID], engine: str, replies: list[Reply]
    ) -> list[MessageRead]:
        """Store a turn's messages (with the next batch) and publish them; returns them as stored."""
        job = _Job(chat_id, recipients, engine, replies, asyncio.get_running_loop().create_future())
        self.queue.append(job)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())
        return await job.done

    async def _run(self) -> None:
        batch: list[_Job] = []
        try:
            while self.queue:
                self._forget_stale()
                with contextlib.suppress(TimeoutError):  # first tokens first, never longer than MAX_WAIT
                    await asyncio.wait_for(self.all_sent.wait(), MAX_WAIT)
                batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
                await self._write_or_split(batch)
                batch = []
        except BaseException as exc:  # cancelled (shutdown) or a bug: nobody waits for ever
            for job in [*batch, *self.queue]:
                _fail(job, exc if isinstance(exc, Exception) else RuntimeError("the writer stopped"))
            self.queue = []
            raise

    async def _write_or_split(self, batch: list[_Job]) -> None:
        try:
            await self._write(batch)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            log.warning("market_reply_batch_failed", turns=len(batch), exc_info=True)
            for job in batch:  # one by one: a bad chat costs only its own answer
                try:
                    await self._write([job])
                except Exception as alone:
                    _fail(job, alone)

    async def _write(self, batch: list[_Job]) -> None:
        from keel.apps.market.flows import Outbox, message_event, publish_all
        from keel.apps.market.services.assistant import assistant_row
        from keel.apps.market.services.messages import insert_batch
        from keel.apps.market.services.views import message_read

        started = time.perf_counter()
        rows_by_chat: dict[uuid.UUID, list[Message]] = {}
        for job in batch:
            job.rows = [assistant_row(job.chat_id, job.engine, reply) for reply in job.replies]
            rows_by_chat.setdefault(job.chat_id, []).extend(job.rows)
        async with self.app.state.sa_config.get_session() as db:
            await insert_batch(db, rows_by_chat)
            await db.commit()
        outbox = Outbox()
        stored = []
        for job in batch:
            reads = [message_read(row) for row in job.rows]
            for read in reads:
                outbox.to(job.recipients, message_event("message.created", read))
            stored.append((job, reads))
        await publish_all(self.app, outbox)
        for job, reads in stored:
            if not job.done.done():
                job.done.set_result(reads)
        took = round((time.perf_counter() - started) * 1000, 1)
        log.debug("market_replies_written", turns=len(batch), ms=took)


def _fail(job: _Job, exc: Exception) -> None:
    if not job.done.done():
        job.done.set_exception(exc)


def writer_of(app: Litestar) -> ReplyWriter:
    writer: ReplyWriter | None = app.state.get("market_reply_writer")
    if writer is None:
        writer = ReplyWriter(app)
        app.state.market_reply_writer = writer
    return writer
