"""Routing rules: pure, no I/O."""
