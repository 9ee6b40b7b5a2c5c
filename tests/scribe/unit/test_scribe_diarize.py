"""Speaker turns from the voice alone: two synthetic voices taking turns, one voice throughout."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from keel.apps.scribe.diarize import speaker_turns


def _segments(turns: list[tuple[float, float]]) -> list[SimpleNamespace]:
    return [SimpleNamespace(start=start, end=end) for start, end in turns]


def test_two_voices_taking_turns_get_two_alternating_speakers(conversation) -> None:
    path, turns = conversation
    assert speaker_turns(str(path), _segments(turns)) == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"]


def test_segments_in_any_order_keep_their_speaker(conversation) -> None:
    path, turns = conversation
    shuffled = [turns[3], turns[0], turns[2], turns[1]]
    # labels follow first appearance in time, whatever order the segments come in
    assert speaker_turns(str(path), _segments(shuffled)) == [
        "Speaker 2",
        "Speaker 1",
        "Speaker 1",
        "Speaker 2",
    ]


def test_one_voice_is_one_speaker(long_speech: Path) -> None:
    from keel.apps.scribe.media import probe

    length = probe(long_speech).duration
    quarters = [(i * length / 4, (i + 1) * length / 4) for i in range(4)]
    assert set(speaker_turns(str(long_speech), _segments(quarters))) == {"Speaker 1"}


def test_max_speakers_caps_the_count_and_silence_follows_its_neighbour(conversation) -> None:
    path, turns = conversation
    gap = (turns[0][1] + 0.1, turns[1][0] - 0.1)  # the pause between the first two turns: no voice in it
    labels = speaker_turns(str(path), _segments([turns[0], gap, turns[1]]), max_speakers=1)
    assert labels == ["Speaker 1", "Speaker 1", "Speaker 1"]
    assert speaker_turns(str(path), []) == []
