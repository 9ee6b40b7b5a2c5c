"""The voice as features a person recognises, exemplars, and a score of any text against the voice.

Features (from the user's own pieces): words per sentence, vocabulary richness (mean distinct/total words
per piece, so long and short posts compare), formality (0 casual … 1 formal: contractions, exclamations,
emoji, slang against long words), emoji and hashtag habits, questions, point of view, recurring phrases
(2-6 words used in at least two pieces) and topics. Exemplars are the user's best pieces (published,
then scheduled/approved, else any) ranked by how much they share with a brief.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import regex

from keel.apps.segmint.models import APPROVED, PUBLISHED, SCHEDULED
from keel.apps.segmint.voice import STOPWORDS, terms, words

EMOJI = regex.compile(r"\p{Extended_Pictographic}(?:\uFE0F|\u200D\p{Extended_Pictographic})*")
HASHTAG = regex.compile(r"(?<![\w#])#(\w{2,50})")
URL = regex.compile(r"https?://\S+")
MENTION = regex.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
SENTENCE = regex.compile(r"[^.!?…\n]+(?:[.!?…]+|$)", regex.M)
CONTRACTION = regex.compile(r"\b\w+['\u2019](?:s|re|ve|ll|d|t|m)\b", regex.I)
FIRST_SINGULAR = frozenset("i me my mine myself i'm i've i'd i'll".split())
FIRST_PLURAL = frozenset("we us our ours ourselves we're we've we'll let's".split())
SECOND = frozenset("you your yours yourself you're you've you'll".split())
INFORMAL = frozenset(
    "lol gonna wanna yeah yep hey awesome super cool omg btw tbh haha ok okay stuff kinda".split()
)
# words that are a form's placeholder or the tool's own vocabulary, never a person's topic
PLACEHOLDER_WORDS = frozenset(
    "content sample samples example examples text texts post posts lorem ipsum dolor placeholder test "
    "testing untitled draft drafts title description".split()
)
# frequent adverbs and quantifiers: common in anyone's posts, never what a post is about
NOT_TOPICS = PLACEHOLDER_WORDS | frozenset(
    "always never every ever still even much many well back first last".split()
)
BEST_STATUS = {PUBLISHED: 3, SCHEDULED: 2, APPROVED: 2}
POV_LABELS = {"i": "first person (I)", "we": "first person plural (we)", "you": "second person (you)"}


def sentences_of(text: str) -> list[str]:
    body = URL.sub(" ", text)
    # a run of hashtags or emoji after the last full stop is not a sentence of its own
    return [s.strip() for s in SENTENCE.findall(body) if words(HASHTAG.sub("", s))]


def topic_terms(text: str) -> list[str]:
    """Terms that can be a topic: no stop words, no placeholders, no hashtags' # or URLs."""
    return [t for t in terms(URL.sub(" ", text)) if t not in NOT_TOPICS]


def phrases_of(text: str, sizes: tuple[int, ...] = (2, 3, 4, 5, 6)) -> set[str]:
    """Word runs of 2-6 words inside one sentence (a phrase never spans a full stop)."""
    out: set[str] = set()
    for sentence in sentences_of(text):
        out |= _grams(words(HASHTAG.sub("", sentence)), sizes)
    return out


def _grams(found: list[str], sizes: tuple[int, ...]) -> set[str]:
    out = set()
    for n in sizes:
        for i in range(len(found) - n + 1):
            gram = found[i : i + n]
            if gram[0] in STOPWORDS and gram[-1] in STOPWORDS:
                continue
            if all(w in STOPWORDS for w in gram) or any(w in PLACEHOLDER_WORDS for w in gram):
                continue
            out.add(" ".join(gram))
    return out


@dataclass
class Piece:
    text: str
    title: str = ""
    status: str = "draft"
    tone: str = "friendly"


@dataclass
class Features:
    pieces: int = 0
    words_per_post: float = 0.0
    sentence_length: float = 0.0
    vocabulary_richness: float = 0.0
    formality: float = 0.5
    emoji_per_post: float = 0.0
    hashtags_per_post: float = 0.0
    question_share: float = 0.0
    exclamation_share: float = 0.0
    point_of_view: str = "neutral"
    recurring_phrases: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    emojis: list[str] = field(default_factory=list)
    sign_offs: list[str] = field(default_factory=list)  # closing sentences used in two or more pieces


def _pov(counts: Counter[str]) -> str:
    total = sum(counts.values())
    if not total:
        return "neutral"
    best, n = counts.most_common(1)[0]
    return best if n / total >= 0.4 else "mixed"


def _formality(text_words: list[str], raw: str, sentences: list[str], emoji: int) -> float:
    if not text_words:
        return 0.5
    n = len(text_words)
    long_share = sum(1 for w in text_words if len(w) >= 7) / n
    contractions = len(CONTRACTION.findall(raw)) / n
    slang = sum(1 for w in text_words if w in INFORMAL) / n
    exclaims = sum(1 for s in sentences if s.endswith("!")) / max(1, len(sentences))
    score = (
        0.5 + 1.5 * (long_share - 0.2) - 4 * contractions - 5 * slang - 0.35 * exclaims - 0.1 * min(emoji, 3)
    )
    return round(min(1.0, max(0.0, score)), 3)


def features(pieces: list[Piece], *, top: int = 8) -> Features:
    if not pieces:
        return Features()
    word_total = sentence_total = emoji_total = hashtag_total = questions = exclaims = 0
    richness: list[float] = []
    formality: list[float] = []
    pov: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    phrase_docs: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    emojis: Counter[str] = Counter()
    closings: Counter[str] = Counter()
    for piece in pieces:
        text = piece.text
        found = words(text)
        said = sentences_of(text)
        piece_emoji = EMOJI.findall(text)
        word_total += len(found)
        sentence_total += max(1, len(said))
        emoji_total += len(piece_emoji)
        emojis.update(piece_emoji)
        piece_tags = [t.lower() for t in HASHTAG.findall(text)]
        hashtag_total += len(piece_tags)
        tags.update(piece_tags)
        questions += sum(1 for s in said if s.endswith("?"))
        exclaims += sum(1 for s in said if s.endswith("!"))
        if found:
            richness.append(len(set(found)) / len(found))
        formality.append(_formality(found, text, said, len(piece_emoji)))
        for w in found:
            if w in FIRST_SINGULAR:
                pov["i"] += 1
            elif w in FIRST_PLURAL:
                pov["we"] += 1
            elif w in SECOND:
                pov["you"] += 1
        weight = BEST_STATUS.get(piece.status, 1)
        for term, n in Counter(topic_terms(f"{piece.title} {text}")).items():
            topics[term] += n * weight
        phrase_docs.update(phrases_of(text))
        if len(said) >= 2:  # a sign-off is the same closing words, whatever emoji and hashtags follow
            closing = EMOJI.sub("", HASHTAG.sub("", said[-1])).strip(" #")
            if words(closing):
                closings[closing] += 1
    n = len(pieces)
    recurring = [p for p, c in phrase_docs.items() if c >= 2]
    # longer phrases first, then by how many pieces use them; drop a phrase contained in a kept one
    recurring.sort(key=lambda p: (-phrase_docs[p], -len(p.split()), p))
    kept: list[str] = []
    for phrase in recurring:
        if not any(phrase in k for k in kept):
            kept.append(phrase)
    return Features(
        pieces=n,
        words_per_post=round(word_total / n, 1),
        sentence_length=round(word_total / max(1, sentence_total), 2),
        vocabulary_richness=round(sum(richness) / len(richness), 3) if richness else 0.0,
        formality=round(sum(formality) / n, 3),
        emoji_per_post=round(emoji_total / n, 2),
        hashtags_per_post=round(hashtag_total / n, 2),
        question_share=round(questions / max(1, sentence_total), 3),
        exclamation_share=round(exclaims / max(1, sentence_total), 3),
        point_of_view=_pov(pov),
        recurring_phrases=kept[:top],
        topics=[t for t, _ in sorted(topics.items(), key=lambda i: (-i[1], i[0]))[:top]],
        hashtags=[t for t, _ in sorted(tags.items(), key=lambda i: (-i[1], i[0]))[:top]],
        emojis=[e for e, _ in emojis.most_common(5)],
        sign_offs=[s for s, c in closings.most_common(3) if c >= 2],
    )


def style_card(f: Features) -> str:
    """The voice in a few lines a writer (or a model) can follow."""
    lines = [
        f"- About {f.sentence_length:g} words per sentence, {f.words_per_post:g} words per post.",
        f"- Formality {f.formality:.2f} on 0 (casual) to 1 (formal).",
        f"- Point of view: {POV_LABELS.get(f.point_of_view, f.point_of_view)}.",
        f"- Emoji per post: {f.emoji_per_post:g}"
        + (f" (usually {' '.join(f.emojis[:3])})" if f.emojis else "")
        + ".",
        f"- Hashtags per post: {f.hashtags_per_post:g}"
        + (f" (often {' '.join('#' + t for t in f.hashtags[:4])})" if f.hashtags else "")
        + ".",
        f"- Questions: {round(f.question_share * 100)} % of sentences; exclamations: "
        f"{round(f.exclamation_share * 100)} %.",
    ]
    if f.topics:
        lines.append(f"- Usual topics: {', '.join(f.topics[:6])}.")
    if f.recurring_phrases:
        lines.append(f"- Recurring phrases: {'; '.join(f.recurring_phrases[:5])}.")
    if f.sign_offs:
        lines.append(f"- Signs off with: {f.sign_offs[0]}")
    return "\n".join(lines)


def relevance(brief_terms: set[str], piece: Piece) -> float:
    mine = set(topic_terms(f"{piece.title} {piece.text}"))
    if not mine or not brief_terms:
        return 0.0
    return len(mine & brief_terms) / math.sqrt(len(mine) * len(brief_terms))


def exemplars(pieces: list[Piece], brief: str, k: int = 3) -> list[Piece]:
    """The user's best pieces for this brief: published first, then approved/scheduled, else anything;
    within a rank, the most relevant to the brief."""
    wanted = set(topic_terms(brief))
    best = [p for p in pieces if p.status in BEST_STATUS] or pieces
    ranked = sorted(
        best, key=lambda p: (-(relevance(wanted, p) + 0.2 * BEST_STATUS.get(p.status, 0)), len(p.text))
    )
    return ranked[:k]


@dataclass
class Difference:
    feature: str
    yours: float | str
    text: float | str
    note: str


def _closeness(a: float, b: float, scale: float) -> float:
    return max(0.0, 1.0 - abs(a - b) / scale)


# the numeric features a score compares: name, how far apart is "not alike" (at least; the voice's own
# value when larger), weight, the note when the text has more, the note when it has less
NUMERIC_CHECKS: tuple[tuple[str, float, float, str, str], ...] = (
    ("sentence_length", 6.0, 2.0, "sentences are longer than yours", "sentences are shorter than yours"),
    ("formality", 0.5, 2.0, "more formal than you write", "more casual than you write"),
    ("emoji_per_post", 1.5, 1.0, "more emoji than you use", "fewer emoji than you use"),
    ("hashtags_per_post", 1.5, 1.0, "more hashtags than you use", "fewer hashtags than you use"),
    ("question_share", 0.5, 0.5, "asks more questions than you do", "asks fewer questions than you do"),
    ("vocabulary_richness", 0.5, 0.5, "more varied words than yours", "more repetitive than you"),
)
# features whose "not alike" distance grows with the voice's own value (counts, not shares)
_RELATIVE = {"sentence_length", "emoji_per_post", "hashtags_per_post"}


def _numeric_check(
    name: str, yours: float, theirs: float, scale: float, weight: float, more: str, fewer: str
) -> tuple[str, float, float, float, float, str]:
    spread = max(scale, yours) if name in _RELATIVE else scale
    return name, yours, theirs, _closeness(yours, theirs, spread), weight, more if theirs > yours else fewer


def score(text: str, voice: Features) -> tuple[int, list[Difference]]:
    """0-100: how much `text` sounds like the voice, with the features that differ most, worst first."""
    if voice.pieces == 0:
        return 50, [Difference("pieces", 0, 1, "No content of yours yet: nothing to compare with")]
    f = features([Piece(text=text)])
    checks: list[tuple[str, float, float, float, float, str]] = [
        # name, yours, text's, closeness (0..1), weight, note when off
        _numeric_check(name, getattr(voice, name), getattr(f, name), scale, weight, more, fewer)
        for name, scale, weight, more, fewer in NUMERIC_CHECKS
    ]
    pov_same = (
        1.0
        if f.point_of_view in (voice.point_of_view, "neutral") or voice.point_of_view in ("mixed", "neutral")
        else 0.0
    )
    checks.append(
        (
            "point_of_view",
            0,
            0,
            pov_same,
            1.5,
            f"written as {POV_LABELS.get(f.point_of_view, f.point_of_view)}, you usually write as "
            f"{POV_LABELS.get(voice.point_of_view, voice.point_of_view)}",
        )
    )
    text_terms = set(topic_terms(text))
    vocabulary = set(voice.topics) | {w for p in voice.recurring_phrases for w in p.split()}
    on_topic = min(1.0, len(text_terms & vocabulary) / 2) if text_terms else 0.5
    checks.append(("topics", 0, 0, on_topic, 1.5, "none of your usual topics"))
    total_weight = sum(c[4] for c in checks)
    value = sum(c[3] * c[4] for c in checks) / total_weight
    differences = [
        Difference(
            feature=name,
            yours=(
                voice.point_of_view
                if name == "point_of_view"
                else ", ".join(voice.topics[:5])
                if name == "topics"
                else yours
            ),
            text=(
                f.point_of_view
                if name == "point_of_view"
                else ", ".join(sorted(text_terms)[:5])
                if name == "topics"
                else theirs
            ),
            note=note,
        )
        for name, yours, theirs, close, _, note in sorted(checks, key=lambda c: c[3])
        if close < 0.75
    ]
    return round(100 * value), differences
