"""Whether a message asks for photos similar to one ("parecidas", "iguais a esta",
"similar", "like this one", "fotos parecidas com a última"), and to which.

Deliberately narrow: the words must be the request itself, not part of a description
("dois gatos parecidos" is a photo's description; "fotos parecidas" is a request), since
a photo sent with a request is not saved.
"""

from __future__ import annotations

import re

from assistant.search.text import fold

_VERB = (
    r"(?:(?:me |por favor |please |pls )?(?:mostr\w*|busc\w*|procur\w*|encontr\w*|ach\w*"
    r"|ve[rj]a?|quero ver|queria ver|tem|tenho|tens|existe\w*|ha|envi\w*|mand\w*|show(?: me)?"
    r"|find(?: me)?|search(?: for)?|look for|get(?: me)?|send(?: me)?|give me|do i have"
    r"|have i got|any)\s+)"
)
_NOUN = r"(?:fotos?|imagens?|photos?|pictures?|pics?|images?|prints?|ones?)"
_PHOTOS = (
    rf"(?:(?:as |os |uns |umas |algumas |outras |mais |more |other |some |any |the )?{_NOUN}\s+)"
)
_LIKE = (
    r"(?:parecid[oa]s?|semelhantes?|similar(?:es)?|iguais|igual|identic[oa]s?|assim"
    r"|como (?:esta|essa|este|esse|ela|ele|isso)|like (?:this|that|it|the (?:last|latest))"
    r"|that look like (?:this|that|it))"
)
# English puts the adjective first: "similar photos", "more matching pictures".
_ADJECTIVE = rf"(?:(?:some |any |more |other )?(?:similar|matching) {_NOUN})"
# What the photo is called after the request: "com a última", "to this one", "que te mandei".
_REFERENCE = (
    r"(?:\s+(?:a|as|ao|com|to|with|da|do|de|as))?(?:\s+(?:esta|essa|este|esse|isto|isso|ela"
    r"|ele|aquela|aquele|this|that|it|a|o|the|my|minha|meu|ultim[ao]|last|latest|previous"
    r"|anterior|foto|imagem|photo|picture|pic|one|que|te|mandei|enviei|i|sent|you))*"
)
# Matched against the folded text (`fold`), as the offline rules classify messages.
SIMILAR_REQUEST = re.compile(rf"^{_VERB}?(?:{_PHOTOS}?{_LIKE}|{_ADJECTIVE}){_REFERENCE}\W*$")
_LATEST = re.compile(r"\b(ultim[ao]|last|latest|anterior|previous)\b")


def wants_similar(text: str) -> bool:
    """The whole message is a request for similar photos."""
    folded = " ".join(fold(text).replace("?", " ").replace("!", " ").split())
    return bool(folded) and SIMILAR_REQUEST.match(folded) is not None


def about_latest(text: str) -> bool:
    """The request names the user's latest photo ("parecidas com a última")."""
    return _LATEST.search(fold(text)) is not None
