"""Speaker turns from the voice alone: two synthetic voices taking turns, one voice throughout."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

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


DIALOG_LINES = [
    "good morning, thanks for joining the call about the new office",
    "happy to be here. i looked at the floor plans you sent last night",
    "great. what did you think of the kitchen on the second floor",
    "it is a little small for forty people, but the light is lovely",
    "we could move the meeting room and give the kitchen more space",
    "that works for me. let us ask the landlord on monday",
]
DIALOG_PAUSE = 0.6  # seconds between turns, as in a conversation


def _dialog(directory: Path, voice_a: str, voice_b: str) -> tuple[Path, list[tuple[float, float]]]:
    """Six turns (A B A B A B) of two espeak-ng voices, 16 kHz WAV, and each turn's (start, end)."""
    import subprocess

    import numpy as np

    from keel.apps.scribe import media

    pieces, turns, at = [np.zeros(4800, dtype="<i2")], [], 0.3
    for i, line in enumerate(DIALOG_LINES):
        part = directory / f"turn-{voice_a}-{voice_b}-{i}.wav"
        voice = voice_a if i % 2 == 0 else voice_b
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(part), line], check=True, timeout=60)  # noqa: S603, S607
        pcm = np.frombuffer(b"".join(media.decode_to_pcm16k(part)), dtype="<i2")
        loud = np.flatnonzero(np.abs(pcm) > 300)
        pcm = pcm[loud[0] : loud[-1] + 1]  # espeak-ng pads its clips: the turn is the speech
        turns.append((at, at + len(pcm) / media.PCM_RATE))
        pieces += [pcm, np.zeros(int(DIALOG_PAUSE * media.PCM_RATE), dtype="<i2")]
        at += len(pcm) / media.PCM_RATE + DIALOG_PAUSE
    path = directory / f"dialog-{voice_a}-{voice_b}.wav"
    path.write_bytes(media.encode_wav_segment(np.concatenate(pieces).tobytes()))
    return path, turns


def test_a_transcribed_man_woman_dialog_gets_two_speakers_taking_turns(speech_dir: Path) -> None:
    from keel.apps.scribe.engines import FasterWhisperEngine

    path, turns = _dialog(speech_dir, "en+m3", "en+f3")
    result = FasterWhisperEngine().transcribe(path, "en", word_timestamps=False)
    labels = speaker_turns(str(path), result.segments)
    assert len(set(labels)) == 2
    # every Whisper segment whose middle lies in a turn (0.3 s tolerance) carries that turn's speaker
    expected = {0: labels[0], 1: next(label for label in labels if label != labels[0])}
    checked = 0
    for segment, label in zip(result.segments, labels, strict=True):
        middle = (segment.start + segment.end) / 2
        turn = next((k for k, (a, b) in enumerate(turns) if a - 0.3 <= middle <= b + 0.3), None)
        if turn is not None:
            assert label == expected[turn % 2], (turn, segment.text)
            checked += 1
    assert checked >= len(turns)


@pytest.mark.parametrize(("voice_a", "voice_b"), [("en+m2", "en+m4"), ("en+m5", "en+m6")])
def test_two_men_of_similar_pitch_are_two_speakers(speech_dir: Path, voice_a: str, voice_b: str) -> None:
    # pairs a mean-spectrum heuristic heard as one speaker: only their covariances tell them apart
    path, turns = _dialog(speech_dir, voice_a, voice_b)
    assert speaker_turns(str(path), _segments(turns)) == ["Speaker 1", "Speaker 2"] * 3


def test_one_voice_reading_many_sentences_stays_one_speaker(speech_dir: Path) -> None:
    path, turns = _dialog(speech_dir, "en+m1", "en+m1")
    assert set(speaker_turns(str(path), _segments(turns))) == {"Speaker 1"}
