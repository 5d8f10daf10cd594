"""/api/v1/agents."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_routing.api.schemas import AgentCreate, AgentList, AgentRead, AgentUpdate, PresenceUpdate
from meridian_routing.commands import CreateAgent, SetPresence, UpdateAgent
from meridian_routing.domain.model import Agent
from meridian_routing.handlers import create_agent, get_agent, list_agents, set_presence, update_agent

router = APIRouter(tags=["agents"])


def read(agent: Agent) -> AgentRead:
    return AgentRead(id=agent.id, name=agent.name, email=agent.email, languages=list(agent.languages),
                     timezone=agent.timezone, capacity=agent.capacity, status=agent.status.value,
                     active_conversations=agent.active_conversations, created_at=agent.created_at)


@router.post("/agents", status_code=201, response_model=AgentRead)
async def create(body: AgentCreate, tenant: TenantDep, svc: ServiceDep) -> AgentRead:
    return read(await svc.execute(create_agent, CreateAgent(tenant.id, tenant.actor, body.name, body.email,
                                                            body.languages, body.timezone, body.capacity)))


@router.get("/agents", response_model=AgentList)
async def list_(tenant: TenantDep, svc: ServiceDep, cursor: str | None = None,
                limit: int | None = Query(None)) -> AgentList:
    result = await svc.read(list_agents, tenant.id, cursor, limit)
    return AgentList(items=[read(a) for a in result["items"]], next_cursor=result["next_cursor"])


@router.get("/agents/{agent_id}", response_model=AgentRead)
async def get(agent_id: UUID, tenant: TenantDep, svc: ServiceDep) -> AgentRead:
    return read(await svc.read(get_agent, tenant.id, agent_id))


@router.patch("/agents/{agent_id}", response_model=AgentRead)
async def patch(agent_id: UUID, body: AgentUpdate, tenant: TenantDep, svc: ServiceDep) -> AgentRead:
    return read(await svc.execute(update_agent, UpdateAgent(tenant.id, tenant.actor, agent_id, name=body.name,
                                                            languages=body.languages, timezone=body.timezone,
                                                            capacity=body.capacity)))


@router.put("/agents/{agent_id}/presence", response_model=AgentRead)
async def presence(agent_id: UUID, body: PresenceUpdate, tenant: TenantDep, svc: ServiceDep) -> AgentRead:
    return read(await svc.execute(set_presence, SetPresence(tenant.id, tenant.actor, agent_id, body.status)))
