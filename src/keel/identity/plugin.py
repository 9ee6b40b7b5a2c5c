"""Identity as a core component: routes, the app-wide `principal` dependency, `identify`, start-up seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from litestar.di import Provide

from keel.core.components import AppBuilder
from keel.identity.guards import (
    Principal,
    authenticate_connection,
    cookie_names,
    make_identify,
    provide_principal,
)
from keel.identity.routes import CONTROLLERS
from keel.identity.services import Identity

if TYPE_CHECKING:
    from litestar import Litestar

log = structlog.get_logger("keel.identity")


async def _seed_roles(app: Litestar) -> None:
    """Built-in roles and registered permissions exist before the first request (idempotent)."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from keel.identity.seed import seed

    config = app.state.sa_config
    try:
        async with config.get_session() as session:
            await seed(session, app.state.settings)
            await session.commit()
    except IntegrityError:  # another instance seeded at the same moment
        log.info("identity_seed_raced")
    except (OperationalError, ProgrammingError) as exc:  # not migrated yet: `keel migrate` seeds
        log.warning("identity_seed_skipped", error=str(exc)[:200])


def install(builder: AppBuilder) -> None:
    identity = Identity(builder.settings, builder.state["stores"])
    names = cookie_names(builder.settings.is_production)
    builder.state["identity"] = identity
    builder.state["identity_cookies"] = names
    builder.state["identify"] = make_identify(identity, names)
    # core's realtime streams authenticate through this hook (core imports no identity code)
    builder.state["authenticate_connection"] = authenticate_connection
    builder.dependencies["principal"] = Provide(provide_principal)
    builder.signature_namespace["Principal"] = Principal
    builder.route_handlers.extend(CONTROLLERS)
    builder.tags.extend(
        [
            {"name": "auth", "description": "Accounts, tokens, sessions, passwords"},
            {"name": "users", "description": "Profiles; administration of accounts and roles"},
            {"name": "audit", "description": "Security events"},
        ]
    )
    builder.on_startup.append(_seed_roles)
