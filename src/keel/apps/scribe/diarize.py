"""Speaker turns without a model: who spoke which segment, from the voice's spectral colour.

Heuristic and offline (numpy only): every 10 ms frame of the 16 kHz audio gets mel cepstra; a segment's
voice is the mean of its voiced frames' cepstra, normalised by the whole file's frame statistics, so the
distance between two segments reads in units of the file's own variation. Segments are clustered in time
order (a segment joins the closest speaker within `threshold`, else starts a new one, up to
`max_speakers`), then reassigned to the nearest final centroid. It separates clearly different voices
(different sex, pitch or timbre) and segments separated by a pause; two similar voices, or speakers
talking over each other inside one segment, are beyond it. Labels are "Speaker 1", "Speaker 2", ... in
order of first appearance; users rename them, and the names carry into every export.

The audio streams through in chunks: memory is O(segments), not O(duration).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from keel.apps.scribe import media

SAMPLE_RATE = 16_000
FRAME = 400  # 25 ms window
HOP = 160  # 10 ms step
N_FFT = 512
N_MELS = 24
N_CEPS = 20  # coefficient 0 (loudness) is dropped
VOICED_POWER = 1e-5  # mean square of a frame (about -50 dBFS): quieter frames are silence
MIN_FRAMES = 30  # a segment with fewer voiced frames (0.3 s) follows its neighbours' speaker
DEFAULT_THRESHOLD = 0.5  # measured: same voice 0.03-0.38, different voices 0.6-0.96 (espeak-ng voices)


class TimedSegment(Protocol):
    start: float
    end: float


def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(60.0), hz_to_mel(7600.0), N_MELS + 2))
    bins = np.floor((N_FFT + 1) * edges / SAMPLE_RATE).astype(int)
    bank = np.zeros((N_MELS, N_FFT // 2 + 1), dtype=np.float32)
    for i in range(N_MELS):
        left, centre, right = bins[i], bins[i + 1], bins[i + 2]
        bank[i, left:centre] = (np.arange(left, centre) - left) / max(1, centre - left)
        bank[i, centre:right] = (right - np.arange(centre, right)) / max(1, right - centre)
    return bank


_BANK = _mel_filterbank()
_DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS)[:, None] + 0.5) * np.arange(N_CEPS)[None, :])
_DCT = _DCT.astype(np.float32)
_WINDOW = np.hamming(FRAME).astype(np.float32)


def _frames(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cepstra without c0, voiced mask) of every full frame in `samples`."""
    count = 1 + (len(samples) - FRAME) // HOP
    if count <= 0:
        return np.empty((0, N_CEPS - 1), dtype=np.float32), np.empty(0, dtype=bool)
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    frames = samples[index] * _WINDOW
    energy = (frames * frames).mean(axis=1)
    # voiced: loud relative to this stretch's speech (drops breaths and fades), and above the noise floor
    voiced = energy > max(VOICED_POWER, 0.05 * float(np.percentile(energy, 95)))
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
    cepstra = np.log(power @ _BANK.T + 1e-10) @ _DCT
    return cepstra[:, 1:].astype(np.float32), voiced


def _segment_voices(
    pcm_chunks: Iterable[bytes], segments: Sequence[TimedSegment]
) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the sum of its voiced frames' cepstra and how many there were, normalised at the end by
    the whole file's frame mean and deviation (sums of squares kept while streaming)."""
    dims = N_CEPS - 1
    sums = np.zeros((len(segments), dims), dtype=np.float64)
    counts = np.zeros(len(segments), dtype=np.int64)
    total, total_sq, total_n = np.zeros(dims), np.zeros(dims), 0
    starts = np.array([s.start for s in segments])
    ends = np.array([s.end for s in segments])
    carry = np.empty(0, dtype=np.float32)
    first_frame = 0  # index of carry's first frame in the file
    for chunk in pcm_chunks:
        samples = np.concatenate([carry, np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768.0])
        cepstra, voiced = _frames(samples)
        n = len(voiced)
        if n:
            times = (first_frame + np.arange(n)) * HOP / SAMPLE_RATE + FRAME / (2 * SAMPLE_RATE)
            owner = np.searchsorted(starts, times, side="right") - 1
            inside = (owner >= 0) & (times < ends[np.clip(owner, 0, None)]) & voiced
            if inside.any():
                np.add.at(sums, owner[inside], cepstra[inside])
                np.add.at(counts, owner[inside], 1)
            if voiced.any():
                total += cepstra[voiced].sum(axis=0)
                total_sq += (cepstra[voiced].astype(np.float64) ** 2).sum(axis=0)
                total_n += int(voiced.sum())
        consumed = n * HOP
        carry = samples[consumed:]
        first_frame += n
    if total_n == 0:
        return np.zeros((len(segments), dims)), counts
    mean = total / total_n
    std = np.sqrt(np.maximum(total_sq / total_n - mean**2, 1e-12))
    voices = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], mean)
    return (voices - mean) / std, counts


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a - b) ** 2).mean(axis=-1))


def cluster(
    voices: np.ndarray, counts: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD, max_speakers: int = 8
) -> list[int | None]:
    """Speaker index per segment (None when the segment has no voiced frame at all)."""
    reliable = [i for i in range(len(voices)) if counts[i] >= MIN_FRAMES]
    centroids: list[np.ndarray] = []
    weights: list[int] = []
    for i in reliable:  # leader clustering in time order
        if centroids:
            distances = _distance(np.array(centroids), voices[i])
            best = int(np.argmin(distances))
            if distances[best] <= threshold or len(centroids) >= max_speakers:
                w = weights[best]
                centroids[best] = (centroids[best] * w + voices[i] * counts[i]) / (w + counts[i])
                weights[best] = w + int(counts[i])
                continue
        centroids.append(voices[i].copy())
        weights.append(int(counts[i]))
    if not centroids:
        return [None] * len(voices)
    labels: list[int | None] = [None] * len(voices)
    for _ in range(3):  # refine: nearest final centroid, then recompute centroids
        for i in reliable:
            labels[i] = int(np.argmin(_distance(np.array(centroids), voices[i])))
        for k in range(len(centroids)):
            members = [i for i in reliable if labels[i] == k]
            if members:
                w = counts[members][:, None]
                centroids[k] = (voices[members] * w).sum(axis=0) / w.sum()
    # short segments (a "yes", a cough) take the nearest centroid when voiced, else their neighbour's
    for i in range(len(voices)):
        if labels[i] is None and counts[i] > 0:
            labels[i] = int(np.argmin(_distance(np.array(centroids), voices[i])))
    for i in range(len(voices)):
        if labels[i] is None:
            labels[i] = next((labels[j] for j in range(i - 1, -1, -1) if labels[j] is not None), None)
    return labels


def speaker_turns(
    path: str,
    segments: Sequence[TimedSegment],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_speakers: int = 8,
) -> list[str | None]:
    """ "Speaker N" for each segment of the transcript of the media file at `path`."""
    if not segments:
        return []
    order = sorted(range(len(segments)), key=lambda i: segments[i].start)
    ordered = [segments[i] for i in order]
    # 30 s stretches: long enough for a stable loudness reference, small enough to keep memory flat
    pcm = media.decode_to_pcm16k(path, chunk_bytes=SAMPLE_RATE * 2 * 30)
    voices, counts = _segment_voices(pcm, ordered)
    labels = cluster(voices, counts, threshold=threshold, max_speakers=max_speakers)
    names: dict[int, str] = {}
    out: list[str | None] = [None] * len(segments)
    for position, label in zip(order, labels, strict=True):
        if label is not None:
            out[position] = names.setdefault(label, f"Speaker {len(names) + 1}")
    return out
