from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from meridian_routing.domain.assignment import choose_agent, eligible, plan_drain, queue_order
from meridian_routing.domain.model import Agent, Presence, QueueItem

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TENANT = uuid4()


def agent(name: str, languages=("en",), *, status=Presence.ONLINE, capacity=3, load=0, last=None,
          created=T0) -> Agent:
    return Agent(id=uuid4(), tenant_id=TENANT, name=name, email=f"{name}@x.io", languages=tuple(languages),
                 timezone="UTC", capacity=capacity, status=status, active_conversations=load, created_at=created,
                 updated_at=created, last_assigned_at=last)


def item(language: str, minutes: int, cid: UUID | None = None) -> QueueItem:
    return QueueItem(tenant_id=TENANT, conversation_id=cid or uuid4(), language=language,
                     queued_at=T0 + timedelta(minutes=minutes))


def test_only_online_agents_are_chosen():
    away, offline = agent("a", status=Presence.AWAY), agent("o", status=Presence.OFFLINE)
    assert choose_agent([away, offline], "en") is None
    online = agent("n")
    assert choose_agent([away, offline, online], "en") is online


def test_language_matches_on_the_primary_subtag():
    br = agent("br", ["pt-br"])
    assert choose_agent([br], "pt") is br
    assert choose_agent([br], "pt-PT") is br
    assert choose_agent([agent("pt", ["pt"])], "pt-BR") is not None
    assert choose_agent([br], "es") is None
    assert choose_agent([agent("e", ["en"])], "") is None


def test_undetermined_language_goes_to_anyone():
    a = agent("a", ["de"])
    assert choose_agent([a], "und") is a


def test_full_agents_are_skipped():
    full = agent("full", capacity=2, load=2)
    assert not eligible(full, "en")
    assert choose_agent([full], "en") is None
    over = agent("over", capacity=1, load=5)  # manual assignments can overfill
    assert choose_agent([over], "en") is None


def test_least_loaded_first():
    busy, idle = agent("busy", load=2), agent("idle", load=1)
    assert choose_agent([busy, idle], "en") is idle
    assert choose_agent([idle, busy], "en") is idle


def test_ties_go_to_the_least_recently_assigned_and_never_assigned_first():
    recent = agent("recent", load=1, last=T0 + timedelta(minutes=5))
    earlier = agent("earlier", load=1, last=T0 + timedelta(minutes=1))
    assert choose_agent([recent, earlier], "en") is earlier
    never = agent("never", load=1, last=None)
    assert choose_agent([recent, earlier, never], "en") is never


def test_queue_is_fifo():
    a, b, c = item("en", 3), item("en", 1), item("en", 2)
    assert queue_order([a, b, c]) == [b, c, a]


def test_drain_never_overfills_and_keeps_fifo():
    solo = agent("solo", ["es"], capacity=2, load=1)
    first, second = item("es", 1), item("es", 2)
    plan = plan_drain([second, first], [solo], T0)
    assert [(i.conversation_id, a.id) for i, a in plan] == [(first.conversation_id, solo.id)]


def test_drain_lets_later_conversations_pass_one_nobody_speaks():
    es = agent("es", ["es"], capacity=1)
    fr, sp = item("fr", 1), item("es", 2)
    plan = plan_drain([fr, sp], [es], T0)
    assert [i.conversation_id for i, _ in plan] == [sp.conversation_id]


def test_drain_spreads_load_over_agents():
    a, b = agent("a", capacity=2), agent("b", capacity=2)
    items = [item("en", m) for m in range(5)]
    plan = plan_drain(items, [a, b], T0)
    assert len(plan) == 4
    chosen = [ag.name for _, ag in plan]
    assert sorted(chosen) == ["a", "a", "b", "b"]
    assert chosen[0] != chosen[1]  # the second goes to the one that is now less loaded


@pytest.mark.parametrize("status", list(Presence))
def test_drain_ignores_agents_not_online(status):
    a = agent("a", status=status)
    plan = plan_drain([item("en", 1)], [a], T0)
    assert len(plan) == (1 if status is Presence.ONLINE else 0)
