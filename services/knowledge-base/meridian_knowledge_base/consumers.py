"""Knowledge-base event subscriptions (none yet: the bot, a later issue, consumes messages)."""

from __future__ import annotations

from meridian.bus.consumer import EventSubscription

SUBSCRIPTIONS: list[EventSubscription] = []
