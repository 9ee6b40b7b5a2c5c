"""Identity logic, one module per concept; routes stay thin and call these.

accounts (create, register, look up, delete, seeds), sessions (log in, rotate, revoke, log out),
passwords (change, reset), email_links (single-use mailed links, verification), admin (accounts and
roles), audit (the security trail), api_keys (personal API keys), machinery (`Identity`, shared
types and input checks).

Nothing here commits, except through `DurableFailure`: a failure whose side effects (an audit row, a
revoked family) must survive the rollback of the failed request; the route commits them and then
answers with the error.
"""

from keel.identity.services import api_keys
from keel.identity.services.accounts import (
    UNUSABLE_PASSWORD,
    UserSummary,
    create_admin,
    create_user,
    delete_user,
    ensure_builtin_roles,
    ensure_user,
    find_user,
    find_user_id,
    find_users,
    get_user,
    lock_user,
    register,
    role_by_name,
    user_names,
    user_summaries,
    verify_password,
)
from keel.identity.services.admin import admin_update_user, keep_an_admin, list_users, set_roles
from keel.identity.services.audit import audit, list_audit
from keel.identity.services.email_links import (
    confirm_verification,
    consume_email_token,
    issue_email_token,
    request_verification,
)
from keel.identity.services.machinery import (
    INVALID_CREDENTIALS,
    LAST_SEEN_EVERY,
    RESET_TTL,
    VERIFY_TTL,
    ClientInfo,
    DurableFailure,
    Identity,
    IssuedTokens,
    aware_utc,
    check_password,
    email_key,
    normalize_email,
    send_mail_later,
    utcnow,
)
from keel.identity.services.passwords import change_password, confirm_password_reset, request_password_reset
from keel.identity.services.sessions import (
    list_sessions,
    login,
    logout,
    logout_all,
    parse_device,
    refresh,
    revoke_own_session,
    revoke_sessions,
    revoke_user_sessions,
    role_names,
    start_session,
)

__all__ = [
    "INVALID_CREDENTIALS",
    "LAST_SEEN_EVERY",
    "RESET_TTL",
    "UNUSABLE_PASSWORD",
    "VERIFY_TTL",
    "ClientInfo",
    "DurableFailure",
    "Identity",
    "IssuedTokens",
    "UserSummary",
    "admin_update_user",
    "api_keys",
    "audit",
    "aware_utc",
    "change_password",
    "check_password",
    "confirm_password_reset",
    "confirm_verification",
    "consume_email_token",
    "create_admin",
    "create_user",
    "delete_user",
    "email_key",
    "ensure_builtin_roles",
    "ensure_user",
    "find_user",
    "find_user_id",
    "find_users",
    "get_user",
    "issue_email_token",
    "keep_an_admin",
    "list_audit",
    "list_sessions",
    "list_users",
    "lock_user",
    "login",
    "logout",
    "logout_all",
    "normalize_email",
    "parse_device",
    "refresh",
    "register",
    "request_password_reset",
    "request_verification",
    "revoke_own_session",
    "revoke_sessions",
    "revoke_user_sessions",
    "role_by_name",
    "role_names",
    "send_mail_later",
    "set_roles",
    "start_session",
    "user_names",
    "user_summaries",
    "utcnow",
    "verify_password",
]
