"""Knowledge-base articles and search on a real PostgreSQL schema with the in-memory bus."""

from __future__ import annotations

import uuid
from typing import Any

from meridian.contracts.knowledge_base import articles_v1_pb2 as articles_v1
from sqlalchemy import text

AUDIT = "knowledge_base.audit.v1"
ARTICLES = "knowledge_base.articles.v1"


async def create(kb, tenant: uuid.UUID, **over: Any) -> dict:  # noqa: ANN001
    body = {"title": "Shipping times", "body": "Orders ship within two business days.", **over}
    r = await kb.client.post("/api/v1/kb/articles", json=body, headers=kb.headers(tenant))
    assert r.status_code == 201, r.text
    return r.json()


async def search(kb, tenant: uuid.UUID, **params: Any) -> list[dict]:  # noqa: ANN001
    r = await kb.client.get("/api/v1/kb/search", params=params, headers=kb.headers(tenant))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_create_get_and_events(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    a = await create(kb, tenant, language="pt-br", tags=["shipping", "Shipping", "sla"])
    assert a["version"] == 1 and a["status"] == "published" and a["language"] == "pt-BR"
    assert a["tags"] == ["shipping", "sla"]
    assert {"id", "title", "body", "language", "tags", "status", "version", "created_at", "updated_at"} <= set(a)
    r = await kb.client.get(f"/api/v1/kb/articles/{a['id']}", headers=kb.headers(tenant))
    assert r.status_code == 200 and r.json() == a
    await kb.drained()
    published = kb.events(ARTICLES)
    assert len(published) == 1
    meta, msg = published[0]
    assert isinstance(msg, articles_v1.ArticlePublished)
    assert msg.article_id == a["id"] and msg.version == 1 and msg.language == "pt-BR"
    assert meta.partition_key == a["id"] and meta.tenant_id == str(tenant)
    audits = [m for _, m in kb.events(AUDIT)]
    assert [m.action for m in audits] == ["article.created"]
    assert audits[0].service == "knowledge-base" and audits[0].resource_id == a["id"]


async def test_draft_is_not_published_until_patched(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    a = await create(kb, tenant, status="draft", title="Warranty draft", body="Warranty covers two years.")
    await kb.drained()
    assert kb.events(ARTICLES) == []
    assert await search(kb, tenant, q="warranty") == []
    assert [h["id"] for h in await search(kb, tenant, q="warranty", status="draft")] == [a["id"]]
    r = await kb.client.patch(f"/api/v1/kb/articles/{a['id']}", json={"status": "published"},
                              headers=kb.headers(tenant, **{"X-Meridian-Actor": "agent-7"}))
    assert r.status_code == 200 and r.json()["version"] == 2
    await kb.drained()
    assert [m.version for _, m in kb.events(ARTICLES)] == [2]
    audit = [m for _, m in kb.events(AUDIT)][-1]
    assert audit.action == "article.updated" and audit.actor_type == "user" and audit.actor_id == "agent-7"
    assert audit.details["changed_fields"] == "status"


async def test_patch_bumps_version_and_keeps_history(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    a = await create(kb, tenant)
    path = f"/api/v1/kb/articles/{a['id']}"
    r = await kb.client.patch(path, json={"title": "Delivery times", "tags": ["delivery"]}, headers=kb.headers(tenant))
    assert r.status_code == 200
    v2 = r.json()
    assert v2["version"] == 2 and v2["title"] == "Delivery times" and v2["body"] == a["body"]
    assert v2["created_at"] == a["created_at"]
    # no real change: same version
    r = await kb.client.patch(path, json={"title": "Delivery times"}, headers=kb.headers(tenant))
    assert r.json()["version"] == 2
    r = await kb.client.patch(path, json={"body": "Orders leave the warehouse in one day."}, headers=kb.headers(tenant))
    assert r.json()["version"] == 3
    async with kb.kit.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT version, title, body FROM knowledge_base.article_versions WHERE article_id = :id ORDER BY version"),
            {"id": a["id"]})).all()
    assert [(r.version, r.title) for r in rows] == [(1, "Shipping times"), (2, "Delivery times"), (3, "Delivery times")]
    assert rows[0].body == a["body"]
    # the search index follows the current version
    assert await search(kb, tenant, q="shipping") == []
    assert [h["id"] for h in await search(kb, tenant, q="delivery")] == [a["id"]]


async def test_bad_input_is_400(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    h = kb.headers(tenant)
    for body in ({"title": "", "body": "x"}, {"title": "t"}, {"title": "x" * 301, "body": "b"},
                 {"title": "t", "body": "b", "language": "not a language"}, {"title": "t", "body": "b", "status": "x"},
                 {"title": "t", "body": "b", "tags": "one"}):
        r = await kb.client.post("/api/v1/kb/articles", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await kb.client.post("/api/v1/kb/articles", content=b"{not json",
                             headers={**h, "content-type": "application/json"})
    assert r.status_code == 400
    a = await create(kb, tenant)
    for patch in ({}, {"title": None}, {"title": ""}, {"version": 5}, {"language": "??"}):
        r = await kb.client.patch(f"/api/v1/kb/articles/{a['id']}", json=patch, headers=h)
        assert r.status_code == 400, (patch, r.text)
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x", "limit": 0}, {"q": "x", "language": "!!"}):
        r = await kb.client.get("/api/v1/kb/search", params=params, headers=h)
        assert r.status_code == 400, (params, r.text)
    assert (await kb.client.get("/api/v1/kb/articles", params={"cursor": "garbage"}, headers=h)).status_code == 400
    assert (await kb.client.get("/api/v1/kb/articles", params={"limit": 500}, headers=h)).status_code == 400
    assert (await kb.client.get("/api/v1/kb/articles")).status_code == 401
    missing = uuid.uuid4()
    assert (await kb.client.get(f"/api/v1/kb/articles/{missing}", headers=h)).status_code == 404
    assert (await kb.client.patch(f"/api/v1/kb/articles/{missing}", json={"title": "x"}, headers=h)).status_code == 404
    assert (await kb.client.delete(f"/api/v1/kb/articles/{missing}", headers=h)).status_code == 404
    assert (await kb.client.get("/api/v1/kb/articles/not-a-uuid", headers=h)).status_code == 400


async def test_delete_hides_everywhere(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    a = await create(kb, tenant, title="Customs duties", body="Duties are paid by the buyer.")
    h = kb.headers(tenant)
    assert len(await search(kb, tenant, q="customs")) == 1
    assert (await kb.client.delete(f"/api/v1/kb/articles/{a['id']}", headers=h)).status_code == 204
    assert (await kb.client.get(f"/api/v1/kb/articles/{a['id']}", headers=h)).status_code == 404
    assert (await kb.client.patch(f"/api/v1/kb/articles/{a['id']}", json={"title": "x"}, headers=h)).status_code == 404
    assert (await kb.client.delete(f"/api/v1/kb/articles/{a['id']}", headers=h)).status_code == 404
    assert await search(kb, tenant, q="customs") == []
    assert (await kb.client.get("/api/v1/kb/articles", headers=h)).json()["items"] == []
    await kb.drained()
    assert [m.action for _, m in kb.events(AUDIT)] == ["article.created", "article.deleted"]


async def test_list_filters_and_pagination(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    h = kb.headers(tenant)
    en = await create(kb, tenant, title="A", tags=["billing"])
    pt = await create(kb, tenant, title="B", language="pt-BR", tags=["billing"])
    draft = await create(kb, tenant, title="C", status="draft", tags=["returns"])

    async def ids(**params: Any) -> list[str]:
        r = await kb.client.get("/api/v1/kb/articles", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert await ids() == [en["id"], pt["id"], draft["id"]]
    assert await ids(language="pt") == [pt["id"]]
    assert await ids(language="pt-BR") == [pt["id"]]
    assert await ids(language="en") == [en["id"], draft["id"]]
    assert await ids(tag="billing") == [en["id"], pt["id"]]
    assert await ids(status="draft") == [draft["id"]]
    first = (await kb.client.get("/api/v1/kb/articles", params={"limit": 2}, headers=h)).json()
    assert [i["id"] for i in first["items"]] == [en["id"], pt["id"]] and first["next_cursor"]
    second = (await kb.client.get("/api/v1/kb/articles", params={"limit": 2, "cursor": first["next_cursor"]},
                                  headers=h)).json()
    assert [i["id"] for i in second["items"]] == [draft["id"]] and second["next_cursor"] is None


async def test_search_ranks_title_over_body(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    in_body = await create(kb, tenant, title="Payment options",
                           body="You can ask for a refund of a card payment within thirty days.")
    in_title = await create(kb, tenant, title="Refund policy", body="Money back within thirty days of delivery.")
    await create(kb, tenant, title="Unrelated", body="Nothing to see here.")
    hits = await search(kb, tenant, q="refunds")   # stemmed: refunds ~ refund
    assert [h["id"] for h in hits] == [in_title["id"], in_body["id"]]
    assert hits[0]["score"] > hits[1]["score"] > 0
    assert "<mark>refund</mark>" in hits[1]["snippet"].lower()
    assert set(hits[0]) == {"id", "title", "language", "snippet", "score"}
    # websearch syntax: exclusion and phrases
    assert [h["id"] for h in await search(kb, tenant, q="refund -card")] == [in_title["id"]]
    assert [h["id"] for h in await search(kb, tenant, q='"card payment"')] == [in_body["id"]]
    assert len(await search(kb, tenant, q="refund", limit=1)) == 1


async def test_search_language_configs_and_filter(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    es = await create(kb, tenant, language="es", title="Devoluciones", body="Aceptamos devoluciones de productos.")
    de = await create(kb, tenant, language="de", title="Rückgabe", body="Wir akzeptieren Rücksendungen von Produkten.")
    en = await create(kb, tenant, language="en", title="Returns", body="We accept returned products.")
    # Spanish stemming: "devolución" / "productos" in Spanish config
    assert [h["id"] for h in await search(kb, tenant, q="producto", language="es")] == [es["id"]]
    assert [h["id"] for h in await search(kb, tenant, q="Produkt", language="de")] == [de["id"]]
    assert [h["id"] for h in await search(kb, tenant, q="return", language="en")] == [en["id"]]
    # without a language filter each article is matched with its own configuration
    assert {h["id"] for h in await search(kb, tenant, q="returning")} == {en["id"]}
    assert [h["language"] for h in await search(kb, tenant, q="devoluciones")] == ["es"]
    assert await search(kb, tenant, q="devoluciones", language="de") == []


async def test_search_cjk_falls_back_to_substring(kb) -> None:  # noqa: ANN001
    await kb.reset()
    tenant = uuid.uuid4()
    zh = await create(kb, tenant, language="zh", title="退货政策", body="我们接受三十天内的退货申请，运费由买家承担。")
    ja = await create(kb, tenant, language="ja", title="配送について", body="ご注文は二営業日以内に発送されます。")
    await create(kb, tenant, language="en", title="Returns", body="Returns within thirty days.")
    hits = await search(kb, tenant, q="退货")
    assert [h["id"] for h in hits] == [zh["id"]]
    assert "<mark>退货</mark>" in hits[0]["snippet"]
    assert [h["id"] for h in await search(kb, tenant, q="運費 OR 発送", language="ja")] == []  # all terms required
    assert [h["id"] for h in await search(kb, tenant, q="発送")] == [ja["id"]]
    assert [h["id"] for h in await search(kb, tenant, q="运费 买家", language="zh")] == [zh["id"]]
    assert await search(kb, tenant, q="退货", language="ja") == []
    assert await search(kb, tenant, q="100%_") == []   # wildcards are literal


async def test_tenant_isolation(kb) -> None:  # noqa: ANN001
    await kb.reset()
    mine, other = uuid.uuid4(), uuid.uuid4()
    a = await create(kb, mine, title="Gift cards", body="Gift cards never expire.")
    ho = kb.headers(other)
    assert (await kb.client.get(f"/api/v1/kb/articles/{a['id']}", headers=ho)).status_code == 404
    assert (await kb.client.patch(f"/api/v1/kb/articles/{a['id']}", json={"title": "x"}, headers=ho)).status_code == 404
    assert (await kb.client.delete(f"/api/v1/kb/articles/{a['id']}", headers=ho)).status_code == 404
    assert (await kb.client.get("/api/v1/kb/articles", headers=ho)).json()["items"] == []
    assert await search(kb, other, q="gift") == []
    assert len(await search(kb, mine, q="gift")) == 1
    r = await kb.client.get(f"/api/v1/kb/articles/{a['id']}", headers=kb.headers(mine))
    assert r.json()["title"] == "Gift cards" and r.json()["version"] == 1
