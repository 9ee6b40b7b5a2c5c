"""HTTP surface of identity, one Controller per concept: /api/v1/auth (auth, sessions, passwords),
/api/v1/users (me, my API keys, administration), /api/v1/audit.
Thin: parse, call a service, shape the answer."""

from keel.identity.routes.api_keys import ApiKeyController
from keel.identity.routes.audit import AuditController
from keel.identity.routes.auth import AuthController
from keel.identity.routes.common import REFRESH_PATH, user_read
from keel.identity.routes.pages import AccountPagesController
from keel.identity.routes.passwords import PasswordController
from keel.identity.routes.sessions import SessionController
from keel.identity.routes.users import MeController, UserController

CONTROLLERS = [
    AuthController,
    SessionController,
    PasswordController,
    MeController,
    ApiKeyController,
    UserController,
    AuditController,
    AccountPagesController,
]
user_out = user_read  # the name before the XRead convention

__all__ = [
    "CONTROLLERS",
    "REFRESH_PATH",
    "ApiKeyController",
    "AuditController",
    "AuthController",
    "MeController",
    "PasswordController",
    "SessionController",
    "UserController",
    "user_out",
    "user_read",
]
