"""Speaker turns without a model: who spoke which transcript segment, from the voice alone.

Offline, numpy only, the classic BIC approach to speaker clustering: every 10 ms frame of the 16 kHz
audio gets 19 mel cepstra, and a segment's voice is the full-covariance Gaussian of its voiced frames
(kept as sufficient statistics, so memory is O(segments), not O(duration), and two stretches merge by
adding them). Segments join speakers in time order by `bic_ratio` (does BIC prefer one Gaussian or two?),
speakers that BIC over the whole file calls one voice are merged, then every segment moves to the
speaker under whose Gaussian its frames are likeliest. Comparing covariances, not just mean spectra,
separates two men of similar pitch as well as a man and a woman (benchmarks/scribe_diarize.py measures
it); the same voice with two accents, or people talking over each other inside one segment, are beyond
it. Labels are "Speaker 1", "Speaker 2", ... in order of first appearance; users rename them, and the
names carry into every export.
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
DIMS = N_CEPS - 1
MIN_FRAMES = 60  # fewer voiced frames (0.6 s) give no covariance worth comparing: such segments follow
RIDGE = 1e-3  # added to a covariance's diagonal, relative to its mean variance
DEFAULT_THRESHOLD = 1.25  # a segment joins a speaker below this bic_ratio (see bic_ratio for the measures)
MERGE_THRESHOLD = 1.4  # two speakers are one voice below this bic_ratio over the whole file


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


class VoiceStats:
    """Sufficient statistics of a stretch of voiced frames (count, sum, sum of outer products): enough for
    the full-covariance Gaussian that models a voice, and two stretches merge by adding them."""

    __slots__ = ("n", "outer", "total")

    def __init__(self, n: int = 0, total: np.ndarray | None = None, outer: np.ndarray | None = None) -> None:
        self.n = n
        self.total = np.zeros(DIMS) if total is None else total
        self.outer = np.zeros((DIMS, DIMS)) if outer is None else outer

    def add_frames(self, frames: np.ndarray) -> None:
        x = frames.astype(np.float64)
        self.n += len(x)
        self.total += x.sum(axis=0)
        self.outer += x.T @ x

    def __add__(self, other: VoiceStats) -> VoiceStats:
        return VoiceStats(self.n + other.n, self.total + other.total, self.outer + other.outer)

    def gaussian(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, covariance), the covariance ridged so a short stretch stays invertible."""
        mean = self.total / self.n
        cov = self.outer / self.n - np.outer(mean, mean)
        return mean, cov + RIDGE * np.eye(DIMS) * max(float(np.trace(cov)) / DIMS, 1e-9)

    def logdet(self) -> float:
        return float(np.linalg.slogdet(self.gaussian()[1])[1])

    def loglik_per_frame(self, data: VoiceStats) -> float:
        """Mean log-likelihood of `data`'s frames under this stretch's Gaussian (from statistics alone)."""
        mean, cov = self.gaussian()
        inv = np.linalg.inv(cov)
        scatter = (
            data.outer
            - np.outer(data.total, mean)
            - np.outer(mean, data.total)
            + data.n * np.outer(mean, mean)
        )
        return -0.5 * (float(np.linalg.slogdet(cov)[1]) + float(np.trace(inv @ scatter)) / data.n)


def bic_ratio(a: VoiceStats, b: VoiceStats, frames: int | None = None) -> float:
    """How strongly two stretches are two voices: the generalised likelihood ratio of "two Gaussians"
    over "one Gaussian" divided by BIC's penalty for the extra parameters (counted over `frames`, the
    whole file's voiced frames for speakers, the pair's own for a segment); above 1 BIC prefers two.
    Measured on espeak-ng dialogs, speaker against speaker over the file: one voice split in two 0.2-0.7,
    two voices 2.1-6.5 (two men 2.1-4.9); a segment against a speaker is noisier (one voice up to 1.3)."""
    n = a.n + b.n
    glr = 0.5 * (n * (a + b).logdet() - a.n * a.logdet() - b.n * b.logdet())
    penalty = 0.5 * (DIMS + DIMS * (DIMS + 1) / 2) * np.log(frames or n)
    return float(glr / penalty)


def _segment_stats(pcm_chunks: Iterable[bytes], segments: Sequence[TimedSegment]) -> list[VoiceStats]:
    """Per segment (in time order): the statistics of its voiced frames, streamed chunk by chunk."""
    stats = [VoiceStats() for _ in segments]
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
            for index in np.unique(owner[inside]):
                stats[int(index)].add_frames(cepstra[inside & (owner == index)])
        carry = samples[n * HOP :]
        first_frame += n
    return stats


def cluster(
    stats: Sequence[VoiceStats],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    merge_threshold: float = MERGE_THRESHOLD,
    max_speakers: int = 8,
) -> list[int | None]:
    """Speaker index per segment (None when the segment has no voiced frame at all).

    Segments long enough for a covariance (MIN_FRAMES voiced frames) join, in time order, the speaker
    whose voice they are closest to by `bic_ratio`, or start a new one when every ratio is above
    `threshold`; speakers that turn out to be one voice are then merged (closest pair first), and every
    segment moves to the speaker under whose Gaussian its frames are likeliest. Short segments (a "yes",
    a cough) take the likeliest speaker too; a segment without voice takes its neighbour's."""
    reliable = [i for i, s in enumerate(stats) if s.n >= MIN_FRAMES]
    labels: list[int | None] = [None] * len(stats)
    clusters: list[VoiceStats] = []
    for i in reliable:  # leader clustering in time order
        ratios = [bic_ratio(c, stats[i]) for c in clusters]
        best = int(np.argmin(ratios)) if ratios else -1
        if best >= 0 and (ratios[best] <= threshold or len(clusters) >= max_speakers):
            clusters[best] = clusters[best] + stats[i]
            labels[i] = best
        else:
            clusters.append(stats[i] + VoiceStats())
            labels[i] = len(clusters) - 1
    frames = sum(c.n for c in clusters)
    while len(clusters) > 1:  # merge speakers that are one voice after all (BIC over the whole file)
        pairs = [
            (bic_ratio(clusters[a], clusters[b], frames), a, b)
            for a in range(len(clusters))
            for b in range(a)
        ]
        ratio, a, b = min(pairs)
        if ratio > merge_threshold:
            break
        clusters[b] = clusters[b] + clusters.pop(a)
        labels = [
            b if label == a else label - 1 if label is not None and label > a else label for label in labels
        ]
    if not clusters:
        return [None] * len(stats)
    for _ in range(2):  # refine: each segment to its likeliest speaker, then rebuild the speakers
        for i in reliable:
            labels[i] = int(np.argmax([c.loglik_per_frame(stats[i]) for c in clusters]))
        rebuilt = [VoiceStats() for _ in clusters]
        for i in reliable:
            rebuilt[labels[i]] = rebuilt[labels[i]] + stats[i]  # type: ignore[index]
        keep = [k for k, c in enumerate(rebuilt) if c.n]
        clusters = [rebuilt[k] for k in keep]
        labels = [keep.index(label) if label is not None else None for label in labels]
    for i, s in enumerate(stats):
        if labels[i] is None and s.n > 0:
            labels[i] = int(np.argmax([c.loglik_per_frame(s) for c in clusters]))
    for i in range(len(stats)):
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
    labels = cluster(_segment_stats(pcm, ordered), threshold=threshold, max_speakers=max_speakers)
    names: dict[int, str] = {}
    out: list[str | None] = [None] * len(segments)
    for position, label in zip(order, labels, strict=True):
        if label is not None:
            out[position] = names.setdefault(label, f"Speaker {len(names) + 1}")
    return out
