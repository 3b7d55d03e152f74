"""The same document: photos whose text (read by the OCR) largely matches a query's.

Candidates come from the full-text postings (`entry_terms`, sql/006): the entries of this
owner that contain the most of the query text's words, one B-tree range per word, never a
scan of the catalog. Each candidate image's own text is then compared with the query's as
sets of words (Jaccard): two receipts of the same shop share "total", "cupom", "fiscal"
and the shop's name, but a second photo of the same receipt shares nearly every word.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.db import Database
from assistant.search.text import fold, is_stop_word, search_forms, words

# Fewer distinct words than this and a text says too little to call two photos the same
# document (a sign with "PARE" is not a document match for every other stop sign).
MIN_WORDS = 5
# Share of words in common (Jaccard) from which two texts are the same document; on the
# development set the same document photographed again scores 0.6-1.0 and different
# documents of one kind (two receipts, two bus timetables) at most 0.3.
MIN_JACCARD = 0.5
# Words of the query looked up in the postings (the longest first: the most telling).
MAX_QUERY_TERMS = 48
CANDIDATE_ENTRIES = 20


def word_set(text: str) -> set[str]:
    """The content words of a text, folded ("Café" and "cafe" are one word)."""
    return {fold(w) for w in words(text) if len(w) >= 2 and not is_stop_word(w)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass(frozen=True)
class DocumentMatch:
    image_id: int
    description_id: int
    score: float  # Jaccard of the two texts' words


class SameDocument:
    def __init__(self, db: Database):
        self.db = db

    def find(
        self, owner: str, text: str, exclude_images: set[int] | frozenset[int] = frozenset()
    ) -> list[DocumentMatch]:
        """This owner's described images whose text largely matches `text`, best first."""
        query = word_set(text)
        if len(query) < MIN_WORDS:
            return []
        forms = sorted(set(search_forms(text).split()), key=lambda f: (-len(f), f))
        forms = forms[:MAX_QUERY_TERMS]
        rows = self.db.fetchall(
            # The query's words as the catalog's own lexemes (both stemmers, as the
            # entries' tsvector is built), then this owner's postings of those lexemes.
            "WITH q AS (SELECT DISTINCT unnest(tsvector_to_array("
            " to_tsvector('portuguese', f) || to_tsvector('english', f))) AS term"
            " FROM unnest(%(forms)s::text[]) AS f),"
            " c AS (SELECT e.description_id, count(*) AS hits FROM q"
            "  JOIN entry_terms e ON e.owner = %(owner)s AND e.term = q.term"
            "  GROUP BY e.description_id ORDER BY hits DESC, e.description_id DESC"
            "  LIMIT %(n)s)"
            " SELECT i.id, i.description_id, i.ocr_text FROM c"
            " JOIN images i ON i.owner = %(owner)s AND i.description_id = c.description_id"
            " WHERE i.ocr_text <> ''",
            {"forms": forms, "owner": owner, "n": CANDIDATE_ENTRIES},
        )
        found = []
        for row in rows:
            if row["id"] in exclude_images:
                continue
            score = jaccard(query, word_set(row["ocr_text"]))
            if score >= MIN_JACCARD and len(query & word_set(row["ocr_text"])) >= MIN_WORDS:
                found.append(DocumentMatch(row["id"], row["description_id"], round(score, 3)))
        found.sort(key=lambda m: (-m.score, -m.image_id))
        return found
