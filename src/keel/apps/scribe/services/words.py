"""Word timings through transcript edits (pure functions, no database).

Words are stored as `[start, end, word, probability]`. A text edit aligns the new words with the old
ones (difflib on case- and punctuation-folded words): words that did not change keep their timing and
probability, changed and new words share the time of what they replaced (or the gap they were put in),
in proportion to their length, and get probability None (a person wrote them). Timings stay ordered,
non-overlapping and inside the segment.
"""

from __future__ import annotations

import difflib
from typing import Any

Word = list[Any]  # [start, end, word, probability]
MIN_WORD = 0.01  # seconds: the shortest a re-timed word may be


def _fold(token: str) -> str:
    folded = "".join(c for c in token.casefold() if c.isalnum())
    return folded or token.strip()


def _valid(words: list[Any]) -> list[Word]:
    return [list(w) for w in words or [] if isinstance(w, list | tuple) and len(w) >= 3]


def _spread(tokens: list[str], start: float, end: float) -> list[Word]:
    """Timings for `tokens` over [start, end], each in proportion to its length."""
    weights = [max(1, len(t)) for t in tokens]
    total = sum(weights)
    out: list[Word] = []
    cursor = start
    for token, weight in zip(tokens, weights, strict=True):
        width = (end - start) * weight / total
        out.append([round(cursor, 3), round(cursor + width, 3), token, None])
        cursor += width
    if out:
        out[-1][1] = round(end, 3)
    return out


def retime(old_words: list[Any], new_text: str, seg_start: float, seg_end: float) -> list[Word]:
    """The words of `new_text`, timed from `old_words` (see the module docstring). No old timings (a
    transcription without word timestamps): no words either."""
    old = _valid(old_words)
    tokens = new_text.split()
    if not old or not tokens:
        return []
    matcher = difflib.SequenceMatcher(
        a=[_fold(w[2]) for w in old], b=[_fold(t) for t in tokens], autojunk=False
    )
    timed: list[Word | None] = [None] * len(tokens)
    for i, j, size in matcher.get_matching_blocks():
        for k in range(size):
            start, end, word, probability = (old[i + k] + [None])[:4]
            same = word.strip() == tokens[j + k]
            timed[j + k] = [float(start), float(end), tokens[j + k], probability if same else None]
    out: list[Word] = []
    j = 0
    while j < len(tokens):
        if timed[j] is not None:
            out.append(timed[j])  # type: ignore[arg-type]
            j += 1
            continue
        run_end = j
        while run_end < len(tokens) and timed[run_end] is None:
            run_end += 1
        left = out[-1][1] if out else seg_start
        right = timed[run_end][0] if run_end < len(tokens) else seg_end  # type: ignore[index]
        if right - left < MIN_WORD * (run_end - j):
            # no room between the kept neighbours: share the previous word's time (or the next one's)
            if out:
                prev = out[-1]
                middle = (prev[0] + prev[1]) / 2
                prev[1] = round(middle, 3)
                left = middle
            elif run_end < len(tokens):
                nxt = timed[run_end]
                assert nxt is not None
                middle = (nxt[0] + nxt[1]) / 2
                right = middle
                nxt[0] = round(middle, 3)
        out.extend(_spread(tokens[j:run_end], left, max(left, right)))
        j = run_end
    return clamp(out, seg_start, seg_end)


def clamp(words: list[Word], start: float, end: float) -> list[Word]:
    """Ordered and inside [start, end]; each word starts where the previous ended at the earliest."""
    out: list[Word] = []
    cursor = start
    for w in words:
        s = min(max(float(w[0]), cursor), end)
        e = min(max(float(w[1]), s), end)
        out.append([round(s, 3), round(e, 3), w[2], w[3] if len(w) > 3 else None])
        cursor = e
    return out


def refit(words: list[Any], old: tuple[float, float], new: tuple[float, float]) -> list[Word]:
    """Words after the segment's bounds moved: kept as they are when they all still fit, else mapped
    linearly from the old bounds onto the new ones (order and proportions kept)."""
    valid = _valid(words)
    start, end = new
    if all(start <= w[0] and w[1] <= end for w in valid):
        return valid
    (o_start, o_end), scale = old, (end - start) / max(old[1] - old[0], 1e-9)

    def at(t: float) -> float:
        return start + (min(max(t, o_start), o_end) - o_start) * scale

    return clamp([[at(w[0]), at(w[1]), w[2], ([*w, None])[3]] for w in valid], start, end)


def split_words(
    words: list[Any], text: str, seg_start: float, seg_end: float
) -> tuple[list[str], list[Word]]:
    """The text's tokens and their words one to one (re-timed from the stored ones when they differ)."""
    tokens = text.split()
    valid = _valid(words)
    if valid and [w[2].strip() for w in valid] == tokens:
        return tokens, valid
    return tokens, retime(valid, text, seg_start, seg_end)
