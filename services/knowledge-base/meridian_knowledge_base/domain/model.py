"""Articles: multilingual and versioned. Each change of content makes a new version; the
previous ones stay in ``article_versions``."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from meridian_knowledge_base.domain.errors import ArticleInvalid
from meridian_knowledge_base.domain.language import InvalidLanguage, normalize_language, ts_config_for

TITLE_MAX = 300
BODY_MAX = 100_000
TAG_MAX = 64
TAGS_MAX = 50
EDITABLE = ("title", "body", "language", "tags", "status")


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


@dataclass(frozen=True, slots=True)
class ArticleContent:
    title: str
    body: str
    language: str
    tags: tuple[str, ...]
    status: ArticleStatus


@dataclass(frozen=True, slots=True)
class Article:
    id: UUID
    tenant_id: UUID
    title: str
    body: str
    language: str
    tags: tuple[str, ...]
    status: ArticleStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def ts_config(self) -> str:
        return ts_config_for(self.language)

    @property
    def published(self) -> bool:
        return self.status is ArticleStatus.PUBLISHED

    def revise(self, changes: Mapping[str, Any], *, now: datetime) -> tuple[Article, list[str]]:
        """Apply ``changes`` (any of the editable fields); returns the new version and the names of
        the fields that really changed (empty: nothing changed, the version stays)."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ArticleInvalid(f"fields cannot be changed: {', '.join(sorted(unknown))}")
        if not changes:
            raise ArticleInvalid("no field to change", errors=[{"field": "body", "message": "empty patch"}])
        current = ArticleContent(self.title, self.body, self.language, self.tags, self.status)
        merged = {**{f: getattr(current, f) for f in EDITABLE}, **changes}
        new = validate_content(**merged)
        changed = [f for f in EDITABLE if getattr(new, f) != getattr(current, f)]
        if not changed:
            return self, []
        return replace(self, title=new.title, body=new.body, language=new.language, tags=new.tags,
                       status=new.status, version=self.version + 1, updated_at=now), changed


def _error(field: str, message: str) -> ArticleInvalid:
    return ArticleInvalid(f"{field}: {message}", errors=[{"field": field, "message": message}])


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Trimmed, non-empty, unique (case-insensitively, first spelling kept), at most TAGS_MAX."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise _error("tags", "tags must be strings")
        tag = raw.strip()
        if not tag:
            raise _error("tags", "a tag cannot be empty")
        if len(tag) > TAG_MAX:
            raise _error("tags", f"a tag is at most {TAG_MAX} characters")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    if len(out) > TAGS_MAX:
        raise _error("tags", f"at most {TAGS_MAX} tags")
    return tuple(out)


def validate_content(*, title: Any, body: Any, language: Any, tags: Any, status: Any) -> ArticleContent:
    if not isinstance(title, str) or not title.strip():
        raise _error("title", "title is required")
    if len(title) > TITLE_MAX:
        raise _error("title", f"title is at most {TITLE_MAX} characters")
    if not isinstance(body, str) or not body.strip():
        raise _error("body", "body is required")
    if len(body) > BODY_MAX:
        raise _error("body", f"body is at most {BODY_MAX} characters")
    if not isinstance(language, str):
        raise _error("language", "language is required")
    try:
        lang = normalize_language(language)
    except InvalidLanguage as exc:
        raise _error("language", str(exc)) from None
    if tags is None or isinstance(tags, str):
        raise _error("tags", "tags must be a list of strings")
    try:
        st = ArticleStatus(status)
    except ValueError:
        raise _error("status", "status must be 'draft' or 'published'") from None
    return ArticleContent(title=title.strip(), body=body, language=lang, tags=normalize_tags(tags), status=st)


def new_article(article_id: UUID, tenant_id: UUID, content: ArticleContent, *, now: datetime) -> Article:
    return Article(id=article_id, tenant_id=tenant_id, title=content.title, body=content.body,
                   language=content.language, tags=content.tags, status=content.status, version=1,
                   created_at=now, updated_at=now)
