"""Knowledge-base HTTP API."""
