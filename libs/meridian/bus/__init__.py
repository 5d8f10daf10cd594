"""The event bus: ``Bus`` and ``Record`` (base.py), ``MemoryBus`` (embedded mode, tests) and
``KafkaBus`` (distributed mode). Both give the same guarantees, checked by
tests/contract/test_bus_conformance.py."""

from meridian.bus.base import BatchHandler, Bus, BusUnavailable, Headers, Record, Subscription
from meridian.bus.kafka import KafkaBus
from meridian.bus.memory import MemoryBus

__all__ = [
    "BatchHandler",
    "Bus",
    "BusUnavailable",
    "Headers",
    "KafkaBus",
    "MemoryBus",
    "Record",
    "Subscription",
]
