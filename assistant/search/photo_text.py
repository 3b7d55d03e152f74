"""Text in photos (OCR): read offline, kept per image, searchable, and used to describe a
photo that came without a caption.

`TextReader` is the interface (like `Embedder`); `RapidTextReader` is the offline default
(`build_rapidocr` makes it from the settings; `assistant.engines` lists the readers):
`rapidocr` 3.x on onnxruntime with the PP-OCRv6 detection and recognition models that ship
inside its wheel (Apache-2.0, code and models), which keep Portuguese accents. Images are
reduced to `max_side` pixels before reading (a 12 MP phone photo would cost seconds more
and read no better), and the models load once per process, on first use.

`describe()` turns what was read into the description a person would have typed: the
kind of document (recibo, boleto, conta, receita, cardápio, horário, senha, receipt,
invoice, menu...) and its most telling lines (the issuer, a total, a date).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.config import ConfigError, Settings
from assistant.media.inspect import reduced
from assistant.models import ImageRecord, Language
from assistant.search.text import fold

log = logging.getLogger(__name__)


@dataclass
class PhotoText:
    """What a reader found in one image."""

    lines: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    engine: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def confidence(self) -> float:
        """Mean line score weighted by length (0 when nothing was read)."""
        total = sum(len(line) for line in self.lines)
        if not total:
            return 0.0
        return sum(len(line) * s for line, s in zip(self.lines, self.scores, strict=True)) / total

    def readable(
        self, min_chars: int = 10, min_confidence: float = 0.6, min_lines: int = 2
    ) -> bool:
        """Enough text, read confidently enough, to describe the photo by it: at least
        `min_lines` lines with a word in them (a photo of a person wearing a name tag
        is not a document)."""
        worded = [line for line in self.lines if sum(ch.isalpha() for ch in line) >= 3]
        letters = sum(ch.isalnum() for ch in self.text)
        return (
            len(worded) >= min_lines and letters >= min_chars and self.confidence >= min_confidence
        )


class TextReader(Protocol):
    name: str

    def read(self, data: bytes) -> PhotoText: ...


class ReadFailed(Exception):
    """The reader could not read this image (corrupt, or the engine failed)."""


# The text detector's input is bounded by area, not only by its longer side: its working
# memory grows with the pixels it sees (a 960² square cost ~150 MB, a 960x720 phone photo
# ~100 MB), so a square or near-square picture no longer costs more than a phone photo.
# At 0.55 MP (736² for a square, 864x640 for 4:3) the OCR dev set reads the same, and
# so do its documents pasted into 3000² and 4000x3000 photos (benchmarks/ocr.py).
DETECT_MAX_SIDE = 960
DETECT_MAX_PIXELS = 550_000


def detect_side(width: int, height: int) -> int:
    """The detector's longest side for an image of this shape, within both bounds."""
    long, short = max(width, height), max(1, min(width, height))
    return max(32, min(DETECT_MAX_SIDE, int(math.sqrt(DETECT_MAX_PIXELS * long / short))))


class RapidTextReader:
    name = "rapidocr-3"
    _engine: Any = None
    _load_lock = threading.Lock()
    _run_lock = threading.Lock()  # the engine keeps per-call state: one read at a time

    def __init__(self, max_side: int = 1280, min_score: float = 0.5, threads: int = 0):
        self.max_side = max_side
        self.min_score = min_score
        self.threads = threads

    @classmethod
    def available(cls) -> bool:
        try:
            import rapidocr  # noqa: F401
        except ImportError:
            return False
        return True

    def _load(self) -> Any:
        with RapidTextReader._load_lock:
            if RapidTextReader._engine is None:
                from rapidocr import RapidOCR

                params: dict[str, Any] = {
                    "Global.log_level": "error",
                    # Boxes are found on at most 960 px (text is still recognised from the
                    # image at max_side), lines recognised one at a time: a read's peak
                    # memory fell from ~690 MB to ~330 MB and it got faster (benchmarks/ocr.py).
                    "Det.limit_type": "max",
                    "Det.limit_side_len": min(DETECT_MAX_SIDE, self.max_side),
                    "Rec.rec_batch_num": 1,
                }
                if self.threads:
                    params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.threads
                RapidTextReader._engine = RapidOCR(params=params)
                logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            return RapidTextReader._engine

    def read(self, data: bytes) -> PhotoText:
        try:
            import numpy as np

            pixels = np.asarray(reduced(data, self.max_side).convert("RGB"))
            engine = self._load()
            side = min(self.max_side, detect_side(pixels.shape[1], pixels.shape[0]))
            with RapidTextReader._run_lock:
                # rapidocr 3.x reads the side on every call (pinned <4; a test checks
                # the detector's input stays within DETECT_MAX_PIXELS).
                engine._load_det_model().limit_side_len = side
                result = engine(pixels)
        except Exception as exc:  # a corrupt image, an engine error: the caller goes on
            raise ReadFailed(f"{type(exc).__name__}: {exc}") from exc
        found = PhotoText(engine=self.name)
        for text, score in zip(result.txts or (), result.scores or (), strict=False):
            text = " ".join(str(text).split())
            if text and float(score) >= self.min_score:
                found.lines.append(text)
                found.scores.append(round(float(score), 4))
        return found


def build_rapidocr(settings: Settings, required: bool) -> RapidTextReader | None:
    """rapidocr when its package is installed (TEXT_READER=rapidocr insists on it)."""
    if RapidTextReader.available():
        return RapidTextReader(max_side=settings.ocr_max_side)
    if required:
        raise ConfigError("TEXT_READER=rapidocr but the rapidocr package is not installed")
    log.warning("rapidocr is not installed: text in photos is not read")
    return None


# --- an automatic description ---------------------------------------------------------------

# Words that tell what a document is, in the order they are tried (the first found wins),
# with how to call it in each language.
KINDS: list[tuple[tuple[str, ...], dict[str, str]]] = [
    (("boleto",), {"pt": "Boleto", "en": "Bank slip (boleto)"}),
    (("cupom fiscal", "nota fiscal"), {"pt": "Nota fiscal", "en": "Receipt", "also": "recibo"}),
    (("recibo", "receipt"), {"pt": "Recibo", "en": "Receipt"}),
    (("invoice", "fatura"), {"pt": "Fatura", "en": "Invoice"}),
    (
        ("conta de energia", "conta de luz", "energia eletrica", "electricity bill"),
        {"pt": "Conta de luz", "en": "Electricity bill"},
    ),
    (("conta de agua", "agua e esgoto", "water bill"), {"pt": "Conta de água", "en": "Water bill"}),
    (("conta", "bill"), {"pt": "Conta", "en": "Bill"}),
    (
        ("receituario", "receita medica", "prescription"),
        {"pt": "Receita médica", "en": "Prescription"},
    ),
    (("cardapio", "menu"), {"pt": "Cardápio", "en": "Menu"}),
    (("horario", "timetable", "schedule"), {"pt": "Horário", "en": "Timetable"}),
    (("wi-fi", "wifi", "senha", "password"), {"pt": "Senha do Wi-Fi", "en": "Wi-Fi password"}),
    (("orcamento", "quote"), {"pt": "Orçamento", "en": "Quote"}),
    (("ingresso", "ticket", "boarding pass"), {"pt": "Ingresso", "en": "Ticket"}),
    (("carteira", "identidade", "card"), {"pt": "Documento", "en": "Card"}),
    (("garantia", "warranty"), {"pt": "Garantia", "en": "Warranty"}),
]
_MONEY = re.compile(r"(R\$|\$|US\$|€)\s?\d[\d.,]*\d")
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")
_TOTAL = re.compile(r"\b(total|valor|amount due|total a pagar|total due)\b", re.IGNORECASE)


def _kind(text: str) -> tuple[tuple[str, ...], dict[str, str]] | None:
    folded = fold(text)
    for words, names in KINDS:
        if any(re.search(rf"\b{re.escape(w)}\b", folded) for w in words):
            return words, names
    return None


def document_kind(text: str, language: Language) -> str | None:
    found = _kind(text)
    return found[1][language] if found else None


def kind_tags(text: str) -> list[str]:
    """Words for the document's kind in both languages ("recibo", "receipt"...), kept as
    the entry's tags: people search a receipt by "recibo" even when it says "cupom"."""
    found = _kind(text)
    if found is None:
        return []
    words, names = found
    return sorted({fold(n) for n in names.values()} | set(words))[:8]


_KIND_WORDS = re.compile(
    r"\b(" + "|".join(re.escape(w) for words, _ in KINDS for w in words) + r")\b"
)
# Lines whose value is what people look the document up by.
_LABELLED = re.compile(
    r"^(beneficiario|beneficiary|rede|network|senha|password|nome|name|paciente|patient)\s*:",
)


def _issuer(lines: list[str]) -> str | None:
    """Who issued it: a "Beneficiário:" line's value, else the first line that names
    someone (mostly letters, no amount, not the document's kind)."""
    for line in lines:
        if fold(line).startswith(("beneficiario:", "beneficiary:")):
            return line.split(":", 1)[1].strip()
    for line in lines[:4]:
        letters = sum(ch.isalpha() for ch in line)
        if letters < 4 or letters < len(line) * 0.6 or _MONEY.search(line):
            continue
        if _KIND_WORDS.search(fold(line)):
            continue
        return line.strip()
    return None


def describe(found: PhotoText, language: Language) -> str:
    """An automatic description from the photo's text, e.g.
    "Recibo — PADARIA SÃO JOÃO LTDA — TOTAL R$ 34,89 — 12/03/2025"."""
    lines = found.lines
    kind = document_kind(found.text, language)
    parts = [kind] if kind else []
    # The line naming the kind says more when it carries a number ("HORÁRIO DA LINHA 702U").
    kind_line = next((line for line in lines if _KIND_WORDS.search(fold(line))), None)
    if kind_line and any(ch.isdigit() for ch in kind_line) and not _MONEY.search(kind_line):
        parts.append(kind_line)
    issuer = _issuer(lines)
    if issuer and issuer not in parts:
        parts.append(issuer)
    for line in lines:  # a network's name and password, a patient's name...
        if (
            _LABELLED.search(fold(line))
            and line not in parts
            and not line.startswith(issuer or "\0")
        ):
            parts.append(line)
    total = next((line for line in lines if _TOTAL.search(line) and _MONEY.search(line)), None)
    if total is None:
        total = next((line for line in lines if _MONEY.search(line)), None)
    if total and total not in parts:
        parts.append(total)
    date = next((m.group(0) for line in lines if (m := _DATE.search(line))), None)
    if date and not any(date in p for p in parts):
        parts.append(date)
    if len(parts) < 2:  # no structure found: the first lines say what it is
        parts += [line for line in lines[:3] if line not in parts]
    return " — ".join(parts)[:300]


class EntryWriter(Protocol):
    """What saves a description (the catalog, which this layer must not import)."""

    def create_entry(
        self,
        owner: str,
        description: str,
        image_ids: Sequence[int],
        *,
        tags: Sequence[str],
        auto: bool,
    ) -> object: ...


def describe_pending(
    catalog: EntryWriter,
    language_of: Callable[[str], Language],
    image: ImageRecord,
    found: PhotoText,
) -> str:
    """Saves a photo's description made from its text, to be replaced by the user's next
    description: at once when read within the reply's time budget (`Assistant`), or
    later for a photo sent alone whose text was read after its reply (`PhotoTexts`,
    which calls it with the first two bound). Returns the description."""
    description = describe(found, language_of(image.owner))
    catalog.create_entry(
        image.owner, description, [image.id], tags=kind_tags(found.text), auto=True
    )
    return description
