"""Public request/response schemas of translation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=10_000)


class CandidateRead(BaseModel):
    language: str
    confidence: float


class DetectionRead(BaseModel):
    language: str = Field(description='ISO 639-1 code, or "und" when unsure')
    confidence: float
    candidates: list[CandidateRead] = Field(description="up to 3, best first")
