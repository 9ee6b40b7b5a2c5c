"""Word timings through text edits and moved bounds (keel.apps.scribe.services.words)."""

from __future__ import annotations

from keel.apps.scribe.services.words import refit, retime

WORDS = [
    [1.0, 1.4, " one", 0.9],
    [1.5, 1.9, " two", 0.8],
    [2.0, 2.4, " three", 0.7],
    [2.5, 3.0, " four", 0.6],
]


def ordered_inside(words: list[list[object]], start: float, end: float) -> bool:
    cursor = start
    for s, e, *_ in words:
        if not (cursor - 1e-9 <= s <= e <= end + 1e-9):  # type: ignore[operator]
            return False
        cursor = e  # type: ignore[assignment]
    return True


def test_deleting_and_inserting_words_keeps_the_others() -> None:
    out = retime(WORDS, "one three extra four", 1.0, 3.0)
    assert [w[2] for w in out] == ["one", "three", "extra", "four"]
    assert (
        out[0] == [1.0, 1.4, "one", 0.9] and out[1] == [2.0, 2.4, "three", 0.7] and out[3][:2] == [2.5, 3.0]
    )
    assert 2.4 <= out[2][0] < out[2][1] <= 2.5 and out[2][3] is None  # in the gap it was put in
    assert ordered_inside(out, 1.0, 3.0)


def test_a_rewritten_text_is_spread_over_the_segment_and_no_timings_means_none() -> None:
    out = retime(WORDS, "completely different words here now", 1.0, 3.0)
    assert len(out) == 5 and out[0][0] == 1.0 and out[-1][1] == 3.0 and ordered_inside(out, 1.0, 3.0)
    assert retime([], "one two", 1.0, 3.0) == []


def test_moved_bounds_keep_times_that_fit_and_map_the_rest() -> None:
    assert refit(WORDS, (1.0, 3.0), (0.5, 3.5)) == WORDS
    shrunk = refit(WORDS, (1.0, 3.0), (2.0, 3.0))
    assert shrunk[0][0] == 2.0 and shrunk[-1][1] == 3.0 and ordered_inside(shrunk, 2.0, 3.0)
    assert [w[2] for w in shrunk] == [w[2] for w in WORDS]
