"""Knowledge-base domain errors."""

from __future__ import annotations

from meridian.errors import NotFound, ValidationFailed


class ArticleNotFound(NotFound):
    type = "article-not-found"
    title = "Article not found"


class ArticleInvalid(ValidationFailed):
    type = "article-invalid"
    title = "Article is invalid"


class SearchQueryInvalid(ValidationFailed):
    type = "search-query-invalid"
    title = "Search query is invalid"
