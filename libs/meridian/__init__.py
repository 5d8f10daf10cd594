"""Shared plumbing for the Meridian services. No business rules live here, and nothing here imports a service."""
