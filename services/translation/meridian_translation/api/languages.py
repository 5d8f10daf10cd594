"""/api/v1/languages/detect: synchronous detection for a human who is waiting."""

from __future__ import annotations

from fastapi import APIRouter
from meridian.http.tenancy import TenantDep

from meridian_translation.api.deps import DetectorDep
from meridian_translation.api.schemas import CandidateRead, DetectionRead, DetectRequest
from meridian_translation.handlers import detect_language

router = APIRouter(tags=["languages"])


@router.post("/languages/detect", response_model=DetectionRead)
async def detect(body: DetectRequest, tenant: TenantDep, detector: DetectorDep) -> DetectionRead:
    result = await detect_language(detector, body.text)
    return DetectionRead(language=result.language, confidence=result.confidence,
                         candidates=[CandidateRead(language=c.language, confidence=c.confidence)
                                     for c in result.candidates])
