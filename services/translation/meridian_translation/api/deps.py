"""What routers read from app.state (set up by app.build)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from meridian_translation.detector import LanguageDetector


async def _detector(request: Request) -> LanguageDetector:
    return request.app.state.detector


DetectorDep = Annotated[LanguageDetector, Depends(_detector)]
