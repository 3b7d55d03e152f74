"""Everything the assistant says, in Brazilian Portuguese and English (WhatsApp format).

The wording lives in one table per area, in this package's modules; `say` looks a phrase
up in all of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assistant.imagegen.phrases import IMAGE_PHRASES
from assistant.models import Language
from assistant.phrases.access import ACCESS_PHRASES
from assistant.phrases.ai_model import AI_MODEL_PHRASES
from assistant.phrases.catalog import CATALOG_PHRASES
from assistant.phrases.conversation import CONVERSATION_PHRASES
from assistant.phrases.media import MEDIA_PHRASES
from assistant.phrases.similar import SIMILAR_PHRASES
from assistant.phrases.your_data import YOUR_DATA_PHRASES

PHRASES: dict[str, dict[Language, str]] = {
    **CATALOG_PHRASES,
    **CONVERSATION_PHRASES,
    **MEDIA_PHRASES,
    **ACCESS_PHRASES,
    **AI_MODEL_PHRASES,
    **YOUR_DATA_PHRASES,
    **SIMILAR_PHRASES,
    # Creating images (issue #27): kept beside their code.
    **IMAGE_PHRASES,
}


def say(key: str, language: Language, **values: Any) -> str:
    n = values.get("n")
    if isinstance(n, int) and "s" not in values:
        values["s"] = "" if n == 1 else "s"
    return PHRASES[key][language].format(**values)


def format_date(when: datetime, language: Language) -> str:
    return when.strftime("%d/%m/%Y" if language == "pt" else "%Y-%m-%d")
