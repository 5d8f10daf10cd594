"""What a run command prints once the platform listens: where it is, the operator token, and the
demo tenant's admin token (after seeding the demo tenant, its agents and articles)."""

from __future__ import annotations

import httpx

from meridian.runtime.parts import ServiceParts
from meridian.runtime.seed import seed_demo_data
from meridian.settings import PlatformSettings


async def announce(gateway: ServiceParts, platform: PlatformSettings, gateway_app) -> None:  # noqa: ANN001
    lines = [f"Meridian listens on http://{platform.host}:{platform.port} (API docs: /docs, OpenAPI: /openapi.json)"]
    operator = getattr(gateway.app.state, "operator_token", None)
    if operator and not platform.operator_token:
        lines.append(f"operator token (MERIDIAN_OPERATOR_TOKEN unset, generated): {operator}")
    if platform.seed_demo and gateway.seed is not None:
        tenant_id, api_key, created = await gateway.seed(platform.bootstrap_token)
        if created and api_key:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gateway",
                                         timeout=30) as client:
                await seed_demo_data(client, api_key)
        lines.append(f"demo tenant {tenant_id} admin token: {api_key or platform.bootstrap_token}")
    print("\n".join(lines), flush=True)
