"""Loopback servers that speak vendors\x27 documented wire protocols, started by tests."""
