"""Compliance HTTP API."""
