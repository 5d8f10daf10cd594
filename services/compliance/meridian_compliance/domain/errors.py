"""Compliance domain errors."""

from __future__ import annotations

from meridian.errors import ValidationFailed


class AuditRecordInvalid(ValidationFailed):
    """An AuditRecorded event that cannot be stored (dead-lettered with this reason)."""

    type = "audit-record-invalid"
    title = "Audit record is invalid"


class AuditQueryInvalid(ValidationFailed):
    type = "audit-query-invalid"
    title = "Audit query is invalid"
