"""Ticket domain rules: pure, no I/O or framework."""
