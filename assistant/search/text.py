"""Text helpers: accent folding, word forms for search, language guess, message splitting."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import OSA

from assistant.models import Language

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")

# Words that carry no subject in a photo catalog: function words of both languages and
# the words every entry would share ("foto", "photo"). Compared after accent folding.
STOP_WORDS = frozenset(
    """
    a o as os um uma uns umas de da do das dos d em na no nas nos num numa e ou mas
    que se por pra pro para com sem sob sobre ao aos à às ate até eu tu ele ela nos
    vos eles elas me te lhe meu minha meus minhas teu tua seu sua seus suas nosso nossa
    esse essa isso este esta isto aquele aquela aquilo ja já mais muito muita la lá ai
    aí aqui e é foi ser sao são era tem ter tenho estou esta está estão
    foto fotos fotografia fotografias imagem imagens figura pic pics
    the a an of in on at to for from with by and or but is are was were be been my your
    his her its our their this that these those me i you he she it we they some any
    photo photos picture pictures image images
    """.split()
)
_STOP_FOLDED = frozenset(
    unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode() for w in STOP_WORDS
)

# RSLP (Orengo & Huyck, 2001) plural-reduction rules, longest suffix first:
# (suffix, replacement, minimum stem length, exceptions).
_PLURAL_RULES: list[tuple[str, str, int, frozenset[str]]] = [
    ("ns", "m", 1, frozenset()),
    ("ões", "ão", 3, frozenset()),
    ("ães", "ão", 1, frozenset({"mães"})),
    ("ais", "al", 1, frozenset({"cais", "mais"})),
    ("éis", "el", 2, frozenset()),
    ("eis", "el", 2, frozenset()),
    ("óis", "ol", 2, frozenset()),
    (
        "is",
        "il",
        2,
        frozenset(
            {"lápis", "cais", "mais", "crúcis", "biquínis", "pois", "depois", "dois", "leis"}
        ),
    ),
    ("les", "l", 3, frozenset()),
    ("res", "r", 3, frozenset()),
    (
        "s",
        "",
        2,
        frozenset(
            {
                "aliás",
                "pires",
                "lápis",
                "cais",
                "mais",
                "mas",
                "menos",
                "férias",
                "fezes",
                "pêsames",
                "crúcis",
                "gás",
                "atrás",
                "moisés",
                "através",
                "convés",
                "ês",
                "país",
                "após",
                "ambas",
                "ambos",
                "messias",
                "this",
                "is",
                "was",
                "has",
                "gas",
                "bus",
            }
        ),
    ),
]
# RSLP's diminutive rules (augmentative step), with its exceptions and the common words
# that merely end like a diminutive.
_DIMINUTIVE_RULES: list[tuple[str, int, frozenset[str]]] = [
    ("zinho", 2, frozenset()),
    ("zinha", 2, frozenset()),
    (
        "inho",
        3,
        frozenset(
            {
                "caminho",
                "cominho",
                "carinho",
                "vizinho",
                "sobrinho",
                "padrinho",
                "golfinho",
                "focinho",
                "espinho",
                "marinho",
                "sozinho",
                "adivinho",
                "moinho",
            }
        ),
    ),
    (
        "inha",
        3,
        frozenset(
            {
                "rainha",
                "linha",
                "minha",
                "cozinha",
                "farinha",
                "galinha",
                "sardinha",
                "vizinha",
                "sobrinha",
                "madrinha",
                "campainha",
                "bainha",
                "marinha",
                "sozinha",
                "cartilha",
            }
        ),
    ),
]


def fold(text: str) -> str:
    """Lower-case and drop accents ("Árvore" -> "arvore", "ç" -> "c")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _reduce_plural(word: str) -> str:
    for suffix, replacement, min_stem, exceptions in _PLURAL_RULES:
        if word.endswith(suffix):
            if word in exceptions or len(word) - len(suffix) < min_stem:
                return word
            return word[: len(word) - len(suffix)] + replacement
    return word


def _reduce_diminutive(word: str) -> str:
    for suffix, min_stem, exceptions in _DIMINUTIVE_RULES:
        if word.endswith(suffix):
            if word in exceptions or len(word) - len(suffix) < min_stem:
                return word
            return word[: len(word) - len(suffix)]
    return word


def word_forms(word: str) -> list[str]:
    """The folded word and its singular/non-diminutive form (both kept: the rules are
    Portuguese, and keeping the surface form protects English and unusual words)."""
    lowered = word.lower()
    forms = [fold(lowered)]
    if any(ch.isdigit() for ch in lowered):
        # Codes mix digits and letters ("702u", "4471a"): the number alone is what people
        # type ("linha 702"), so it is a form too.
        forms += [n for n in _DIGITS.findall(lowered) if len(n) >= 2 and n != forms[0]]
        return forms
    reduced = _reduce_diminutive(_reduce_plural(lowered))
    folded_reduced = fold(reduced)
    if folded_reduced != forms[0]:
        forms.append(folded_reduced)
    return forms


def is_stop_word(word: str) -> bool:
    return fold(word) in _STOP_FOLDED


def search_forms(text: str) -> str:
    """Normalised text that Postgres stems: content words only, in every form."""
    out: list[str] = []
    for word in words(text):
        if is_stop_word(word):
            continue
        out.extend(word_forms(word))
    return " ".join(out)


def query_groups(text: str) -> list[list[str]]:
    """One group of forms per content word of a query (a group matches if any form does)."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    for word in words(text):
        if is_stop_word(word):
            continue
        forms = word_forms(word)
        if forms[0] in seen:
            continue
        seen.add(forms[0])
        groups.append(forms)
    return groups


_PT_MARKERS = frozenset(
    "o os as um uma de da do das dos em na no nas nos que para com meu minha meus minhas "
    "foto fotos mostre mostra é e não nao sim oi olá ola obrigado obrigada tudo bem "
    "quero ver cadê cade ajuda apague apaga último última ultimas minhas".split()
)
_EN_MARKERS = frozenset(
    "the a an of in on at my your show me find search is are photo photos picture pictures "
    "please thanks thank hello hi help delete last my from for with and what where how".split()
)


def detect_language(text: str) -> Language | None:
    """A cheap guess from function words and accents; None when there is nothing to go on."""
    tokens = words(text)
    if not tokens:
        return None
    pt = sum(1 for t in tokens if t in _PT_MARKERS)
    en = sum(1 for t in tokens if t in _EN_MARKERS)
    if re.search(r"[ãõçáéíóúâêô]", text.lower()):
        pt += 1
    if pt == en:
        return None
    return "pt" if pt > en else "en"


def split_message(text: str, limit: int = 1600) -> list[str]:
    """Split text into WhatsApp-sized parts, preferring paragraph, line, then word breaks."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def damerau_levenshtein(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (a swap of two letters is one edit), `limit + 1`
    once it exceeds `limit` (rapidfuzz stops early there)."""
    return int(OSA.distance(a, b, score_cutoff=limit))


def typo_budget(term: str) -> int:
    """How many edits a query term may be off by: none for short words, where one edit
    already turns one word into another."""
    if len(term) < 5:
        return 0
    return 1 if len(term) < 9 else 2


# Words that open a request ("mostre fotos de ...", "show me ..."): dropped only at the
# start of a query, so a subject like "ingresso do show" keeps its "show".
REQUEST_WORDS = frozenset(
    fold(w)
    for w in """
    mostre mostra mostrar mostrem me busque busca buscar procure procura procurar encontre
    encontra encontrar ache acha achar quero queria ver veja cadê cade onde estao está estão
    envie envia enviar manda mande mandar tem todas todos toda todo alguma algumas
    show find search look looking for see want get send give where are all any every
    can could would you please por favor pf pfv
    """.split()
)


def strip_request(text: str) -> str:
    """Drop the request phrasing before the subject: "Mostre fotos de cachorro" -> "cachorro"."""
    tokens = re.findall(r"\S+", text)
    start = 0
    for start, token in enumerate(tokens):  # noqa: B007 - start is used after the loop
        bare = [w for w in words(token)]
        if bare and not all(fold(w) in REQUEST_WORDS or is_stop_word(w) for w in bare):
            break
    else:
        # Everything looked like request words ("quero ver as fotos do show"): the last
        # content word is the likeliest subject.
        content = [w for w in words(text) if not is_stop_word(w)]
        return content[-1] if content else ""
    return " ".join(tokens[start:]).strip(" ?!.,;:")


# Kept although a format character: the zero-width joiner holds emoji sequences together.
_KEPT = "\t\n\r\u200d"


def storable_text(text: str) -> str:
    """Text from a source we do not control (a model's tool arguments, an image server's
    revised prompt) as PostgreSQL and the catalog take it: no control characters but tab
    and line breaks (PostgreSQL refuses NUL, in text and jsonb), no invisible format
    characters (U+202E turns the rest of a caption around), no lone surrogates (not
    encodable)."""
    return "".join(
        ch for ch in text if ch in _KEPT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


def plain_text(text: str, limit: int | None = None) -> str:
    """`storable_text` on one line: whitespace collapsed, at most `limit` characters."""
    if limit is not None:
        text = text[: limit * 4]  # enough to fill `limit`; bounds the work on a huge text
    return " ".join(storable_text(text).split())[:limit].strip()
