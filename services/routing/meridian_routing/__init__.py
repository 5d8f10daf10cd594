"""Meridian routing service."""
