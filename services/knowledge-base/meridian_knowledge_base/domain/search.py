"""Search rules: query validation, the substring fallback's terms and snippets.

Full-text search runs in PostgreSQL (``websearch_to_tsquery`` on each article's own text search
configuration, ``ts_rank_cd``, ``ts_headline``). For ``simple``-configured languages (CJK, Thai…)
PostgreSQL's parser does not segment words, so when full-text search finds nothing the articles of
those languages are matched by substring (every term must occur in the title or the body).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from uuid import UUID

from meridian_knowledge_base.domain.errors import SearchQueryInvalid

QUERY_MAX = 500
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
SNIPPET_CONTEXT = 60
MARK_START, MARK_END = "<mark>", "</mark>"
TITLE_WEIGHT, BODY_WEIGHT = 1.0, 0.4   # the fallback's score mirrors ts_rank_cd's A/B weights

_SPLIT = re.compile(r"[\s\"'()]+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: UUID
    title: str
    language: str
    snippet: str
    score: float


def validate_query(q: str | None) -> str:
    q = (q or "").strip()
    if not q:
        raise SearchQueryInvalid("q is required", errors=[{"field": "q", "message": "must not be empty"}])
    if len(q) > QUERY_MAX:
        raise SearchQueryInvalid(f"q is at most {QUERY_MAX} characters",
                                 errors=[{"field": "q", "message": f"at most {QUERY_MAX} characters"}])
    return q


def search_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise SearchQueryInvalid(f"limit must be between 1 and {MAX_LIMIT}",
                                 errors=[{"field": "limit", "message": f"must be 1..{MAX_LIMIT}"}])
    return limit


def fallback_terms(q: str) -> list[str]:
    """Terms for the substring fallback: words of the query without websearch operators."""
    terms = []
    for word in _SPLIT.split(q):
        word = word.lstrip("-")
        if word and word.lower() != "or" and word not in terms:
            terms.append(word)
    return terms[:10]


def like_pattern(term: str) -> str:
    """``%term%`` for ILIKE with ``\\``, ``%`` and ``_`` escaped (default escape character)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fallback_score(title: str, body: str, terms: list[str]) -> float:
    t, b = title.casefold(), body.casefold()
    score = sum(TITLE_WEIGHT * (term.casefold() in t) + BODY_WEIGHT * (term.casefold() in b) for term in terms)
    return round(score / max(len(terms), 1), 6)


def excerpt(body: str, terms: list[str], context: int = SNIPPET_CONTEXT) -> str:
    """An HTML-escaped excerpt of ``body`` around the first term, terms wrapped in <mark>
    (the same shape as ts_headline's snippets)."""
    folded = body.casefold()
    positions = [(folded.find(t.casefold()), t) for t in terms if folded.find(t.casefold()) >= 0]
    if not positions:
        start, end = 0, min(len(body), 2 * context)
    else:
        first = min(p for p, _ in positions)
        start, end = max(0, first - context), min(len(body), first + context)
    piece = body[start:end]
    out, i = [], 0
    pf = piece.casefold()
    while i < len(piece):
        match = next((t for t in terms if t and pf.startswith(t.casefold(), i)), None)
        if match:
            out.append(MARK_START + html.escape(piece[i:i + len(match)]) + MARK_END)
            i += len(match)
        else:
            out.append(html.escape(piece[i]))
            i += 1
    text = "".join(out)
    return ("… " if start > 0 else "") + text + (" …" if end < len(body) else "")
