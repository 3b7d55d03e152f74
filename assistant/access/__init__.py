"""Who may use the assistant and how much: the access decision for each WhatsApp message
(`gate`), invite codes (`invites`), per-user limits and the daily model budget
(`limits`), and the operator's view of the users (`directory`)."""

from assistant.access.directory import UnknownNumber, UserRow, Users, UsersPage
from assistant.access.gate import Decision, Gate, normalize_number
from assistant.access.invites import Invite, Invites, join_code, join_text, qr_png, wa_link
from assistant.access.limits import LimitBook, Limits, Quota, Usage

__all__ = [
    "Decision",
    "Gate",
    "Invite",
    "Invites",
    "LimitBook",
    "Limits",
    "Quota",
    "UnknownNumber",
    "Usage",
    "UserRow",
    "Users",
    "UsersPage",
    "join_code",
    "join_text",
    "normalize_number",
    "qr_png",
    "wa_link",
]
