"""Bluesky rich-text facets (docs.bsky.app "Links, mentions, and rich text"): links, mentions and hashtags
located by UTF-8 byte offsets (`byteStart` inclusive, `byteEnd` exclusive), as the AT Protocol counts."""

from __future__ import annotations

from typing import Any

import regex

# a URL ends before trailing punctuation a sentence puts after it
_LINK = regex.compile(r"(?<![\w@])https?://[^\s<>\"]+?(?=[.,;:!?)\]'\"]*(?:\s|$))")
_MENTION = regex.compile(
    r"(?<![\w@])@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]*))"
)
_TAG = regex.compile(r"(?<![\w#&])#(?!\d+\b)([\p{L}\p{N}_]{1,64})")


def _span(text: str, start: int, end: int) -> dict[str, int]:
    return {"byteStart": len(text[:start].encode()), "byteEnd": len(text[:end].encode())}


def mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, handle) of each `@handle` (a domain-like handle), in characters."""
    return [(m.start(), m.end(), m.group(1).lower()) for m in _MENTION.finditer(text)]


def facets(text: str, dids: dict[str, str]) -> list[dict[str, Any]]:
    """The facets of `text`; `dids` maps the handles that resolved to their DIDs (others stay plain)."""
    found: list[dict[str, Any]] = []
    for m in _LINK.finditer(text):
        found.append(
            {
                "index": _span(text, m.start(), m.end()),
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": m.group(0)}],
            }
        )
    for start, end, handle in mentions(text):
        if handle in dids:
            found.append(
                {
                    "index": _span(text, start, end),
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": dids[handle]}],
                }
            )
    for m in _TAG.finditer(text):
        found.append(
            {
                "index": _span(text, m.start(), m.end()),
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}],
            }
        )
    return sorted(found, key=lambda f: f["index"]["byteStart"])
