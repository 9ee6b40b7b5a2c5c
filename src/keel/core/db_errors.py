"""Which driver errors mean "the database cannot be reached right now" (a restart, a failover, a full
pool): `core.errors` answers them 503 with Retry-After instead of 500. The request is rolled back, so a
retry is safe."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# asyncpg's names for a refused, closed or shut-down connection (matched by name: core names no driver)
_ASYNCPG_UNREACHABLE = frozenset(
    {
        "CannotConnectNowError",  # 57P03: the database system is starting up / shutting down
        "AdminShutdownError",  # 57P01: terminating connection due to administrator command
        "CrashShutdownError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "TooManyConnectionsError",
    }
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return seen


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is a lost or refused database connection or a pool timeout."""
    for err in _chain(exc):
        if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
            return True
        if isinstance(err, sa_exc.TimeoutError | ConnectionRefusedError | ConnectionResetError):
            return True
        if type(err).__module__.startswith("asyncpg") and type(err).__name__ in _ASYNCPG_UNREACHABLE:
            return True
    return False
