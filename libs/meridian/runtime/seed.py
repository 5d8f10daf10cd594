"""Demo data for a new user: a demo tenant (its admin token printed), agents and knowledge-base
articles, created through the public API exactly as a client would."""

from __future__ import annotations

import asyncio
import logging

import httpx

log = logging.getLogger("meridian.seed")

DEMO_AGENTS = [
    {"name": "Ana García", "email": "ana@demo.meridian", "languages": ["es", "en"], "timezone": "Europe/Madrid",
     "capacity": 5},
    {"name": "Lukas Weber", "email": "lukas@demo.meridian", "languages": ["de", "en"], "timezone": "Europe/Berlin",
     "capacity": 5},
    {"name": "Mei Tan", "email": "mei@demo.meridian", "languages": ["zh", "en", "ms"], "timezone": "Asia/Singapore",
     "capacity": 5},
]

DEMO_ARTICLES = [
    {"title": "Shipping times", "language": "en", "tags": ["shipping"],
     "body": "Orders ship within 2 business days. Delivery takes 5-10 days to Europe and 3-7 days in Asia."},
    {"title": "Returns and refunds", "language": "en", "tags": ["returns"],
     "body": "You can return any item within 30 days of delivery. Refunds reach your card in 5 business days."},
    {"title": "Plazos de envío", "language": "es", "tags": ["shipping"],
     "body": "Los pedidos se envían en 2 días hábiles. La entrega tarda de 5 a 10 días a Europa."},
]


async def seed_demo_data(gateway: httpx.AsyncClient, api_key: str, *, attempts: int = 60) -> None:
    """Create the demo agents (online) and articles. Retries while the owning services start."""
    headers = {"Authorization": f"Bearer {api_key}"}
    for attempt in range(attempts):
        try:
            for agent in DEMO_AGENTS:
                r = await gateway.post("/api/v1/agents", json=agent, headers=headers)
                if r.status_code == 201:
                    await gateway.put(f"/api/v1/agents/{r.json()['id']}/presence", json={"status": "online"},
                                      headers=headers)
                elif r.status_code != 409:
                    raise RuntimeError(f"agents: {r.status_code}")
            for article in DEMO_ARTICLES:
                r = await gateway.post("/api/v1/kb/articles", json=article, headers=headers)
                if r.status_code != 201:
                    raise RuntimeError(f"kb: {r.status_code}")
            return
        except (httpx.HTTPError, RuntimeError) as exc:
            if attempt == attempts - 1:
                log.warning("demo data not seeded", extra={"error": str(exc)})
                return
            await asyncio.sleep(1)
