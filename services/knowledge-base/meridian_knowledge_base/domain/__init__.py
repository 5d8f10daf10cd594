"""Knowledge-base domain rules: pure, no I/O."""
