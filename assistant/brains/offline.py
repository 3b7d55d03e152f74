"""Rules that run the assistant with no model at all, in Portuguese and English.

The rules only pick a tool and word the answer; the work is done by the same tools the
model-backed brain uses.
"""

from __future__ import annotations

import re

from assistant.brains.base import BrainReply, Turn
from assistant.config import Settings
from assistant.imagegen.intent import IMAGE_REQUEST, image_prompt
from assistant.imagegen.tool import MAX_PROMPT_CHARS
from assistant.models import ImageRecord, Language
from assistant.ops.erase import CONFIRM_MINUTES, CONFIRM_WORD
from assistant.phrases import format_date, say
from assistant.search.text import fold, strip_request
from assistant.similar.intent import SIMILAR_REQUEST
from assistant.similar.tool import similar_reply
from assistant.tool_results import (
    DeleteRefused,
    EntryResult,
    Erased,
    EraseRefused,
    EraseRequested,
    ExportQueued,
    ImageCreated,
    ImageRefused,
    Listing,
    Remembered,
    ToolResult,
)
from assistant.tools import Toolbox

_PHOTO = r"(foto|fotografia|imagem|imagens|image|photo|picture|pic)s?"
_SEARCH = re.compile(
    r"^((me )?(?P<verb>mostr|busc|procur|encontr|ach[ae]|quero ver|queria ver|cade|onde|ve[rj]a?\b"
    r"|envi[ae]|mand[ae]|show|find|search|look|where|send|get|tem (alguma )?foto|do i have))"
    rf"|\b{_PHOTO} (de|do|da|dos|das|of)\b"
)
_INTENTS: list[tuple[str, re.Pattern[str]]] = [
    # "crie uma imagem de alguém apagando a última vela" is a request for an image (issue
    # #27): first, anchored at its verb, before the deletions that match anywhere.
    ("create_image", IMAGE_REQUEST),
    # "fotos parecidas com a última" (issue #27): the whole message is the request, so a
    # description such as "dois gatos parecidos" never matches; before "recent".
    ("similar", SIMILAR_REQUEST),
    # The person's data as a whole (issue #24): before the photo commands, which would
    # read "apagar todos os meus dados" as deleting something.
    ("erase_confirm", re.compile(r"^\W*(confirmar|confirmo|confirm)\W*$")),
    (
        "erase_request",
        re.compile(
            # "apague minha conta de luz" is a photo of a bill: the account only at the end.
            r"\b(apag|exclu|delet|remov|eras|wip|limp)\w*\b.*(\b(meus|my|all|todos os)"
            r" (dados|data|informac\w*|information)\b|\b(minha conta|my account)\W*$)"
        ),
    ),
    (
        "export",
        re.compile(
            r"\bexport\w*\b.*\b(dados|data|fotos|photos|tudo|everything|catalogo|catalog)\b"
            r"|^export\w*\W*$|\b(baix\w*|download\w*|copia|copy)\b.*\b(meus dados|my data)\b"
        ),
    ),
    (
        "help",
        re.compile(
            # "E o que você sabe fazer?" is how many people ask.
            r"^(e |and )?(ajuda|help|menu|comandos|commands|\?|socorro|como funciona"
            r"|how does (this|it) work|o que (voce|vc) (faz|sabe fazer)|what can you do)\b"
        ),
    ),
    ("thanks", re.compile(r"^(obrigad[oa]|brigad[oa]|valeu|thanks|thank you|thx)\b")),
    (
        "greeting",
        re.compile(
            r"^(oi+|ola|bom dia|boa tarde|boa noite|hello|hi|hey|e ai|good (morning|afternoon"
            r"|evening))\b[\s!.,?]*(tudo bem|td bem|how are you)?[\s!.,?]*$"
        ),
    ),
    (
        "delete_id",
        re.compile(
            r"\b(apag|exclu|delet|remov)\w*\b.*?(registro|entrada|entry|foto|photo|#|n[ou]?)\s*"
            r"#?\s*(?P<id>\d+)\b"
        ),
    ),
    (
        "delete_last",
        re.compile(r"\b(apag|exclu|delet|remov|tira)\w*\b.*\b(ultim\w*|last|latest|recent\w*)\b"),
    ),
    (
        "remember",
        re.compile(
            r"^(lembre|lembra|lembrar|remember|anote|anota|guarde|guarda)(-se)?\b\s*(de |que |that "
            r"|of )?(?P<fact>.+)"
        ),
    ),
    (
        "recent",
        re.compile(
            rf"\b(ultim\w*|recent\w*|latest|last)\b.*\b{_PHOTO}\b|\b{_PHOTO}\b.*\b(recent\w*"
            r"|ultim\w*)\b|^(minhas|my) " + _PHOTO + r"$"
        ),
    ),
    ("search", _SEARCH),
]
_CODE = re.compile(r"[\d\s.,:/#$%R\-]*\d[\d\s.,:/#$%R\-]*", re.IGNORECASE)
_OTHER_USERS = re.compile(
    r"\b(todos os usuarios|outros usuarios|outras pessoas|todo mundo|de todos|all users"
    r"|other users|everyone|everybody|other people)\b"
)


def _has_verb(match: re.Match[str] | None) -> bool:
    """Whether a search match came from a request verb, not just "fotos de ..."."""
    return bool(match and match.re is _SEARCH and match.group("verb"))


def classify(text: str) -> tuple[str, re.Match[str] | None]:
    folded = fold(text).strip()
    if _CODE.fullmatch(folded):
        # Only numbers and symbols ("34,89", "702", "#4471"): an amount or a code to
        # look up, never a description.
        return "search", _SEARCH.match("find")
    for name, pattern in _INTENTS:
        match = pattern.search(folded)
        if match:
            return name, match
    return "other", None


class OfflineBrain:
    name = "offline rules"
    # No model: nothing to spend from a user's tokens or the budget, and a photo sent
    # alone is saved under the text read in it (see `brains.base.uses_model`).
    uses_model = False

    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
        lang = turn.language
        text = turn.text.strip()
        lines: list[str] = []
        images: list[tuple[ImageRecord, str]] = []
        intent, match = classify(text) if text else ("none", None)
        if intent == "create_image" and turn.images:
            # A photo's caption ("Criar arte com as crianças no domingo") describes the
            # photo: images are created when asked for without one (issue #27).
            intent, match = "other", None

        waiting_now = [s.image for s in turn.images if s.image.description_id is None]
        for stored in turn.images:
            if stored.image.description_id is not None:
                entry = tools.entry_of_image(stored.image)
                if entry is not None:
                    lines.append(
                        say(
                            "duplicate",
                            lang,
                            description=entry.description,
                            date=format_date(entry.created_at, lang),
                        )
                    )

        # "Foto do meu cachorro" is a description; "mostre fotos do cachorro" a search.
        descriptive = intent == "other" or (intent == "search" and not _has_verb(match))
        pending = bool(waiting_now or tools.pending_count())
        auto = tools.latest_auto_entry() if text and descriptive and not pending else None
        if text and descriptive and pending:
            result = tools.call("save_description", {"description": text})
            lines.append(self._saved(result, lang, pending_before=not waiting_now))
        elif auto is not None:
            # The photo sent alone was described from its text: this is the user's own.
            result = tools.call("update_description", {"entry_id": auto.id, "description": text})
            lines.append(
                say("ocr_corrected", lang, description=text) if result.ok else say("error", lang)
            )
        else:
            if text:
                lines.extend(self._command(intent, match, text, turn, tools, images))
            if waiting_now and intent != "similar":  # a query photo waits for nothing
                n = tools.pending_count()
                key = "ask_description" if n == 1 else "ask_description_many"
                lines.append(say(key, lang, n=n))
        return BrainReply(
            text="\n\n".join(x for x in lines if x),
            images=images,
            tool_calls=list(tools.calls),
            brain=self.name,
        )

    def _command(
        self,
        intent: str,
        match: re.Match[str] | None,
        text: str,
        turn: Turn,
        tools: Toolbox,
        images: list[tuple[ImageRecord, str]],
    ) -> list[str]:
        lang = turn.language
        if intent == "create_image":
            return self._created_image(text, tools, lang, images)
        if intent == "similar":
            # The photo of this message, else the latest (the tool decides by the ids).
            result = tools.call("find_similar", {"limit": 10})
            images.extend(result.send)
            return [similar_reply(result, lang)]
        if intent == "help":
            return [say("help", lang)]
        if intent == "thanks":
            return [say("thanks", lang)]
        if intent == "greeting":
            name = f", {turn.profile_name}" if turn.profile_name else ""
            return [say("greeting", lang, name=name), *self._pending_note(tools, lang)]
        if intent == "delete_id" and match:
            result = tools.call("delete_entry", {"entry_id": int(match.group("id"))})
            return [self._deleted(result, lang)]
        if intent == "delete_last":
            return [self._deleted(tools.call("delete_last", {}), lang)]
        if intent == "export":
            return [self._exported(tools.call("export_my_data", {}), lang)]
        if intent == "erase_request":
            result = tools.call("delete_all_my_data", {})
            data = result.data
            minutes = data.minutes if isinstance(data, EraseRequested) else CONFIRM_MINUTES
            return [say("erase_confirm", lang, word=CONFIRM_WORD[lang], minutes=minutes)]
        if intent == "erase_confirm":
            return [self._erased(tools.call("confirm_delete_all_my_data", {}), lang)]
        if intent == "remember" and match:
            fact = text[match.start("fact") :].strip() if match.start("fact") < len(text) else text
            result = tools.call("remember", {"fact": fact})
            remembered = result.data
            if not result.ok or not isinstance(remembered, Remembered):
                return [say("error", lang)]
            said = [say("remembered", lang, fact=remembered.fact)]
            if remembered.notice:
                said.append(remembered.notice)  # a fact shortened, or the oldest forgotten
            return said
        if intent in ("recent", "search"):
            lines: list[str] = []
            if _OTHER_USERS.search(fold(text)):
                lines.append(say("privacy", lang))
                intent = "recent"
            if intent == "search" and strip_request(text):
                result = tools.call("search_photos", {"query": text, "limit": 20})
            else:
                result = tools.call("list_recent", {"limit": 20})
            lines.append(self._listing(result, lang))
            images.extend(result.send)
            return lines
        return [say("fallback", lang)]

    @staticmethod
    def _created_image(
        text: str, tools: Toolbox, lang: Language, images: list[tuple[ImageRecord, str]]
    ) -> list[str]:
        """The tool decides (no model configured, the budget spent, a limit reached) and
        words its refusals; the rules relay them."""
        prompt = image_prompt(text, loose=True) or text
        if len(prompt) > MAX_PROMPT_CHARS:
            return [say("image_prompt_too_long", lang, limit=MAX_PROMPT_CHARS)]
        result = tools.call("create_image", {"prompt": prompt})
        images.extend(result.send)
        made = result.data
        notice = made.notice if isinstance(made, ImageCreated | ImageRefused) else None
        return [notice or say("error", lang)]

    def _pending_note(self, tools: Toolbox, lang: Language) -> list[str]:
        n = tools.pending_count()
        return [say("pending_reminder", lang, n=n)] if n else []

    @staticmethod
    def _saved(result: ToolResult, lang: Language, *, pending_before: bool) -> str:
        if not result.ok or not isinstance(result.data, EntryResult):
            return say("error", lang)
        entry = result.data.entry
        n = entry.images
        if pending_before:
            key = "described" if n == 1 else "described_many"
        else:
            key = "saved" if n == 1 else "saved_many"
        return say(key, lang, description=entry.description, n=n)

    @staticmethod
    def _deleted(result: ToolResult, lang: Language) -> str:
        data = result.data
        if not result.ok:
            nothing = isinstance(data, DeleteRefused) and data.reason == "nothing_saved"
            return say("nothing_to_delete" if nothing else "not_yours", lang)
        if isinstance(data, EntryResult):
            return say("deleted", lang, description=data.entry.description, n=data.entry.images)
        return say("deleted_pending", lang)

    @staticmethod
    def _exported(result: ToolResult, lang: Language) -> str:
        data = result.data
        if not result.ok or not isinstance(data, ExportQueued):
            return say("export_failed", lang)
        if data.status == "ready":
            return say("export_ready", lang, url=data.url, n=data.photos, hours=data.expires_hours)
        if data.status == "already_preparing":
            return say("export_already_preparing", lang)
        return say("export_preparing", lang, n=data.photos)

    @staticmethod
    def _erased(result: ToolResult, lang: Language) -> str:
        data = result.data
        if not result.ok or not isinstance(data, Erased):
            if isinstance(data, EraseRefused) and data.reason == "expired":
                return say("erase_expired", lang, minutes=CONFIRM_MINUTES)
            return say("erase_no_request", lang)
        removed = data.removed

        def plural(n: int, one: str, many: str) -> str:
            return one if n == 1 else many

        e, p, f, m = removed.entries, removed.photos, removed.facts, removed.messages
        forms = {
            "pt": {"oes": plural(e, "ão", "ões"), "ms": plural(m, "m", "ns")},
            "en": {"ies": plural(e, "y", "ies"), "ms": plural(m, "", "s")},
        }[lang]
        return say(
            "erased",
            lang,
            entries=e,
            photos=p,
            facts=f,
            messages=m,
            ps=plural(p, "", "s"),
            fs=plural(f, "", "s"),
            **forms,
        )

    @staticmethod
    def _listing(result: ToolResult, lang: Language) -> str:
        data = result.data
        if not isinstance(data, Listing):
            return say("error", lang)
        total, sent, query = data.total_photos, len(result.send), data.query
        if result.kind == "recent":
            return say("recent", lang, k=sent, n=total) if total else say("empty_catalog", lang)
        if total == 0 and data.guessed_entries and sent:
            return say("not_found_maybe", lang, query=query, k=sent)
        if total == 0:
            return say("not_found", lang, query=query)
        if total > sent:
            return say("found_capped", lang, n=total, k=sent, query=query)
        return say("found", lang, n=total, query=query)


def build(settings: Settings, required: bool) -> OfflineBrain:
    """The offline rules need nothing configured: always built (the last brain `auto`
    tries, so there is always one)."""
    return OfflineBrain()
