"""Photos and voice notes that cannot be kept or transcribed: sizes, shapes, formats,
downloads, storage."""

from __future__ import annotations

from assistant.models import Language

MEDIA_PHRASES: dict[str, dict[Language, str]] = {
    "too_large": {
        "pt": "⚠️ Esse arquivo tem {mb} MB e o limite é {limit} MB. Envie uma versão menor.",
        "en": "⚠️ That file is {mb} MB and the limit is {limit} MB. Please send a smaller one.",
    },
    "too_many_pixels": {
        "pt": "⚠️ Essa imagem tem {mp} megapixels e o limite é {limit}. "
        "Envie uma versão menor (uma foto normal do WhatsApp serve).",
        "en": "⚠️ That image has {mp} megapixels and the limit is {limit}. "
        "Please send a smaller version (a normal WhatsApp photo is fine).",
    },
    "bad_shape": {
        "pt": "⚠️ Essa imagem tem um formato extremo ({size} pixels): aceito até {side} pixels"
        " de lado e proporção de até {ratio}:1. Envie uma versão menor ou recortada.",
        "en": "⚠️ That image has an extreme shape ({size} pixels): I take up to {side} pixels"
        " on a side and a ratio of up to {ratio}:1. Please send a smaller or cropped one.",
    },
    "over_budget": {
        "pt": "⚠️ Guardei só as primeiras imagens: uma mensagem leva até {limit} megapixels."
        " Envie as outras ({count}) em outra mensagem.",
        "en": "⚠️ I kept only the first images: one message takes up to {limit} megapixels."
        " Please send the other {count} in another message.",
    },
    "unsupported": {
        "pt": "⚠️ Não consigo guardar esse tipo de arquivo. Envie fotos em JPG, PNG ou WEBP.",
        "en": "⚠️ I can't keep that kind of file. Please send photos as JPG, PNG or WEBP.",
    },
    "unsupported_message": {
        "pt": "⚠️ Ainda não sei lidar com esse tipo de mensagem. Mande fotos (com ou sem "
        "legenda), textos ou áudios.",
        "en": "⚠️ I can't handle that kind of message yet. Send me photos (with or without "
        "a caption), texts or voice notes.",
    },
    "media_unavailable": {
        "pt": "⚠️ Não consegui baixar o arquivo que você enviou. Pode tentar de novo?",
        "en": "⚠️ I couldn't download the file you sent. Could you try again?",
    },
    "storage_unavailable": {
        "pt": "⚠️ Não consegui guardar sua foto agora (o armazenamento não respondeu). "
        "Pode enviar de novo daqui a pouco?",
        "en": "⚠️ I couldn't store your photo right now (the storage did not answer). "
        "Could you send it again in a moment?",
    },
    "voice_unavailable": {
        "pt": "🎙️ Recebi seu áudio, mas a transcrição de voz não está ativada neste "
        "assistente. Por favor, escreva sua mensagem. (Para ativar, configure "
        "OPENAI_API_KEY.)",
        "en": "🎙️ I got your voice note, but voice transcription is not enabled on this "
        "assistant. Please type your message. (To enable it, set OPENAI_API_KEY.)",
    },
    "voice_heard": {"pt": "🎙️ Entendi: _“{text}”_", "en": "🎙️ I heard: _“{text}”_"},
    "voice_failed": {
        "pt": "🎙️ Não consegui transcrever seu áudio agora. Pode escrever a mensagem?",
        "en": "🎙️ I couldn't transcribe your voice note right now. Could you type it?",
    },
    "voice_too_long": {
        "pt": "🎙️ Seu áudio tem uns {heard}; eu transcrevo até {limit}. Pode mandar"
        " em partes mais curtas ou escrever? (O áudio ficou guardado.)",
        "en": "🎙️ Your voice note is about {heard} long; I transcribe up to {limit}."
        " Could you send shorter parts or type it? (The audio was kept.)",
    },
    "voice_corrupt": {
        "pt": "🎙️ Não consegui abrir esse áudio (o arquivo parece corrompido). Pode gravar de"
        " novo ou escrever?",
        "en": "🎙️ I couldn't open that audio (the file looks damaged). Could you record it"
        " again or type it?",
    },
    "voice_silent": {
        "pt": "🎙️ Não ouvi nenhuma fala nesse áudio. Pode gravar de novo ou escrever?",
        "en": "🎙️ I couldn't hear any speech in that voice note. Could you record it again or"
        " type it?",
    },
    "voice_no_model": {
        "pt": "🎙️ Recebi seu áudio, mas o modelo de transcrição local não está instalado"
        " neste assistente. Por favor, escreva sua mensagem. (Veja WHISPER_MODEL no README.)",
        "en": "🎙️ I got your voice note, but the local transcription model is not installed"
        " on this assistant. Please type your message. (See WHISPER_MODEL in the README.)",
    },
    "voice_unsupported": {
        "pt": "⚠️ Não consigo transcrever esse formato de áudio (ou ele passa de 25 MB). "
        "Envie uma mensagem de voz normal do WhatsApp ou escreva o que precisa.",
        "en": "⚠️ I can't transcribe that audio format (or it is over 25 MB). "
        "Send a regular WhatsApp voice note or type what you need.",
    },
}
