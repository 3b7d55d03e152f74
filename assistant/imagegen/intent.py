"""Recognising "crie uma imagem de …" / "create an image of …" in a user's words.

Shared by the offline rules (their intent) and the model brain (which creates the image
itself when the words are this explicit, rather than hoping the model calls the tool).
Matched on folded text (lower case, no accents) and anchored at the start, so a
description that merely mentions an image ("foto da imagem de Nossa Senhora") or a search
("mostre fotos de …") is not a request to create one.

Two strengths: `image_prompt` finds the subject of a plain request ("crie uma imagem de
…"), which the model brain creates by itself; `IMAGE_REQUEST` is any message that opens by
asking for an image, whatever follows ("crie uma imagem onde alguém apaga a última vela",
"desenhe minha avó …"). The offline rules read those as image requests before anything
else, so words about deleting inside them never reach the deletion rules.
"""

from __future__ import annotations

import re

from assistant.search.text import fold

_POLITE = r"(?:(?:por favor|pfv|pf|please|pls)[,!]?\s+)?"
_ASK = (
    r"(?:(?:voce|vc|tu)\s+)?"
    r"(?:(?:pode|poderia|podia|consegue|conseguiria|quer)\s+"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
)
_ME = r"(?:(?:me|pra mim|para mim|for me)\s+)?"
_VERB = (
    r"(?:cri[ae]r?|ger[ae]r?|fa[cz]a|faz(?:er)?|produz(?:a|ir)?|desenh[ae]r?|pint[ae]r?"
    r"|ilustr[ae]r?|create|generate|make|draw|paint|render|design|illustrate|produce)"
)
_ARTICLE = r"(?:(?:uma?|an?|the|some|one)\s+)?(?:(?:nova|novo|new)\s+)?"
_NOUN = (
    r"(?:imagem|figura|foto|fotografia|ilustracao|desenho|pintura|arte|image|picture|pic"
    r"|photo|drawing|illustration|painting|artwork|art)"
)
_OF = (
    r"(?:\s+(?:pra mim|para mim|for me))?"
    r"(?:\s*[:\-–]\s*|\s+(?:de|do|da|dos|das|com|sobre|mostrando|of|showing|with|about"
    r"|depicting)(?:\s*[:\-–]\s*|\s+))"
)
# "crie uma imagem de um gato", "can you make me a picture of a cat"
_WITH_NOUN = re.compile(rf"^{_POLITE}{_ASK}{_ME}{_VERB}\s+{_ME}{_ARTICLE}{_NOUN}{_OF}(?=\S)")
# "desenhe um gato", "draw me a cat": drawing needs no noun.
_DRAWING = re.compile(
    rf"^{_POLITE}{_ASK}{_ME}(?:desenh[ae]r?|draw|paint|pint[ae]r?)\s+{_ME}"
    r"(?=(?:uma?|an?|the|some)\s+\S)"
)
# Any message that opens by asking for an image: a creating verb and an image noun (one
# word may sit between them: "uma linda imagem") that ends the message or is followed by
# what it shows ("onde …", "in which …"; "make a photo album" is not one), or a drawing
# verb alone ("desenhe minha avó …"; "desenhei", "drawing" are descriptions).
_OPENS_WITH_NOUN = re.compile(
    rf"^{_POLITE}{_ASK}{_ME}{_VERB}\s+{_ME}{_ARTICLE}(?:[^\W\d_]+\s+)?{_NOUN}"
    r"(?=\s*$|\s*[:\-–,.!?]|\s+(?:de|do|da|dos|das|com|sobre|mostrando|onde|em que|na qual"
    r"|no qual|pra mim|para mim|of|showing|with|about|depicting|where|in which|that"
    r"|which|for me)\b)"
)
_OPENS_WITH_DRAWING = re.compile(
    rf"^{_POLITE}{_ASK}{_ME}(?:desenh[ae]r?|draw|paint|pint[ae]r?|ilustr[ae]r?|illustrate)\b"
)
# What the intent list of the offline rules matches.
IMAGE_REQUEST = re.compile(
    f"{_WITH_NOUN.pattern}|{_DRAWING.pattern}|{_OPENS_WITH_NOUN.pattern}"
    f"|{_OPENS_WITH_DRAWING.pattern}"
)


def image_prompt(text: str, *, loose: bool = False) -> str | None:
    """The subject of a request to create an image, in the user's own words ("um gato
    astronauta"), or None when the text is not such a request. `loose`: any message that
    opens by asking for an image (`IMAGE_REQUEST`) gives the words after its opening
    ("onde alguém apaga a última vela")."""
    text = " ".join(text.split())
    folded = fold(text)
    match = _WITH_NOUN.match(folded) or _DRAWING.match(folded)
    if match is None and loose:
        match = _OPENS_WITH_NOUN.match(folded) or _OPENS_WITH_DRAWING.match(folded)
    if match is None:
        return None
    # Folding keeps lengths for Latin text; when it does not, the folded words serve.
    source = text if len(folded) == len(text) else folded
    prompt = source[match.end() :].strip(" :-–,").rstrip("?!.… ").strip()
    return prompt or None
