"""Ticket public REST API."""
