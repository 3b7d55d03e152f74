"""Brains decide what to do with a turn: offline rules, or an OpenAI-compatible model."""
