"""Domain errors: each one carries its problem type slug and HTTP status (RFC 9457)."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a use case raises on purpose. Routers never build error JSON by hand."""

    type: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "Request could not be processed"
    status: ClassVar[int] = 400

    def __init__(self, detail: str = "", *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []


class NotFound(DomainError):
    type = "not-found"
    title = "Resource not found"
    status = 404


class Conflict(DomainError):
    type = "conflict"
    title = "Conflict with the current state"
    status = 409


class ValidationFailed(DomainError):
    type = "validation-error"
    title = "Request body is invalid"
    status = 400


class Unauthorized(DomainError):
    type = "unauthorized"
    title = "Missing or invalid credentials"
    status = 401


class PayloadTooLarge(DomainError):
    type = "payload-too-large"
    title = "Request body too large"
    status = 413
