"""The offline engine: no model server, answers from the shop's catalogue only.

Full-text candidates (search.py) are re-ranked by how many of the customer's words each covers (in its
name weighs more than in its description), and filtered hard by colour, size and price. A product is
offered only when it covers enough of the question; otherwise the engine says it found nothing and the
chat goes to a person. Every name, price and stock figure in a reply is read from the product row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keel.apps.market.assistant import search
from keel.apps.market.assistant.language import (
    Request,
    fold,
    product_colours,
    product_sizes,
    words,
)

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.market.models import Product

ENGINE = "retrieval"
MAX_CARDS = 3


@dataclass
class Match:
    product: Product
    covered: int
    score: float


@dataclass
class Answer:
    matches: list[Match] = field(default_factory=list)
    wanted: int = 0  # how many customer words the question had


def price_text(product: Product) -> str:
    return f"{product.price_minor / 100:.2f} {product.currency}"


def stock_text(product: Product) -> str:
    if product.stock <= 0:
        return "out of stock at the moment"
    return f"in stock ({product.stock} left)"


def card_text(product: Product) -> str:
    return f"{product.name}: {price_text(product)}, {stock_text(product)}"


def _tokens(value: str | None) -> list[str]:
    return words(fold(value or ""))


@dataclass(frozen=True)
class _Offer:
    """What the engine reads from a product's text: its name's and other words, colours and sizes."""

    name: list[str]
    rest: list[str]
    colours: set[str]
    sizes: set[str]


_OFFERS: dict[tuple[object, object], _Offer] = {}


def _offer(product: Product) -> _Offer:
    """Read once per product version (id, updated_at) and process: every question re-ranks the same rows."""
    key = (product.id, product.updated_at)
    offer = _OFFERS.get(key)
    if offer is None:
        text = f"{product.name}. {product.description or ''}"
        offer = _Offer(
            _tokens(product.name),
            _tokens(product.description) + _tokens(product.sku),
            product_colours(text),
            product_sizes(text),
        )
        if len(_OFFERS) > 20_000:  # a bound on memory: forget them all, they are read again on need
            _OFFERS.clear()
        _OFFERS[key] = offer
    return offer


def _weight(group: tuple[str, ...], name: list[str], rest: list[str]) -> float:
    if any(token.startswith(alt) for alt in group for token in name):
        return 3.0
    if any(token.startswith(alt) for alt in group for token in rest):
        return 1.0
    return 0.0


def _accepted(covered: int, wanted: int) -> bool:
    """Enough of the question is in the product: two thirds of its words, or at least two and half."""
    if wanted == 0:
        return True
    return covered * 3 >= wanted * 2 or (covered >= 2 and covered * 2 >= wanted)


async def search_catalogue(
    db: AsyncSession, vendor_id: uuid.UUID, request: Request, catalogue: tuple[int, object] | None = None
) -> Answer:
    """`catalogue`: the shop's (active products, latest change) when the caller has read it already."""
    vocab = await search.vocabulary(db, vendor_id, catalogue)
    groups = [search.correct(g, vocab) for g in request.terms]
    colour_words = [c for family in request.colours for c in family]
    lookup = [alt for g in groups for alt in g] or colour_words
    if not lookup:
        return Answer(wanted=0)
    rows = await search.candidates(
        db, vendor_id, lookup, min_price=request.min_price, max_price=request.max_price
    )
    matches: list[Match] = []
    for order, product in enumerate(rows):
        offer = _offer(product)
        weights = [_weight(g, offer.name, offer.rest) for g in groups]
        covered = sum(1 for w in weights if w)
        if not _accepted(covered, len(groups)):
            continue
        if request.colours and not all(set(family) & offer.colours for family in request.colours):
            continue
        if request.sizes and not set(request.sizes) <= offer.sizes:
            continue
        score = sum(weights) - order * 0.01  # the full-text rank breaks ties
        matches.append(Match(product, covered, score))
    matches.sort(
        key=lambda m: (
            -m.covered,
            m.product.stock <= 0,  # what can be bought now first
            m.product.price_minor if request.cheap else 0,
            -m.score,
        )
    )
    return Answer(matches=matches[:MAX_CARDS], wanted=len(groups))


def found_sentence(answer: Answer) -> str:
    best = answer.matches[0].product
    if len(answer.matches) == 1:
        return f"I found this: {best.name} for {price_text(best)}, {stock_text(best)}."
    return (
        f"I found {len(answer.matches)} matching products. The best match is {best.name} for "
        f"{price_text(best)}, {stock_text(best)}."
    )
