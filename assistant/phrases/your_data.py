"""A user's own data: the export of everything, and erasing everything."""

from __future__ import annotations

from assistant.models import Language

YOUR_DATA_PHRASES: dict[str, dict[Language, str]] = {
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
}
