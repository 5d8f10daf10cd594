"""Domain → proto."""

from __future__ import annotations

from meridian.contracts.knowledge_base import articles_v1_pb2 as articles_v1

from meridian_knowledge_base.domain.model import Article


def article_published(article: Article) -> articles_v1.ArticlePublished:
    msg = articles_v1.ArticlePublished(article_id=str(article.id), title=article.title, language=article.language,
                                       version=article.version)
    msg.published_at.FromDatetime(article.updated_at)
    return msg
