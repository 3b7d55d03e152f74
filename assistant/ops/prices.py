"""List prices of the models people point the assistant at: the dashboard's costs and
the daily model budget read the same table."""

from __future__ import annotations

# List prices in USD per million tokens (input, output) of the models people point the
# assistant at; other models (local servers, new names) show tokens without a cost.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
}


def cost_of(brain: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Estimated USD, by the longest known model name the brain's starts with (dated
    snapshots such as gpt-4o-mini-2024-07-18 included); None for models we have no price
    for."""
    model = brain.removeprefix("openai:").split(" ", 1)[0]
    known = [name for name in PRICES_PER_MTOK if model == name or model.startswith(name + "-")]
    if not known:
        return None
    price_in, price_out = PRICES_PER_MTOK[max(known, key=len)]
    return round((prompt_tokens * price_in + completion_tokens * price_out) / 1e6, 4)
