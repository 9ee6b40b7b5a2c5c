"""What every market Controller declares, and the one way a route runs a flow: the flow collects its
events in an outbox that is published after the commit (nothing when the handler fails)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from keel.apps.market import flows, services
from keel.core.envelope import Envelope, ok

if TYPE_CHECKING:
    from litestar import Request
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.market.models import Chat
    from keel.apps.market.schemas import ChatRead
    from keel.identity import Principal

SECURITY = [{"BearerToken": []}]
TAGS = ["market"]
T = TypeVar("T")


async def run_flow(request: Request[Any, Any, Any], flow: Callable[[flows.Outbox], Awaitable[T]]) -> T:
    """`flow(outbox)`, then hand the outbox to the request as the handler's last step."""
    outbox = flows.Outbox()
    result = await flow(outbox)
    flows.deliver_later(request, outbox)
    return result


async def chat_after(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    flow: Callable[[flows.Outbox], Awaitable[Chat]],
) -> Envelope[ChatRead]:
    """Run a flow that changes a chat and answer with the chat as the caller now sees it."""
    chat = await run_flow(request, flow)
    return await chat_view(request, db, principal, chat)


async def chat_view(
    request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, chat: Chat
) -> Envelope[ChatRead]:
    """The chat's detail envelope, its members' presence included (core realtime knows who is online)."""
    presence = request.app.state.get("presence")
    online = await presence.online(services.participant_ids(chat)) if presence is not None else None
    return ok(await services.chat_detail(db, principal, chat, online))
