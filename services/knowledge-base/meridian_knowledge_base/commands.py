"""Knowledge-base commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CreateArticle:
    tenant_id: UUID
    actor: str
    title: str
    body: str
    language: str
    tags: tuple[str, ...]
    status: str


@dataclass(frozen=True, slots=True)
class UpdateArticle:
    tenant_id: UUID
    actor: str
    article_id: UUID
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeleteArticle:
    tenant_id: UUID
    actor: str
    article_id: UUID
