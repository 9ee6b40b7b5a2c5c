"""Each network's length limit, counted the way that network counts.

- X (twitter): 280 "weighted" characters: every URL counts 23; code points in Latin, punctuation and
  common symbol ranges count 1, everything else (CJK, most emoji) counts 2; an emoji sequence counts 2.
- Mastodon: 500 grapheme clusters; every URL counts 23 and a remote mention `@user@domain` as `@user`.
- Bluesky: 300 grapheme clusters of the text as written.
- LinkedIn: 3,000 characters; Instagram/TikTok captions 2,200; Facebook 63,206; blog/newsletter none.
"""

from __future__ import annotations

import regex

from keel.apps.segmint.style import EMOJI

LIMITS: dict[str, int | None] = {
    "twitter": 280,
    "mastodon": 500,
    "bluesky": 300,
    "linkedin": 3000,
    "instagram": 2200,
    "tiktok": 2200,
    "facebook": 63206,
    "blog": None,
    "newsletter": None,
}
URL_LENGTH = 23
_URL = regex.compile(r"https?://[^\s]+")
_REMOTE_MENTION = regex.compile(r"(?<!\w)(@\w+)@[\w.-]+\w")
_GRAPHEME = regex.compile(r"\X")
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # twitter-text's weight-1 ranges


def graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def _x_weight(cluster: str) -> int:
    if EMOJI.match(cluster):
        return 2
    cp = ord(cluster[0])
    return 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT) else 2


def length(text: str, platform: str) -> int:
    if platform == "twitter":
        urls = _URL.findall(text)
        rest = _URL.sub("", text)
        return URL_LENGTH * len(urls) + sum(_x_weight(c) for c in _GRAPHEME.findall(rest))
    if platform == "mastodon":
        text = _REMOTE_MENTION.sub(r"\1", text)
        urls = _URL.findall(text)
        return URL_LENGTH * len(urls) + graphemes(_URL.sub("", text))
    if platform == "bluesky":
        return graphemes(text)
    return len(text)


def fits(text: str, platform: str) -> bool:
    limit = LIMITS.get(platform)
    return limit is None or length(text, platform) <= limit


def fit(text: str, platform: str, limit: int | None = None) -> str:
    """The text within the platform's limit: whole trailing hashtags go first, then whole sentences from
    the end, then words (with an ellipsis); never a cut inside a grapheme or a URL."""
    limit = limit if limit is not None else LIMITS.get(platform)
    text = text.strip()
    if limit is None or length(text, platform) <= limit:
        return text
    # drop trailing hashtags one by one
    while regex.search(r"\s#\w+\s*$", text) and length(text, platform) > limit:
        text = regex.sub(r"\s#\w+\s*$", "", text).rstrip()
    if length(text, platform) <= limit:
        return text
    sentences = regex.findall(r"[^.!?…]+[.!?…]+\s*|[^.!?…]+$", text)
    while len(sentences) > 1 and length("".join(sentences).strip(), platform) > limit:
        sentences.pop()
    text = "".join(sentences).strip()
    if length(text, platform) <= limit:
        return text
    tokens = text.split(" ")
    while tokens and length(" ".join(tokens) + "…", platform) > limit:
        tokens.pop()
    if tokens:
        return " ".join(tokens).rstrip(",;:") + "…"
    clusters = _GRAPHEME.findall(text)
    while clusters and length("".join(clusters) + "…", platform) > limit:
        clusters.pop()
    return "".join(clusters) + "…"
