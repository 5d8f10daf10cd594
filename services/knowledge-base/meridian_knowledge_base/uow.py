"""KnowledgeBaseUow: the article repository on one transaction."""

from __future__ import annotations

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_knowledge_base.repository import ArticleRepository


class KnowledgeBaseUow(SqlUnitOfWork):
    articles: ArticleRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.articles = ArticleRepository(conn)
