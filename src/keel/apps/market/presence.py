"""Presence in chats: when someone comes online (their first open SSE/WebSocket stream on any instance)
or goes away (their last one closed), the people they chat with hear a `presence` event on their
`user:<id>:market` channel: `{type: "presence", user_id, status: "online" | "away", chat_ids, at}`,
`chat_ids` being the chats the two share (of the person's PRESENCE_CHATS most recent ones).

Core realtime decides who is online (shared across instances through Redis) and calls this listener;
a chat's detail (`GET /chats/{id}`) reads the same state for each member.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from keel.apps.market import services

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.core.components import AppBuilder

PRESENCE_CHATS = 200


async def announce(app: Litestar, user_id: Any, status: str) -> None:
    from keel.apps.market.flows import Outbox, publish_all

    me = uuid.UUID(str(user_id))
    async with app.state.sa_config.get_session() as db:
        chats = await services.recent_chats_of(db, me, PRESENCE_CHATS)
    shared: dict[uuid.UUID, list[str]] = {}
    for chat in chats:
        for other in services.participant_ids(chat):
            if other != me:
                shared.setdefault(other, []).append(str(chat.id))
    outbox = Outbox()
    at = services.now().isoformat()
    for other, chat_ids in shared.items():
        event = {"type": "presence", "user_id": str(me), "status": status, "chat_ids": chat_ids, "at": at}
        outbox.to([other], event)
    await publish_all(app, outbox)


def install(builder: AppBuilder) -> None:
    builder.state.setdefault("presence_listeners", []).append(announce)
