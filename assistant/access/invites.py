"""Invite codes: made by the operator, each with a label, a number of uses and an expiry,
revocable; a stranger joins by sending the join phrase with the code ("entrar K7QX-M2PD"),
which the invite's wa.me link and QR code type for them.

Codes are 8 characters from 31 unambiguous letters and digits (31^8 ≈ 8.5 × 10^11); a
number that sends wrong codes is counted, and after `MAX_WRONG_CODES` in a day its join
attempts are ignored until the next day, so guessing is out of reach.
"""

from __future__ import annotations

import io
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from pydantic import BaseModel

from assistant.db import Database

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8
MAX_WRONG_CODES = 5
JOIN_WORDS = {"pt": "entrar", "en": "join"}
# "entrar K7QX-M2PD", "join k7qxm2pd", "Entrar: K7QX M2PD" (WhatsApp may add spaces).
JOIN = re.compile(
    r"^\s*(?:entrar|join|c[oó]digo|code)\s*:?\s*(?P<code>[A-Za-z0-9](?:[\s-]?[A-Za-z0-9]){5,15})\s*$",
    re.IGNORECASE,
)


class Invite(BaseModel):
    id: int
    code: str
    label: str
    max_uses: int
    uses: int
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime

    @property
    def shown(self) -> str:
        """K7QX-M2PD: easier to read aloud and type."""
        return f"{self.code[:4]}-{self.code[4:]}"

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.uses >= self.max_uses:
            return "used up"
        return "valid"


def normalize_code(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw).upper()


def join_code(text: str) -> str | None:
    """The code in a join message, or None when the message is not one."""
    match = JOIN.match(text or "")
    return normalize_code(match.group("code")) if match else None


def join_text(code: str, language: str = "pt") -> str:
    return f"{JOIN_WORDS.get(language, 'entrar')} {code[:4]}-{code[4:]}"


def wa_link(number: str | None, code: str, language: str = "pt") -> str:
    """https://wa.me/<number>?text=<join phrase>: opens the chat with the phrase typed."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote(join_text(code, language))}"


def qr_png(link: str, scale: int = 6) -> bytes:
    """The link as a QR code image (segno, a maintained pure-Python encoder)."""
    import segno

    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


_COLS = "id, code, label, max_uses, uses, expires_at, revoked_at, created_at"


class Invites:
    def __init__(self, db: Database):
        self.db = db

    def create(self, label: str = "", uses: int = 1, expires_in: timedelta | None = None) -> Invite:
        if uses < 1:
            raise ValueError("an invite needs at least one use")
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        row = self.db.fetchone(
            "INSERT INTO invites (code, label, max_uses, expires_at) VALUES (%s, %s, %s,"
            f" now() + %s) RETURNING {_COLS}",
            (code, label.strip()[:200], uses, expires_in),
        )
        assert row is not None
        return Invite(**row)

    def list(self, include_ended: bool = True) -> list[Invite]:
        where = (
            ""
            if include_ended
            else (
                " WHERE revoked_at IS NULL AND uses < max_uses"
                " AND (expires_at IS NULL OR expires_at > now())"
            )
        )
        rows = self.db.fetchall(f"SELECT {_COLS} FROM invites{where} ORDER BY id DESC")
        return [Invite(**r) for r in rows]

    def revoke(self, invite_id: int) -> bool:
        return bool(
            self.db.execute(
                "UPDATE invites SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
                (invite_id,),
            )
        )

    def redeem(self, code: str) -> Invite | None:
        """Spend one use of a valid code (one statement: two numbers racing for the last
        use cannot both have it)."""
        row = self.db.fetchone(
            "UPDATE invites SET uses = uses + 1 WHERE code = %s AND revoked_at IS NULL"
            " AND uses < max_uses AND (expires_at IS NULL OR expires_at > now())"
            f" RETURNING {_COLS}",
            (normalize_code(code),),
        )
        return Invite(**row) if row else None
