"""Greetings, help, thanks and the answers when a message is not understood or fails."""

from __future__ import annotations

from assistant.models import Language

CONVERSATION_PHRASES: dict[str, dict[Language, str]] = {
    "help": {
        "pt": "Sou seu assistente de fotos 📸\n"
        "*Salvar:* envie uma foto com uma legenda, ou a foto e depois a descrição.\n"
        "*Buscar:* “mostre fotos de cachorro”.\n"
        "*Recentes:* “minhas últimas fotos”.\n"
        "*Apagar:* “apague a última foto”.\n"
        "*Lembrar:* “lembre que prefiro fotos em paisagem”.\n"
        "*Parecidas:* envie uma foto com “parecidas”, ou peça “parecidas com a última”.\n"
        "*Criar:* “crie uma imagem de um gato astronauta” (com a IA ativada).\n"
        "Também entendo áudios quando a transcrição está ativada.",
        "en": "I'm your photo assistant 📸\n"
        "*Save:* send a photo with a caption, or the photo and then its description.\n"
        "*Find:* “show me pictures of my dog”.\n"
        "*Recent:* “my latest photos”.\n"
        "*Delete:* “delete the last photo”.\n"
        "*Remember:* “remember that I prefer landscape photos”.\n"
        "*Similar:* send a photo with “similar”, or ask “photos like the last one”.\n"
        "*Create:* “create an image of a cat astronaut” (when the AI is enabled).\n"
        "I also understand voice notes when transcription is enabled.",
    },
    "greeting": {
        "pt": "Olá{name}! 👋 Envie uma foto com uma descrição para guardá-la, ou peça "
        "“mostre fotos de …”. Digite *ajuda* para ver tudo o que eu faço.",
        "en": "Hi{name}! 👋 Send a photo with a description to keep it, or ask "
        "“show me pictures of …”. Type *help* to see everything I do.",
    },
    "thanks": {"pt": "De nada! 😊", "en": "You're welcome! 😊"},
    "fallback": {
        "pt": "Não entendi 🤔. Envie uma foto com uma descrição, ou peça por exemplo "
        "“mostre fotos da praia”. Digite *ajuda* para ver tudo.",
        "en": "I didn't understand 🤔. Send a photo with a description, or ask for example "
        "“show me beach photos”. Type *help* to see everything.",
    },
    "error": {
        "pt": "😕 Tive um problema para processar sua mensagem. Tente novamente em instantes.",
        "en": "😕 I had a problem processing your message. Please try again shortly.",
    },
}
