"""/api/v1/kb/articles and /api/v1/kb/search."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Response
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_knowledge_base.api.schemas import (
    ArticleCreate,
    ArticleList,
    ArticleRead,
    ArticleUpdate,
    SearchHitRead,
    SearchResults,
)
from meridian_knowledge_base.commands import CreateArticle, DeleteArticle, UpdateArticle
from meridian_knowledge_base.domain.errors import ArticleInvalid
from meridian_knowledge_base.domain.model import Article
from meridian_knowledge_base.handlers import (
    create_article,
    delete_article,
    get_article,
    list_articles,
    search_articles,
    update_article,
)

router = APIRouter(prefix="/kb", tags=["knowledge-base"])


def read(article: Article) -> ArticleRead:
    return ArticleRead(id=article.id, title=article.title, body=article.body, language=article.language,
                       tags=list(article.tags), status=article.status.value, version=article.version,
                       created_at=article.created_at, updated_at=article.updated_at)


@router.post("/articles", status_code=201, response_model=ArticleRead)
async def create(body: ArticleCreate, tenant: TenantDep, svc: ServiceDep) -> ArticleRead:
    article = await svc.execute(create_article, CreateArticle(
        tenant.id, tenant.actor, body.title, body.body, body.language, tuple(body.tags), body.status))
    return read(article)


@router.get("/articles", response_model=ArticleList)
async def list_(tenant: TenantDep, svc: ServiceDep, language: str | None = None, tag: str | None = None,
                status: str | None = None, cursor: str | None = None, limit: int | None = Query(None)
                ) -> ArticleList:
    result = await svc.read(list_articles, tenant.id, language=language, tag=tag, status=status, cursor=cursor,
                            limit=limit)
    return ArticleList(items=[read(a) for a in result["items"]], next_cursor=result["next_cursor"])


@router.get("/articles/{article_id}", response_model=ArticleRead)
async def get(article_id: UUID, tenant: TenantDep, svc: ServiceDep) -> ArticleRead:
    return read(await svc.read(get_article, tenant.id, article_id))


@router.patch("/articles/{article_id}", response_model=ArticleRead)
async def patch(article_id: UUID, body: ArticleUpdate, tenant: TenantDep, svc: ServiceDep) -> ArticleRead:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise ArticleInvalid(f"{', '.join(sorted(nulls))} cannot be null",
                             errors=[{"field": n, "message": "cannot be null"} for n in sorted(nulls)])
    if "tags" in changes:
        changes["tags"] = tuple(changes["tags"])
    article = await svc.execute(update_article, UpdateArticle(tenant.id, tenant.actor, article_id, changes))
    return read(article)


@router.delete("/articles/{article_id}", status_code=204)
async def delete(article_id: UUID, tenant: TenantDep, svc: ServiceDep) -> Response:
    await svc.execute(delete_article, DeleteArticle(tenant.id, tenant.actor, article_id))
    return Response(status_code=204)


@router.get("/search", response_model=SearchResults)
async def search(tenant: TenantDep, svc: ServiceDep, q: str | None = None, language: str | None = None,
                 status: str | None = None, limit: int | None = Query(None)) -> SearchResults:
    hits = await svc.read(search_articles, tenant.id, q=q, language=language, status=status, limit=limit)
    return SearchResults(items=[SearchHitRead(id=h.id, title=h.title, language=h.language, snippet=h.snippet,
                                              score=h.score) for h in hits])
