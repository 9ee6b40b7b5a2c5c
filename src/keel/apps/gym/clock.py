"""Time helpers shared by the gym services and the SQL records engine: every stored time is aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for UTC columns; PostgreSQL aware ones. Always aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
