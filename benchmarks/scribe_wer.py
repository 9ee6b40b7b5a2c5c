"""scribe word error rate and speed of the default engine, generated at bench time.

36 sentences of varied vocabulary (numbers, names, places, questions) are spoken by espeak-ng in three
voices at two speeds; each (voice, speed) condition is one long recording of all sentences with a pause
between them, transcribed whole (as a user's file would be), then again with white noise mixed in by
ffmpeg at 10 dB SNR (signal power measured on the speech, not the pauses). WER is jiwer's, after
normalising case and punctuation; the realtime factor is measured with one CPU thread.

Run alone: `.venv/bin/python -m benchmarks.scribe_wer` (prints a table, writes var/bench/scribe-wer.json).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

SENTENCES = [
    "hello world the weather today is sunny and warm",
    "please call me tomorrow morning at nine",
    "what time does the next train leave for boston",
    "my name is sarah and i live in chicago",
    "the meeting has been moved to thursday afternoon",
    "can you send me the report before friday",
    "we sold three hundred tickets in the first week",
    "the doctor said i should drink more water",
    "where did you put the keys to the car",
    "our team won the final game by two points",
    "the library opens at ten and closes at six",
    "would you like some coffee or a cup of tea",
    "john bought a new bicycle for his daughter",
    "the price of the house went up last year",
    "turn left at the bank and walk straight ahead",
    "how many people are coming to the party",
    "the children played in the garden all day",
    "i need to buy eggs milk and bread",
    "the flight from london was delayed by an hour",
    "she plays the piano every evening after dinner",
    "is this the right way to the museum",
    "the company hired forty new engineers this spring",
    "remember to lock the door when you leave",
    "the river flows through the middle of the city",
    "did you watch the news last night",
    "my brother works at a hospital in seattle",
    "the store is closed on sunday",
    "we are planning a trip to the mountains in july",
    "the cat is sleeping on the warm blanket",
    "could you speak a little more slowly please",
    "the green light means you can cross the street",
    "michael and anna got married in june",
    "the printer on the second floor is broken again",
    "why is the sky blue during the day",
    "the students finished their exams early",
    "thank you very much for your help yesterday",
]
VOICES = ["en-us", "en-gb-x-rp+f3", "en-us+m3"]
SPEEDS = [140, 175]  # words per minute
PAUSE_SECONDS = 1.0
SNR_DB = 10.0
GOALS = {"clean_wer": 0.15, "noisy_wer": 0.30, "rtf": 0.25}


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=300)  # noqa: S603


def _speech_rms(path: Path) -> float:
    """RMS of the frames carrying speech (within 40 dB of the loudest), so pauses don't lower the bar."""
    import numpy as np

    from keel.apps.scribe import media

    pcm = b"".join(media.decode_to_pcm16k(path))
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    frame = 480
    count = len(samples) // frame
    energy = (samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    active = energy[energy >= energy.max() * 1e-4]
    return math.sqrt(float(active.mean()))


def make_condition(directory: Path, voice: str, speed: int) -> tuple[Path, Path]:
    """(clean wav, noisy wav) of every sentence in one voice and speed, PAUSE_SECONDS apart."""
    name = f"{voice.replace('+', '_')}-{speed}"
    parts: list[str] = []
    for i, sentence in enumerate(SENTENCES):
        part = directory / f"{name}-{i}.wav"
        _run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(part), sentence)
        parts += ["-i", str(part)]
    count = len(SENTENCES)
    pad = f"apad=pad_dur={PAUSE_SECONDS}"
    graph = ";".join(f"[{i}]{pad}[p{i}]" for i in range(count))
    graph += ";" + "".join(f"[p{i}]" for i in range(count)) + f"concat=n={count}:v=0:a=1,aresample=16000[out]"
    clean = directory / f"{name}.wav"
    _run(
        "ffmpeg",
        "-v",
        "error",
        "-y",
        *parts,
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-ac",
        "1",
        str(clean),
    )
    # uniform white noise in [-a, a] has RMS a/sqrt(3): choose a for the wanted SNR over the speech
    amplitude = math.sqrt(3) * _speech_rms(clean) / 10 ** (SNR_DB / 20)
    noisy = directory / f"{name}-noisy.wav"
    _run(
        "ffmpeg", "-v", "error", "-y", "-i", str(clean),
        "-f", "lavfi", "-i", f"anoisesrc=color=white:amplitude={amplitude:.6f}:sample_rate=16000:seed=7",
        "-filter_complex", "[0][1]amix=inputs=2:duration=first:normalize=0", "-ac", "1", str(noisy),
    )  # fmt: skip
    return clean, noisy


def wer(references: list[str], hypothesis: str) -> float:
    import jiwer

    normalise = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.SubstituteRegexes({r"-": " "}),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    reference = " ".join(references)
    return jiwer.wer(reference, hypothesis, reference_transform=normalise, hypothesis_transform=normalise)


def run() -> dict[str, Any]:
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        return {"skipped": f"{' and '.join(missing)} not installed"}
    from keel.apps.scribe import media
    from keel.apps.scribe.engines import FasterWhisperEngine

    engine = FasterWhisperEngine(threads=1)  # the default model, one core
    ok, reason = engine.is_ready()
    if not ok:
        return {"skipped": reason}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="keel-wer-") as tmp:
        for voice in VOICES:
            for speed in SPEEDS:
                for noisy, path in zip((False, True), make_condition(Path(tmp), voice, speed), strict=True):
                    audio = media.probe(path).duration
                    started = time.process_time()
                    wall = time.perf_counter()
                    result = engine.transcribe(path, "en", word_timestamps=True)
                    cpu = time.process_time() - started
                    rows.append(
                        {
                            "voice": voice,
                            "wpm": speed,
                            "noise": f"{SNR_DB:g} dB SNR" if noisy else "clean",
                            "audio_s": round(audio, 1),
                            "wer": round(wer(SENTENCES, result.text), 4),
                            "rtf_cpu": round(cpu / audio, 3),
                            "rtf_wall": round((time.perf_counter() - wall) / audio, 3),
                        }
                    )
                    print(f"    {rows[-1]}", flush=True)

    def mean(key: str, noise: bool) -> float:
        values = [r[key] for r in rows if (r["noise"] != "clean") == noise]
        return round(sum(values) / len(values), 4)

    summary = {
        "clean_wer": mean("wer", False),
        "noisy_wer": mean("wer", True),
        "rtf": round(sum(r["rtf_cpu"] for r in rows) / len(rows), 3),
        "sentences": len(SENTENCES),
        "model": engine.model_name,
    }
    summary["goals_met"] = {
        "clean_wer": summary["clean_wer"] <= GOALS["clean_wer"],
        "noisy_wer": summary["noisy_wer"] <= GOALS["noisy_wer"],
        "rtf": summary["rtf"] <= GOALS["rtf"],
    }
    return {"conditions": rows, "summary": summary}


def print_table(result: dict[str, Any]) -> None:
    if "skipped" in result:
        print(f"\nscribe WER: not measured: {result['skipped']}")
        return
    print(
        f"\n{'voice':<16} {'wpm':>4} {'noise':<12} {'audio s':>8} {'WER':>7} {'RTF cpu':>8} {'RTF wall':>9}"
    )
    for r in result["conditions"]:
        print(
            f"{r['voice']:<16} {r['wpm']:>4} {r['noise']:<12} {r['audio_s']:>8} {r['wer']:>7.1%} "
            f"{r['rtf_cpu']:>8} {r['rtf_wall']:>9}"
        )
    s = result["summary"]
    print(
        f"{s['model']}: clean WER {s['clean_wer']:.1%} (goal <= 15 %), noisy WER {s['noisy_wer']:.1%} "
        f"(goal <= 30 %), realtime factor on one core {s['rtf']} (goal <= 0.25)"
    )


if __name__ == "__main__":
    outcome = run()
    print_table(outcome)
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "scribe-wer.json").write_text(json.dumps(outcome, indent=2))
