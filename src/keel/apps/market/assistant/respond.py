"""The assistant's turn: after a customer's message is committed, decide (a person asked for, a hand-over
topic, a product question), answer with the engine, store the reply and publish it, and on a hand-off
alert the shop's people (realtime, and mail when the owner opted in).

Runs in a transaction of its own after the customer's request (a follow-up of its outbox), so the
customer's message is stored and announced whatever happens here; a failure is logged, never a 500.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from keel.apps.market.assistant import language, retrieval
from keel.apps.market.models import MEDIA
from keel.apps.market.services import assistant as state

if TYPE_CHECKING:
    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.market.flows import Outbox
    from keel.apps.market.models import Assistant, Chat

log = structlog.get_logger("keel.market.assistant")


def handoff_sentence(assistant: Assistant, reason: str, chat: Chat) -> str:
    shop = chat.vendor.name
    available = state.humans_available(assistant)
    when = state.hours_text(assistant)
    if available is False and when:
        later = f" The team answers {when}; they will get back to you then."
    elif available:
        later = " Someone will be with you shortly."
    else:
        later = " Someone will answer here as soon as they can."
    if reason == "human":
        return f"Of course. I've asked a person from {shop} to take over.{later}"
    if reason.startswith("topic:"):
        return f"A person from {shop} handles this. I've passed your message on.{later}"
    if reason == "media":
        return f"Thanks for the file. I've asked a person from {shop} to look at it.{later}"
    if reason == "engine_unavailable":
        return f"I can't answer right now, so I've asked a person from {shop} to help.{later}"
    return f"I couldn't find that in {shop}'s catalogue, so I've asked a person from the team to help.{later}"


async def greet(db: AsyncSession, chat: Chat, outbox: Outbox) -> None:
    """A new chat with the assistant on: its greeting, in the chat-opening transaction."""
    from keel.apps.market.flows import message_event

    assistant = await state.assistant_of(db, chat.vendor_id)
    if assistant is None or not assistant.enabled or not assistant.greeting:
        return
    greeting = await state.add_assistant_message(db, chat, assistant.greeting, "template")
    outbox.add(chat, message_event("message.created", greeting))


def reply_later(outbox: Outbox, chat_id: uuid.UUID, message_id: uuid.UUID) -> None:
    expected, outbox.expected = outbox.expected, None  # the send's first token, now the turn's

    async def follow_up(app: Litestar) -> None:
        await respond(app, chat_id, message_id, expected)

    outbox.follow_ups.append(follow_up)


async def respond(
    app: Litestar, chat_id: uuid.UUID, message_id: uuid.UUID, expected: object | None = None
) -> None:
    """The assistant's turn. Its first token goes out before anything is written (`message.delta`: the
    offline engine's sentence at once, the model's text as it streams); an answer's messages are then
    stored by the process's writer (writer.py: after the other turns' first tokens, many chats in one
    transaction) and published. A hand-off is written here, with the chat's state, in one transaction."""
    from keel.apps.market.assistant.writer import writer_of

    writer = writer_of(app)
    with writer.turn(expected) as first_token_sent:
        answer = await _turn(app, chat_id, message_id, first_token_sent)
    if answer is not None:
        recipients, engine, replies = answer
        await writer.write(chat_id, recipients, engine, replies)


async def _turn(
    app: Litestar, chat_id: uuid.UUID, message_id: uuid.UUID, first_token_sent: Callable[[], None]
) -> tuple[list[uuid.UUID], str, list[state.Reply]] | None:
    """Decide and answer; returns the answer for the writer (recipients, engine, messages), or None when
    there is none (quiet) or the turn was a hand-off, written and published here."""
    from keel.apps.market.flows import Outbox, message_event, publish_all
    from keel.apps.market.services import participant_ids

    outbox = Outbox()
    mails: list[tuple[str, str, str]] = []
    async with app.state.sa_config.get_session() as db:
        context = await state.reply_context(db, chat_id, message_id)
        if context is None:
            return None
        chat, assistant, message = context.chat, context.assistant, context.message
        text = message.body or ""
        request = language.understand(text)
        topic = language.topic_of(text, list(assistant.handoff_topics or []))
        reason: str | None = None
        if message.kind == MEDIA:
            reason = "media"  # the offline engine reads no pictures: a person looks at it
        elif request.wants_human:
            reason = "human"
        elif topic is not None:
            reason = f"topic:{topic}"
        engine = retrieval.ENGINE
        replies: list[state.Reply] = []
        if reason is None and not request.is_product_question:
            replies.append(
                state.Reply(
                    f"I'm {assistant.name}, {chat.vendor.name}'s assistant. Tell me what you are looking for "
                    "(for example a product, a colour, a size or a price limit), or ask for a person.",
                    None,
                    _new_id(),
                )
            )
        elif reason is None and getattr(app.state, "llm", None) is not None:
            turn = await _model_turn(app, db, chat, assistant, first_token_sent)
            if turn is None or not turn.text:
                reason, engine = "engine_unavailable", "template"
            else:
                engine = turn.engine
                replies.append(state.Reply(turn.text, None, turn.reply_id))
                replies.extend(state.Reply(retrieval.card_text(p), p) for p in turn.products)
        elif reason is None:
            try:
                answer = await retrieval.search_catalogue(db, chat.vendor_id, request, context.catalogue)
            except Exception:
                log.exception("market_assistant_search_failed", chat_id=str(chat_id))
                # a failed statement ends a PostgreSQL transaction: the hand-off starts a fresh one
                await db.rollback()
                context = await state.reply_context(db, chat_id, message_id)
                if context is None:
                    return None
                chat, assistant = context.chat, context.assistant
                answer, reason = retrieval.Answer(), "engine_unavailable"
            if answer.matches:
                replies.append(state.Reply(retrieval.found_sentence(answer), None, _new_id()))
                replies.extend(state.Reply(retrieval.card_text(m.product), m.product) for m in answer.matches)
            elif reason is None:
                reason = "not_found"
        if reason is None:
            first = replies[0]
            if first.message_id is not None and engine == retrieval.ENGINE:
                # the offline engine's sentence streams at once (one `message.delta`), before any write
                await _publish_delta(app, chat, first.message_id, first.body, engine)
            first_token_sent()
            return participant_ids(chat), engine, replies
        replies.append(state.Reply(handoff_sentence(assistant, reason, chat)))
        for read in await state.add_assistant_messages(db, chat, engine, replies):
            outbox.add(chat, message_event("message.created", read))
        await _announce_handoff(db, app, chat, assistant, reason, text, outbox, mails)
        await db.commit()
    first_token_sent()
    await publish_all(app, outbox)
    await _send_mails(app, mails)
    return None


async def _model_turn(
    app: Litestar, db: AsyncSession, chat: Chat, assistant: Assistant, first_token_sent: Callable[[], None]
) -> Any:
    """The model server's answer, streamed as `message.delta` events; None when the server failed (down,
    quota, refusal, bad output): the caller hands the chat to a person instead of leaving it silent."""
    from keel.apps.market.assistant import llm

    reply_id = _new_id()

    async def publish_delta(message_id: uuid.UUID, delta: str, engine: str) -> None:
        await _publish_delta(app, chat, message_id, delta, engine)
        first_token_sent()
        # let the loop run: the delta reaches the SSE streams through a few tasks' queues, and pieces
        # already received parse without awaiting anything, so the first one waited for them all (~2 ms)
        await asyncio.sleep(0)

    try:  # (each tool call runs in a savepoint of its own: nothing to roll back before the first token)
        turn = await llm.converse(app, db, chat, assistant, reply_id, publish_delta)
    except Exception:  # ModelUnavailable, TokenQuotaExceeded, a refused request or anything else
        log.warning("market_assistant_model_failed", chat_id=str(chat.id), exc_info=True)
        return None
    turn.reply_id = reply_id
    return turn


def _new_id() -> uuid.UUID:
    from advanced_alchemy.mixins.uuid import uuid7

    return uuid.UUID(str(uuid7()))


async def _publish_delta(app: Litestar, chat: Chat, message_id: uuid.UUID, delta: str, engine: str) -> None:
    """A piece of a reply not stored yet, to the chat's participants (transient: never replayed)."""
    from keel.apps.market.flows import Outbox, publish_all

    deltas = Outbox()
    event = {"type": "message.delta", "chat_id": str(chat.id), "message_id": str(message_id), "delta": delta}
    deltas.add(chat, {**event, "engine": engine})
    await publish_all(app, deltas)


async def _announce_handoff(
    db: AsyncSession,
    app: Litestar,
    chat: Chat,
    assistant: Assistant,
    reason: str,
    text: str,
    outbox: Outbox,
    mails: list[tuple[str, str, str]],
) -> None:
    if not state.hand_off(chat, reason):
        return  # already waiting for a person: they were told
    await db.flush()
    people = await state.shop_people(db, chat.vendor)
    event = state.state_event(
        "chat.handoff",
        chat,
        vendor_id=str(chat.vendor_id),
        title=chat.title,
        reason=reason,
        customer_message=text[:500],
    )
    outbox.to([*people, chat.customer_id], event)
    if assistant.notify_email:
        mails.extend(await _mails(db, app, chat, people, reason, text))


async def _mails(
    db: AsyncSession, app: Litestar, chat: Chat, people: list[uuid.UUID], reason: str, text: str
) -> list[tuple[str, str, str]]:
    from keel.identity import user_summaries

    emails = [person.email for person in (await user_summaries(db, people, active_only=True)).values()]
    link = f"{app.state.settings.frontend_url.rstrip('/')}/market/chats/{chat.id}"
    subject = f"[{chat.vendor.name}] A customer needs a person: {chat.title}"
    body = f"The assistant handed a chat over ({reason}).\n\nThe customer wrote:\n\n{text[:1000]}\n\n{link}\n"
    return [(email, subject, body) for email in emails]


async def _send_mails(app: Litestar, mails: list[tuple[str, str, str]]) -> None:
    identity: Any = getattr(app.state, "identity", None)
    if identity is None:
        return
    for to, subject, body in mails:
        await identity.mailer.send(to, subject, body)  # never raises: failures are logged
