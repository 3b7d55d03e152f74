"""Helpers shared by the test modules (apps, processes, signed webhooks, catalog data)."""
