"""Search: a user's entries for a query, by their words first, then by meaning.

Full-text ranking reads per-owner postings (`sql/006_entry_terms.sql`): entries matching
more of the query's words first (each word counts once, whatever form matched), then
Postgres' ts_rank normalised by length, then the newest. A word the user's catalog does
not contain is corrected against that user's own vocabulary. Entries found by meaning
(`assistant/search/semantic.py`) follow; nothing is added just to fill the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from assistant import metrics
from assistant.db import Conn, Database
from assistant.models import Entry, SearchResult
from assistant.search.semantic import SemanticIndex
from assistant.search.text import (
    damerau_levenshtein,
    query_groups,
    search_forms,
    strip_request,
    typo_budget,
)
from assistant.search.vocabulary import terms_near

log = logging.getLogger(__name__)

LoadEntries = Callable[[Conn, str | None, Sequence[int]], list[Entry]]


def _query_lexemes(form: str, pt: list[str], en: list[str]) -> list[str]:
    """The lexemes a query form is looked up by.

    Every entry carries both stemmers' lexemes of each of its words, so a Portuguese word
    has two postings: its Portuguese stem ("cachorr") and, as the English stemmer leaves
    it alone, itself ("cachorro"). Looking a form up by both reads the same entries
    twice. When the English stemmer returns the form unchanged and the Portuguese one
    stemmed it, the Portuguese stem alone finds those entries (they contain the word, so
    its stem; inflections share the stem), and about a third of the postings a search
    reads are saved. English stems that differ from the form ("sleeping" -> "sleep") are
    always kept.
    """
    if pt and en == [form] and pt != [form]:
        return pt
    return sorted(set(pt) | set(en))


def _has_forms(text: str, forms: set[str]) -> bool:
    return bool(forms & set(search_forms(text).split()))


def _snippet(photo_text: str, forms: set[str]) -> str | None:
    """The line of a photo's text where the query's words were found."""
    for line in photo_text.splitlines():
        if _has_forms(line, forms):
            return line.strip()[:120]
    return None


class Search:
    def __init__(self, db: Database, load_entries: LoadEntries, semantic: SemanticIndex | None):
        self.db = db
        self._load_entries = load_entries
        self.semantic = semantic
        # Lexemes of query word forms: the server's stemmers are fixed, so a form's
        # lexemes never change and need asking only once per process.
        self._lexemes: dict[str, list[str]] = {}

    def search(self, owner: str, query: str, limit: int = 5) -> SearchResult:
        """This owner's entries for a query (`_search`), timed and counted: every search
        of the assistant's tools, the UI and the report comes through here."""
        with metrics.timed(metrics.SEARCH_SECONDS):
            result = self._search(owner, query, limit)
        if not result.entries:
            metrics.SEARCH_EMPTY.inc()
        return result

    def _search(self, owner: str, query: str, limit: int) -> SearchResult:
        """This owner's entries for a query: full-text first, then found by meaning.

        Full-text ranking: entries matching more of the query's words first (each word
        counts once, whatever form matched), then Postgres' ts_rank normalised by length
        (a short description that is all about the word beats a long one mentioning it),
        then the newest. Entries found by meaning follow (see `assistant/semantic.py` for
        how they are admitted and ordered). No filler: unrelated entries are not returned.
        """
        subject = strip_request(query)
        rows: list[dict[str, Any]] = []
        terms: list[str] = []
        total_entries = total_images = 0
        with self.db.connection() as conn:
            groups = self._lexeme_groups(conn, subject) if subject else []
            if groups:
                terms, rows, total_entries, total_images, matched = self._fulltext(
                    conn, owner, groups, limit
                )
                # A word none of this owner's entries contains may be a typo: retry with
                # the close words of their own vocabulary (rare, so a second round trip).
                fuzzed = False
                for i, group in enumerate(groups):
                    if not matched & (1 << i):
                        extra_forms = self._typo_candidates(conn, owner, group)
                        fuzzed = fuzzed or bool(extra_forms)
                        group.extend(extra_forms)
                if fuzzed:
                    terms, rows, total_entries, total_images, _ = self._fulltext(
                        conn, owner, groups, limit
                    )
            # A page the words fill is final: load it on the same connection.
            page = None
            if len(rows) >= limit or not subject or self.semantic is None:
                page = self._load_entries(conn, owner, [r["id"] for r in rows][:limit])
        # rank / forms is the ts_rank(tsv, any form, 1) of the entry: below 1, so the
        # score reads "words matched, then how much the entry is about them".
        scores = {r["id"]: float(r["hits"]) + float(r["rank"]) / len(terms) for r in rows}
        extra: list[int] = []
        # Entries found by meaning rank after every full-text hit, so when the words alone
        # fill the page they cannot change it: skip the (costlier) semantic side then.
        if page is None and self.semantic is not None and self.semantic.has_vectors(owner):
            try:
                found = self.semantic.find(owner, subject, anchored=bool(rows))
            except Exception:  # the embedder failing must not break search
                log.exception("semantic search failed; full-text results only")
                found = []
            # The page was not filled by the words, so every entry matching them is on it:
            # entries found by meaning are guesses, offered apart and never counted.
            extra = [f.description_id for f in found if f.description_id not in scores]
            for f in found:
                # Shown as Entry.score: kept below any full-text score (>= 1 word matched).
                scores.setdefault(f.description_id, f.score / 100)
        entries = page
        if entries is None:
            ids = [r["id"] for r in rows] + extra
            with self.db.connection() as conn:
                entries = self._load_entries(conn, owner, ids[:limit])
        hits = {r["id"]: int(r["hits"]) for r in rows}
        query_forms = {form for group in query_groups(subject) for form in group}
        for entry in entries:
            entry.score = scores.get(entry.id)
            if entry.id not in hits:
                entry.matched_by = "meaning"
                continue
            if hits[entry.id] < len(groups):
                entry.matched_by = "partial"  # some of the words: a suggestion
                continue
            own = " ".join([entry.description, entry.caption or "", *entry.tags])
            snippet = (
                None if _has_forms(own, query_forms) else _snippet(entry.photo_text, query_forms)
            )
            # A typo-corrected or stemmed match of the user's own words has no snippet.
            entry.matched_by = "photo_text" if snippet else "words"
            entry.snippet = snippet
        return SearchResult(
            query=subject,
            entries=entries,
            total_entries=total_entries,
            total_images=total_images,
        )

    def _fulltext(
        self, conn: Conn, owner: str, groups: list[list[str]], limit: int
    ) -> tuple[list[str], list[dict[str, Any]], int, int, int]:
        """(forms, the top rows, entries matched, their images, bit mask of the words that
        matched anything) in one round trip."""
        # Each form carries a bit per query word it stands for; hits = how many words an
        # entry matched, however many of their forms it contains.
        masks: dict[str, int] = {}
        for i, group in enumerate(groups[:31]):
            for lex in group:
                masks[lex] = masks.get(lex, 0) | (1 << i)
        terms = list(masks)
        if len(terms) == 1:
            # One form (most one-word searches): every posting is a different entry, so
            # the page is the postings' top rows and nothing needs grouping.
            found = conn.execute(
                "SELECT s.total, s.images, s.matched, t.id, t.hits, t.rank"
                " FROM (SELECT count(*) AS total, coalesce(sum(images), 0) AS images,"
                "  (count(*) > 0)::int AS matched FROM entry_terms"
                "  WHERE owner = %(owner)s AND term = %(term)s) AS s"
                " LEFT JOIN LATERAL (SELECT description_id AS id, 1 AS hits, weight AS rank,"
                "  created_at FROM entry_terms WHERE owner = %(owner)s AND term = %(term)s"
                "  ORDER BY weight DESC, created_at DESC, description_id DESC"
                "  LIMIT %(limit)s) AS t ON true"
                " ORDER BY t.rank DESC, t.created_at DESC, t.id DESC",
                {"term": terms[0], "owner": owner, "limit": limit},
            ).fetchall()
            return terms, *self._page_and_totals(found)
        found = conn.execute(
            # Postings of this owner only, read from the index (sql/006_entry_terms.sql);
            # sum(weight) orders like ts_rank. The matches are aggregated once; the page,
            # the totals and which words matched all come from that one set.
            "WITH q (term, mask) AS (SELECT * FROM unnest(%(terms)s::text[], %(masks)s::int[])),"
            " m AS MATERIALIZED (SELECT e.description_id AS id, bit_or(q.mask) AS mask,"
            " sum(e.weight) AS rank, max(e.created_at) AS created_at, max(e.images) AS images"
            " FROM q JOIN entry_terms e ON e.owner = %(owner)s AND e.term = q.term"
            " GROUP BY e.description_id)"
            # Totals count the entries that match every word (the others are offered as
            # suggestions, not counted as found).
            " SELECT s.total, s.images, s.matched, t.id, t.hits, t.rank"
            " FROM (SELECT count(*) FILTER (WHERE mask = %(every)s) AS total,"
            "  coalesce(sum(images) FILTER (WHERE mask = %(every)s), 0) AS images,"
            "  coalesce(bit_or(mask), 0) AS matched FROM m) AS s"
            " LEFT JOIN LATERAL (SELECT id, bit_count(mask::bit(32)) AS hits, rank, created_at"
            "  FROM m ORDER BY hits DESC, rank DESC, created_at DESC, id DESC"
            "  LIMIT %(limit)s) AS t ON true"
            " ORDER BY t.hits DESC, t.rank DESC, t.created_at DESC, t.id DESC",
            {
                "terms": terms,
                "masks": list(masks.values()),
                "owner": owner,
                "limit": limit,
                "every": (1 << len(groups[:31])) - 1,
            },
        ).fetchall()
        return terms, *self._page_and_totals(found)

    @staticmethod
    def _page_and_totals(found: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int, int]:
        summary = found[0]  # the totals come on every row, and on one row when none matched
        rows = [r for r in found if r["id"] is not None]
        return rows, int(summary["total"]), int(summary["images"]), int(summary["matched"])

    def _lexeme_groups(self, conn: Conn, subject: str) -> list[list[str]]:
        """Postgres lexemes (both configurations) of each query word's forms."""
        word_groups = query_groups(subject)
        if not word_groups:
            return []
        flat = [form for group in word_groups for form in group]
        missing = [f for f in flat if f not in self._lexemes]
        if missing:
            if len(self._lexemes) > 50_000:  # a bound, not an eviction policy
                self._lexemes.clear()
            for r in conn.execute(
                "SELECT f, tsvector_to_array(to_tsvector('portuguese', f)) AS pt,"
                " tsvector_to_array(to_tsvector('english', f)) AS en"
                " FROM unnest(%s::text[]) AS f",
                (missing,),
            ):
                self._lexemes[r["f"]] = _query_lexemes(r["f"], r["pt"], r["en"])
        groups = [
            sorted({lex for form in g for lex in self._lexemes.get(form, [])}) for g in word_groups
        ]
        return [g for g in groups if g][:31]  # one bit per word in the search's masks

    def _typo_candidates(self, conn: Conn, owner: str, lexemes: Sequence[str]) -> list[str]:
        """Vocabulary terms within a small edit distance. Candidates share the first two
        letters (typos there are rare and it keeps the lookup an index range scan)."""
        found: set[str] = set()
        for lex in lexemes:
            budget = typo_budget(lex)
            if budget == 0:
                continue
            for term in terms_near(conn, owner, lex[:2], len(lex) - budget, len(lex) + budget):
                if damerau_levenshtein(lex, term, budget) <= budget:
                    found.add(term)
        return sorted(found)
