"""Role-based access: the registry of permissions apps declare; the database holds the truth.

Apps declare theirs on their `AppSpec` (`permissions=`, `role_grants=`); the factory hands the enabled
apps' declarations to `register_permissions` before anything is built, and the identity seed (run by
`keel migrate`, `keel seed` and at start-up) writes them to the database. The
`admin` role is granted every registered permission; `user` only what apps grant it.
"""

from __future__ import annotations

ADMIN = "admin"
USER = "user"
BUILTIN_ROLES: dict[str, str] = {ADMIN: "Administrator: every permission", USER: "A registered account"}

PERMISSIONS: dict[str, str] = {
    "users.read": "List and view user accounts",
    "users.manage": "Change, deactivate and delete user accounts",
    "roles.assign": "Assign roles to users",
    "audit.read": "Read the security audit log",
}
ROLE_GRANTS: dict[str, set[str]] = {ADMIN: set(PERMISSIONS), USER: set()}
ROLE_DESCRIPTIONS: dict[str, str] = dict(BUILTIN_ROLES)


def register_permissions(
    permissions: dict[str, str],
    *,
    roles: dict[str, list[str]] | None = None,
    role_descriptions: dict[str, str] | None = None,
) -> None:
    """Declare permissions (name -> description) and which roles get them (admin always gets all)."""
    for name, description in permissions.items():
        if not name or len(name) > 100:
            raise ValueError(f"invalid permission name {name!r}")
        PERMISSIONS[name] = description
        ROLE_GRANTS[ADMIN].add(name)
    for role, names in (roles or {}).items():
        unknown = set(names) - set(PERMISSIONS)
        if unknown:
            raise ValueError(f"role {role!r} granted unregistered permissions {sorted(unknown)}")
        ROLE_GRANTS.setdefault(role, set()).update(names)
        ROLE_DESCRIPTIONS.setdefault(role, "")
    for role, description in (role_descriptions or {}).items():
        ROLE_DESCRIPTIONS[role] = description
        ROLE_GRANTS.setdefault(role, set())
