from __future__ import annotations

import pytest
from meridian_knowledge_base.app import build

from tests.support.service import running_service


@pytest.fixture(scope="session")
async def kb():
    async with running_service(build) as svc:
        yield svc
