"""Gateway problems (RFC 9457 types)."""

from __future__ import annotations

from meridian.errors import Conflict, DomainError, NotFound, Unauthorized, ValidationFailed


class InvalidCredentials(Unauthorized):
    type = "invalid-credentials"


class RegionNotAllowed(ValidationFailed):
    type = "region-not-allowed"
    title = "Region is not allowed"


class ApiKeyNotFound(NotFound):
    type = "api-key-not-found"
    title = "API key not found"


class ResourceNotFound(NotFound):
    type = "resource-not-found"
    title = "No such API resource"


class OwnerUnavailable(DomainError):
    type = "service-unavailable"
    title = "The owning service is unavailable"
    status = 503


class IdempotencyKeyInvalid(ValidationFailed):
    type = "idempotency-key-invalid"
    title = "Idempotency-Key is invalid"


class IdempotencyKeyReused(DomainError):
    type = "idempotency-key-reused"
    title = "Idempotency-Key was used for a different request"
    status = 422


class IdempotencyInFlight(Conflict):
    type = "idempotency-in-flight"
    title = "A request with this Idempotency-Key is still in progress"


class DemoTokenTaken(Conflict):
    type = "demo-token-taken"
    title = "The bootstrap token belongs to another tenant"
