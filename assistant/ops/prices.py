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


# List prices in USD per generated image, by model, then quality, then size: OpenAI's
# model pages (developers.openai.com/api/docs/models/gpt-image-1.5 and .../gpt-image-1-mini,
# "Image generation, per image"). gpt-image-1 was shut down on 2026-10-23 and the DALL·E
# models on 2026-05-12 (the `openai` SDK's `images.generate` documentation); the token-priced
# gpt-image-2 family has no per-image list price, so it shows a count without a cost, like
# any model of a compatible server.
IMAGE_PRICES: dict[str, dict[str, dict[str, float]]] = {
    "gpt-image-1.5": {
        "low": {"1024x1024": 0.009, "1024x1536": 0.013, "1536x1024": 0.013},
        "medium": {"1024x1024": 0.034, "1024x1536": 0.05, "1536x1024": 0.05},
        "high": {"1024x1024": 0.133, "1024x1536": 0.2, "1536x1024": 0.2},
    },
    "gpt-image-1-mini": {
        "low": {"1024x1024": 0.005, "1024x1536": 0.006, "1536x1024": 0.006},
        "medium": {"1024x1024": 0.011, "1024x1536": 0.015, "1536x1024": 0.015},
        "high": {"1024x1024": 0.036, "1024x1536": 0.052, "1536x1024": 0.052},
    },
}


def image_cost(model: str, size: str, quality: str) -> float | None:
    """USD for one image, by the longest known model name the model's starts with (dated
    snapshots included); None when the model, size or quality has no list price ("auto"
    quality or size included: the server chooses, so the price is not known before)."""
    known = [name for name in IMAGE_PRICES if model == name or model.startswith(name + "-")]
    if not known:
        return None
    return IMAGE_PRICES[max(known, key=len)].get(quality, {}).get(size)


def image_cost_bound(model: str, size: str, quality: str) -> float | None:
    """The most one image with these settings can cost, reserved against the budget before
    the call: its list price, or with "auto" quality or size the dearest the server may
    choose; None when the model has no list price."""
    known = [name for name in IMAGE_PRICES if model == name or model.startswith(name + "-")]
    if not known:
        return None
    table = IMAGE_PRICES[max(known, key=len)]
    qualities = list(table.values()) if quality == "auto" else [table.get(quality, {})]
    prices = [p for sizes in qualities for s, p in sizes.items() if size in ("auto", s)]
    return max(prices, default=None)
