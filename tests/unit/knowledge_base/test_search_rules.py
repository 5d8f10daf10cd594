"""Search query validation and the substring fallback's helpers."""

from __future__ import annotations

import pytest
from meridian_knowledge_base.domain.errors import SearchQueryInvalid
from meridian_knowledge_base.domain.search import (
    excerpt,
    fallback_score,
    fallback_terms,
    like_pattern,
    search_limit,
    validate_query,
)


@pytest.mark.parametrize("q", [None, "", "   ", "x" * 501])
def test_invalid_queries(q: str | None) -> None:
    with pytest.raises(SearchQueryInvalid):
        validate_query(q)


def test_valid_query_is_trimmed() -> None:
    assert validate_query("  refund policy ") == "refund policy"


@pytest.mark.parametrize("limit", [0, 51, -1])
def test_invalid_limits(limit: int) -> None:
    with pytest.raises(SearchQueryInvalid):
        search_limit(limit)


def test_default_limit() -> None:
    assert search_limit(None) == 10


def test_fallback_terms_drop_operators() -> None:
    assert fallback_terms('"退货 政策" or -运费') == ["退货", "政策", "运费"]


def test_like_pattern_escapes_wildcards() -> None:
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_fallback_score_prefers_title() -> None:
    assert fallback_score("退货政策", "正文", ["退货"]) > fallback_score("标题", "退货政策", ["退货"])


def test_excerpt_marks_and_escapes() -> None:
    snippet = excerpt("<b>前言</b>我们的退货政策是三十天", ["退货"])
    assert "<mark>退货</mark>" in snippet
    assert "&lt;b&gt;" in snippet and "<b>" not in snippet
