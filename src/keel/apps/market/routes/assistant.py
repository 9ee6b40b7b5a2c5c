"""The shop assistant: its settings (the shop's owner), and a chat's hand-over between it and a person."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post, put
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.market import flows, services
from keel.apps.market.routes.common import SECURITY, TAGS, chat_after
from keel.apps.market.schemas import AssistantRead, AssistantUpdate, ChatRead
from keel.core.envelope import Envelope, ok
from keel.core.errors import Conflict, Forbidden, NotFound, error_responses
from keel.identity import Principal


def _engine(request: Request[Any, Any, Any]) -> str:
    return "llm" if getattr(request.app.state, "llm", None) is not None else "retrieval"


class AssistantController(Controller):
    path = "/"
    tags = TAGS
    security = SECURITY
    after_response = flows.deliver_after_commit

    @get(
        "/vendors/{vendor_id:uuid}/assistant",
        responses=error_responses(NotFound, Forbidden),
        summary="The shop assistant's settings (the shop's owner)",
    )
    async def get_assistant(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, vendor_id: UUID
    ) -> Envelope[AssistantRead]:
        row = await services.assistant.get_settings(db_session, principal, vendor_id)
        return ok(services.assistant.assistant_read(vendor_id, row, _engine(request)))

    @put(
        "/vendors/{vendor_id:uuid}/assistant",
        responses=error_responses(NotFound, Forbidden),
        summary="Set up the shop assistant: on/off, name, persona, greeting, hours when people answer, "
        "topics it hands to a person, mail on hand-off",
    )
    async def put_assistant(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        vendor_id: UUID,
        data: AssistantUpdate,
    ) -> Envelope[AssistantRead]:
        row = await services.assistant.put_settings(db_session, principal, vendor_id, data)
        return ok(services.assistant.assistant_read(vendor_id, row, _engine(request)))

    @post(
        "/chats/{chat_id:uuid}/take-over",
        status_code=HTTP_200_OK,
        responses=error_responses(NotFound, Forbidden, Conflict),
        summary="A person of the shop answers this chat; the assistant goes quiet (a seller taking a chat "
        "waiting for a person is assigned to it)",
    )
    async def take_over(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request,
            db_session,
            principal,
            lambda outbox: flows.take_over(db_session, principal, chat_id, outbox),
        )

    @post(
        "/chats/{chat_id:uuid}/hand-back",
        status_code=HTTP_200_OK,
        responses=error_responses(NotFound, Forbidden, Conflict),
        summary="Give the chat back to the shop assistant: it answers the customer's next message",
    )
    async def hand_back(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request,
            db_session,
            principal,
            lambda outbox: flows.hand_back(db_session, principal, chat_id, outbox),
        )
