import uuid

from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.events.envelope import new_meta, to_record

from tests.service.routing.conftest import (
    apply_decisions,
    conversation_updated,
    decisions,
    get_agent,
    make_agent,
    open_conversation,
    set_presence,
    update_conversation,
)

AGENT = assignments_v1.ASSIGNMENT_TARGET_AGENT
QUEUE = assignments_v1.ASSIGNMENT_TARGET_QUEUE


async def queue_ids(svc, tenant) -> list[str]:
    r = await svc.client.get("/api/v1/queue", headers=svc.headers(tenant))
    assert r.status_code == 200
    return [i["conversation_id"] for i in r.json()["items"]]


async def test_spanish_conversation_goes_to_the_online_spanish_agent(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    await make_agent(routing, tenant, languages=["en"])
    spanish = await make_agent(routing, tenant, languages=["es-MX", "en"])
    cid = await open_conversation(routing, tenant)  # no language yet: nothing to decide
    await routing.drained()
    assert decisions(routing, cid) == []
    await update_conversation(routing, tenant, cid, language="es", changed=["language"])
    await routing.drained()
    [decision] = decisions(routing, cid)
    assert decision.target == AGENT and decision.agent_id == spanish["id"] and decision.reason == "language:es"
    [(meta, _)] = [(m, d) for m, d in routing.events("routing.assignments.v1")]
    assert meta.partition_key == cid and meta.tenant_id == str(tenant)
    assert (await get_agent(routing, tenant, spanish["id"]))["active_conversations"] == 1
    audits = [m for _, m in routing.events("routing.audit.v1") if m.action == "assignment.decided"]
    assert [(a.resource_id, a.details["target"]) for a in audits] == [(cid, "agent")]
    # ticket applies the decision: routing must not decide again
    await update_conversation(routing, tenant, cid, language="es", assignee=spanish["id"],
                              changed=["assignee_agent_id"])
    await update_conversation(routing, tenant, cid, language="es", assignee=spanish["id"], changed=["status"])
    await routing.drained()
    assert len(decisions(routing, cid)) == 1
    assert (await get_agent(routing, tenant, spanish["id"]))["active_conversations"] == 1


async def test_no_suitable_agent_queues_then_an_agent_coming_online_takes_it(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    await make_agent(routing, tenant, languages=["en"])              # online, wrong language
    german = await make_agent(routing, tenant, languages=["de"], online=False)
    cid = await open_conversation(routing, tenant, language="de")
    await routing.drained()
    [queued] = decisions(routing, cid)
    assert queued.target == QUEUE and queued.agent_id == "" and queued.reason == "no_available_agent:de"
    r = await routing.client.get("/api/v1/queue", headers=routing.headers(tenant))
    [item] = r.json()["items"]
    assert item["conversation_id"] == cid and item["language"] == "de" and item["queued_at"]
    assert r.json()["next_cursor"] is None
    assert await queue_ids(routing, uuid.uuid4()) == []  # another tenant sees nothing

    after = await set_presence(routing, tenant, german["id"], "online")
    assert after["active_conversations"] == 1
    await routing.drained()
    assert [(d.target, d.agent_id) for d in decisions(routing, cid)] == [(QUEUE, ""), (AGENT, german["id"])]
    assert decisions(routing, cid)[1].reason == "queue:de"
    assert await queue_ids(routing, tenant) == []


async def test_capacity_one_queues_the_second_until_the_first_is_resolved(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, languages=["es"], capacity=1)
    first = await open_conversation(routing, tenant, language="es")
    await routing.drained()
    second = await open_conversation(routing, tenant, language="es")
    await routing.drained()
    assert [d.target for d in decisions(routing, first)] == [AGENT]
    assert [d.target for d in decisions(routing, second)] == [QUEUE]
    await apply_decisions(routing, tenant)
    assert await queue_ids(routing, tenant) == [second]

    await update_conversation(routing, tenant, first, status="resolved", language="es", assignee=agent["id"],
                              changed=["status"])
    await routing.drained()
    assert [(d.target, d.agent_id) for d in decisions(routing, second)] == [(QUEUE, ""), (AGENT, agent["id"])]
    assert await queue_ids(routing, tenant) == []
    assert (await get_agent(routing, tenant, agent["id"]))["active_conversations"] == 1


async def test_one_batch_never_overfills_an_agent(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, languages=["en"], capacity=2)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    records = []
    for c in ids:
        event = conversations_v1.ConversationOpened(conversation_id=c, inbox_id=str(uuid.uuid4()), status="open",
                                                    language="en")
        records.append(to_record("ticket.conversations.v1", event,
                                 new_meta(event, tenant_id=str(tenant), source="ticket", key=c)))
    [consumer] = routing.parts.consumers
    await consumer.handle_batch(records)  # one batch, one transaction
    await routing.drained()
    targets = [d.target for c in ids for d in decisions(routing, c)]
    assert targets.count(AGENT) == 2 and targets.count(QUEUE) == 3
    assert (await get_agent(routing, tenant, agent["id"]))["active_conversations"] == 2
    assert len(await queue_ids(routing, tenant)) == 3


async def test_least_loaded_agent_is_chosen(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    a = await make_agent(routing, tenant, languages=["fr"], capacity=5, name="A")
    first = await open_conversation(routing, tenant, language="fr")
    await routing.drained()
    [d1] = decisions(routing, first)
    assert d1.agent_id == a["id"]
    b = await make_agent(routing, tenant, languages=["fr-CA"], capacity=5, name="B")
    second = await open_conversation(routing, tenant, language="fr")
    await routing.drained()
    assert decisions(routing, second)[0].agent_id == b["id"]  # B has 0 vs A's 1
    third = await open_conversation(routing, tenant, language="fr")
    await routing.drained()
    assert decisions(routing, third)[0].agent_id == a["id"]   # tie 1-1: A was assigned least recently


async def test_same_event_twice_makes_one_decision(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, languages=["es"])
    cid = str(uuid.uuid4())
    event = conversation_updated(cid, language="es", changed=["language"])
    meta = await routing.publish(event, key=cid, tenant_id=tenant, source="ticket")
    # the very same record again (same ce_id): redelivery
    await routing.bus.publish([to_record("ticket.conversations.v1", event, meta)])
    await routing.drained()
    # and a different event with the same content (ticket re-emitting): still one decision
    await update_conversation(routing, tenant, cid, language="es", changed=["language"])
    await routing.drained()
    assert [d.agent_id for d in decisions(routing, cid)] == [agent["id"]]
    assert (await get_agent(routing, tenant, agent["id"]))["active_conversations"] == 1


async def test_manual_reassignment_moves_the_load_and_drains_the_queue(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    a = await make_agent(routing, tenant, languages=["en"], capacity=1, name="A")
    b = await make_agent(routing, tenant, languages=["de"], capacity=5, name="B")
    first = await open_conversation(routing, tenant, language="en")
    await routing.drained()
    second = await open_conversation(routing, tenant, language="en")
    await routing.drained()
    assert decisions(routing, first)[0].agent_id == a["id"]
    assert decisions(routing, second)[0].target == QUEUE
    # a supervisor moves the first conversation to B
    await update_conversation(routing, tenant, first, language="en", assignee=b["id"], changed=["assignee_agent_id"])
    await routing.drained()
    assert (await get_agent(routing, tenant, b["id"]))["active_conversations"] == 1
    assert (await get_agent(routing, tenant, a["id"]))["active_conversations"] == 1  # freed, then took `second`
    assert [(d.target, d.agent_id) for d in decisions(routing, second)] == [(QUEUE, ""), (AGENT, a["id"])]
    assert len(decisions(routing, first)) == 1


async def test_more_capacity_drains_the_queue(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, languages=["ja"], capacity=1)
    ids = []
    for _ in range(3):
        ids.append(await open_conversation(routing, tenant, language="ja"))
        await routing.drained()
    assert len(await queue_ids(routing, tenant)) == 2
    r = await routing.client.patch(f"/api/v1/agents/{agent['id']}", headers=routing.headers(tenant),
                                   json={"capacity": 2})
    assert r.status_code == 200 and r.json()["active_conversations"] == 2
    await routing.drained()
    assert await queue_ids(routing, tenant) == [ids[2]]  # FIFO: the older one was taken
    assert decisions(routing, ids[1])[-1].agent_id == agent["id"]


async def test_conversation_from_a_reused_id_in_another_tenant_is_dead_lettered(routing):
    await routing.reset()
    tenant, other = uuid.uuid4(), uuid.uuid4()
    cid = await open_conversation(routing, tenant, language="")
    await routing.drained()
    await open_conversation(routing, other, language="en", conversation_id=cid)
    await routing.drained()
    assert decisions(routing, cid) == []
    assert len(routing.bus.records("routing.conversations.dlq")) == 1


async def test_one_batch_assigns_releases_drains_and_queues_in_order(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, languages=["en"], capacity=1)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))

    def record(message):
        return to_record("ticket.conversations.v1", message,
                         new_meta(message, tenant_id=str(tenant), source="ticket", key=message.conversation_id))

    def opened(cid):
        return conversations_v1.ConversationOpened(conversation_id=cid, inbox_id=str(uuid.uuid4()), status="open",
                                                   language="en")

    batch = [
        record(opened(first)),                                                   # → the agent (now full)
        record(opened(second)),                                                  # → queue
        record(conversation_updated(first, status="resolved", language="en", assignee=agent["id"],
                                    changed=["status"])),                        # frees the agent: second
        record(opened(third)),                                                   # → queue
        record(conversation_updated(third, language="en-GB", changed=["language"])),  # still waiting
    ]
    [consumer] = routing.parts.consumers
    await consumer.handle_batch(batch)   # one batch, one transaction
    await routing.drained()
    assert [(d.target, d.agent_id, d.reason) for d in decisions(routing, first)] == [(AGENT, agent["id"],
                                                                                     "language:en")]
    assert [(d.target, d.agent_id, d.reason) for d in decisions(routing, second)] == [
        (QUEUE, "", "no_available_agent:en"), (AGENT, agent["id"], "queue:en")]
    assert [d.target for d in decisions(routing, third)] == [QUEUE]
    r = await routing.client.get("/api/v1/queue", headers=routing.headers(tenant))
    assert [(i["conversation_id"], i["language"]) for i in r.json()["items"]] == [(third, "en-gb")]
    assert (await get_agent(routing, tenant, agent["id"]))["active_conversations"] == 1
    # the agent's next free slot goes to the oldest waiting conversation
    await update_conversation(routing, tenant, second, status="closed", language="en", assignee=agent["id"],
                              changed=["status"])
    await routing.drained()
    assert [d.target for d in decisions(routing, third)] == [QUEUE, AGENT]
    assert await queue_ids(routing, tenant) == []
    assert (await get_agent(routing, tenant, agent["id"]))["active_conversations"] == 1
