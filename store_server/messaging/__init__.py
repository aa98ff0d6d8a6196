"""Messaging: one-time codes, SMS gateways and texts, inbound and till activation."""
