"""Everything the assistant says, in Brazilian Portuguese and English (WhatsApp format)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assistant.imagegen.phrases import IMAGE_PHRASES
from assistant.models import Language

PHRASES: dict[str, dict[Language, str]] = {
    "saved": {
        "pt": "✅ Foto salva com a descrição: *{description}*",
        "en": "✅ Photo saved with the description: *{description}*",
    },
    "saved_many": {
        "pt": "✅ {n} fotos salvas com a descrição: *{description}*",
        "en": "✅ {n} photos saved with the description: *{description}*",
    },
    "described": {
        "pt": "✅ Perfeito! Salvei a descrição *“{description}”* e associei à imagem. "
        "Agora posso encontrá-la sempre que você precisar!",
        "en": "✅ Done! I saved the description *“{description}”* for the photo. "
        "Now I can find it whenever you need it!",
    },
    "described_many": {
        "pt": "✅ Perfeito! Salvei a descrição *“{description}”* e associei às {n} imagens.",
        "en": "✅ Done! I saved the description *“{description}”* for the {n} photos.",
    },
    "ask_description": {
        "pt": "📷 Recebi sua foto! Me diga uma descrição para ela, assim consigo "
        "encontrá-la depois.",
        "en": "📷 Got your photo! Send me a short description so I can find it later.",
    },
    "ask_description_many": {
        "pt": "📷 Recebi! Há {n} fotos aguardando descrição. Envie uma descrição e eu "
        "associo a todas elas.",
        "en": "📷 Got it! {n} photos are waiting for a description. Send one and I'll use "
        "it for all of them.",
    },
    "duplicate": {
        "pt": "ℹ️ Essa foto já está salva como *{description}* (desde {date}).",
        "en": "ℹ️ That photo is already saved as *{description}* (since {date}).",
    },
    "found": {
        "pt": "🔎 Encontrei {n} foto{s} de *{query}*:",
        "en": "🔎 Found {n} photo{s} of *{query}*:",
    },
    "found_capped": {
        "pt": "🔎 Encontrei {n} fotos de *{query}*; aqui estão as {k} mais relevantes. "
        "Refine a busca para ver outras.",
        "en": "🔎 Found {n} photos of *{query}*; here are the {k} most relevant. "
        "Refine the search to see others.",
    },
    "not_found": {
        "pt": "🔎 Não encontrei fotos de *{query}*. Tente outras palavras, ou peça "
        "“minhas últimas fotos”.",
        "en": "🔎 I didn't find any photos of *{query}*. Try other words, or ask for "
        "“my latest photos”.",
    },
    "recent": {
        "pt": "🕒 Suas últimas fotos ({k} de {n}):",
        "en": "🕒 Your latest photos ({k} of {n}):",
    },
    "empty_catalog": {
        "pt": "Você ainda não tem fotos salvas. Envie uma foto com uma descrição para começar!",
        "en": "You have no saved photos yet. Send a photo with a description to start!",
    },
    "privacy": {
        "pt": "🔒 Só posso mostrar as suas próprias fotos.",
        "en": "🔒 I can only show your own photos.",
    },
    "deleted": {
        "pt": "🗑️ Apaguei *{description}* ({n} foto{s}).",
        "en": "🗑️ Deleted *{description}* ({n} photo{s}).",
    },
    "deleted_pending": {
        "pt": "🗑️ Apaguei a foto que aguardava descrição.",
        "en": "🗑️ Deleted the photo that was waiting for a description.",
    },
    "nothing_to_delete": {
        "pt": "Não há nada para apagar: você ainda não salvou fotos.",
        "en": "There is nothing to delete: you have not saved any photos yet.",
    },
    "not_yours": {
        "pt": "Não encontrei esse registro entre as suas fotos.",
        "en": "I couldn't find that entry among your photos.",
    },
    "remembered": {
        "pt": "📝 Vou lembrar: {fact}",
        "en": "📝 I'll remember: {fact}",
    },
    "fact_shortened": {
        "pt": "✂️ Encurtei o lembrete para {limit} caracteres.",
        "en": "✂️ I shortened the note to {limit} characters.",
    },
    "facts_forgotten": {
        "pt": "🧹 Guardo no máximo {limit} lembretes, por isso esqueci o mais antigo: {forgotten}",
        "en": "🧹 I keep at most {limit} notes, so I forgot the oldest: {forgotten}",
    },
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
    "pending_reminder": {
        "pt": "(Ainda há {n} foto{s} aguardando descrição.)",
        "en": "({n} photo{s} still waiting for a description.)",
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
    "too_large": {
        "pt": "⚠️ Esse arquivo tem {mb} MB e o limite é {limit} MB. Envie uma versão menor.",
        "en": "⚠️ That file is {mb} MB and the limit is {limit} MB. Please send a smaller one.",
    },
    "not_found_maybe": {
        "pt": "🔎 Nenhuma foto tem *{query}* na descrição ou no texto. Talvez estas:",
        "en": "🔎 No photo has *{query}* in its description or text. Maybe these:",
    },
    "ocr_saved": {
        "pt": "📄 Li na foto: *{description}*. Salvei assim; mande outra descrição se quiser.",
        "en": "📄 I read in the photo: *{description}*. Saved it like that; send another"
        " description if you like.",
    },
    "ocr_corrected": {
        "pt": "✏️ Corrigido: a foto agora está salva como *{description}*.",
        "en": "✏️ Corrected: the photo is now saved as *{description}*.",
    },
    "too_many_pixels": {
        "pt": "⚠️ Essa imagem tem {mp} megapixels e o limite é {limit}. "
        "Envie uma versão menor (uma foto normal do WhatsApp serve).",
        "en": "⚠️ That image has {mp} megapixels and the limit is {limit}. "
        "Please send a smaller version (a normal WhatsApp photo is fine).",
    },
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
    "error": {
        "pt": "😕 Tive um problema para processar sua mensagem. Tente novamente em instantes.",
        "en": "😕 I had a problem processing your message. Please try again shortly.",
    },
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
    "saved_auto": {
        "pt": "✅ Foto salva com a descrição automática: *{description}*. Se quiser outra, "
        "me mande a sua.",
        "en": "✅ Photo saved with an automatic description: *{description}*. If you want "
        "another, send me yours.",
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
    "storage_unavailable": {
        "pt": "⚠️ Não consegui guardar sua foto agora (o armazenamento não respondeu). "
        "Pode enviar de novo daqui a pouco?",
        "en": "⚠️ I couldn't store your photo right now (the storage did not answer). "
        "Could you send it again in a moment?",
    },
    "near_duplicate": {
        "pt": "👀 Você já salvou uma foto muito parecida em {date}: *{description}*.",
        "en": "👀 You saved a very similar photo on {date}: *{description}*.",
    },
    "throttled": {
        "pt": "⏳ Você enviou muitas mensagens em pouco tempo (limite: {limit} por minuto). "
        "Guardei tudo, mas só vou responder às próximas daqui a um minuto.",
        "en": "⏳ You sent a lot of messages in a short time (limit: {limit} a minute). "
        "I kept them all, but I'll only answer new ones in a minute.",
    },
    "export_ready": {
        "pt": "📦 Seus dados estão prontos ({n} foto{s}, descrições, lembretes e mensagens):\n"
        "{url}\nO link vale por {hours} horas; depois o arquivo é apagado.",
        "en": "📦 Your data is ready ({n} photo{s}, descriptions, remembered facts and "
        "messages):\n{url}\nThe link works for {hours} hours; then the file is deleted.",
    },
    "export_preparing": {
        "pt": "📦 Estou preparando a exportação das suas {n} fotos e dados. Isso leva alguns "
        "minutos: envio o link aqui assim que estiver pronto.",
        "en": "📦 I'm preparing the export of your {n} photos and data. It takes a few "
        "minutes: I'll send the link here as soon as it's ready.",
    },
    "export_already_preparing": {
        "pt": "⏳ Sua exportação já está sendo preparada: envio o link assim que ficar pronta.",
        "en": "⏳ Your export is already being prepared: I'll send the link as soon as it's ready.",
    },
    "export_failed": {
        "pt": "⚠️ Não consegui preparar a exportação dos seus dados. Pode pedir de novo "
        "daqui a pouco?",
        "en": "⚠️ I couldn't prepare the export of your data. Could you ask again in a while?",
    },
    "export_readme": {
        "pt": "Seus dados no assistente de fotos.\n"
        "photos/: suas fotos, como você as enviou (entrada-foto.ext; 'waiting' = sem "
        "descrição).\n"
        "entries.json e entries.csv: descrições, legendas, etiquetas, texto lido nas fotos, "
        "datas e o nome de cada foto neste arquivo.\n"
        "facts.json: o que você pediu para eu lembrar.\n"
        "messages.json: o histórico das nossas mensagens.\n"
        "profile.json: seu número, nome e idioma.",
        "en": "Your data in the photo assistant.\n"
        "photos/: your photos as you sent them (entry-photo.ext; 'waiting' = no "
        "description yet).\n"
        "entries.json and entries.csv: descriptions, captions, tags, text read in the "
        "photos, dates and each photo's file name in this archive.\n"
        "facts.json: what you asked me to remember.\n"
        "messages.json: the history of our messages.\n"
        "profile.json: your number, name and language.",
    },
    "erase_confirm": {
        "pt": "⚠️ Isso apaga *todos* os seus dados: fotos, descrições, lembretes e o histórico "
        "de mensagens. Não dá para desfazer.\nPara confirmar, responda *{word}* nos próximos "
        "{minutes} minutos. (Se quiser uma cópia antes, peça “exportar meus dados”.)",
        "en": "⚠️ This deletes *all* your data: photos, descriptions, remembered facts and the "
        "message history. It cannot be undone.\nTo confirm, reply *{word}* within the next "
        "{minutes} minutes. (For a copy first, ask “export my data”.)",
    },
    "erased": {
        "pt": "🗑️ Pronto: apaguei todos os seus dados — {entries} descriç{oes}, {photos} "
        "foto{ps}, {facts} lembrete{fs} e {messages} mensage{ms}. Não guardei nada sobre você.",
        "en": "🗑️ Done: I deleted all your data — {entries} entr{ies}, {photos} photo{ps}, "
        "{facts} remembered fact{fs} and {messages} message{ms}. Nothing about you is kept.",
    },
    "erase_expired": {
        "pt": "⌛ O pedido para apagar seus dados expirou (vale {minutes} minutos). Se ainda "
        "quiser, peça de novo: “apagar todos os meus dados”.",
        "en": "⌛ The request to delete your data expired (it lasts {minutes} minutes). If you "
        "still want it, ask again: “delete all my data”.",
    },
    "erase_no_request": {
        "pt": "Não há nada para confirmar. Para apagar tudo, peça “apagar todos os meus dados”.",
        "en": "There is nothing to confirm. To delete everything, ask “delete all my data”.",
    },
    # Similar photos (issue #27, assistant/similar): each kind said as what it is.
    "similar_this": {"pt": "esta foto", "en": "this photo"},
    "similar_latest": {
        "pt": "a sua última foto (*{description}*)",
        "en": "your latest photo (*{description}*)",
    },
    "similar_found": {
        "pt": "🔎 Fotos parecidas com {which}:",
        "en": "🔎 Photos similar to {which}:",
    },
    "similar_near": {
        "pt": "🟰 {n} cópia{s} desta mesma foto (reenviada, redimensionada, recortada ou print)",
        "en": "🟰 {n} cop{ies} of this same photo (re-sent, resized, cropped or screenshotted)",
    },
    "similar_document": {
        "pt": "📄 {n} foto{s} do mesmo documento (o texto bate)",
        "en": "📄 {n} photo{s} of the same document (the text matches)",
    },
    "similar_subject": {
        "pt": "≈ {n} talvez do mesmo assunto (só uma sugestão)",
        "en": "≈ {n} maybe of the same subject (only a suggestion)",
    },
    "similar_none": {
        "pt": "🔎 Não encontrei fotos parecidas com {which}.",
        "en": "🔎 I found no photos similar to {which}.",
    },
    "similar_only_copies": {
        "pt": "ℹ️ Esta foto não tem texto nem descrição, e sem um modelo de IA eu só consigo "
        "achar cópias da mesma foto, não fotos do mesmo assunto.",
        "en": "ℹ️ This photo has no text or description, and without an AI model I can only "
        "find copies of this same photo, not photos of the same subject.",
    },
    "similar_not_kept": {
        "pt": "(Não guardei esta foto: ela serviu só para a busca.)",
        "en": "(I didn't keep this photo: it was only used for the search.)",
    },
    "similar_no_photo": {
        "pt": "📷 Mande a foto junto com “parecidas” (ou peça “parecidas com a última”).",
        "en": "📷 Send the photo with “similar” (or ask “similar to my last one”).",
    },
    "similar_label_near": {"pt": "🟰 Mesma foto", "en": "🟰 Same photo"},
    "similar_label_document": {"pt": "📄 Mesmo documento", "en": "📄 Same document"},
    "similar_label_subject": {
        "pt": "≈ Mesmo assunto (sugestão)",
        "en": "≈ Same subject (suggestion)",
    },
}
# Creating images (issue #27): kept beside their code.
PHRASES.update(IMAGE_PHRASES)


def say(key: str, language: Language, **values: Any) -> str:
    n = values.get("n")
    if isinstance(n, int) and "s" not in values:
        values["s"] = "" if n == 1 else "s"
    return PHRASES[key][language].format(**values)


def format_date(when: datetime, language: Language) -> str:
    return when.strftime("%d/%m/%Y" if language == "pt" else "%Y-%m-%d")
