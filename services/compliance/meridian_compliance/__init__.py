"""Meridian compliance service: audit log (privacy requests, consent and retention come later)."""
