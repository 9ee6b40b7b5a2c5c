"""Chats: open one with a shop, my chat list, a chat's state (title, open/closed, archived, sellers)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.market import flows, services
from keel.apps.market.models import CLOSED, OPEN
from keel.apps.market.routes.common import SECURITY, TAGS, chat_after, chat_view, run_flow
from keel.apps.market.schemas import ChatAssign, ChatCreate, ChatRead, ChatUpdate
from keel.core.envelope import Envelope, Limit, Offset, Page, page
from keel.core.errors import Conflict, Forbidden, NotFound, TooManyRequests, error_responses
from keel.identity import Principal

TYPING_RATE = "60/minute"  # one call every few seconds while typing is plenty


class ChatController(Controller):
    path = "/chats"
    tags = TAGS
    security = SECURITY
    after_response = flows.deliver_after_commit

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=error_responses(Conflict),
        summary="Open a chat with a shop (optionally with a first message)",
    )
    async def open_chat(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        data: ChatCreate,
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request,
            db_session,
            principal,
            lambda outbox: flows.open_chat(db_session, principal, data, outbox),
        )

    async def _set_status(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        status: str,
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request, db, principal, lambda outbox: flows.set_status(db, principal, chat_id, status, outbox)
        )

    async def _set_archived(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, chat_id: UUID, on: bool
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request, db, principal, lambda outbox: flows.set_archived(db, principal, chat_id, on, outbox)
        )

    @get(
        "/",
        summary="My chats (as customer, shop owner or seller), latest activity first, with the last message "
        "and my unread count",
    )
    async def list_chats(
        self,
        db_session: AsyncSession,
        principal: Principal,
        limit: Limit = 20,
        offset: Offset = 0,
        status: Literal["open", "closed"] | None = None,
        archived: bool = False,
        role: Literal["customer", "owner", "seller"] | None = None,
        vendor_id: UUID | None = None,
    ) -> Page[ChatRead]:
        items, total = await services.list_chats(
            db_session,
            principal,
            status=status,
            archived=archived,
            role=role,
            vendor_id=vendor_id,
            limit=limit,
            offset=offset,
        )
        return page(items, total=total, limit=limit, offset=offset)

    @get(
        "/{chat_id:uuid}",
        responses=error_responses(NotFound),
        summary="A chat with its members: read markers and presence (online while a stream is open)",
    )
    async def get_chat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        chat = await services.participant_chat(db_session, principal, chat_id)
        return await chat_view(request, db_session, principal, chat)

    @patch("/{chat_id:uuid}", responses=error_responses(NotFound), summary="Rename a chat")
    async def rename_chat(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        data: ChatUpdate,
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request,
            db_session,
            principal,
            lambda outbox: flows.rename_chat(db_session, principal, chat_id, data.title, outbox),
        )

    @post(
        "/{chat_id:uuid}/close",
        status_code=HTTP_200_OK,
        responses=error_responses(NotFound, Conflict),
        summary="Close a chat: no more messages until it is reopened",
    )
    async def close_chat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        return await self._set_status(request, db_session, principal, chat_id, CLOSED)

    @post("/{chat_id:uuid}/reopen", status_code=HTTP_200_OK, responses=error_responses(NotFound, Conflict))
    async def reopen_chat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        return await self._set_status(request, db_session, principal, chat_id, OPEN)

    @post(
        "/{chat_id:uuid}/archive",
        status_code=HTTP_200_OK,
        responses=error_responses(NotFound),
        summary="Archive a chat for myself (hidden from my list unless ?archived=true)",
    )
    async def archive_chat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        return await self._set_archived(request, db_session, principal, chat_id, True)

    @post("/{chat_id:uuid}/unarchive", status_code=HTTP_200_OK, responses=error_responses(NotFound))
    async def unarchive_chat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> Envelope[ChatRead]:
        return await self._set_archived(request, db_session, principal, chat_id, False)

    @post(
        "/{chat_id:uuid}/sellers",
        status_code=HTTP_201_CREATED,
        responses=error_responses(NotFound, Forbidden, Conflict),
        summary="Assign one of the shop's sellers to the chat (shop owner)",
    )
    async def assign_seller(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        data: ChatAssign,
    ) -> Envelope[ChatRead]:
        return await chat_after(
            request,
            db_session,
            principal,
            lambda outbox: flows.assign_seller(db_session, principal, chat_id, data.seller_id, outbox),
        )

    @delete(
        "/{chat_id:uuid}/sellers/{seller_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(NotFound, Forbidden),
        summary="Unassign a seller from the chat (shop owner)",
    )
    async def unassign_seller(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        seller_id: UUID,
    ) -> None:
        await run_flow(
            request, lambda outbox: flows.unassign_seller(db_session, principal, chat_id, seller_id, outbox)
        )

    @post(
        "/{chat_id:uuid}/typing",
        status_code=HTTP_204_NO_CONTENT,
        opt={"rate_limit": TYPING_RATE},
        responses=error_responses(NotFound, TooManyRequests),
        summary="I am typing: the other participants get a `typing` event valid for a few seconds "
        "(`until`); call again while typing goes on",
    )
    async def typing(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, chat_id: UUID
    ) -> None:
        await run_flow(request, lambda outbox: flows.typing(db_session, principal, chat_id, outbox))
