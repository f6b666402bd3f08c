"""The auditor toolkit: reading sealed chains back and checking them (read-only)."""
