"""Knowledge-base tables (schema ``knowledge_base``)."""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import (
    Column,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REGCONFIG, TSVECTOR, UUID

metadata = service_metadata()

# the current version of each article; ``search_vector`` is generated from it with the article's
# own text search configuration (title weight A, body weight B)
articles = Table(
    "articles",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("language", Text, nullable=False),           # BCP 47
    Column("ts_config", REGCONFIG, nullable=False),     # from the language (domain/language.py)
    Column("tags", ARRAY(Text), nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),   # soft delete: versions are kept
    Column("search_vector", TSVECTOR, Computed(
        "setweight(to_tsvector(ts_config, title), 'A') || setweight(to_tsvector(ts_config, body), 'B')",
        persisted=True), nullable=True),
)
Index("ix_articles_tenant_id_created_at_id", articles.c.tenant_id, articles.c.created_at, articles.c.id)
Index("ix_articles_search_vector", articles.c.search_vector, postgresql_using="gin")
Index("ix_articles_tags", articles.c.tags, postgresql_using="gin")

# every version of every article (the current one included), for history and rollback
article_versions = Table(
    "article_versions",
    metadata,
    Column("article_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False),
    Column("status", Text, nullable=False),
    Column("changed_fields", JSONB, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("article_id", "version"),
    ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
