"""Who may use the assistant (invites, private mode) and the per-user limits and budgets."""

from __future__ import annotations

from assistant.models import Language

ACCESS_PHRASES: dict[str, dict[Language, str]] = {
    "stranger_invite": {
        "pt": "🔒 Este assistente é privado. Para usar, peça um convite a quem o administra"
        " e envie aqui o código assim: *entrar CÓDIGO*.",
        "en": "🔒 This assistant is private. To use it, ask whoever runs it for an invite"
        " and send the code here like this: *join CODE*.",
    },
    "stranger_private": {
        "pt": "🔒 Este assistente é privado. Para pedir acesso, fale com quem o administra.",
        "en": "🔒 This assistant is private. To ask for access, talk to whoever runs it.",
    },
    "join_wrong": {
        "pt": "🔒 Esse código não vale (errado, usado ou vencido). Confira com quem o enviou.",
        "en": "🔒 That code is not valid (wrong, used up or expired). Check with who sent it.",
    },
    "join_welcome": {
        "pt": "👋 Bem-vindo! Agora você pode me mandar fotos (com ou sem legenda) e áudios;"
        " depois é só pedir, por exemplo: *mostre fotos de cachorro*. Mande *ajuda* para"
        " ver o que sei fazer.",
        "en": "👋 Welcome! You can now send me photos (with or without a caption) and voice"
        " notes; then just ask, for example: *show me photos of dogs*. Send *help* to see"
        " what I can do.",
    },
    "limit_photos": {
        "pt": "⏳ Você atingiu o limite de {limit} fotos por dia; amanhã libera."
        " Não guardei {count} foto{s} desta mensagem.",
        "en": "⏳ You reached the limit of {limit} photos a day; it resets tomorrow."
        " I did not keep {count} photo{s} of this message.",
    },
    "limit_storage": {
        "pt": "⏳ Seu espaço de {limit} MB está cheio. Apague fotos antigas para guardar"
        " novas. Não guardei {count} foto{s} desta mensagem.",
        "en": "⏳ Your {limit} MB of storage is full. Delete old photos to keep new ones."
        " I did not keep {count} photo{s} of this message.",
    },
    "limit_voice": {
        "pt": "⏳ Você atingiu o limite de {limit} minutos de áudio por dia; amanhã libera."
        " Escreva o que precisa, por favor.",
        "en": "⏳ You reached the limit of {limit} minutes of voice notes a day; it resets"
        " tomorrow. Please type what you need.",
    },
    "limit_tokens": {
        "pt": "ℹ️ Você atingiu o limite diário da inteligência artificial; até amanhã"
        " respondo com as regras simples (buscar, guardar, apagar continuam funcionando).",
        "en": "ℹ️ You reached today's limit for the AI; until tomorrow I answer with simple"
        " rules (search, save and delete still work).",
    },
    "budget_offline": {
        "pt": "ℹ️ O orçamento diário da inteligência artificial acabou; até amanhã respondo"
        " com as regras simples (buscar, guardar, apagar continuam funcionando).",
        "en": "ℹ️ Today's AI budget is used up; until tomorrow I answer with simple rules"
        " (search, save and delete still work).",
    },
    "throttled": {
        "pt": "⏳ Você enviou muitas mensagens em pouco tempo (limite: {limit} por minuto). "
        "Guardei tudo, mas só vou responder às próximas daqui a um minuto.",
        "en": "⏳ You sent a lot of messages in a short time (limit: {limit} a minute). "
        "I kept them all, but I'll only answer new ones in a minute.",
    },
}
