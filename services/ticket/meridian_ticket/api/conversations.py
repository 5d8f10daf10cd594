"""/api/v1/conversations and their messages."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_ticket.api.schemas import (
    ConversationList,
    ConversationRead,
    ConversationStatusIn,
    ConversationUpdate,
    MessageCreate,
    MessageList,
    MessageRead,
)
from meridian_ticket.commands import SendReply, UpdateConversation
from meridian_ticket.domain.model import ConversationStatus
from meridian_ticket.handlers import (
    get_conversation,
    list_conversations,
    list_messages,
    send_reply,
    update_conversation,
)

router = APIRouter(tags=["conversations"])


@router.get("/conversations", response_model=ConversationList)
async def list_(tenant: TenantDep, svc: ServiceDep, inbox_id: UUID | None = None,
                status: ConversationStatusIn | None = None, assignee_agent_id: UUID | None = None,
                contact_id: UUID | None = None, cursor: str | None = None,
                limit: int | None = Query(None)) -> ConversationList:
    """Newest first."""
    result = await svc.read(list_conversations, tenant.id, inbox_id=inbox_id, status=status,
                            assignee_agent_id=assignee_agent_id, contact_id=contact_id, cursor=cursor, limit=limit)
    return ConversationList(items=[ConversationRead.of(c) for c in result["items"]],
                            next_cursor=result["next_cursor"])


@router.get("/conversations/{conversation_id}", response_model=ConversationRead)
async def get(conversation_id: UUID, tenant: TenantDep, svc: ServiceDep) -> ConversationRead:
    return ConversationRead.of(await svc.read(get_conversation, tenant.id, conversation_id))


@router.patch("/conversations/{conversation_id}", response_model=ConversationRead)
async def patch(conversation_id: UUID, body: ConversationUpdate, tenant: TenantDep,
                svc: ServiceDep) -> ConversationRead:
    cmd = UpdateConversation(tenant_id=tenant.id, actor=tenant.actor, conversation_id=conversation_id,
                             status=ConversationStatus(body.status) if body.status is not None else None,
                             assign="assignee_agent_id" in body.model_fields_set,
                             assignee_agent_id=body.assignee_agent_id)
    return ConversationRead.of(await svc.execute(update_conversation, cmd))


@router.get("/conversations/{conversation_id}/messages", response_model=MessageList)
async def messages(conversation_id: UUID, tenant: TenantDep, svc: ServiceDep, cursor: str | None = None,
                   limit: int | None = Query(None)) -> MessageList:
    """Oldest first (chronological)."""
    result = await svc.read(list_messages, tenant.id, conversation_id, cursor, limit)
    return MessageList(items=[MessageRead.of(m) for m in result["items"]], next_cursor=result["next_cursor"])


@router.post("/conversations/{conversation_id}/messages", status_code=201, response_model=MessageRead)
async def reply(conversation_id: UUID, body: MessageCreate, tenant: TenantDep, svc: ServiceDep) -> MessageRead:
    """An agent's reply (sender = X-Meridian-Actor when it is an agent id)."""
    message = await svc.execute(send_reply, SendReply(tenant_id=tenant.id, actor=tenant.actor,
                                                      conversation_id=conversation_id, text=body.text))
    return MessageRead.of(message)
