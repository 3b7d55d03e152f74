"""Similar photos (issue #27, assistant/similar): each kind said as what it is."""

from __future__ import annotations

from assistant.models import Language

SIMILAR_PHRASES: dict[str, dict[Language, str]] = {
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
