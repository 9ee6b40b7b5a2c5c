"""Full-text candidates from a shop's catalogue: SQLite FTS5 (`market_product_fts`) or PostgreSQL
full-text (the GIN index `ix_market_product_fts`), both made by migration 0013. Only the shop's active
products within the price limits come back, best ranked first; the engine re-ranks them.

Also the shop's vocabulary (the words its products use), cached per process and checked with one cheap
query, so typos are corrected against words the shop really has.
"""

from __future__ import annotations

import difflib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, func, literal_column, select, text

from keel.apps.market.assistant.language import fold, stem, words
from keel.apps.market.models import Product

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

CANDIDATES = 60
# the expression of the PostgreSQL index (migration 0013); the planner uses the index only for this text
PG_DOCUMENT = (
    "to_tsvector('simple', coalesce(market_product.name, '') || ' ' || "
    "coalesce(market_product.description, '') || ' ' || coalesce(market_product.sku, ''))"
)


def _safe(term: str) -> str:
    return re.sub(r"[^a-z0-9]", "", term)


async def candidates(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    terms: list[str],
    *,
    min_price: int | None,
    max_price: int | None,
) -> list[Product]:
    """Active products of the shop matching any term (as a prefix), within the price limits."""
    cleaned = list(dict.fromkeys(t for t in (_safe(t) for t in terms) if t))
    if not cleaned:
        return []
    postgres = db.bind.dialect.name == "postgresql"
    if postgres:
        query = " | ".join(f"{t}:*" for t in cleaned)
    else:
        query = " OR ".join(f'"{t}"*' for t in cleaned)
    statement = _statement(postgres, min_price is not None, max_price is not None)
    params = {"vendor_id": vendor_id, "query": query, "min_price": min_price, "max_price": max_price}
    return list(await db.scalars(statement, params))


_STATEMENTS: dict[tuple[bool, bool, bool], Any] = {}


def _statement(postgres: bool, low: bool, high: bool) -> Any:
    """The candidates' query with bound parameters (vendor_id, query, min_price, max_price), built once
    per process for each dialect and choice of price limits."""
    key = (postgres, low, high)
    if key in _STATEMENTS:
        return _STATEMENTS[key]
    conditions = [Product.vendor_id == bindparam("vendor_id"), Product.is_active.is_(True)]
    if low:
        conditions.append(Product.price_minor >= bindparam("min_price"))
    if high:
        conditions.append(Product.price_minor <= bindparam("max_price"))
    if postgres:
        document = literal_column(PG_DOCUMENT)
        tsquery = func.to_tsquery("simple", bindparam("query", type_=String()))
        statement = (
            select(Product)
            .where(*conditions, document.op("@@")(tsquery))
            .order_by(func.ts_rank(document, tsquery).desc(), Product.id)
        )
    else:
        ranked = (
            select(
                literal_column("market_product_fts.rowid").label("product_rowid"),
                literal_column("bm25(market_product_fts, 10.0, 3.0, 1.0)").label("rank"),
            )
            .select_from(text("market_product_fts"))
            .where(text("market_product_fts MATCH :query"))
            .subquery()
        )
        statement = (
            select(Product)
            .join(ranked, ranked.c.product_rowid == literal_column("market_product.rowid"))
            .where(*conditions)
            .order_by(ranked.c.rank, Product.id)
        )
    _STATEMENTS[key] = statement.limit(CANDIDATES)
    return _STATEMENTS[key]


@dataclass
class _Vocabulary:
    version: tuple[int, object]
    words: frozenset[str]


_VOCABULARIES: dict[uuid.UUID, _Vocabulary] = {}


async def vocabulary(
    db: AsyncSession, vendor_id: uuid.UUID, version: tuple[int, object] | None = None
) -> frozenset[str]:
    """The words of the shop's active products, reloaded only when its products changed: `version` is
    (how many, latest `updated_at`), read here unless the caller read it already (the assistant's turn
    reads it with the chat, `services.assistant.reply_context`)."""
    if version is None:
        count, changed = (
            await db.execute(
                select(func.count(), func.max(Product.updated_at)).where(
                    Product.vendor_id == vendor_id, Product.is_active.is_(True)
                )
            )
        ).one()
        version = (int(count), changed)
    cached = _VOCABULARIES.get(vendor_id)
    if cached is not None and cached.version == version:
        return cached.words
    rows = await db.execute(
        select(Product.name, Product.description, Product.sku).where(
            Product.vendor_id == vendor_id, Product.is_active.is_(True)
        )
    )
    found: set[str] = set()
    for name, description, sku in rows:
        found.update(words(fold(f"{name} {description or ''} {sku}")))
    vocab = frozenset(found)
    if len(_VOCABULARIES) > 1000:  # a bound on memory: forget the others, they reload on need
        _VOCABULARIES.clear()
    _VOCABULARIES[vendor_id] = _Vocabulary(version, vocab)
    return vocab


def correct(group: tuple[str, ...], vocab: frozenset[str]) -> tuple[str, ...]:
    """A customer word the shop never uses, replaced by the closest word it does use (typos)."""
    if any(any(word.startswith(alt) for word in vocab) for alt in group):
        return group
    word = group[0]
    if len(word) < 4 or word.isdigit():
        return group
    close = difflib.get_close_matches(word, list(vocab), n=1, cutoff=0.8)
    return (stem(close[0]),) if close else group
