"""Meridian ingest: inboxes, inbound webhooks (verified, deduplicated, group-committed) and outbound delivery."""
