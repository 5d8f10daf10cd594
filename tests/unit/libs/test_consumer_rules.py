"""Which failures make a consumer retry a whole batch instead of isolating events one by one."""

from __future__ import annotations

from meridian.bus.consumer import is_transient_conflict


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


class Wrapped(Exception):
    def __init__(self, orig: BaseException) -> None:
        super().__init__("wrapped")
        self.orig = orig


def test_deadlocks_and_serialization_failures_are_transient_even_when_wrapped():
    assert is_transient_conflict(PgError("40P01"))
    assert is_transient_conflict(Wrapped(PgError("40001")))
    try:
        try:
            raise PgError("40P01")
        except PgError as inner:
            raise RuntimeError("while handling") from inner
    except RuntimeError as outer:
        assert is_transient_conflict(outer)


def test_other_errors_are_not():
    assert not is_transient_conflict(PgError("23505"))  # unique violation: a real problem in the batch
    assert not is_transient_conflict(ValueError("bad"))
