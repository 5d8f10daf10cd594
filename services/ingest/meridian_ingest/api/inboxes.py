"""/api/v1/inboxes."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Response
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_ingest.api.deps import IngestDep
from meridian_ingest.api.schemas import InboxCreate, InboxCreated, InboxList, InboxRead
from meridian_ingest.commands import CreateInbox, DeleteInbox
from meridian_ingest.domain.model import Inbox
from meridian_ingest.handlers import create_inbox, delete_inbox, get_inbox, list_inboxes

router = APIRouter(tags=["inboxes"])


def read(inbox: Inbox) -> InboxRead:
    return InboxRead(id=inbox.id, name=inbox.name, channel=inbox.channel, settings=inbox.settings,
                     created_at=inbox.created_at)


@router.post("/inboxes", status_code=201, response_model=InboxCreated)
async def create(body: InboxCreate, tenant: TenantDep, svc: ServiceDep) -> InboxCreated:
    inbox, secret = await svc.execute(create_inbox, CreateInbox(tenant.id, tenant.actor, body.name, body.channel,
                                                                body.settings))
    return InboxCreated(**read(inbox).model_dump(), secret=secret)


@router.get("/inboxes", response_model=InboxList)
async def list_(tenant: TenantDep, svc: ServiceDep, cursor: str | None = None,
                limit: int | None = Query(None)) -> InboxList:
    result = await svc.read(list_inboxes, tenant.id, cursor, limit)
    return InboxList(items=[read(i) for i in result["items"]], next_cursor=result["next_cursor"])


@router.get("/inboxes/{inbox_id}", response_model=InboxRead)
async def get(inbox_id: UUID, tenant: TenantDep, svc: ServiceDep) -> InboxRead:
    return read(await svc.read(get_inbox, tenant.id, inbox_id))


@router.delete("/inboxes/{inbox_id}", status_code=204)
async def delete(inbox_id: UUID, tenant: TenantDep, svc: ServiceDep, ingest: IngestDep) -> Response:
    await svc.execute(delete_inbox, DeleteInbox(tenant.id, tenant.actor, inbox_id))
    ingest.inboxes.invalidate(inbox_id)
    return Response(status_code=204)
