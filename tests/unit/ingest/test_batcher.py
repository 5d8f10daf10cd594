"""Group commit: one statement per batch, dedupe inside and across batches, poison isolation."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from meridian_ingest.batcher import WebhookBatcher
from meridian_ingest.domain.errors import IngestUnavailable
from meridian_ingest.domain.model import InboundMessage, InboxCredentials, Sender

INBOX = InboxCredentials(id=uuid4(), tenant_id=uuid4(), channel="api", settings={}, secret="s")


class FakeDb:
    def __init__(self) -> None:
        self.keys: set = set()
        self.emitted: list = []
        self.commits = 0
        self.poison: set[str] = set()


class FakeUow:
    """A fresh one per group commit, like the real factory; ``accept_inbound`` is its one statement."""

    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.pending: list = []
        self.clock = type("C", (), {"now": staticmethod(lambda: datetime(2025, 1, 1, tzinfo=UTC))})()

    def emit(self, message, *, key, tenant_id):
        self.pending.append(message.external_id)

    async def accept_inbound(self, rows):
        await asyncio.sleep(0)
        assert [r["external_id"] for r in rows] == self.pending      # one event per row, same order
        if any(r["external_id"] in self.db.poison for r in rows):
            raise RuntimeError("poison row")
        new = {(r["inbox_id"], r["external_id"]) for r in rows} - self.db.keys
        self.db.keys |= new
        self.db.emitted += [r["external_id"] for r in rows if (r["inbox_id"], r["external_id"]) in new]
        self.db.commits += 1
        return set(new)


def message(external_id: str) -> InboundMessage:
    return InboundMessage(external_id=external_id, thread_id="c", sender=Sender(id="c"), text="t")


async def test_concurrent_submissions_share_commits_and_are_deduplicated():
    db = FakeDb()
    batcher = WebhookBatcher(lambda: FakeUow(db), batch_size=50)
    ids = [f"e{i}" for i in range(120)] + ["e1", "e2", "e1"]
    results = await asyncio.gather(*(batcher.submit(INBOX, message(i)) for i in ids))
    assert results[:120] == [True] * 120 and results[120:] == [False, False, False]
    assert sorted(db.emitted) == sorted(f"e{i}" for i in range(120))
    assert db.commits <= 4                       # 123 requests, batches of ≤ 50
    assert await batcher.submit(INBOX, message("e5")) is False


async def test_a_poison_acceptance_fails_alone_with_503():
    db = FakeDb()
    db.poison = {"bad"}
    batcher = WebhookBatcher(lambda: FakeUow(db), batch_size=50)
    results = await asyncio.gather(*(batcher.submit(INBOX, message(i)) for i in ["a", "bad", "b"]),
                                   return_exceptions=True)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], IngestUnavailable) and results[1].status == 503
    assert sorted(db.emitted) == ["a", "b"]


async def test_a_database_outage_fails_every_waiter():
    def broken():
        raise ConnectionError("db down")

    batcher = WebhookBatcher(broken, batch_size=10)
    results = await asyncio.gather(*(batcher.submit(INBOX, message(f"x{i}")) for i in range(5)),
                                   return_exceptions=True)
    assert all(isinstance(r, IngestUnavailable) for r in results)
    with pytest.raises(IngestUnavailable):
        await batcher.submit(INBOX, message("later"))
