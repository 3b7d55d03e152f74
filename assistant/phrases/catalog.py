"""Saving, finding, correcting and deleting photos, and the facts a user asks to be remembered."""

from __future__ import annotations

from assistant.models import Language

CATALOG_PHRASES: dict[str, dict[Language, str]] = {
    "saved": {
        "pt": "✅ Foto salva com a descrição: *{description}*",
        "en": "✅ Photo saved with the description: *{description}*",
    },
    "saved_many": {
        "pt": "✅ {n} fotos salvas com a descrição: *{description}*",
        "en": "✅ {n} photos saved with the description: *{description}*",
    },
    "saved_auto": {
        "pt": "✅ Foto salva com a descrição automática: *{description}*. Se quiser outra, "
        "me mande a sua.",
        "en": "✅ Photo saved with an automatic description: *{description}*. If you want "
        "another, send me yours.",
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
    "near_duplicate": {
        "pt": "👀 Você já salvou uma foto muito parecida em {date}: *{description}*.",
        "en": "👀 You saved a very similar photo on {date}: *{description}*.",
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
    "not_found_maybe": {
        "pt": "🔎 Nenhuma foto tem *{query}* na descrição ou no texto. Talvez estas:",
        "en": "🔎 No photo has *{query}* in its description or text. Maybe these:",
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
    "pending_reminder": {
        "pt": "(Ainda há {n} foto{s} aguardando descrição.)",
        "en": "({n} photo{s} still waiting for a description.)",
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
}
