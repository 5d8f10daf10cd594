"""Article validation and versioning rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meridian_knowledge_base.domain.errors import ArticleInvalid
from meridian_knowledge_base.domain.model import ArticleStatus, new_article, validate_content

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def content(**over):  # noqa: ANN003, ANN201
    fields = {"title": "Returns", "body": "How to return an item.", "language": "en", "tags": ["returns"],
              "status": "published"}
    return validate_content(**{**fields, **over})


def test_valid_content_is_normalised() -> None:
    c = content(title="  Returns  ", language="PT-br", tags=[" a ", "A", "b"])
    assert c.title == "Returns"
    assert c.language == "pt-BR"
    assert c.tags == ("a", "b")
    assert c.status is ArticleStatus.PUBLISHED


@pytest.mark.parametrize(("field", "value"), [
    ("title", ""), ("title", "   "), ("title", "x" * 301), ("body", ""), ("body", "x" * 100_001),
    ("language", "not a tag"), ("language", None), ("tags", "returns"), ("tags", [""]), ("tags", ["x" * 65]),
    ("tags", [str(i) for i in range(51)]), ("status", "archived"),
])
def test_invalid_content(field: str, value: object) -> None:
    with pytest.raises(ArticleInvalid) as err:
        content(**{field: value})
    assert err.value.errors[0]["field"] == field


def test_limits_are_inclusive() -> None:
    assert content(title="x" * 300, body="y" * 100_000).title == "x" * 300


def test_revise_bumps_version_only_on_change() -> None:
    article = new_article(uuid.uuid4(), uuid.uuid4(), content(), now=NOW)
    assert article.version == 1
    later = NOW + timedelta(minutes=1)
    same, changed = article.revise({"title": "Returns"}, now=later)
    assert changed == [] and same is article
    v2, changed = article.revise({"body": "New body", "status": "draft"}, now=later)
    assert changed == ["body", "status"]
    assert v2.version == 2 and v2.updated_at == later and v2.created_at == NOW
    assert v2.status is ArticleStatus.DRAFT and v2.title == "Returns"


def test_revise_validates_and_refuses_empty_or_unknown() -> None:
    article = new_article(uuid.uuid4(), uuid.uuid4(), content(), now=NOW)
    with pytest.raises(ArticleInvalid):
        article.revise({}, now=NOW)
    with pytest.raises(ArticleInvalid):
        article.revise({"version": 7}, now=NOW)
    with pytest.raises(ArticleInvalid):
        article.revise({"title": ""}, now=NOW)


def test_language_change_changes_ts_config() -> None:
    article = new_article(uuid.uuid4(), uuid.uuid4(), content(), now=NOW)
    assert article.ts_config == "english"
    v2, _ = article.revise({"language": "ja"}, now=NOW)
    assert v2.ts_config == "simple"
