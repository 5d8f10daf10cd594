"""Meridian translation service."""
