"""Compliance domain rules: pure, no I/O."""
