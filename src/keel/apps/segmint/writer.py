"""Writing in the user's voice: generate drafts per platform, rewrite a draft, score text.

Two engines behind one interface. `ModelWriter` (AI_BASE_URL set): the platform language model, given a
style card and the user's exemplars as few-shot turns, asked for schema-checked JSON. `LocalWriter`
(default, offline, deterministic): extractive and template composition from the user's own material:
the brief as the lead, the sentences of the pasted source and of the user's own pieces that share the
brief's terms, their habitual emoji, hashtags and sign-off. It never invents topics. Every result names
its engine ("local" or the model). Drafts are ordinary content (version 1; a rewrite is a new version),
so the approval workflow applies unchanged; each platform's text is fitted to that network's limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from keel.apps.segmint import networks, style
from keel.core.errors import ValidationFailed

if TYPE_CHECKING:
    from keel.core.llm import LanguageModel

SENTENCES_FOR = {"short": 1, "medium": 2, "long": 4}
WORDS_FOR = {"short": 30, "medium": 60, "long": 150}
CANDIDATES = 3  # local variants per platform, ranked by the voice score
TONE_CLOSERS = {
    "friendly": "What do you think?",
    "casual": "Anyone else?",
    "witty": "You have been warned.",
    "playful": "Who's in?",
    "inspirational": "Start today.",
    "professional": "Details below.",
    "informative": "More details soon.",
    "formal": "Further details will follow.",
}
CONTRACTIONS = {
    "do not": "don't", "does not": "doesn't", "is not": "isn't", "are not": "aren't", "cannot": "can't",
    "will not": "won't", "it is": "it's", "we are": "we're", "you are": "you're", "i am": "I'm",
    "that is": "that's", "we have": "we've", "i have": "I've", "there is": "there's",
}  # fmt: skip


@dataclass
class Brief:
    brief: str
    tone: str
    platforms: list[str]
    length: str = "medium"
    source_text: str | None = None


@dataclass
class Variant:
    platform: str
    text: str


class Writer(Protocol):
    name: str

    async def generate(
        self, brief: Brief, voice: style.Features, examples: list[style.Piece], material: list[style.Piece]
    ) -> list[Variant]: ...

    async def rewrite(
        self,
        text: str,
        operation: str,
        *,
        tone: str,
        platform: str | None,
        voice: style.Features,
        examples: list[style.Piece],
        material: list[style.Piece],
    ) -> str: ...


# --------------------------------------------------------------------------- text helpers


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def fix_grammar(text: str) -> str:
    """Mechanical fixes only: spacing, doubled words, a lone lower-case i, capitals, the final stop."""
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?=[^\s\d/])", r"\1 ", text)
    text = re.sub(r"\b(\w+)(\s+\1\b)+", r"\1", text, flags=re.I)
    text = re.sub(r"(?<![\w'])i(?=[\s'\u2019,.!?])", "I", text)
    text = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text.strip())
    if text and text[-1].isalnum():
        text += "."
    return text


def _contract(text: str) -> str:
    for long, short in CONTRACTIONS.items():
        text = re.sub(rf"\b{long}\b", lambda m, short=short: _same_case(short, m.group(0)), text, flags=re.I)
    return text


def _same_case(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def _expand(text: str) -> str:
    for long, short in CONTRACTIONS.items():
        text = re.sub(
            rf"(?<!\w){re.escape(short)}(?!\w)",
            lambda m, long=long: _same_case(long, m.group(0)),
            text,
            flags=re.I,
        )
    return text


def _retone(text: str, tone: str, voice: style.Features) -> str:
    if tone in ("formal", "professional"):
        text = style.EMOJI.sub("", _expand(text)).replace("!", ".")
        return re.sub(r"\s{2,}", " ", text).strip()
    if tone in ("casual", "friendly", "playful", "witty"):
        text = _contract(text)
        if voice.emojis and not style.EMOJI.search(text):
            text = f"{text} {voice.emojis[0]}"
    return text


def _candidate_sentences(brief_terms: set[str], source: str | None, material: list[style.Piece]) -> list[str]:
    """Sentences that share the brief's terms: the pasted source first, then the user's own pieces
    (their best ones weigh more), each once."""
    scored: list[tuple[float, int, str]] = []
    order = 0
    pools = [(style.sentences_of(source), 2.0)] if source else []
    pools += [(style.sentences_of(p.text), 1.0 + 0.2 * style.BEST_STATUS.get(p.status, 0)) for p in material]
    for sentences, weight in pools:
        for s in sentences:
            order += 1
            s = re.sub(r"\s{2,}", " ", style.EMOJI.sub("", style.HASHTAG.sub("", s))).strip()
            shared = len(set(style.topic_terms(s)) & brief_terms)
            if shared and len(s) <= 400:
                scored.append((shared * weight, order, s))
    seen: set[str] = set()
    out = []
    for _, _, s in sorted(scored, key=lambda x: (-x[0], x[1])):
        key = s.lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _hashtags(voice: style.Features, brief_terms: set[str]) -> list[str]:
    if voice.hashtags_per_post < 0.5:
        return []
    count = max(1, round(voice.hashtags_per_post))
    relevant = [t for t in voice.hashtags if t in brief_terms or any(b in t for b in brief_terms)]
    return ["#" + t for t in (relevant + [t for t in voice.hashtags if t not in relevant])[:count]]


class LocalWriter:
    name = "local"

    def compose(self, brief: Brief, voice: style.Features, material: list[style.Piece], variant: int) -> str:
        brief_terms = set(style.topic_terms(f"{brief.brief} {brief.source_text or ''}"))
        support = _candidate_sentences(brief_terms, brief.source_text, material)
        wanted = SENTENCES_FOR[brief.length]
        # variant 0 takes the best supporting sentences, the others rotate through the next ones
        picked = support[variant : variant + wanted] if len(support) > variant else support[:wanted]
        lead = _sentence(brief.brief)
        parts = [lead, *[s for s in picked if s.lower().rstrip(".!?") not in lead.lower()]]
        if voice.emoji_per_post >= 0.5 and voice.emojis:
            parts[0] = f"{parts[0]} {voice.emojis[0]}"
        parts = [p for p in parts if p not in voice.sign_offs]
        if variant == 1 and (voice.question_share >= 0.1 or not voice.sign_offs):
            parts.append(TONE_CLOSERS.get(brief.tone, TONE_CLOSERS["friendly"]))
        if voice.sign_offs:  # their habit closes every variant
            parts.append(_sentence(voice.sign_offs[0]))
        text = _retone(" ".join(parts), brief.tone, voice)
        tags = [t for t in _hashtags(voice, brief_terms) if t.lower() not in text.lower()]
        return f"{text} {' '.join(tags)}".strip() if tags else text

    async def generate(self, brief, voice, examples, material):  # type: ignore[no-untyped-def]
        out = []
        for platform in brief.platforms:
            candidates = [
                networks.fit(self.compose(brief, voice, material, i), platform) for i in range(CANDIDATES)
            ]
            best = max(candidates, key=lambda t: (style.score(t, voice)[0], -candidates.index(t)))
            out.append(Variant(platform=platform, text=best))
        return out

    async def rewrite(self, text, operation, *, tone, platform, voice, examples, material):  # type: ignore[no-untyped-def]
        sentences = style.sentences_of(text) or [text]
        if operation == "fix_grammar":
            return fix_grammar(text)
        if operation == "shorter":
            if len(sentences) > 1:
                keep = max(1, len(sentences) // 2)
                return " ".join(sentences[:keep])
            tokens = text.split()
            return " ".join(tokens[: max(3, len(tokens) * 2 // 3)]).rstrip(",;:") + "…"
        if operation == "longer":
            terms = set(style.topic_terms(text))
            extra = [s for s in _candidate_sentences(terms, None, material) if s.lower() not in text.lower()]
            return " ".join([*sentences, *extra[:2]]) if extra else text
        if operation == "tone":
            return _retone(text, tone, voice)
        if operation == "platform" and platform:
            return networks.fit(text, platform)
        raise ValidationFailed(details={"operation": f"unknown operation {operation!r}"})


# --------------------------------------------------------------------------- model engine

VARIANTS_SCHEMA = {
    "title": "variants",
    "type": "object",
    "properties": {
        "variants": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"platform": {"type": "string"}, "text": {"type": "string", "minLength": 1}},
                "required": ["platform", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["variants"],
    "additionalProperties": False,
}
REWRITE_SCHEMA = {
    "title": "rewrite",
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}
REWRITE_ASK = {
    "shorter": "Make it noticeably shorter; keep the point and the voice.",
    "longer": "Make it longer with one or two more concrete sentences; invent no facts.",
    "tone": "Rewrite it in a {tone} tone, still in this person's voice.",
    "platform": "Adapt it for {platform} (at most {limit} characters as that network counts).",
    "fix_grammar": "Fix spelling, grammar and punctuation only; change nothing else.",
}


def _system(voice: style.Features) -> str:
    return (
        "You write social media posts in the voice of one person. Match their style card and their "
        "examples; use only facts from the brief, the source and the examples; never mention being an AI.\n"
        f"Style card:\n{style.style_card(voice)}"
    )


def _few_shot(examples: list[style.Piece]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for piece in examples:
        turns.append({"role": "user", "content": f"Write a post about: {piece.title or piece.text[:60]}"})
        turns.append({"role": "assistant", "content": piece.text})
    return turns


class ModelWriter:
    def __init__(self, llm: LanguageModel, user_id: UUID) -> None:
        self.llm = llm
        self.user_id = user_id
        self.name = llm.model[:100]

    async def generate(self, brief, voice, examples, material):  # type: ignore[no-untyped-def]
        limits = ", ".join(f"{p} (max {networks.LIMITS.get(p) or 'no limit'})" for p in brief.platforms)
        ask = (
            f"Brief: {brief.brief}\nTone: {brief.tone}\nLength: {brief.length} (about "
            f"{WORDS_FOR[brief.length]} words before fitting)\nOne variant per platform: {limits}."
        )
        if brief.source_text:
            ask += f"\nSource material:\n{brief.source_text[:8000]}"
        messages = [
            {"role": "system", "content": _system(voice)},
            *_few_shot(examples),
            {"role": "user", "content": ask},
        ]
        answer = await self.llm.complete(
            messages, user_id=self.user_id, app="segmint", json_schema=VARIANTS_SCHEMA, temperature=0.7
        )
        by_platform = {v["platform"].lower(): v["text"] for v in answer.data["variants"]}
        first = answer.data["variants"][0]["text"] if answer.data["variants"] else brief.brief
        return [Variant(platform=p, text=networks.fit(by_platform.get(p, first), p)) for p in brief.platforms]

    async def rewrite(self, text, operation, *, tone, platform, voice, examples, material):  # type: ignore[no-untyped-def]
        ask = REWRITE_ASK[operation].format(
            tone=tone, platform=platform, limit=networks.LIMITS.get(platform or "")
        )
        messages = [
            {"role": "system", "content": _system(voice)},
            *_few_shot(examples),
            {"role": "user", "content": f"{ask}\n\nText:\n{text}"},
        ]
        answer = await self.llm.complete(
            messages, user_id=self.user_id, app="segmint", json_schema=REWRITE_SCHEMA, temperature=0.4
        )
        out = answer.data["text"].strip()
        return networks.fit(out, platform) if platform else out


def writer_for(llm: LanguageModel | None, user_id: UUID) -> Writer:
    return ModelWriter(llm, user_id) if llm is not None else LocalWriter()  # type: ignore[return-value]
