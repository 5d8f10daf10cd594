"""Detection rules: pure, no I/O and no detector library."""
