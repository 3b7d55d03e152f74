"""What the assistant says about creating images (merged into `assistant.phrases`)."""

from __future__ import annotations

from assistant.models import Language

IMAGE_PHRASES: dict[str, dict[Language, str]] = {
    "image_created": {
        "pt": "🎨 Pronto! Criei a imagem de *{prompt}* e guardei nas suas fotos (etiqueta"
        " “gerada”): peça “mostre imagens geradas” para vê-la de novo.",
        "en": "🎨 Done! I created the image of *{prompt}* and kept it with your photos (tag"
        " “generated”): ask “show generated images” to see it again.",
    },
    "image_caption": {
        "pt": "Imagem gerada pela IA",
        "en": "AI-generated image",
    },
    "image_no_model": {
        "pt": "🎨 Criar imagens precisa de um modelo de inteligência artificial de imagens, que"
        " não está configurado neste assistente. Buscar e guardar fotos continua funcionando.",
        "en": "🎨 Creating images needs an AI image model, and none is configured for this"
        " assistant. Finding and saving photos still works.",
    },
    "image_budget": {
        "pt": "🎨 Criar imagens precisa da inteligência artificial, e o orçamento diário dela"
        " acabou. Peça de novo amanhã.",
        "en": "🎨 Creating images needs the AI, and today's AI budget is used up. Please ask"
        " again tomorrow.",
    },
    "image_limit_tokens": {
        "pt": "🎨 Criar imagens precisa da inteligência artificial, e você atingiu o limite"
        " diário dela. Peça de novo amanhã.",
        "en": "🎨 Creating images needs the AI, and you reached today's limit for it. Please"
        " ask again tomorrow.",
    },
    "image_degraded": {
        "pt": "🎨 Criar imagens precisa da inteligência artificial, que não está respondendo"
        " agora. Tente de novo daqui a alguns minutos.",
        "en": "🎨 Creating images needs the AI, which is not answering right now. Please try"
        " again in a few minutes.",
    },
    "image_limit_images": {
        "pt": "🎨 Você já criou {limit} imagens hoje, o limite diário. Amanhã tem mais!",
        "en": "🎨 You already created {limit} images today, the daily limit. More tomorrow!",
    },
    "image_limit_storage": {
        "pt": "📦 Seu espaço de fotos está cheio ({limit} MB), então não criei a imagem. Apague"
        " fotos antigas para liberar espaço.",
        "en": "📦 Your photo storage is full ({limit} MB), so I didn't create the image."
        " Delete old photos to make room.",
    },
    "image_one_per_message": {
        "pt": "🎨 Crio uma imagem por mensagem: peça a próxima em outra mensagem.",
        "en": "🎨 I create one image per message: ask for the next one in another message.",
    },
    "image_prompt_too_long": {
        "pt": "✏️ Esse pedido é longo demais para criar uma imagem (até {limit} caracteres)."
        " Resuma e peça de novo.",
        "en": "✏️ That request is too long to create an image from (up to {limit}"
        " characters). Please shorten it and ask again.",
    },
    "image_refused": {
        "pt": "🚫 O serviço de imagens recusou esse pedido pelas regras de conteúdo dele. Tente"
        " descrever a imagem de outro jeito.",
        "en": "🚫 The image service refused that request under its content rules. Try"
        " describing the image another way.",
    },
    "image_timeout": {
        "pt": "⌛ A criação da imagem demorou demais e foi cancelada; nada foi salvo. Tente de"
        " novo daqui a pouco.",
        "en": "⌛ Creating the image took too long and was cancelled; nothing was saved. Please"
        " try again in a little while.",
    },
    "image_busy": {
        "pt": "⚠️ O serviço de imagens está ocupado ou fora do ar agora; nada foi salvo. Tente"
        " de novo em alguns minutos.",
        "en": "⚠️ The image service is busy or down right now; nothing was saved. Please try"
        " again in a few minutes.",
    },
    "image_config": {
        "pt": "⚠️ O serviço de imagens recusou a configuração deste assistente (chave, modelo,"
        " tamanho ou créditos da conta). Avise quem o administra; nada foi salvo.",
        "en": "⚠️ The image service refused this assistant's configuration (key, model, size"
        " or the account's credit). Please tell whoever runs it; nothing was saved.",
    },
    "image_request": {
        "pt": "⚠️ O serviço de imagens não aceitou esse pedido; nada foi salvo. Tente"
        " descrevê-lo de outro jeito.",
        "en": "⚠️ The image service did not accept that request; nothing was saved. Try"
        " putting it another way.",
    },
    "image_bad_answer": {
        "pt": "⚠️ O serviço de imagens devolveu algo que não posso guardar (não é uma imagem"
        " válida, é grande demais ou vem de um endereço não autorizado); nada foi salvo.",
        "en": "⚠️ The image service sent back something I can't keep (not a valid image, too"
        " large, or from an address that is not allowed); nothing was saved.",
    },
    "image_already_asked": {
        "pt": "⚠️ Já pedi a imagem desta mensagem uma vez e algo falhou depois; não vou"
        " pedi-la de novo. Se ela não chegou, peça em uma nova mensagem.",
        "en": "⚠️ I already asked for this message's image once and something failed"
        " afterwards; I won't ask again. If it didn't arrive, ask in a new message.",
    },
    "image_not_saved": {
        "pt": "⚠️ Criei a imagem, mas não consegui guardá-la agora (o armazenamento não"
        " respondeu). Peça de novo daqui a pouco.",
        "en": "⚠️ I created the image but couldn't store it right now (the storage did not"
        " answer). Please ask again in a little while.",
    },
}
