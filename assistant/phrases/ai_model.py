"""What is said when the AI model is unavailable or refuses a message, when its answer is
cut off or empty, and when it asks for more than one deletion."""

from __future__ import annotations

from assistant.models import Language

AI_MODEL_PHRASES: dict[str, dict[Language, str]] = {
    "ai_unavailable": {
        "pt": "⚠️ A inteligência artificial está indisponível agora (problema de configuração); "
        "respondo com as regras básicas.",
        "en": "⚠️ The AI is unavailable right now (a configuration problem); "
        "answering with the basic rules.",
    },
    # The model refused a message for good (issue #28): honest, and not a "problem" the
    # user should retry.
    "ai_declined": {
        "pt": "⚠️ O modelo de IA não conseguiu processar esta mensagem; respondo com as "
        "regras básicas.",
        "en": "⚠️ The AI model could not process this message; answering with the basic rules.",
    },
    "ai_context_full": {
        "pt": "⚠️ Nossa conversa ficou longa demais para o modelo de IA; respondo com as "
        "regras básicas.",
        "en": "⚠️ Our conversation got too long for the AI model; using the basic rules.",
    },
    "reply_cut": {
        "pt": "✂️ _(resposta cortada: ficou longa demais)_",
        "en": "✂️ _(answer cut: it got too long)_",
    },
    "model_cut": {
        "pt": "⚠️ Minha resposta foi cortada antes de terminar, então não fiz nada com ela. "
        "Pode pedir de novo, de forma mais curta?",
        "en": "⚠️ My answer was cut off before it was complete, so I did nothing with it. "
        "Could you ask again, more briefly?",
    },
    "model_no_answer": {
        "pt": "🤔 Não consegui formular uma resposta desta vez. Pode reformular o pedido?",
        "en": "🤔 I couldn't put an answer together this time. Could you rephrase it?",
    },
    "delete_confirm_more": {
        "pt": "⚠️ Por segurança apago só um item por mensagem, então não apaguei {what}. "
        "Se quiser mesmo apagar, confirme numa nova mensagem.",
        "en": "⚠️ To be safe I delete only one item per message, so I did not delete {what}. "
        "If you really want it deleted, confirm in a new message.",
    },
    "delete_more_latest": {
        "pt": "o item mais recente",
        "en": "the most recent item",
    },
}
