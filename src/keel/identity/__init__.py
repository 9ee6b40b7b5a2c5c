"""Identity's public face: what apps use of accounts, tokens and roles. Apps import from here only,
never identity's models or services (their shape may change; these names stay).

    from keel.identity import Principal, requires_permission, register_permissions

- `Principal`: the caller (`user_id`, `session_id`, `email`, `roles`, `permissions`, `via_cookie`,
  `api_key_id` when a personal API key authenticated); a handler that declares `principal: Principal`
  requires a valid bearer token, access cookie or API key (401 otherwise).
- `requires_permission(*names)`, `requires_role(*names)`: Litestar guards (401 / 403).
- `authenticate_connection(connection)`: the same check for SSE and WebSockets.
- `register_permissions({...}, roles={...})`: declare an app's permissions and role grants.
- `ensure_user(db, email=..., name=..., roles=...)`: an account for seeds and demo data (its id).
- `user_names(db, ids)`: display names by id; `user_summaries(db, ids, active_only=False)`: a
  `UserSummary` (id, name, email, is_active) by id; `find_user(db, email, active_only=False)`,
  `find_users(db, emails, active_only=False)` (keyed by the address as given, lower case) and
  `find_user_id(db, email)`: who has an address. One query each, for a whole page.
- `on_account_deletion(app, hook)`: `await hook(db, user_id)` runs in the transaction that deletes an
  account, before its rows cascade away (an app's files in storage: collect the keys, delete after commit).
- `lock_user(db, user_id)`: serialise one user's concurrent writers until commit (quota checks).
- `Mailer(settings).send(to, subject, body)`: outgoing mail (SMTP, or logged in development); never raises.

Names load on first use, so importing this package stays cheap and free of import cycles.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.identity.guards import Principal, authenticate_connection, requires_permission, requires_role
    from keel.identity.mail import Mailer
    from keel.identity.rbac import ADMIN, USER, register_permissions
    from keel.identity.services.accounts import (
        UserSummary,
        ensure_user,
        find_user,
        find_user_id,
        find_users,
        lock_user,
        on_account_deletion,
        user_names,
        user_summaries,
    )

_EXPORTS = {
    "Principal": "keel.identity.guards",
    "authenticate_connection": "keel.identity.guards",
    "requires_permission": "keel.identity.guards",
    "requires_role": "keel.identity.guards",
    "ADMIN": "keel.identity.rbac",
    "USER": "keel.identity.rbac",
    "Mailer": "keel.identity.mail",
    "register_permissions": "keel.identity.rbac",
    "UserSummary": "keel.identity.services.accounts",
    "ensure_user": "keel.identity.services.accounts",
    "find_user": "keel.identity.services.accounts",
    "find_user_id": "keel.identity.services.accounts",
    "find_users": "keel.identity.services.accounts",
    "lock_user": "keel.identity.services.accounts",
    "on_account_deletion": "keel.identity.services.accounts",
    "user_names": "keel.identity.services.accounts",
    "user_summaries": "keel.identity.services.accounts",
}

__all__ = [
    "ADMIN",
    "USER",
    "Mailer",
    "Principal",
    "UserSummary",
    "authenticate_connection",
    "ensure_user",
    "find_user",
    "find_user_id",
    "find_users",
    "lock_user",
    "on_account_deletion",
    "register_permissions",
    "requires_permission",
    "requires_role",
    "user_names",
    "user_summaries",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keel.identity' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value
