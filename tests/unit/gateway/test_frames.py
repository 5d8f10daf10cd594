import json
from datetime import UTC, datetime

from meridian.contracts.gateway import tenants_v1_pb2 as tenants_v1
from meridian.contracts.routing import agents_v1_pb2 as agents_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian_gateway.contracts import tenant_created, ws_frame
from meridian_gateway.domain.model import Tenant

T = datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)


def test_message_created_frame_has_the_rest_shape():
    m = messages_v1.MessageCreated(message_id="m1", conversation_id="c1", inbox_id="i1", contact_id="p1",
                                   direction=messages_v1.DIRECTION_INBOUND, text="Hola", language="es",
                                   status="received", external_id="ext-1")
    m.created_at.FromDatetime(T)
    frame = ws_frame("e1", m)
    assert frame == {"id": "e1", "type": "message.created", "data": {
        "id": "m1", "conversation_id": "c1", "inbox_id": "i1", "contact_id": "p1", "direction": "inbound",
        "text": "Hola", "language": "es", "status": "received", "sender_agent_id": None,
        "external_id": "ext-1", "created_at": T.isoformat()}}
    json.dumps(frame)


def test_outbound_message_created_frame():
    m = messages_v1.MessageCreated(message_id="m2", conversation_id="c1", direction=messages_v1.DIRECTION_OUTBOUND,
                                   text="Hi", status="pending", sender_agent_id="a1")
    data = ws_frame("e2", m)["data"]
    assert data["direction"] == "outbound"
    assert data["sender_agent_id"] == "a1"
    assert data["language"] is None and data["created_at"] is None and data["external_id"] is None


def test_message_updated_frame():
    m = messages_v1.MessageUpdated(message_id="m1", conversation_id="c1", status="failed", language="en",
                                   error="410 gone")
    m.updated_at.FromDatetime(T)
    assert ws_frame("e3", m) == {"id": "e3", "type": "message.updated", "data": {
        "id": "m1", "conversation_id": "c1", "status": "failed", "language": "en", "error": "410 gone",
        "updated_at": T.isoformat()}}


def test_conversation_opened_and_updated_frames():
    opened = conversations_v1.ConversationOpened(conversation_id="c1", inbox_id="i1", contact_id="p1",
                                                 channel="api", status="open")
    opened.created_at.FromDatetime(T)
    assert ws_frame("e4", opened) == {"id": "e4", "type": "conversation.updated", "data": {
        "id": "c1", "inbox_id": "i1", "contact_id": "p1", "status": "open", "language": None,
        "assignee_agent_id": None, "changed_fields": [], "updated_at": T.isoformat()}}
    updated = conversations_v1.ConversationUpdated(conversation_id="c1", inbox_id="i1", contact_id="p1",
                                                   status="open", language="de", assignee_agent_id="a9",
                                                   changed_fields=["assignee_agent_id"])
    updated.updated_at.FromDatetime(T)
    frame = ws_frame("e5", updated)
    assert frame["type"] == "conversation.updated"
    assert frame["data"] == {"id": "c1", "inbox_id": "i1", "contact_id": "p1", "status": "open", "language": "de",
                             "assignee_agent_id": "a9", "changed_fields": ["assignee_agent_id"],
                             "updated_at": T.isoformat()}


def test_ticket_assigned_frame():
    m = tickets_v1.TicketAssigned(ticket_id="t1", conversation_id="c1", assignee_agent_id="a1")
    m.assigned_at.FromDatetime(T)
    assert ws_frame("e6", m) == {"id": "e6", "type": "ticket.assigned", "data": {
        "ticket_id": "t1", "conversation_id": "c1", "assignee_agent_id": "a1", "assigned_at": T.isoformat()}}


def test_presence_updated_frame():
    m = agents_v1.AgentPresenceChanged(agent_id="a1", status="online")
    m.changed_at.FromDatetime(T)
    assert ws_frame("e7", m) == {"id": "e7", "type": "presence.updated", "data": {
        "agent_id": "a1", "status": "online", "changed_at": T.isoformat()}}


def test_events_clients_do_not_get_have_no_frame():
    assert ws_frame("e8", messages_v1.MessageThreaded(message_id="m1")) is None
    assert ws_frame("e9", tickets_v1.TicketOpened(ticket_id="t1")) is None


def test_tenant_created_event():
    import uuid
    t = Tenant(id=uuid.uuid4(), name="Shop", region="eu", created_at=T)
    msg = tenant_created(t)
    assert isinstance(msg, tenants_v1.TenantCreated)
    assert (msg.tenant_id, msg.name, msg.region) == (str(t.id), "Shop", "eu")
    assert msg.created_at.ToDatetime(tzinfo=UTC) == T
