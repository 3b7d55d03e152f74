"""Saving and finding catalog entries in tests, the way the assistant does."""

from __future__ import annotations

from assistant.factory import Services
from assistant.media import inspect_image
from assistant.ops.samples import sample_image


def save_entry(services: Services, owner: str, text: str) -> int:
    """A new entry with one (distinct) sample photo; returns its id."""
    data = sample_image(f"{owner}:{text}")
    img = services.catalog.store_image(owner, data, inspect_image(data, 10**7))
    return services.catalog.create_entry(owner, text, [img.image.id]).id


def found_texts(services: Services, owner: str, query: str) -> list[str]:
    return [e.description for e in services.catalog.search(owner, query).entries]
