"""Whether the database's schema is the one this code needs, read without importing Alembic.

`keel serve` asks before it starts: an un-migrated database, or one a release behind (new code deployed,
`keel migrate` forgotten), is then one line naming the command to run instead of a traceback from the
first start-up query or 500s on the first request that reaches a missing column.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from keel.core.db import MIGRATIONS_DIR

_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def _history(versions: Path) -> tuple[set[str], set[str]]:
    """(every revision, every revision another one builds on), read from the revision files' text."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = _DOWN.search(text)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    return revisions, parents


def code_heads(versions: Path = MIGRATIONS_DIR / "versions") -> set[str]:
    """The revisions no other revision builds on: what `keel migrate` upgrades to."""
    revisions, parents = _history(versions)
    return revisions - parents


async def database_heads(database_url: str) -> set[str] | None:
    """The revisions recorded in the database's `alembic_version`, or None when it has no such table."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return {row[0] for row in rows}
    except (OperationalError, ProgrammingError) as exc:
        if "alembic_version" in str(exc):  # no such table / relation does not exist
            return None
        raise
    finally:
        await engine.dispose()


def schema_problem(database_url: str) -> str | None:
    """What is wrong with the database's schema for this code, as one sentence, or None when it is at head
    (or cannot be read now: a database that is down is the server's 503s to report, not a refusal)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    missing = "the database has no tables yet: run `keel migrate` (or `make run`) first"
    if database_url.startswith("sqlite"):
        database = make_url(database_url).database
        if not database or database == ":memory:":
            return None
        if not Path(database).expanduser().exists():
            return missing
    try:
        found = asyncio.run(database_heads(database_url))
    except (OSError, SQLAlchemyError):
        return None
    if not found:
        return missing
    revisions, parents = _history(MIGRATIONS_DIR / "versions")
    wanted = revisions - parents
    if found == wanted:
        return None
    if found - revisions:
        return (
            f"the database is at revision {', '.join(sorted(found))}, which this code does not know "
            f"(it needs {', '.join(sorted(wanted))}): a newer release migrated it; serve that release"
        )
    return (
        f"the database is at revision {', '.join(sorted(found))} and this code needs "
        f"{', '.join(sorted(wanted))}: run `keel migrate`"
    )
