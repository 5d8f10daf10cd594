"""Every query of knowledge-base; every method takes ``tenant_id``."""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import Any
from uuid import UUID

from sqlalchemy import Float, and_, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import REGCONFIG, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_knowledge_base.domain import search as rules
from meridian_knowledge_base.domain.language import ALL_TS_CONFIGS, SIMPLE, ts_config_for
from meridian_knowledge_base.domain.model import Article, ArticleStatus
from meridian_knowledge_base.tables import article_versions, articles

# ts_headline options; the body is HTML-escaped first, so the snippet is safe HTML with <mark>s
HEADLINE = ('StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=12, ShortWord=2, '
            'MaxFragments=2, FragmentDelimiter=" … "')

_COLUMNS = [articles.c.id, articles.c.tenant_id, articles.c.title, articles.c.body, articles.c.language,
            articles.c.tags, articles.c.status, articles.c.version, articles.c.created_at, articles.c.updated_at]


def _article(row: Any) -> Article:
    return Article(id=row.id, tenant_id=row.tenant_id, title=row.title, body=row.body, language=row.language,
                   tags=tuple(row.tags), status=ArticleStatus(row.status), version=row.version,
                   created_at=row.created_at, updated_at=row.updated_at)


def _language_filter(language: str | None) -> Any:
    """``pt`` matches ``pt`` and ``pt-BR``; ``pt-BR`` matches only itself."""
    if not language:
        return True
    return or_(func.lower(articles.c.language) == language.lower(),
               func.lower(articles.c.language).like(language.lower().replace("%", "").replace("_", "") + "-%"))


def _regconfig(name: str) -> Any:
    return cast(literal(name), REGCONFIG)


def _escaped_body() -> Any:
    return func.replace(func.replace(func.replace(articles.c.body, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")


class ArticleRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, article: Article) -> None:
        await self.conn.execute(insert(articles).values(
            id=article.id, tenant_id=article.tenant_id, title=article.title, body=article.body,
            language=article.language, ts_config=_regconfig(article.ts_config), tags=list(article.tags),
            status=article.status.value, version=article.version, created_at=article.created_at,
            updated_at=article.updated_at))

    async def add_version(self, article: Article, *, changed_fields: list[str], actor_id: str) -> None:
        await self.conn.execute(insert(article_versions).values(
            article_id=article.id, version=article.version, tenant_id=article.tenant_id, title=article.title,
            body=article.body, language=article.language, tags=list(article.tags), status=article.status.value,
            changed_fields=changed_fields, actor_id=actor_id, created_at=article.updated_at))

    async def get(self, tenant_id: UUID, article_id: UUID, *, for_update: bool = False) -> Article | None:
        query = select(*_COLUMNS).where(articles.c.tenant_id == tenant_id, articles.c.id == article_id,
                                        articles.c.deleted_at.is_(None))
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _article(row) if row else None

    async def save(self, article: Article) -> None:
        await self.conn.execute(update(articles).where(
            articles.c.tenant_id == article.tenant_id, articles.c.id == article.id).values(
            title=article.title, body=article.body, language=article.language,
            ts_config=_regconfig(article.ts_config), tags=list(article.tags), status=article.status.value,
            version=article.version, updated_at=article.updated_at))

    async def soft_delete(self, tenant_id: UUID, article_id: UUID, now: datetime) -> bool:
        result = await self.conn.execute(update(articles).where(
            articles.c.tenant_id == tenant_id, articles.c.id == article_id, articles.c.deleted_at.is_(None))
            .values(deleted_at=now))
        return result.rowcount == 1

    async def list(self, tenant_id: UUID, *, language: str | None, tag: str | None, status: str | None,
                   after: tuple[datetime, UUID] | None, limit: int) -> list[Article]:
        query = select(*_COLUMNS).where(articles.c.tenant_id == tenant_id, articles.c.deleted_at.is_(None),
                                        _language_filter(language))
        if tag:
            query = query.where(articles.c.tags.contains([tag]))   # @> uses the GIN index
        if status:
            query = query.where(articles.c.status == status)
        if after is not None:
            created, item = after
            query = query.where(or_(articles.c.created_at > created,
                                    and_(articles.c.created_at == created, articles.c.id > item)))
        rows = (await self.conn.execute(query.order_by(articles.c.created_at, articles.c.id).limit(limit))).all()
        return [_article(r) for r in rows]

    async def search(self, tenant_id: UUID, q: str, *, language: str | None, status: str, limit: int
                     ) -> list[rules.SearchHit]:
        """Full-text search. The GIN index narrows candidates with the query parsed in every
        configuration that can apply; each row is then matched and ranked with its own one."""
        configs = [ts_config_for(language)] if language else list(ALL_TS_CONFIGS)
        any_query = reduce(lambda a, b: a.op("||")(b),
                           [func.websearch_to_tsquery(_regconfig(c), q) for c in configs])
        own_query = func.websearch_to_tsquery(articles.c.ts_config, q)
        rank = func.ts_rank_cd(articles.c.search_vector, own_query, 1)   # 1: normalise by document length
        snippet = func.ts_headline(articles.c.ts_config, _escaped_body(), own_query, HEADLINE)
        query = (select(articles.c.id, articles.c.title, articles.c.language, snippet.label("snippet"),
                        cast(rank, Float).label("score"))
                 .where(articles.c.tenant_id == tenant_id, articles.c.deleted_at.is_(None),
                        articles.c.status == status, _language_filter(language),
                        articles.c.search_vector.op("@@")(any_query),
                        articles.c.search_vector.op("@@")(own_query))
                 .order_by(rank.desc(), articles.c.updated_at.desc(), articles.c.id).limit(limit))
        rows = (await self.conn.execute(query)).all()
        return [rules.SearchHit(id=r.id, title=r.title, language=r.language, snippet=r.snippet,
                                score=round(float(r.score), 6)) for r in rows]

    async def search_substring(self, tenant_id: UUID, terms: list[str], *, language: str | None, status: str,
                               limit: int) -> list[rules.SearchHit]:
        """Fallback for ``simple``-configured languages (CJK, Thai…): every term occurs in the title
        or the body (ILIKE; pg_trgm is not required)."""
        if not terms:
            return []
        conditions = [or_(articles.c.title.ilike(rules.like_pattern(t)), articles.c.body.ilike(rules.like_pattern(t)))
                      for t in terms]
        query = (select(articles.c.id, articles.c.title, articles.c.body, articles.c.language)
                 .where(articles.c.tenant_id == tenant_id, articles.c.deleted_at.is_(None),
                        articles.c.status == status, _language_filter(language),
                        articles.c.ts_config == _regconfig(SIMPLE), *conditions)
                 .order_by(articles.c.updated_at.desc(), articles.c.id).limit(500))
        rows = (await self.conn.execute(query)).all()
        hits = [rules.SearchHit(id=r.id, title=r.title, language=r.language, snippet=rules.excerpt(r.body, terms),
                                score=rules.fallback_score(r.title, r.body, terms)) for r in rows]
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]
