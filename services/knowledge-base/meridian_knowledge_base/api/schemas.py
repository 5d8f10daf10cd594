"""Public request/response schemas of /api/v1/kb."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from meridian_knowledge_base.domain.model import BODY_MAX, TITLE_MAX


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    language: str = Field("en", min_length=2, max_length=35, description="BCP 47 tag")
    tags: list[str] = Field(default_factory=list)
    status: Literal["draft", "published"] = "published"


class ArticleUpdate(BaseModel):
    """Any of the fields; an explicit null is refused."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX)
    body: str | None = Field(None, min_length=1, max_length=BODY_MAX)
    language: str | None = Field(None, min_length=2, max_length=35)
    tags: list[str] | None = None
    status: Literal["draft", "published"] | None = None


class ArticleRead(BaseModel):
    id: UUID
    title: str
    body: str
    language: str
    tags: list[str]
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ArticleList(BaseModel):
    items: list[ArticleRead]
    next_cursor: str | None


class SearchHitRead(BaseModel):
    id: UUID
    title: str
    language: str
    snippet: str = Field(description="HTML-escaped excerpt of the body, matches wrapped in <mark>")
    score: float


class SearchResults(BaseModel):
    items: list[SearchHitRead]
