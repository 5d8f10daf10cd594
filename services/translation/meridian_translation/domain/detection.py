"""Language detection rules: which languages, when a result is trusted, how it is named.

The detector (``meridian_translation.detector``) only ranks languages; these rules turn its ranking
into a decision: ISO 639-1 lowercase codes, ``"und"`` when unsure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

UNDETERMINED = "und"

# common cross-border e-commerce languages (all supported by lingua)
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "fr", "de", "it", "nl", "zh", "ja", "ko", "th", "vi", "id",
                                      "ms", "ar", "ru", "tr", "pl")
DEFAULT_MIN_CONFIDENCE = 0.5
DEFAULT_MIN_LETTERS = 3
CANDIDATES = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    language: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Detection:
    language: str
    confidence: float
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    @property
    def determined(self) -> bool:
        return self.language != UNDETERMINED


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    min_letters: int = DEFAULT_MIN_LETTERS
    max_chars: int = 1000  # only the start of a long message is looked at (CPU bound)


def iso639_1(code_name: str) -> str:
    """The detector's ISO 639-1 enum name (``"EN"``) → the code we publish (``"en"``)."""
    return code_name.strip().lower()


def parse_languages(raw: str | Iterable[str]) -> tuple[str, ...]:
    """``"en, es,PT"`` or a list → ``("en", "es", "pt")`` (lowercase, deduplicated, order kept)."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    seen: dict[str, None] = {}
    for item in items:
        code = item.strip().lower()
        if code:
            if len(code) != 2 or not code.isalpha():
                raise ValueError(f"{item!r} is not an ISO 639-1 code")
            seen.setdefault(code, None)
    if len(seen) < 2:
        raise ValueError("at least two languages are needed to tell them apart")
    return tuple(seen)


def letter_count(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def sample(text: str, policy: DetectionPolicy) -> str | None:
    """The part of ``text`` worth detecting, or None when it is too short or has no letters
    (emoji, numbers, punctuation only) to say anything."""
    head = text.strip()[: policy.max_chars]
    if letter_count(head) < policy.min_letters:
        return None
    return head


def undetermined() -> Detection:
    return Detection(UNDETERMINED, 0.0, ())


def decide(ranking: Sequence[tuple[str, float]], policy: DetectionPolicy) -> Detection:
    """``ranking``: (ISO 639-1 code, confidence) best first. The best one is the answer when its
    confidence reaches the threshold; otherwise ``"und"`` (its confidence kept for analytics)."""
    ordered = sorted(((iso639_1(c), float(v)) for c, v in ranking), key=lambda cv: cv[1], reverse=True)
    top = tuple(Candidate(c, round(v, 4)) for c, v in ordered[:CANDIDATES])
    if not ordered:
        return undetermined()
    best, confidence = ordered[0]
    if confidence < policy.min_confidence:
        return Detection(UNDETERMINED, round(confidence, 4), top)
    return Detection(best, round(confidence, 4), top)
