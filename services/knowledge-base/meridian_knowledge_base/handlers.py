"""Knowledge-base use cases and queries (no commits here: the runner commits)."""

from __future__ import annotations

from uuid import UUID

from meridian.http.pagination import clamp_limit, decode_cursor, page
from meridian.ids import uuid7

from meridian_knowledge_base import contracts
from meridian_knowledge_base.commands import CreateArticle, DeleteArticle, UpdateArticle
from meridian_knowledge_base.domain import search as rules
from meridian_knowledge_base.domain.errors import ArticleInvalid, ArticleNotFound
from meridian_knowledge_base.domain.language import SIMPLE, InvalidLanguage, normalize_language, ts_config_for
from meridian_knowledge_base.domain.model import Article, ArticleStatus, new_article, validate_content
from meridian_knowledge_base.uow import KnowledgeBaseUow


def _actor(actor: str) -> tuple[str, str]:
    return ("user", actor) if actor else ("system", "")


def _published(article: Article, uow: KnowledgeBaseUow) -> None:
    uow.emit(contracts.article_published(article), key=str(article.id), tenant_id=article.tenant_id)


async def create_article(cmd: CreateArticle, uow: KnowledgeBaseUow) -> Article:
    content = validate_content(title=cmd.title, body=cmd.body, language=cmd.language, tags=cmd.tags,
                               status=cmd.status)
    article = new_article(uuid7(), cmd.tenant_id, content, now=uow.clock.now())
    await uow.articles.add(article)
    await uow.articles.add_version(article, changed_fields=[], actor_id=cmd.actor)
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="article.created", resource_type="article", resource_id=article.id,
              actor_type=actor_type, actor_id=actor_id,
              details={"version": "1", "language": article.language, "status": article.status.value})
    if article.published:
        _published(article, uow)
    return article


async def update_article(cmd: UpdateArticle, uow: KnowledgeBaseUow) -> Article:
    current = await uow.articles.get(cmd.tenant_id, cmd.article_id, for_update=True)
    if current is None:
        raise ArticleNotFound(f"article {cmd.article_id} not found")
    article, changed = current.revise(cmd.changes, now=uow.clock.now())
    if not changed:
        return current
    await uow.articles.save(article)
    await uow.articles.add_version(article, changed_fields=changed, actor_id=cmd.actor)
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="article.updated", resource_type="article", resource_id=article.id,
              actor_type=actor_type, actor_id=actor_id,
              details={"version": str(article.version), "changed_fields": ",".join(changed),
                       "status": article.status.value})
    if article.published:   # a new published version (or a draft being published)
        _published(article, uow)
    return article


async def delete_article(cmd: DeleteArticle, uow: KnowledgeBaseUow) -> None:
    if not await uow.articles.soft_delete(cmd.tenant_id, cmd.article_id, uow.clock.now()):
        raise ArticleNotFound(f"article {cmd.article_id} not found")
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="article.deleted", resource_type="article", resource_id=cmd.article_id,
              actor_type=actor_type, actor_id=actor_id)


async def get_article(uow: KnowledgeBaseUow, tenant_id: UUID, article_id: UUID) -> Article:
    article = await uow.articles.get(tenant_id, article_id)
    if article is None:
        raise ArticleNotFound(f"article {article_id} not found")
    return article


def _language_param(language: str | None) -> str | None:
    if not language:
        return None
    try:
        return normalize_language(language)
    except InvalidLanguage as exc:
        raise ArticleInvalid(str(exc), errors=[{"field": "language", "message": str(exc)}]) from None


def _status_param(status: str | None) -> str | None:
    if not status:
        return None
    try:
        return ArticleStatus(status).value
    except ValueError:
        raise ArticleInvalid("status must be 'draft' or 'published'",
                             errors=[{"field": "status", "message": "must be 'draft' or 'published'"}]) from None


async def list_articles(uow: KnowledgeBaseUow, tenant_id: UUID, *, language: str | None, tag: str | None,
                        status: str | None, cursor: str | None, limit: int | None) -> dict:
    n = clamp_limit(limit)
    items = await uow.articles.list(tenant_id, language=_language_param(language), tag=tag or None,
                                    status=_status_param(status), after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda a: (a.created_at, a.id))


async def search_articles(uow: KnowledgeBaseUow, tenant_id: UUID, *, q: str | None, language: str | None,
                          status: str | None, limit: int | None) -> list[rules.SearchHit]:
    """Published articles only unless ``status`` is given."""
    query = rules.validate_query(q)
    n = rules.search_limit(limit)
    lang = _language_param(language)
    st = _status_param(status) or ArticleStatus.PUBLISHED.value
    hits = await uow.articles.search(tenant_id, query, language=lang, status=st, limit=n)
    if not hits and (lang is None or ts_config_for(lang) == SIMPLE):
        hits = await uow.articles.search_substring(tenant_id, rules.fallback_terms(query), language=lang,
                                                   status=st, limit=n)
    return hits
