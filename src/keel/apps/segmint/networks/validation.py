"""Per-network checks before anything is scheduled, and thread splitting.

Each rule follows the network's documentation: its length counted its way (see `limits`), how many media
a post carries and of which types (X: up to 4 images, or one video or GIF alone; Mastodon: 4; Bluesky: 4
images of at most 1,000,000 bytes, or one video; LinkedIn: up to 20 images or one video), a video's size
and duration (X: MP4/MOV, 512 MB, 0.5-140 s; Mastodon: MP4/WebM/MOV, 99 MB; Bluesky: MP4/WebM/MOV,
100 MB, 3 minutes; LinkedIn: MP4, 500 MB, 3 s-30 min), and whether it threads (X, Mastodon and Bluesky
reply chains; LinkedIn and webhooks do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

from keel.apps.segmint.networks.limits import LIMITS, length

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRule:
    max_count: int
    images: frozenset[str]
    videos: frozenset[str]
    max_image_bytes: int | None = None
    max_video_bytes: int | None = None
    video_alone: bool = True  # a video (or GIF on X) cannot share a post with other media
    min_video_seconds: float | None = None
    max_video_seconds: float | None = None


@dataclass(frozen=True)
class Rule:
    network: str
    label: str
    platform: str  # the key `limits.length` counts by
    unit: str  # how the length is counted, for messages
    threads: bool
    media: MediaRule | None
    max_parts: int = 25


_IMAGES = frozenset({"image/jpeg", "image/png", "image/webp"})
RULES: dict[str, Rule] = {
    "x": Rule(
        "x",
        "X",
        "twitter",
        "weighted characters",
        True,
        MediaRule(
            4,
            _IMAGES | {"image/gif"},
            frozenset({"video/mp4", "video/quicktime"}),
            5 * MB,
            512 * MB,
            min_video_seconds=0.5,
            max_video_seconds=140,
        ),
    ),
    "mastodon": Rule(
        "mastodon",
        "Mastodon",
        "mastodon",
        "characters",
        True,
        MediaRule(
            4,
            _IMAGES | {"image/gif", "image/heic", "image/avif"},
            frozenset({"video/mp4", "video/webm", "video/quicktime", "audio/mpeg", "audio/ogg"}),
            16 * MB,
            99 * MB,
        ),
    ),
    "bluesky": Rule(
        "bluesky",
        "Bluesky",
        "bluesky",
        "graphemes",
        True,
        MediaRule(
            4,
            _IMAGES,
            frozenset({"video/mp4", "video/webm", "video/quicktime"}),
            1_000_000,
            100 * MB,
            max_video_seconds=180,
        ),
    ),
    "linkedin": Rule(
        "linkedin",
        "LinkedIn",
        "linkedin",
        "characters",
        False,
        MediaRule(
            20,
            _IMAGES | {"image/gif"},
            frozenset({"video/mp4"}),
            36 * MB,
            500 * MB,
            min_video_seconds=3,
            max_video_seconds=1800,
        ),
    ),
    "webhook": Rule("webhook", "Webhook", "blog", "characters", False, None),
}


@dataclass(frozen=True)
class Media:
    mime_type: str
    size: int
    duration: float | None = None  # seconds, for a video


@dataclass
class Check:
    network: str
    length: int
    limit: int | None
    parts: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def limit_of(rule: Rule) -> int | None:
    return LIMITS.get(rule.platform)


def split_thread(text: str, platform: str, limit: int) -> list[str]:
    """The text as a reply chain, each part within the limit: paragraphs kept whole where they fit, then
    sentences, then words; a word longer than the limit is cut at grapheme boundaries."""
    pieces: list[tuple[str, str]] = []  # (text, what joins it to the piece before)
    for paragraph in regex.split(r"\n\s*\n", text.strip()):
        joint = "\n\n"
        if length(paragraph, platform) <= limit:
            pieces.append((paragraph.strip(), joint))
            continue
        for sentence in regex.findall(r"\S.*?(?:[.!?…]+[\"')\]]*(?=\s|$)|$)", paragraph, flags=regex.DOTALL):
            if length(sentence.strip(), platform) <= limit:
                pieces.append((sentence.strip(), joint))
                joint = " "
                continue
            for word in sentence.split():
                while length(word, platform) > limit:
                    head = ""
                    for cluster in regex.findall(r"\X", word):
                        if head and length(head + cluster, platform) > limit:
                            break
                        head += cluster
                    pieces.append((head, joint))
                    joint, word = " ", word[len(head) :]
                pieces.append((word, joint))
                joint = " "
    parts: list[str] = []
    for piece, joint in pieces:
        if not piece:
            continue
        if parts and length(parts[-1] + joint + piece, platform) <= limit:
            parts[-1] += joint + piece
        else:
            parts.append(piece)
    return parts


def check(
    text: str, network: str, *, thread: bool = False, media: list[Media] | tuple[Media, ...] = ()
) -> Check:
    """Whether `text` (and `media`) can go to `network` as one post, or as a thread when asked and the
    network threads; the problems name the network and say what to change."""
    rule = RULES[network]
    limit = limit_of(rule)
    size = length(text, rule.platform)
    result = Check(network=network, length=size, limit=limit, parts=[text])
    if not text.strip():
        result.problems.append(f"{rule.label}: the text is empty")
    if limit is not None and size > limit:
        if thread and rule.threads:
            result.parts = split_thread(text, rule.platform, limit)
            if len(result.parts) > rule.max_parts:
                result.problems.append(
                    f"{rule.label}: a thread of {len(result.parts)} posts is too long "
                    f"(at most {rule.max_parts}); shorten the text"
                )
        elif thread:
            result.problems.append(
                f"{rule.label}: the text is {size} of {limit} {rule.unit} and {rule.label} has no threads; "
                "shorten it"
            )
        else:
            result.problems.append(
                f"{rule.label}: the text is {size} of {limit} {rule.unit}; shorten it"
                + (" or ask for a thread (thread: true)" if rule.threads else "")
            )
    result.problems.extend(_media_problems(rule, list(media)))
    return result


def _media_problems(rule: Rule, media: list[Media]) -> list[str]:
    if not media:
        return []
    allowed = rule.media
    if allowed is None:
        return [f"{rule.label}: media cannot be attached"]
    problems = []
    if len(media) > allowed.max_count:
        problems.append(f"{rule.label}: {len(media)} media attached; at most {allowed.max_count}")
    videos = [
        m
        for m in media
        if m.mime_type in allowed.videos or (rule.network == "x" and m.mime_type == "image/gif")
    ]
    if allowed.video_alone and videos and len(media) > 1:
        problems.append(
            f"{rule.label}: a video{' or GIF' if rule.network == 'x' else ''} must be the only media"
        )
    for m in media:
        if m.mime_type not in allowed.images | allowed.videos:
            problems.append(f"{rule.label}: {m.mime_type} is not accepted")
        elif m.mime_type in allowed.images and allowed.max_image_bytes and m.size > allowed.max_image_bytes:
            problems.append(
                f"{rule.label}: an image of {m.size} bytes is over the {allowed.max_image_bytes} byte limit"
            )
        elif m.mime_type in allowed.videos:
            problems.extend(_video_problems(rule.label, allowed, m))
    return problems


def _video_problems(label: str, allowed: MediaRule, m: Media) -> list[str]:
    problems = []
    if allowed.max_video_bytes and m.size > allowed.max_video_bytes:
        problems.append(
            f"{label}: a video of {m.size} bytes is over the {allowed.max_video_bytes} byte limit"
        )
    if m.duration is not None:
        if allowed.max_video_seconds and m.duration > allowed.max_video_seconds:
            problems.append(
                f"{label}: a video of {m.duration:g} s is longer than {allowed.max_video_seconds:g} s; "
                "trim it"
            )
        if allowed.min_video_seconds and m.duration < allowed.min_video_seconds:
            problems.append(
                f"{label}: a video of {m.duration:g} s is shorter than {allowed.min_video_seconds:g} s"
            )
    return problems
