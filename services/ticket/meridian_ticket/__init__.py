"""Meridian ticket service: contacts, conversations, messages, tickets."""
