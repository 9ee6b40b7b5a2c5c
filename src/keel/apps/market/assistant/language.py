"""Reading a customer's message the way a shop assistant would: what they look for (terms, with synonyms
and light stemming), in which colour and size, for how much, and whether they want a person or raise a
topic the shop hands over (refunds, complaints).

Pure functions over text; no database. Typos are corrected later against the shop's own vocabulary.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

STOPWORDS = frozenset(
    """a an the and or of for to in on at with without by from is are am be do does did you your yours
    i i'm im me my we our us it its this that these those there here have has had any some anything something
    please pls plz thanks thank hi hello hey hiya good morning evening looking look search find need want
    would like could can get got buy sell sells selling show tell know maybe also just really very much
    one ones what which who where when how much many price cost costs stock available availability
    instock still left item items thing things product products size sizes colour color colours colors
    euro euros eur usd dollar dollars bucks gbp pound pounds cheaper cheap cheapest less more than under
    below over above max maximum min minimum least most up between around about budget affordable
    expensive nice new great best shop store sale offer offers if so ok okay yes no not""".split()
)

# customer words -> words a catalogue uses (all alternatives are searched)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "tshirt": ("shirt", "tee"),
    "tee": ("shirt", "tee"),
    "tees": ("shirt", "tee"),
    "sneaker": ("sneaker", "trainer"),
    "trainer": ("trainer", "sneaker", "shoe"),
    "rucksack": ("backpack", "rucksack", "pack"),
    "backpack": ("backpack", "rucksack", "daypack"),
    "bag": ("bag", "backpack", "pack"),
    "torch": ("torch", "lamp", "headlamp", "flashlight"),
    "flashlight": ("flashlight", "lamp", "torch"),
    "headlamp": ("headlamp", "lamp"),
    "pants": ("trousers", "pants"),
    "trousers": ("trousers", "pants"),
    "people": ("person", "people"),
    "persons": ("person",),
    "kid": ("kid", "child"),
    "kids": ("kid", "child"),
    "children": ("child", "kid"),
    "bike": ("bike", "bicycle"),
    "bicycle": ("bicycle", "bike"),
    "cycling": ("bike", "bicycle", "cycling"),
    "big": ("large", "big"),
    "large": ("large", "big"),
    "small": ("small", "compact"),
    "light": ("light", "lightweight"),
    "lightweight": ("lightweight", "light"),
    "cellphone": ("phone",),
    "smartphone": ("phone",),
    "mobile": ("phone", "mobile"),
    "hat": ("hat", "beanie", "cap"),
    "beanie": ("beanie", "hat"),
    "jumper": ("pullover", "sweater", "jumper"),
    "sweater": ("sweater", "pullover", "jumper"),
    "hoody": ("hoodie",),
    "sunnies": ("sunglasses",),
    "shades": ("sunglasses",),
    "rain": ("rain", "waterproof"),
    "waterproof": ("waterproof", "rain"),
    "cup": ("cup", "mug"),
}

# colour families: a word the customer uses -> colour words a product may carry
COLOURS: dict[str, tuple[str, ...]] = {
    "blue": ("blue", "navy"),
    "navy": ("navy",),
    "red": ("red",),
    "green": ("green", "olive", "khaki"),
    "khaki": ("khaki",),
    "olive": ("olive",),
    "black": ("black",),
    "white": ("white",),
    "grey": ("grey", "gray", "silver"),
    "gray": ("grey", "gray", "silver"),
    "silver": ("silver",),
    "brown": ("brown",),
    "beige": ("beige", "khaki"),
    "yellow": ("yellow",),
    "orange": ("orange",),
    "pink": ("pink",),
    "purple": ("purple", "violet"),
    "violet": ("violet", "purple"),
}
ALL_COLOUR_WORDS = frozenset(w for family in COLOURS.values() for w in family)

LETTER_SIZES = ("xxxs", "xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl")
SIZE_WORDS = {
    "small": "s",
    "medium": "m",
    "large": "l",
    "extra-large": "xl",
    "2xl": "xxl",
    "3xl": "xxxl",
    "xxxl": "xxxl",
    "xxl": "xxl",
    "xl": "xl",
    "xs": "xs",
    "xxs": "xxs",
}

HUMAN_PATTERNS = re.compile(
    r"\b(human|real person|a person|someone|somebody|agent|representative|operator|staff|"
    r"talk to (?:a|an|the|some|your)?\s*\w*|speak (?:to|with)|call me|live chat|not a bot|no bot|"
    r"customer service|support team)\b"
)
# built-in words for topics an owner commonly hands over; other topics match their own words
TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "money back", "reimburse", "chargeback", "return", "send back", "cancel"),
    "complaint": (
        "complain",
        "complaint",
        "broke",
        "broken",
        "damaged",
        "defect",
        "faulty",
        "terrible",
        "awful",
        "disappointed",
        "unacceptable",
    ),
    "shipping": ("shipping", "delivery", "deliver", "parcel", "tracking", "arrive", "arrived", "courier"),
    "warranty": ("warranty", "guarantee", "repair"),
    "payment": ("payment", "invoice", "charged", "card", "paypal", "bill"),
}

NUMBER = r"(\d+(?:[.,]\d{1,2})?)"
CURRENCY = r"(?:€|eur|euros?|\$|usd|dollars?|bucks|£|gbp|pounds?)"
PRICE_MAX = re.compile(
    rf"(?:cheaper than|less than|lower than|under|below|max(?:imum)?|up to|at most|no more than|"
    rf"not more than|within|<=?)\s*{CURRENCY}?\s*{NUMBER}"
)
PRICE_MAX_AFTER = re.compile(rf"{CURRENCY}?\s*{NUMBER}\s*{CURRENCY}?\s*(?:or less|or cheaper|max|tops)")
PRICE_MIN = re.compile(
    rf"(?:more than|more expensive than|over|above|at least|min(?:imum)?|from|>=?)\s*{CURRENCY}?\s*{NUMBER}"
)
PRICE_RANGE = re.compile(rf"between\s*{CURRENCY}?\s*{NUMBER}\s*(?:and|-)\s*{CURRENCY}?\s*{NUMBER}")
PRICE_AROUND = re.compile(rf"(?:around|about|approx(?:imately)?|roughly|~)\s*{CURRENCY}?\s*{NUMBER}")
PRICE_PLAIN = re.compile(rf"(?:{CURRENCY}\s*{NUMBER}|{NUMBER}\s*{CURRENCY})")
SIZE_AFTER_WORD = re.compile(r"\b(?:size|sz|eu|uk|us|waist)\s*:?\s*(\d{1,3}(?:[.,]5)?|[a-z0-9-]{1,11})\b")
CHEAP_WORDS = frozenset({"cheap", "cheapest", "budget", "affordable", "inexpensive", "cheaper", "lowcost"})


@dataclass
class Request:
    """What a customer's message asks for."""

    text: str
    terms: list[tuple[str, ...]] = field(default_factory=list)  # each customer word with its alternatives
    colours: list[tuple[str, ...]] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)  # normalised: "42", "xl"
    max_price: int | None = None  # minor units
    min_price: int | None = None
    cheap: bool = False
    in_stock: bool = False
    wants_human: bool = False

    @property
    def is_product_question(self) -> bool:
        return bool(self.terms or self.colours or self.sizes or self.max_price or self.min_price)


def fold(text: str) -> str:
    """Lower case without accents, with typographic quotes and dashes made plain."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return text.replace("\u2019", "'")


def stem(word: str) -> str:
    """A light English stemmer: enough to meet 'boots' and 'boot', 'travelling' and 'travel'."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + keep
    if word.endswith("ing") and len(word) > 5:
        base = word[:-3]
        if len(base) > 2 and base[-1] == base[-2]:
            base = base[:-1]
        return base
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


def _money(raw: str) -> int:
    return round(float(raw.replace(",", ".")) * 100)


def _prices(text: str, request: Request) -> str:
    """Fill the price limits and return the text without the price phrases (their numbers are no sizes)."""
    if m := PRICE_RANGE.search(text):
        low, high = sorted((_money(m.group(1)), _money(m.group(2))))
        request.min_price, request.max_price = low, high
        text = text.replace(m.group(0), " ")
    for pattern in (PRICE_MAX, PRICE_MAX_AFTER):
        if m := pattern.search(text):
            request.max_price = _money(m.group(1))
            text = text.replace(m.group(0), " ")
    if m := PRICE_MIN.search(text):
        if not re.match(r"from\s*\d", m.group(0)) or re.search(CURRENCY, m.group(0)):
            request.min_price = _money(m.group(1))
            text = text.replace(m.group(0), " ")
    if m := PRICE_AROUND.search(text):
        value = _money(m.group(1))
        request.min_price, request.max_price = round(value * 0.8), round(value * 1.2)
        text = text.replace(m.group(0), " ")
    if request.max_price is None and (m := PRICE_PLAIN.search(text)):
        request.max_price = _money(m.group(1) or m.group(2))  # "a tent for 200 €": at most that
        text = text.replace(m.group(0), " ")
    return text


def _size(token: str) -> str | None:
    token = token.strip("-")
    if token in SIZE_WORDS:
        return SIZE_WORDS[token]
    if token in LETTER_SIZES:
        return token
    if re.fullmatch(r"\d{1,3}(?:[.,]5)?", token):
        return token.replace(",", ".")
    return None


def understand(message: str) -> Request:
    raw = message.strip()
    text = fold(raw)
    request = Request(text=raw)
    request.wants_human = bool(HUMAN_PATTERNS.search(text))
    request.in_stock = bool(re.search(r"\b(in stock|available|have any left|still have)\b", text))
    text = _prices(text, request)
    text = re.sub(r"\bt[\s-]?shirts?\b", " tshirt ", text)
    text = re.sub(r"\bextra[\s-]large\b", " extra-large ", text)

    def take_size(m: re.Match[str]) -> str:
        size = _size(m.group(1))
        if size is None:
            return m.group(0)
        request.sizes.append(size)
        return " "

    text = SIZE_AFTER_WORD.sub(take_size, text)
    # upper-case S/M/L written alone are sizes ("fleece grey M"); in lower case they are too ambiguous
    for m in re.finditer(r"(?<![\w'])(XXXL|XXL|XL|XS|S|M|L)(?![\w'])", raw):
        size = m.group(1).lower()
        if size not in request.sizes:
            request.sizes.append(size)
    for token in words(text):
        if token.endswith(("'m", "'s", "'re", "'ll", "'d", "'ve")):
            token = token.split("'")[0]
        if token in request.sizes:
            continue
        if token in CHEAP_WORDS:
            request.cheap = True
            continue
        if token in COLOURS:
            request.colours.append(COLOURS[token])
            continue
        if token in SIZE_WORDS and token not in ("small", "large"):
            request.sizes.append(SIZE_WORDS[token])
            continue
        if token.isdigit() and 20 <= int(token) <= 60 and len(request.sizes) == 0:
            request.sizes.append(token)  # "jeans 32", "sneakers 44": a bare shoe or waist size
            continue
        if token in STOPWORDS or (len(token) < 2 and not token.isdigit()):
            continue
        alternatives = SYNONYMS.get(token) or SYNONYMS.get(stem(token)) or (token,)
        group = tuple(dict.fromkeys(stem(a) for a in (token, *alternatives)))
        if group not in request.terms:
            request.terms.append(group)
    return request


def topic_of(message: str, topics: list[str]) -> str | None:
    """The first configured hand-over topic the message raises (by the topic's own words and, for the
    common ones, the words customers use for it)."""
    stemmed = [stem(w) for w in words(fold(message))]
    tokens, joined = set(stemmed), " ".join(stemmed)
    for topic in topics:
        for parts in _topic_phrases(topic):
            if len(parts) == 1 and any(t.startswith(parts[0]) for t in tokens):
                return topic
            if len(parts) > 1 and " ".join(parts) in joined:
                return topic
    return None


@functools.lru_cache(maxsize=4096)
def _topic_phrases(topic: str) -> tuple[tuple[str, ...], ...]:
    """A topic's phrases as stemmed words (its own words and, for the common ones, customers' words)."""
    key = fold(topic).strip()
    base = stem(key.split()[0]) if key else ""
    phrases = TOPIC_WORDS.get(base, ()) + TOPIC_WORDS.get(key, ()) + (key,)
    stemmed = (tuple(stem(w) for w in words(phrase)) for phrase in phrases)
    return tuple(parts for parts in stemmed if parts)


# --------------------------------------------------------------------------- what a product offers


def product_sizes(text: str) -> set[str]:
    """Sizes a product's text names: "Sizes S, M, L", "Sizes 39-46", "Waist sizes 30-36", "M (54-58 cm)"."""
    folded = fold(text)
    found: set[str] = set()
    for m in re.finditer(r"sizes?\s*:?\s*([^.;]*)", folded):
        segment = re.sub(r"\([^)]*\)", " ", m.group(1))
        for low, high in re.findall(r"(\d{2})\s*-\s*(\d{2})", segment):
            found.update(str(n) for n in range(int(low), int(high) + 1))
        for token in re.findall(r"[a-z0-9]+", segment):
            if token in LETTER_SIZES or token.isdigit():
                found.add(token)
    return found


def product_colours(text: str) -> set[str]:
    return {w for w in words(fold(text)) if w in ALL_COLOUR_WORDS}
